package org.jcpg;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HexFormat;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Scenarios of careless use, each in a JVM of its own (see {@link MisuseChild}):
 * they print what happened as lines of {@code key=value} words.
 *
 * <ul>
 * <li>{@code interrupted-send GROUPHEX}: joins, prints READY, waits for "go" on stdin (the
 *     test has stopped the daemon by then), fills the daemon's queue, then reports timed sends
 *     with extreme timeouts and timed sends that another thread interrupts.
 * <li>{@code heap-exhaustion GROUPHEX}: callbacks fill the heap (run it with a small -Xmx) while
 *     dispatches go on from default platform threads (through hand-off workers), then the heap is
 *     freed and a last dispatch must deliver within a deadline.
 * <li>{@code lost-handoff GROUPHEX}: run with {@code -Djcpg.test.loseHandoffTasks=N}; dispatches
 *     from default platform threads, whose hand-off tasks the first N workers lose, must deliver
 *     within a deadline, round after round.
 * </ul>
 */
public final class MisuseChildMain {

    private MisuseChildMain() {
    }

    public static void main(String[] args) throws Exception {
        switch (args[0]) {
            case "interrupted-send" -> interruptedSend(GroupName.ofBytes(HexFormat.of().parseHex(args[1])));
            case "heap-exhaustion" -> heapExhaustion(GroupName.ofBytes(HexFormat.of().parseHex(args[1])));
            case "lost-handoff" -> lostHandoff(GroupName.ofBytes(HexFormat.of().parseHex(args[1])));
            default -> throw new IllegalArgumentException(args[0]);
        }
        System.out.flush();
        Runtime.getRuntime().halt(0);
    }

    private static final CpgListener QUIET = new CpgListener() {
    };

    private static void interruptedSend(GroupName group) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        CpgConnection cpg = CpgConnection.open(QUIET);
        cpg.join(group);
        System.out.println("READY");
        if (!"go".equals(in.readLine())) {
            throw new IllegalStateException("expected go");
        }
        byte[] payload = new byte[64 << 10];
        int sent = 0;
        while (cpg.tryMulticast(Guarantee.AGREED, payload)) {
            if (++sent > 100_000) {
                System.out.println("NEVER-FULL");
                return;
            }
        }
        System.out.println("FULL after=" + sent);
        for (Duration timeout : new Duration[] {Duration.ZERO, Duration.ofNanos(-1),
                Duration.ofSeconds(Long.MIN_VALUE), Duration.ofSeconds(-5),
                Duration.ofMillis(300)}) {
            long start = System.nanoTime();
            String outcome = outcome(() -> cpg.multicast(Guarantee.AGREED, timeout, java.lang.foreign.MemorySegment.ofArray(payload)));
            System.out.println("TIMED timeout=" + timeout + " ms=" + (System.nanoTime() - start) / 1_000_000 + " outcome=" + outcome);
        }
        for (Duration timeout : new Duration[] {Duration.ofSeconds(20), Duration.ofSeconds(Long.MAX_VALUE, 999_999_999)}) {
            interrupt(cpg, payload, timeout);
        }
        // Interrupted before the call: tries once.
        Thread.currentThread().interrupt();
        long start = System.nanoTime();
        String outcome = outcome(() -> cpg.multicast(Guarantee.AGREED, Duration.ofSeconds(20), java.lang.foreign.MemorySegment.ofArray(payload)));
        System.out.println("PREINTERRUPTED ms=" + (System.nanoTime() - start) / 1_000_000 + " outcome=" + outcome
                + " flag=" + Thread.interrupted());
        System.out.println("DONE");
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
        System.out.println("FREED stuckUnderFullHeap=" + errors);
        dispatchOnPlatformThread(cpg, delivered, "AFTER");
    }

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
     * arrives or 20 s pass; prints {@code prefix} with whether the thread returned and how.
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
        System.out.println(prefix + " returned=" + !last.isAlive() + " ms=" + (System.nanoTime() - start) / 1_000_000
                + " outcome=" + outcome.get());
        if (last.isAlive()) {
            StringBuilder stack = new StringBuilder("STACK");
            for (StackTraceElement e : last.getStackTrace()) {
                stack.append(' ').append(e);
            }
            System.out.println(stack);
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
        System.out.println("INTERRUPTED timeout=" + timeout + " waitingBefore=" + waitingBefore + " returned=" + returned
                + " ms=" + ms + " cpuMsWhileWaiting=" + cpuMs + " outcome=" + result.get());
        if (!returned) {
            System.out.println("DONE");
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
