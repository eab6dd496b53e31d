package org.jcpg.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.locks.LockSupport;
import org.jcpg.CpgConnection;
import org.jcpg.CpgEventLoop;
import org.jcpg.CpgListener;
import org.jcpg.DispatchMode;
import org.jcpg.GroupName;
import org.jcpg.Guarantee;
import org.jcpg.Member;
import org.jcpg.MembershipChange;
import org.jcpg.Message;
import org.jcpg.ZeroCopyBuffer;

/**
 * The Java side of the benchmark (issue 8): implements
 * /work/bench-interface.md and docs' benchmark protocol.
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED -cp target/classes:target/test-classes \
 *     org.jcpg.bench.CpgBench MODE SIZE COUNT     (one run in a fresh JVM)
 *     org.jcpg.bench.CpgBench serve               (runs "MODE SIZE COUNT" lines from stdin in turn)
 * </pre>
 * run inside the private corosync's network namespace
 * ({@code scripts/with-corosync.sh} + {@code scripts/in-corosync-netns}),
 * with {@code JCPG_COROSYNC_PID} set to the daemon's pid.
 *
 * <p>Modes:
 * <ul>
 * <li>{@code copy}: a native segment of a confined arena, filled in place, sent with
 *     {@code tryMulticast(Guarantee, MemorySegment)} (libcpg reads it in place);
 * <li>{@code segment}: a heap segment ({@code MemorySegment.ofArray}), same call (jcpg stages a copy);
 * <li>{@code bytearray}: {@code tryMulticast(Guarantee, byte[])} (the non-throwing form of
 *     {@code multicast(Guarantee, byte[])});
 * <li>{@code zerocopy}: one {@link ZeroCopyBuffer}, filled in place;
 * <li>{@code loop}: a {@link CpgEventLoop} delivers on its thread; the main thread sends
 *     (native segment) with tryMulticast and parks briefly on refusal;
 * <li>{@code stubs}: copy's loop on jextract's stubs alone, without jcpg ({@link RawStubs}).
 * </ul>
 * In the other modes, one platform thread with {@link CpgConnection#DISPATCH_STACK_SIZE}
 * of stack sends and dispatches (inline): after each successful send it polls the fd
 * with timeout 0 and dispatches ALL if readable; on TRY_AGAIN it does the same, then retries.
 *
 * <p>Payload: bytes 0-7 sequence number (u64 LE), 8-15 send time (System.nanoTime, which is
 * CLOCK_MONOTONIC on Linux), the rest 0xA5. COUNT/10 untimed warm-up messages go first; the
 * timed part starts once all of them are delivered, just before the first timed send, and
 * ends at our own COUNT-th timed delivery. Every delivery's sequence number and length are
 * checked: a loss or reorder exits with status 2.
 *
 * <p>Prints exactly one JSON line on stdout. Nothing in the timed loop allocates on the
 * benchmark's side: latencies go into preallocated arrays, counters are primitive fields,
 * poll(2) and clock_gettime(2) are FFM downcalls on segments allocated once.
 */
public final class CpgBench {
    private static final ValueLayout.OfLong LE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final byte FILL = (byte) 0xA5;
    private static final long TIMEOUT_NANOS = 120_000_000_000L;
    private static final long PARK_NANOS = 20_000;

