package org.jcpg;

import java.time.Duration;
import java.util.HexFormat;
import java.util.concurrent.atomic.AtomicReference;
import org.jcpg.testsupport.ChildProtocol;

/**
 * Scenarios of careless use, each in a JVM of its own (see {@link MisuseChild}). It speaks
 * {@link ChildProtocol}; a scenario reports what happened as events of {@code key=value} words
 * ({@code EV FAILED throwable} if it threw) and halts the JVM at its end.
 *
 * <ul>
 * <li>{@code interrupted-send GROUPHEX}: joins (answers OK when joined); then {@code go} (the
 *     test has stopped the daemon by then) fills the daemon's queue, then reports timed sends
 *     with extreme timeouts and timed sends that another thread interrupts.
 * <li>{@code heap-exhaustion GROUPHEX}: callbacks fill the heap (run it with a small -Xmx) while
 *     dispatches go on from default platform threads (through hand-off workers), then the heap is
 *     freed and a last dispatch must deliver within a deadline ({@code AFTER ...}).
 * <li>{@code lost-handoff GROUPHEX}: three rounds of a send and a dispatch from a default platform
 *     thread, each reported as {@code ROUND returned=... outcome=...} (run it with
 *     {@code -Djcpg.test.loseHandoffTasks=N}).
 * </ul>
 */
public final class MisuseChildMain {

    private MisuseChildMain() {
    }

    public static void main(String[] args) {
        new ChildProtocol()
                .on("interrupted-send", c -> joinForInterruptedSend(group(c.word(1))))
                .on("go", c -> Thread.ofPlatform().name("interrupted-send").start(() -> run(MisuseChildMain::interruptedSend)))
                .on("heap-exhaustion", c -> {
                    GroupName group = group(c.word(1));
                    Thread.ofPlatform().name("heap-exhaustion").start(() -> run(() -> heapExhaustion(group)));
                })
                .on("lost-handoff", c -> {
                    GroupName group = group(c.word(1));
                    Thread.ofPlatform().name("lost-handoff").start(() -> run(() -> lostHandoff(group)));
                })
                .serve();
    }

    private static GroupName group(String hex) {
        return GroupName.ofBytes(HexFormat.of().parseHex(hex));
    }

    /** A scenario's body, run on a thread of its own while the protocol goes on. */
    private interface Scenario {
        void run() throws Exception;
    }

    /** Runs a scenario; its end is the end of the JVM (the test has all it reported by then). */
    private static void run(Scenario scenario) {
        try {
            scenario.run();
        } catch (Throwable t) {
            ChildProtocol.event("FAILED " + t);
        }
        System.out.flush();
        Runtime.getRuntime().halt(0);
    }

    private static final CpgListener QUIET = new CpgListener() {
    };

    private static CpgConnection interruptedSendConnection;

    private static void joinForInterruptedSend(GroupName group) {
        CpgConnection cpg = CpgConnection.open(QUIET);
        cpg.join(group);
        interruptedSendConnection = cpg;
    }

    private static void interruptedSend() throws Exception {
        CpgConnection cpg = interruptedSendConnection;
        byte[] payload = new byte[64 << 10];
        int sent = 0;
        while (cpg.tryMulticast(Guarantee.AGREED, payload)) {
            if (++sent > 100_000) {
                ChildProtocol.event("NEVER-FULL");
                return;
            }
        }
        ChildProtocol.event("FULL after=" + sent);
        for (Duration timeout : new Duration[] {Duration.ZERO, Duration.ofNanos(-1),
                Duration.ofSeconds(Long.MIN_VALUE), Duration.ofSeconds(-5),
                Duration.ofMillis(300)}) {
            long start = System.nanoTime();
            String outcome = outcome(() -> cpg.multicast(Guarantee.AGREED, timeout, java.lang.foreign.MemorySegment.ofArray(payload)));
            ChildProtocol.event("TIMED timeout=" + timeout + " ms=" + (System.nanoTime() - start) / 1_000_000 + " outcome=" + outcome);
        }
        for (Duration timeout : new Duration[] {Duration.ofSeconds(20), Duration.ofSeconds(Long.MAX_VALUE, 999_999_999)}) {
            interrupt(cpg, payload, timeout);
        }
        // Interrupted before the call: tries once.
        Thread.currentThread().interrupt();
        long start = System.nanoTime();
        String outcome = outcome(() -> cpg.multicast(Guarantee.AGREED, Duration.ofSeconds(20), java.lang.foreign.MemorySegment.ofArray(payload)));
        ChildProtocol.event("PREINTERRUPTED ms=" + (System.nanoTime() - start) / 1_000_000 + " outcome=" + outcome
                + " flag=" + Thread.interrupted());
        ChildProtocol.event("DONE");
    }

    /** Filled by callbacks until the heap is exhausted. */
    private static final java.util.List<byte[]> HOG = new java.util.ArrayList<>();
    private static volatile boolean filling = true;

    private static void heapExhaustion(GroupName group) throws Exception {
        java.util.concurrent.atomic.AtomicInteger delivered = new java.util.concurrent.atomic.AtomicInteger();
        CpgConnection cpg = CpgConnection.open(new CpgListener() {
            @Override
            public void onMessage(CpgConnection c, Message m) {
                delivered.incrementAndGet();
                if (m.length() == 1 && filling) {
                    // Fill the heap; keeps it full after the OutOfMemoryError.
                    while (true) {
                        byte[] more = new byte[64 << 10];
                        synchronized (HOG) {
                            HOG.add(more);
                        }
                    }
                }
            }
        });
        cpg.join(group);
        int errors = 0;
        for (int round = 0; round < 40; round++) {
            try {
                // Room for the send and the thread; the callback fills it again, and the worker
                // that served the dispatch goes back to its pool under a full heap.
                synchronized (HOG) {
                    for (int i = 0; i < 40 && !HOG.isEmpty(); i++) {
                        HOG.removeLast();
                    }
                }
                cpg.multicast(Guarantee.AGREED, new byte[1]);
                // A default platform thread: dispatch hands off to a jcpg-dispatch worker.
                Thread dispatcher = new Thread(() -> {
                    try {
                        cpg.dispatch(DispatchMode.ONE);
                    } catch (Throwable expected) {
                        // OutOfMemoryError from the callback, or from the machinery under a full heap
                    }
                });
                dispatcher.start();
                dispatcher.join(10_000);
                if (dispatcher.isAlive()) {
                    errors++;
                }
            } catch (Throwable full) {
                errors++;
            }
        }
        filling = false;
        synchronized (HOG) {
            HOG.clear();
        }
        System.gc();
        ChildProtocol.event("FREED stuckUnderFullHeap=" + errors);
        dispatchOnPlatformThread(cpg, delivered, "AFTER");
    }

    /** Three rounds of a send and a hand-off dispatch; the test loses the first pooled tasks. */
    private static void lostHandoff(GroupName group) throws Exception {
        java.util.concurrent.atomic.AtomicInteger delivered = new java.util.concurrent.atomic.AtomicInteger();
        CpgConnection cpg = CpgConnection.open(new CpgListener() {
            @Override
            public void onMessage(CpgConnection c, Message m) {
                delivered.incrementAndGet();
            }
        });
        cpg.join(group);
        for (int round = 0; round < 3; round++) {
            dispatchOnPlatformThread(cpg, delivered, "ROUND");
        }
    }

    /**
     * Sends a message, then dispatches on a new default platform thread (a hand-off) until it
     * arrives or 20 s pass; reports {@code prefix} with whether the thread returned and how.
     */
    private static void dispatchOnPlatformThread(CpgConnection cpg, java.util.concurrent.atomic.AtomicInteger delivered,
                                                 String prefix) throws Exception {
        int before = delivered.get();
        cpg.multicast(Guarantee.AGREED, new byte[2]);
        AtomicReference<String> outcome = new AtomicReference<>("none");
        Thread last = new Thread(() -> {
            try {
                long deadline = System.nanoTime() + 20_000_000_000L;
                while (delivered.get() == before && System.nanoTime() < deadline) {
                    cpg.dispatch(DispatchMode.ALL);
                    Thread.sleep(5);
                }
                outcome.set(delivered.get() > before ? "delivered" : "nothing");
            } catch (Throwable t) {
                outcome.set(t.toString().replace(' ', '_'));
            }
        });
        long start = System.nanoTime();
        last.start();
        last.join(30_000);
        ChildProtocol.event(prefix + " returned=" + !last.isAlive() + " ms=" + (System.nanoTime() - start) / 1_000_000
                + " outcome=" + outcome.get());
        if (last.isAlive()) {
            StringBuilder stack = new StringBuilder("STACK");
            for (StackTraceElement e : last.getStackTrace()) {
                stack.append(' ').append(e);
            }
            ChildProtocol.event(stack.toString());
        }
    }

    /** A timed send on a thread of its own, interrupted after 300 ms: how it ended, how long it took, its CPU. */
    private static void interrupt(CpgConnection cpg, byte[] payload, Duration timeout) throws InterruptedException {
        AtomicReference<String> result = new AtomicReference<>("none");
        Thread sender = Thread.ofPlatform().name("timed-send").start(() -> {
            String outcome = outcome(() -> cpg.multicast(Guarantee.AGREED, timeout, java.lang.foreign.MemorySegment.ofArray(payload)));
            result.set(outcome + " flag=" + Thread.currentThread().isInterrupted());
        });
        Thread.sleep(300);
        boolean waitingBefore = sender.isAlive();
        long cpuBefore = threadCpu(sender);
        long start = System.nanoTime();
        sender.interrupt();
        sender.join(Duration.ofSeconds(3));
        long ms = (System.nanoTime() - start) / 1_000_000;
        boolean returned = !sender.isAlive();
        long cpuMs = returned ? 0 : (threadCpu(sender) - cpuBefore) / 1_000_000;
        ChildProtocol.event("INTERRUPTED timeout=" + timeout + " waitingBefore=" + waitingBefore + " returned=" + returned
                + " ms=" + ms + " cpuMsWhileWaiting=" + cpuMs + " outcome=" + result.get());
        if (!returned) {
            ChildProtocol.event("DONE");
            System.out.flush();
            Runtime.getRuntime().halt(0);
        }
    }

    /**
     * A thread's CPU nanoseconds (ThreadMXBean), by reflection: the tests are compiled into
     * module org.jcpg, which does not read java.management; they run on the class path.
     */
    private static long threadCpu(Thread thread) {
        try {
            Class<?> factory = Class.forName("java.lang.management.ManagementFactory");
            Object threads = factory.getMethod("getThreadMXBean").invoke(null);
            return (long) Class.forName("java.lang.management.ThreadMXBean").getMethod("getThreadCpuTime", long.class)
                    .invoke(threads, thread.threadId());
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }

    private static String outcome(Runnable call) {
        try {
            call.run();
            return "sent";
        } catch (CpgException e) {
            return "CpgException:" + e.error() + " suppressed=" + (e.getSuppressed().length == 0 ? "none"
                    : e.getSuppressed()[0].getClass().getSimpleName());
        } catch (Throwable t) {
            return t.getClass().getSimpleName() + ":" + String.valueOf(t.getMessage()).replace(' ', '_');
        }
    }
}