    // ---- libc through FFM ----------------------------------------------------
    private static final Linker LINKER = Linker.nativeLinker();
    /** poll(2) with timeout 0: returns at once, so it may run as a critical (no thread-state transition) call. */
    private static final MethodHandle POLL_NOW = LINKER.downcallHandle(LINKER.defaultLookup().find("poll").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT),
            Linker.Option.critical(false));
    /** poll(2) that may wait. */
    private static final MethodHandle POLL_WAIT = LINKER.downcallHandle(LINKER.defaultLookup().find("poll").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
    private static final MethodHandle CLOCK_GETTIME = LINKER.downcallHandle(
            LINKER.defaultLookup().find("clock_gettime").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
    private static final MethodHandle SYSCONF = LINKER.downcallHandle(LINKER.defaultLookup().find("sysconf").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
    private static final MethodHandle GETRUSAGE = LINKER.downcallHandle(LINKER.defaultLookup().find("getrusage").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
    private static final int RUSAGE_SELF = 0;
    /** struct rusage on 64-bit Linux; ru_utime (a timeval: seconds, microseconds) comes first. */
    private static final long RUSAGE_SIZE = 144;
    private static final int CLOCK_PROCESS_CPUTIME_ID = 2;
    private static final int SC_CLK_TCK = 2;
    private static final short POLLIN = 1;

    // ---- the run -------------------------------------------------------------
    private final String mode;
    private final int size;
    private final int count;
    private final int warm;
    private final int total;
    private final long daemonPid;
    private final int ourPid = (int) ProcessHandle.current().pid();
    private final GroupName group;
    /** Runs made by this JVM so far (a served JVM makes many, each in a group of its own). */
    private static int runs;
    private static boolean served;

    private final long[] sendLatency;
    private final long[] deliverLatency;
    private final MemorySegment pollFd = Arena.global().allocate(8, 8);
    private final MemorySegment timespec = Arena.global().allocate(16, 8);
    private final MemorySegment rusage = Arena.global().allocate(RUSAGE_SIZE, 8);
    private final MethodHandle totalAllocated;

    private CpgConnection cpg;
    /** In the stubs mode, instead of {@link #cpg}. */
    private RawStubs stubs;
    private volatile long localNode;
    /** Written only by the thread that runs the callbacks. */
    private volatile long delivered;
    private volatile long lastDelivery;
    private volatile boolean joined;
    private long tryAgain;

    private CpgBench(String mode, int size, int count, long daemonPid) {
        this.mode = mode;
        this.size = size;
        this.count = count;
        this.warm = count / 10;
        this.total = warm + count;
        this.daemonPid = daemonPid;
        this.group = GroupName.of("bench-" + ProcessHandle.current().pid() + "-" + runs++);
        // Warm-up messages are recorded too (and left out of the report), so that the code the
        // JIT compiled in the warm-up is the code of the timed part: a branch first taken at the
        // boundary would throw the compiled code away there (an "unstable if" deoptimization).
        this.sendLatency = new long[total];
        this.deliverLatency = new long[total];
        this.totalAllocated = allocationCounter();
    }

    public static void main(String[] args) throws Throwable {
        String pid = System.getenv("JCPG_COROSYNC_PID");
        if (pid == null || pid.isEmpty()) {
            fail("JCPG_COROSYNC_PID is not set");
        }
        if (args.length == 1 && args[0].equals("serve")) {
            serve(Long.parseLong(pid));
            return;
        }
        if (args.length != 3) {
            fail("usage: CpgBench copy|segment|bytearray|zerocopy|loop|stubs SIZE COUNT, or CpgBench serve");
        }
        run(args, Long.parseLong(pid));
    }

    /**
     * A served JVM: reads "MODE SIZE COUNT" lines on stdin and makes each run in turn, printing
     * its JSON line, until end of input. Runs after the first find the JIT's work done, as a
     * service's sends do after its first seconds. Before it answers, the JVM collects its
     * garbage and waits for its compiler threads to go idle, so that the runs of other programs
     * between two of its own (the C program's) do not share the CPUs with this idle JVM.
     */
    private static void serve(long daemonPid) throws Throwable {
        served = true;
        var in = new java.io.BufferedReader(new java.io.InputStreamReader(System.in, java.nio.charset.StandardCharsets.US_ASCII));
        for (String line; (line = in.readLine()) != null; ) {
            if (!line.isBlank()) {
                run(line.strip().split(" +"), daemonPid);
            }
        }
    }

    private static void run(String[] args, long daemonPid) throws Throwable {
        if (args.length != 3) {
            fail("a run is MODE SIZE COUNT, not " + String.join(" ", args));
        }
        String mode = args[0];
        int size = Integer.parseInt(args[1]);
        int count = Integer.parseInt(args[2]);
        if (size < 1 || count < 1) {
            fail("SIZE and COUNT must be positive");
        }
        CpgBench bench = new CpgBench(mode, size, count, daemonPid);
        switch (mode) {
            case "copy", "segment", "bytearray", "zerocopy", "stubs" -> {
                Throwable[] failure = new Throwable[1];
                Thread sender = Thread.ofPlatform().name("bench-sender").stackSize(CpgConnection.DISPATCH_STACK_SIZE)
                        .start(() -> {
                            try {
                                if (mode.equals("stubs")) {
                                    bench.runStubs();
                                } else {
                                    bench.runInline();
                                }
                            } catch (Throwable t) {
                                failure[0] = t;
                            }
                        });
                sender.join();
                if (failure[0] != null) {
                    throw failure[0];
                }
            }
            case "loop" -> bench.runLoop();
            default -> fail("unknown mode " + mode + ": copy, segment, bytearray, zerocopy, loop or stubs");
        }
    }

    // ---- the listener: the same for all modes ----------------------------------------

    private final CpgListener listener = new CpgListener() {
        @Override
        public void onMessage(CpgConnection connection, Message message) {
            deliver(message.payload());
        }

        @Override
        public void onMembershipChange(CpgConnection connection, MembershipChange change) {
            for (Member member : change.joined()) {
                if (member.pid() == ourPid && member.nodeId() == localNode) {
                    joined = true;
                }
            }
        }
    };

    /** Checks one delivery and records its latency; allocation-free. */
    private void deliver(MemorySegment payload) {
        long now = System.nanoTime();
        long n = delivered;
        long length = payload.byteSize();
        if (length != size) {
            fail("delivery #" + n + " has " + length + " bytes, expected " + size);
        }
        if (size >= 8) {
            long seq = payload.get(LE_LONG, 0);
            if (seq != n) {
                fail("delivery #" + n + " carries sequence number " + seq + ": lost or reordered");
            }
        }
        if (size >= 16) {
            deliverLatency[(int) n] = now - payload.get(LE_LONG, 8);
        }
        lastDelivery = now;
        delivered = n + 1;
    }

    // ---- copy, segment, bytearray, zerocopy: one thread sends and dispatches inline ---------

    private void runInline() throws Throwable {
        cpg = CpgConnection.open(listener);
        try {
            localNode = cpg.localNodeId();
            pollFd.set(ValueLayout.JAVA_INT, 0, cpg.fd());
            pollFd.set(ValueLayout.JAVA_SHORT, 4, POLLIN);
            cpg.join(group);
            awaitJoin();
            switch (mode) {
                case "copy" -> sendFromNativeSegment();
                case "segment" -> {
                    MemorySegment message = MemorySegment.ofArray(new byte[size]);
                    message.fill(FILL);
                    sendInline(message, null, null);
                }
                case "bytearray" -> {
                    byte[] array = new byte[size];
                    MemorySegment message = MemorySegment.ofArray(array);
                    message.fill(FILL);
                    sendInline(message, array, null);
                }
                case "zerocopy" -> {
                    try (ZeroCopyBuffer buffer = cpg.allocateZeroCopy(size)) {
                        MemorySegment message = buffer.segment().asSlice(0, size);
                        message.fill(FILL);
                        sendInline(message, null, buffer);
                    }
                }
                default -> throw new AssertionError(mode);
            }
        } finally {
            cpg.close();
        }
    }

    /** The copy loop on jextract's stubs alone ({@link RawStubs}): what the JVM and FFM cost by themselves. */
    private void runStubs() throws Throwable {
        try (RawStubs raw = new RawStubs(this::deliver, pid -> joined |= pid == ourPid)) {
            stubs = raw;
            pollFd.set(ValueLayout.JAVA_INT, 0, raw.fd());
            pollFd.set(ValueLayout.JAVA_SHORT, 4, POLLIN);
            raw.join(group);
            awaitJoin();
            sendFromNativeSegment();
        }
    }

    /** Dispatches until our own join is delivered. */
    private void awaitJoin() throws Throwable {
        long deadline = System.nanoTime() + TIMEOUT_NANOS;
        while (!joined) {
            waitAndDispatch(deadline);
        }
    }

    /** The send loop from a native segment of a confined arena (libcpg reads it in place). */
    private void sendFromNativeSegment() throws Throwable {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment message = arena.allocate(size, 16);
            message.fill(FILL);
            sendInline(message, null, null);
        }
    }

    /**
     * The send loop. {@code message} is what is filled (and sent unless {@code array} or
     * {@code buffer} is given, which are sent instead; both are views of {@code message}).
     */
    private void sendInline(MemorySegment message, byte[] array, ZeroCopyBuffer buffer) throws Throwable {
        Measure measure = new Measure();
        measure.prime();
        for (int i = 0; i < total; i++) {
            if (i == warm) {
                long deadline = System.nanoTime() + TIMEOUT_NANOS;
                while (delivered < warm) {
                    waitAndDispatch(deadline);
                }
                measure.start();
            }
            sendOne(message, array, buffer, i);
        }
        long deadline = System.nanoTime() + TIMEOUT_NANOS;
        while (delivered < total) {
            waitAndDispatch(deadline);
        }
        measure.stop();
        report(measure);
    }

    /**
     * One message: sent, retried after TRY_AGAIN, with a poll and dispatch after every attempt.
     * A method per message, as an application's send would be, so that the JIT compiles it by
     * its invocations during the warm-up (a loop of 110,000 iterations in one method is only
     * compiled on-stack after some 60,000 of them, so most of the timed part ran interpreted).
     */
    private void sendOne(MemorySegment message, byte[] array, ZeroCopyBuffer buffer, int i)
            throws Throwable {
        while (true) {
            long start = System.nanoTime();
            stamp(message, i, start);
            boolean sent;
            if (stubs != null) {
                sent = stubs.send(message);
            } else if (buffer != null) {
                sent = buffer.tryMulticast(Guarantee.AGREED, size);
            } else if (array != null) {
                sent = cpg.tryMulticast(Guarantee.AGREED, array);
            } else {
                sent = cpg.tryMulticast(Guarantee.AGREED, message);
            }
            long end = System.nanoTime();
            if (sent) {
                sendLatency[i] = end - start;
                pollAndDispatch();
                return;
            }
            tryAgain++;
            pollAndDispatch();
        }
    }

    /** poll(fd, timeout 0); dispatch ALL if readable. Allocation-free. */
    private void pollAndDispatch() throws Throwable {
        pollFd.set(ValueLayout.JAVA_SHORT, 6, (short) 0);
        int ready = (int) POLL_NOW.invokeExact(pollFd, 1L, 0);
        if (ready > 0 && pollFd.get(ValueLayout.JAVA_SHORT, 6) != 0) {
            dispatchAll();
        }
    }

    /** Waits up to 100 ms for the fd, then dispatches ALL; fails past the deadline. */
    private void waitAndDispatch(long deadline) throws Throwable {
        if (System.nanoTime() - deadline > 0) {
            fail("timed out: delivered " + delivered + " of " + total + " messages");
        }
        pollFd.set(ValueLayout.JAVA_SHORT, 6, (short) 0);
        int ready = (int) POLL_WAIT.invokeExact(pollFd, 1L, 100);
        if (ready > 0 && pollFd.get(ValueLayout.JAVA_SHORT, 6) != 0) {
            dispatchAll();
        }
    }

    private void dispatchAll() {
        if (stubs != null) {
            stubs.dispatchAll();
        } else {
            cpg.dispatch(DispatchMode.ALL);
        }
    }

    // ---- loop: a CpgEventLoop delivers; main sends -------------------------------------

    private void runLoop() throws Throwable {
        try (CpgEventLoop loop = CpgEventLoop.start()) {
            cpg = loop.open(listener);
            localNode = cpg.localNodeId();
            cpg.join(group);
            long deadline = System.nanoTime() + TIMEOUT_NANOS;
            while (!joined) {
                await(deadline);
            }
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment message = arena.allocate(size, 16);
                message.fill(FILL);
                Measure measure = new Measure();
                measure.prime();
                for (int i = 0; i < total; i++) {
                    if (i == warm) {
                        deadline = System.nanoTime() + TIMEOUT_NANOS;
                        while (delivered < warm) {
                            await(deadline);
                        }
                        measure.start();
                    }
                    sendFromLoopCaller(message, i);
                }
                deadline = System.nanoTime() + TIMEOUT_NANOS;
                while (delivered < total) {
                    await(deadline);
                }
                measure.stop();
                report(measure);
            }
        }
    }

    /** One message sent by the event loop's caller: retried after TRY_AGAIN with a short park. */
    private void sendFromLoopCaller(MemorySegment message, int i) {
        while (true) {
            long start = System.nanoTime();
            stamp(message, i, start);
            boolean sent = cpg.tryMulticast(Guarantee.AGREED, message);
            long end = System.nanoTime();
            if (sent) {
                sendLatency[i] = end - start;
                return;
            }
            tryAgain++;
            LockSupport.parkNanos(PARK_NANOS);
        }
    }

    private void await(long deadline) {
        if (System.nanoTime() - deadline > 0) {
            fail("timed out: delivered " + delivered + " of " + total + " messages");
        }
        LockSupport.parkNanos(PARK_NANOS);
    }

    // ---- payload -------------------------------------------------------------------------

    /** Bytes 0-7 the sequence number, 8-15 the send time, little-endian; for SIZE below 16 what fits. */
    private void stamp(MemorySegment message, long seq, long time) {
        if (size >= 16) {
            message.set(LE_LONG, 0, seq);
            message.set(LE_LONG, 8, time);
            return;
        }
        for (int b = 0; b < size; b++) {
            long value = b < 8 ? seq : time;
            message.set(ValueLayout.JAVA_BYTE, b, (byte) (value >>> (8 * (b & 7))));
        }
    }

    // ---- measurements --------------------------------------------------------------------

    /** The figures taken at the start and end of the timed part. */
    private final class Measure {
        long startNanos;
        long cpuStart;
        long userStart;
        long user;
        long daemonStart;
        long allocStart;
        long endNanos;
        long cpu;
        long daemonTicks;
        long alloc;
        long jitStart;
        long jit;
        long tryAgainStart;

        /** Takes every figure once and drops it, before the warm-up: their first calls link method handles and load classes. */
        void prime() throws Throwable {
            daemonTicks();
            compilerCpuNanos();
            allocated();
            userCpuNanos();
            processCpuNanos();
        }

        void start() throws Throwable {
            if (DIAG) {
                threadsAtStart = threadAllocations();
                cpuAtStart = taskCpu();
                System.err.println("CpgBench: timed part starts " + java.time.Instant.now());
            }
            tryAgainStart = tryAgain;
            daemonStart = daemonTicks();
            jitStart = compilerCpuNanos();
            allocStart = allocated();
            userStart = userCpuNanos();
            cpuStart = processCpuNanos();
            startNanos = System.nanoTime();
        }

        void stop() throws Throwable {
            endNanos = lastDelivery;
            cpu = processCpuNanos() - cpuStart;
            user = userCpuNanos() - userStart;
            alloc = allocated() - allocStart;
            jit = compilerCpuNanos() - jitStart;
            daemonTicks = daemonTicks() - daemonStart;
            if (DIAG) {
                System.err.println("CpgBench: timed part ends " + java.time.Instant.now());
                java.util.Map<String, Long> end = threadAllocations();
                end.forEach((thread, bytes) -> System.err.printf(Locale.ROOT,
                        "CpgBench: thread %-24s allocated %12d bytes in the timed part (%.1f per message)%n",
                        thread, bytes - threadsAtStart.getOrDefault(thread, 0L),
                        (bytes - threadsAtStart.getOrDefault(thread, 0L)) / (double) count));
                taskCpu().forEach((task, nanos) -> {
                    long used = nanos - cpuAtStart.getOrDefault(task, 0L);
                    if (used > 0) {
                        System.err.printf(Locale.ROOT, "CpgBench: task %-28s CPU %10.1f ms in the timed part (%.2f us per message)%n",
                                task, used / 1e6, used / 1e3 / count);
                    }
                });
            }
        }

        private java.util.Map<String, Long> threadsAtStart;
        private java.util.Map<String, Long> cpuAtStart;
    }

    /** CPU of the JIT compiler threads so far (a part of the process's, reported apart: it ends with the warm-up). */
    private static long compilerCpuNanos() throws java.io.IOException {
        long sum = 0;
        for (var task : taskCpu().entrySet()) {
            if (task.getKey().contains(" C1 Compiler") || task.getKey().contains(" C2 Compiler")) {
                sum += task.getValue();
            }
        }
        return sum;
    }

    /** Nanoseconds on CPU of each native thread of this process (schedstat), by "tid name". */
    private static java.util.Map<String, Long> taskCpu() throws java.io.IOException {
        java.util.Map<String, Long> cpu = new java.util.TreeMap<>();
        try (var tasks = Files.list(Path.of("/proc/self/task"))) {
            for (Path task : (Iterable<Path>) tasks::iterator) {
                try {
                    String comm = Files.readString(task.resolve("comm")).strip();
                    long nanos = Long.parseLong(Files.readString(task.resolve("schedstat")).split(" ")[0]);
                    cpu.put(task.getFileName() + " " + comm, nanos);
                } catch (java.io.IOException | RuntimeException gone) {
                    // The thread ended meanwhile.
                }
            }
        }
        return cpu;
    }

    private long processCpuNanos() throws Throwable {
        int rc = (int) CLOCK_GETTIME.invokeExact(CLOCK_PROCESS_CPUTIME_ID, timespec);
        if (rc != 0) {
            fail("clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed");
        }
        return timespec.get(ValueLayout.JAVA_LONG, 0) * 1_000_000_000L + timespec.get(ValueLayout.JAVA_LONG, 8);
    }

    /** This process's CPU in user space (getrusage, as the C program reports it), all threads. */
    private long userCpuNanos() throws Throwable {
        int rc = (int) GETRUSAGE.invokeExact(RUSAGE_SELF, rusage);
        if (rc != 0) {
            fail("getrusage(RUSAGE_SELF) failed");
        }
        return rusage.get(ValueLayout.JAVA_LONG, 0) * 1_000_000_000L + rusage.get(ValueLayout.JAVA_LONG, 8) * 1_000L;
    }

    /** utime + stime of the daemon, in clock ticks. */
    private long daemonTicks() throws Exception {
        String stat = Files.readString(Path.of("/proc/" + daemonPid + "/stat"));
        String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        // Fields 14 and 15 of proc(5); 3 is the first after the command.
        return Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
    }

    /**
     * Diagnostics on stderr (CPGBENCH_DIAG=1): the timed part's wall-clock bounds (to cut a JFR
     * recording) and the bytes each live thread allocated during it.
     */
    private static final boolean DIAG = System.getenv("CPGBENCH_DIAG") != null;

    /** Bytes allocated so far by each live thread, by name. Outside the timed loop only. */
    private static java.util.Map<String, Long> threadAllocations() throws ReflectiveOperationException {
        Object bean = Class.forName("java.lang.management.ManagementFactory").getMethod("getThreadMXBean").invoke(null);
        java.lang.reflect.Method perThread = Class.forName("com.sun.management.ThreadMXBean")
                .getMethod("getThreadAllocatedBytes", long.class);
        java.util.Map<String, Long> result = new java.util.TreeMap<>();
        for (Thread thread : Thread.getAllStackTraces().keySet()) {
            long bytes = (long) perThread.invoke(bean, thread.threadId());
            if (bytes >= 0) {
                result.merge(thread.getName() + "#" + thread.threadId(), bytes, Long::sum);
            }
        }
        return result;
    }

    /** Bytes allocated by all threads so far, or -1 if the JVM cannot tell. */
    private long allocated() throws Throwable {
        return totalAllocated == null ? -1 : (long) totalAllocated.invokeExact();
    }

    /**
     * com.sun.management.ThreadMXBean#getTotalThreadAllocatedBytes (all threads, also those that
     * ended) as a method handle of type ()long, by reflection: the test tree does not read
     * jdk.management at compile time.
     */
    private static MethodHandle allocationCounter() {
        try {
            Object bean = Class.forName("java.lang.management.ManagementFactory").getMethod("getThreadMXBean").invoke(null);
            Class<?> extended = Class.forName("com.sun.management.ThreadMXBean");
            extended.getMethod("setThreadAllocatedMemoryEnabled", boolean.class).invoke(bean, true);
            return MethodHandles.publicLookup()
                    .findVirtual(extended, "getTotalThreadAllocatedBytes", MethodType.methodType(long.class))
                    .bindTo(bean);
        } catch (ReflectiveOperationException | RuntimeException e) {
            System.err.println("CpgBench: no allocation counter (" + e + "): alloc_bytes_per_msg will be null");
            return null;
        }
    }

    private void report(Measure m) throws Throwable {
        long nanos = m.endNanos - m.startNanos;
        long ticksPerSecond = (long) SYSCONF.invokeExact(SC_CLK_TCK);
        long[] sendLatency = Arrays.copyOfRange(this.sendLatency, warm, total);
        long[] deliverLatency = Arrays.copyOfRange(this.deliverLatency, warm, total);
        Arrays.sort(sendLatency);
        Arrays.sort(deliverLatency);
        double seconds = nanos / 1e9;
        StringBuilder json = new StringBuilder(400);
        json.append("{\"impl\":\"java\",\"mode\":\"").append(mode).append('"')
                .append(",\"size\":").append(size)
                .append(",\"count\":").append(count)
                .append(",\"msgs_per_s\":").append(fmt(count / seconds, 1))
                .append(",\"mb_per_s\":").append(fmt((double) count * size / seconds / 1e6, 1))
                .append(",\"send_p50_us\":").append(fmt(percentile(sendLatency, 50) / 1e3, 1))
                .append(",\"send_p99_us\":").append(fmt(percentile(sendLatency, 99) / 1e3, 1))
                .append(",\"deliver_p50_us\":").append(size >= 16 ? fmt(percentile(deliverLatency, 50) / 1e3, 1) : "null")
                .append(",\"deliver_p99_us\":").append(size >= 16 ? fmt(percentile(deliverLatency, 99) / 1e3, 1) : "null")
                .append(",\"try_again\":").append(tryAgain - m.tryAgainStart)
                .append(",\"client_cpu_us_per_msg\":").append(fmt(m.cpu / 1e3 / count, 2))
                .append(",\"user_cpu_us_per_msg\":").append(fmt(m.user / 1e3 / count, 2))
                .append(",\"daemon_cpu_us_per_msg\":").append(fmt(m.daemonTicks * 1e6 / ticksPerSecond / count, 2))
                .append(",\"alloc_bytes_per_msg\":").append(m.alloc < 0 ? "null" : fmt((double) m.alloc / count, 1))
                .append(",\"jit_cpu_us_per_msg\":").append(fmt(m.jit / 1e3 / count, 2))
                .append('}');
        if (served) {
            quiesce();
        }
        System.out.println(json);
        System.out.flush();
    }

    /** Collects the garbage of the run and waits (up to 10 s) until the JIT compiler threads are idle for 200 ms. */
    private static void quiesce() throws java.io.IOException {
        System.gc();
        long deadline = System.nanoTime() + 10_000_000_000L;
        long before = compilerCpuNanos();
        while (System.nanoTime() - deadline < 0) {
            LockSupport.parkNanos(200_000_000L);
            long now = compilerCpuNanos();
            if (now - before < 1_000_000L) {
                return;
            }
            before = now;
        }
    }

    /** Nearest rank: the smallest value with at least p % of the values at or below it. */
    private static long percentile(long[] sorted, int p) {
        int rank = (int) Math.ceil(p / 100.0 * sorted.length);
        return sorted[Math.max(rank, 1) - 1];
    }

    private static String fmt(double value, int decimals) {
        return String.format(Locale.ROOT, "%." + decimals + "f", value);
    }

    private static void fail(String message) {
        System.err.println("CpgBench: FAILED: " + message);
        System.out.flush();
        Runtime.getRuntime().halt(2);
    }
}
