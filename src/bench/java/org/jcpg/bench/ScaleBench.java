package org.jcpg.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.jcpg.CpgConnection;
import org.jcpg.CpgException;
import org.jcpg.CpgListener;
import org.jcpg.DispatchMode;
import org.jcpg.GroupName;
import org.jcpg.Guarantee;
import org.jcpg.Member;
import org.jcpg.MembershipChange;
import org.jcpg.Message;

/**
 * The scaling runs of scripts/bench/bench-scale.sh (issue 8, section 2), inside the
 * private corosync's network namespace with {@code JCPG_COROSYNC_PID} set.
 *
 * <pre>
 * ScaleBench drive N SIZE SECONDS    N sender processes at once; one JSON line
 * ScaleBench sender SIZE SECONDS     one sender (started by drive)
 * ScaleBench memory open|join N...   cost of N open connections; a JSON line per N
 * ScaleBench report INFO RUNS OUT    the table of scripts/bench/bench-scale.sh, and OUT (JSON)
 * </pre>
 *
 * <p><b>Throughput.</b> {@code drive} starts N child JVMs. Each opens one
 * connection, joins a group of its own ({@code scale-PID}), sends SIZE-byte
 * AGREED messages from a native segment for a second of warm-up, says
 * {@code ready} and waits. When all are ready the driver says {@code go} to
 * all, and each sends for SECONDS (after each send poll the fd with timeout
 * 0 and dispatch ALL if readable; on TRY_AGAIN, unlike the protocol's loop,
 * wait up to 10 ms for the fd before dispatching and retrying: up to 8
 * spinning senders on 2 cores would take the CPU the daemon needs), counting
 * its own deliveries (sequence and length checked),
 * then drains what is in flight and reports. Separate groups, not one shared
 * group: in one group every message would go to all N members, and the work
 * per message would grow with N; here each process gets only its own, so
 * the figures show what N connections cost the daemon's one total order
 * and the clients, not the fan-out.
 * Aggregate msgs/s is the sum of the children's rates over their windows
 * (which start together); client CPU per message the sum of their process CPU
 * (all threads: JIT, GC) in the window over the sum of their deliveries;
 * daemon CPU per message the daemon's CPU from {@code go} until the last
 * child drained, over all messages sent in the windows.
 *
 * <p><b>Memory.</b> {@code memory} opens connections one after another (and
 * joins each to a group of its own with {@code join}), after one untimed
 * open/join/close that loads the classes and libcpg. At each N it measures,
 * against the state before the first one: Java heap used after three
 * {@code System.gc()}, the JVM's native memory in NMT's "Other" category, where
 * FFM arenas are counted (if the JVM runs with
 * {@code -XX:NativeMemoryTracking=summary}; NMT does not see
 * libcpg's own malloc or libqb's shared-memory rings), the process's RSS
 * (which does), open fds, threads, and the daemon's RSS; and prints them
 * per connection, on average since the start and at the margin (since the
 * previous N: what one more connection costs, without fixed costs).
 */
public final class ScaleBench {
    private static final ValueLayout.OfLong LE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle POLL = LINKER.downcallHandle(LINKER.defaultLookup().find("poll").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
    private static final MethodHandle CLOCK_GETTIME = LINKER.downcallHandle(
            LINKER.defaultLookup().find("clock_gettime").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
    private static final int CLOCK_PROCESS_CPUTIME_ID = 2;
    private static final short POLLIN = 1;
    private static final long TIMEOUT_NANOS = 120_000_000_000L;

    private ScaleBench() {
    }

    public static void main(String[] args) throws Throwable {
        if (args.length < 1) {
            fail("usage: ScaleBench drive N SIZE SECONDS | sender SIZE SECONDS | memory open|join N...");
        }
        switch (args[0]) {
            case "drive" -> drive(Integer.parseInt(args[1]), Integer.parseInt(args[2]), Double.parseDouble(args[3]));
            case "sender" -> {
                Sender sender = new Sender(Integer.parseInt(args[1]), Double.parseDouble(args[2]));
                Throwable[] failure = new Throwable[1];
                Thread thread = Thread.ofPlatform().name("scale-sender").stackSize(CpgConnection.DISPATCH_STACK_SIZE)
                        .start(() -> {
                            try {
                                sender.run();
                            } catch (Throwable t) {
                                failure[0] = t;
                            }
                        });
                thread.join();
                if (failure[0] != null) {
                    throw failure[0];
                }
            }
            case "memory" -> {
                List<Integer> steps = new ArrayList<>();
                for (int i = 2; i < args.length; i++) {
                    steps.add(Integer.parseInt(args[i]));
                }
                memory(args[1].equals("join"), steps);
            }
            case "report" -> report(Path.of(args[1]), Path.of(args[2]), Path.of(args[3]));
            default -> fail("unknown mode " + args[0]);
        }
    }

    // ---- throughput: the driver ---------------------------------------------------------

    private static void drive(int n, int size, double seconds) throws Exception {
        long daemonPid = Long.parseLong(System.getenv("JCPG_COROSYNC_PID"));
        String java = ProcessHandle.current().info().command().orElseThrow();
        List<Process> children = new ArrayList<>();
        List<BufferedReader> outputs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Process child = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED",
                    "-cp", System.getProperty("java.class.path"), ScaleBench.class.getName(),
                    "sender", Integer.toString(size), Double.toString(seconds))
                    .redirectError(ProcessBuilder.Redirect.INHERIT).start();
            children.add(child);
            outputs.add(new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8)));
        }
        try {
            for (BufferedReader output : outputs) {
                String line = output.readLine();
                if (!"ready".equals(line)) {
                    fail("a sender did not get ready: " + line);
                }
            }
            long daemonStart = daemonTicks(daemonPid);
            long start = System.nanoTime();
            for (Process child : children) {
                PrintStream in = new PrintStream(child.getOutputStream(), true, StandardCharsets.UTF_8);
                in.println("go");
            }
            double rate = 0;
            long delivered = 0;
            long sent = 0;
            double cpuNanos = 0;
            long tryAgain = 0;
            StringBuilder each = new StringBuilder();
            for (BufferedReader output : outputs) {
                String line = output.readLine();
                if (line == null || !line.startsWith("{")) {
                    fail("a sender failed: " + line);
                }
                rate += number(line, "msgs_per_s");
                delivered += (long) number(line, "delivered");
                sent += (long) number(line, "sent");
                cpuNanos += number(line, "cpu_ns");
                tryAgain += (long) number(line, "try_again");
                each.append(each.isEmpty() ? "" : ",").append(line);
            }
            long daemonTicks = daemonTicks(daemonPid) - daemonStart;
            double wall = (System.nanoTime() - start) / 1e9;
            for (Process child : children) {
                if (child.waitFor() != 0) {
                    fail("a sender exited with " + child.exitValue());
                }
            }
            double tick = 1e6 / 100; // microseconds per clock tick (USER_HZ is 100 on Linux)
            System.out.printf(Locale.ROOT, "{\"connections\":%d,\"size\":%d,\"seconds\":%.1f,\"msgs_per_s\":%.1f,"
                            + "\"client_cpu_us_per_msg\":%.2f,\"daemon_cpu_us_per_msg\":%.2f,\"daemon_cores\":%.2f,"
                            + "\"delivered\":%d,\"sent\":%d,\"try_again\":%d,\"senders\":[%s]}%n",
                    n, size, seconds, rate, cpuNanos / 1e3 / delivered, daemonTicks * tick / sent,
                    daemonTicks / 100.0 / wall, delivered, sent, tryAgain, each);
        } finally {
            children.forEach(Process::destroyForcibly);
        }
    }

    // ---- throughput: one sender ---------------------------------------------------------

    private static final class Sender {
        private final int size;
        private final double seconds;

        private final int ourPid = (int) ProcessHandle.current().pid();
        private final MemorySegment pollFd = Arena.global().allocate(8, 8);
        private final MemorySegment timespec = Arena.global().allocate(16, 8);
        private CpgConnection cpg;
        private volatile long localNode;
        private volatile boolean joined;
        private long delivered;
        private long sent;
        private long tryAgain;

        Sender(int size, double seconds) {
            if (size < 8) {
                fail("SIZE must be at least 8 (the sequence number)");
            }
            this.size = size;
            this.seconds = seconds;
        }

        private final CpgListener listener = new CpgListener() {
            @Override
            public void onMessage(CpgConnection connection, Message message) {
                if (message.length() != size) {
                    fail("a delivery has " + message.length() + " bytes, expected " + size);
                }
                long seq = message.payload().get(LE_LONG, 0);
                if (seq != delivered) {
                    fail("delivery #" + delivered + " carries sequence number " + seq + ": lost or reordered");
                }
                delivered++;
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

        void run() throws Throwable {
            BufferedReader stdin = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            cpg = CpgConnection.open(listener);
            try (Arena arena = Arena.ofConfined()) {
                localNode = cpg.localNodeId();
                pollFd.set(ValueLayout.JAVA_INT, 0, cpg.fd());
                pollFd.set(ValueLayout.JAVA_SHORT, 4, POLLIN);
                cpg.join(GroupName.of("scale-" + ourPid));
                long deadline = System.nanoTime() + TIMEOUT_NANOS;
                while (!joined) {
                    pollAndDispatch(100, deadline);
                }
                MemorySegment message = arena.allocate(size, 16);
                message.fill((byte) 0xA5);
                sendFor(message, 1_000_000_000L);
                System.out.println("ready");
                System.out.flush();
                if (!"go".equals(stdin.readLine())) {
                    fail("no go from the driver");
                }
                long delivered0 = delivered;
                long sent0 = sent;
                long tryAgain0 = tryAgain;
                long cpu0 = processCpuNanos();
                long start = System.nanoTime();
                sendFor(message, (long) (seconds * 1e9));
                long end = System.nanoTime();
                long cpu = processCpuNanos() - cpu0;
                long inWindow = delivered - delivered0;
                long sentInWindow = sent - sent0;
                deadline = System.nanoTime() + TIMEOUT_NANOS;
                while (delivered < sent) {
                    pollAndDispatch(100, deadline);
                }
                System.out.printf(Locale.ROOT, "{\"pid\":%d,\"msgs_per_s\":%.1f,\"delivered\":%d,\"sent\":%d,\"cpu_ns\":%d,"
                                + "\"try_again\":%d}%n",
                        ourPid, inWindow / ((end - start) / 1e9), inWindow, sentInWindow, cpu, tryAgain - tryAgain0);
                System.out.flush();
            } finally {
                cpg.close();
            }
        }

        private void sendFor(MemorySegment message, long nanos) throws Throwable {
            long end = System.nanoTime() + nanos;
            while (System.nanoTime() - end < 0) {
                message.set(LE_LONG, 0, sent);
                if (cpg.tryMulticast(Guarantee.AGREED, message)) {
                    sent++;
                    pollAndDispatch(0, 0);
                } else {
                    // The daemon's queue is full: wait for our deliveries rather than spin, so that
                    // more senders than cores do not take the CPU the daemon needs to drain it.
                    tryAgain++;
                    pollAndDispatch(10, 0);
                }
            }
        }

        /** poll(fd, timeoutMillis), dispatch ALL if readable; fails past {@code deadline} unless it is 0. */
        private void pollAndDispatch(int timeoutMillis, long deadline) throws Throwable {
            if (deadline != 0 && System.nanoTime() - deadline > 0) {
                fail("timed out: delivered " + delivered + " of " + sent);
            }
            pollFd.set(ValueLayout.JAVA_SHORT, 6, (short) 0);
            int ready = (int) POLL.invokeExact(pollFd, 1L, timeoutMillis);
            if (ready > 0 && pollFd.get(ValueLayout.JAVA_SHORT, 6) != 0) {
                cpg.dispatch(DispatchMode.ALL);
            }
        }

        private long processCpuNanos() throws Throwable {
            int rc = (int) CLOCK_GETTIME.invokeExact(CLOCK_PROCESS_CPUTIME_ID, timespec);
            if (rc != 0) {
                fail("clock_gettime failed");
            }
            return timespec.get(ValueLayout.JAVA_LONG, 0) * 1_000_000_000L + timespec.get(ValueLayout.JAVA_LONG, 8);
        }
    }

    // ---- memory per open connection -------------------------------------------------------

    private record Figures(long heap, long nmt, long rss, long fds, long threads, long daemonRss) {
        static Figures now(long daemonPid) throws Exception {
            Runtime runtime = Runtime.getRuntime();
            for (int i = 0; i < 3; i++) {
                System.gc();
                Thread.sleep(100);
            }
            return new Figures(runtime.totalMemory() - runtime.freeMemory(), nmtCommitted(),
                    statusKb(Path.of("/proc/self/status"), "VmRSS") * 1024, count(Path.of("/proc/self/fd")),
                    count(Path.of("/proc/self/task")), statusKb(Path.of("/proc/" + daemonPid + "/status"), "VmRSS") * 1024);
        }
    }

    private static void memory(boolean join, List<Integer> steps) throws Exception {
        long daemonPid = Long.parseLong(System.getenv("JCPG_COROSYNC_PID"));
        String prefix = "mem-" + ProcessHandle.current().pid() + "-";
        // Loads jcpg's classes and libcpg, so that the first measured connection pays only for itself.
        try (CpgConnection warm = retrying(() -> CpgConnection.open(new CpgListener() { }))) {
            if (join) {
                retrying(() -> {
                    warm.join(GroupName.of(prefix + "warm"));
                    return null;
                });
            }
        }
        Thread.sleep(500); // the reaper finalizes it
        // Once untimed: the first measurement's own lookups (NMT through the diagnostic command
        // MBean, /proc) leave objects on the heap that the base figure must already include.
        Figures.now(daemonPid);
        Figures base = Figures.now(daemonPid);
        List<CpgConnection> open = new ArrayList<>();
        Figures previous = base;
        int previousCount = 0;
        try {
            for (int n : steps) {
                while (open.size() < n) {
                    CpgConnection cpg = retrying(() -> CpgConnection.open(new CpgListener() { }));
                    open.add(cpg);
                    if (join) {
                        GroupName group = GroupName.of(prefix + open.size());
                        retrying(() -> {
                            cpg.join(group);
                            return null;
                        });
                    }
                }
                Figures now = Figures.now(daemonPid);
                System.out.printf(Locale.ROOT, "{\"mode\":\"%s\",\"connections\":%d,\"heap_bytes_per_conn\":%.0f,"
                                + "\"nmt_bytes_per_conn\":%s,\"rss_bytes_per_conn\":%.0f,\"fds_per_conn\":%.2f,"
                                + "\"threads_per_conn\":%.3f,\"daemon_rss_bytes_per_conn\":%.0f,"
                                + "\"heap_marginal_bytes_per_conn\":%.0f,\"rss_marginal_bytes_per_conn\":%.0f,"
                                + "\"daemon_rss_marginal_bytes_per_conn\":%.0f,"
                                + "\"heap_bytes\":%d,\"rss_bytes\":%d,\"daemon_rss_bytes\":%d}%n",
                        join ? "join" : "open", n, (now.heap() - base.heap()) / (double) n,
                        now.nmt() < 0 || base.nmt() < 0 ? "null" : String.format(Locale.ROOT, "%.0f", (now.nmt() - base.nmt()) / (double) n),
                        (now.rss() - base.rss()) / (double) n, (now.fds() - base.fds()) / (double) n,
                        (now.threads() - base.threads()) / (double) n, (now.daemonRss() - base.daemonRss()) / (double) n,
                        (now.heap() - previous.heap()) / (double) (n - previousCount),
                        (now.rss() - previous.rss()) / (double) (n - previousCount),
                        (now.daemonRss() - previous.daemonRss()) / (double) (n - previousCount),
                        now.heap(), now.rss(), now.daemonRss());
                System.out.flush();
                previous = now;
                previousCount = n;
            }
        } finally {
            open.forEach(CpgConnection::close);
        }
    }

    // ---- the report -----------------------------------------------------------------------

    /**
     * RUNS holds the JSON lines of drive (medians per connection count when
     * there are several rounds) and memory; INFO key=value lines.
     */
    private static void report(Path info, Path runs, Path out) throws IOException {
        List<String> drives = new ArrayList<>();
        List<String> memories = new ArrayList<>();
        for (String line : Files.readAllLines(runs)) {
            if (line.startsWith("{\"connections\"")) {
                drives.add(line);
            } else if (line.startsWith("{\"mode\"")) {
                memories.add(line);
            }
        }
        PrintStream o = System.out;
        o.println();
        o.printf(Locale.ROOT, "%-11s %6s %10s %8s %14s %14s %12s%n", "connections", "rounds", "msgs/s", "vs 1",
                "client us/msg", "daemon us/msg", "daemon cores");
        java.util.TreeMap<Integer, List<String>> byCount = new java.util.TreeMap<>();
        drives.forEach(line -> byCount.computeIfAbsent((int) number(line, "connections"), k -> new ArrayList<>()).add(line));
        double one = Double.NaN;
        for (var entry : byCount.entrySet()) {
            List<String> lines = entry.getValue();
            double rate = median(lines, "msgs_per_s");
            if (entry.getKey() == 1) {
                one = rate;
            }
            o.printf(Locale.ROOT, "%-11d %6d %10.0f %8.2f %14.2f %14.2f %12.2f%n", entry.getKey(), lines.size(), rate,
                    rate / one, median(lines, "client_cpu_us_per_msg"), median(lines, "daemon_cpu_us_per_msg"),
                    median(lines, "daemon_cores"));
        }
        o.println();
        o.printf(Locale.ROOT, "%-5s %5s %11s %11s %10s %11s %11s %8s %13s%n", "mode", "conns", "heap B/conn",
                "(marginal)", "NMT Other", "RSS B/conn", "(marginal)", "fds/conn", "daemon RSS/c");
        for (String line : memories) {
            double nmt = number(line, "nmt_bytes_per_conn");
            o.printf(Locale.ROOT, "%-5s %5d %11.0f %11.0f %10s %11.0f %11.0f %8.2f %13.0f%n",
                    line.contains("\"join\"") ? "join" : "open", (long) number(line, "connections"),
                    number(line, "heap_bytes_per_conn"), number(line, "heap_marginal_bytes_per_conn"),
                    Double.isNaN(nmt) ? "-" : String.format(Locale.ROOT, "%.0f", nmt),
                    number(line, "rss_bytes_per_conn"), number(line, "rss_marginal_bytes_per_conn"),
                    number(line, "fds_per_conn"), number(line, "daemon_rss_bytes_per_conn"));
        }
        o.println("(per connection: average since none were open; marginal: since the previous row; NMT Other: FFM arenas)");
        StringBuilder json = new StringBuilder("{\"info\":{");
        String separator = "";
        for (String line : Files.readAllLines(info)) {
            int eq = line.indexOf('=');
            if (eq > 0) {
                json.append(separator).append('"').append(line, 0, eq).append("\":\"")
                        .append(line.substring(eq + 1).replace("\\", "\\\\").replace("\"", "\\\"")).append('"');
                separator = ",";
            }
        }
        json.append("},\"throughput\":[").append(String.join(",", drives))
                .append("],\"memory\":[").append(String.join(",", memories)).append("]}\n");
        Files.writeString(out, json);
        o.println();
        o.println("written: " + out);
    }

    static double median(List<String> lines, String key) {
        double[] values = lines.stream().mapToDouble(line -> number(line, key)).sorted().toArray();
        int n = values.length;
        return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
    }

    /** The daemon refuses a connection or join now and then while it is busy (TRY_AGAIN): retry. */
    private static <T> T retrying(Supplier<T> call) throws InterruptedException {
        for (int attempt = 0; ; attempt++) {
            try {
                return call.get();
            } catch (CpgException e) {
                if (!e.isRetryable() || attempt > 200) {
                    throw e;
                }
                Thread.sleep(10);
            }
        }
    }

    /** Committed bytes of NMT's "Other" category (FFM arenas, Unsafe), or -1 if tracking is off. */
    private static long nmtCommitted() {
        try {
            // By reflection: the test tree is compiled without java.management.
            Object server = Class.forName("java.lang.management.ManagementFactory")
                    .getMethod("getPlatformMBeanServer").invoke(null);
            Class<?> objectName = Class.forName("javax.management.ObjectName");
            Object name = objectName.getConstructor(String.class).newInstance("com.sun.management:type=DiagnosticCommand");
            String text = (String) Class.forName("javax.management.MBeanServerConnection")
                    .getMethod("invoke", objectName, String.class, Object[].class, String[].class)
                    .invoke(server, name, "vmNativeMemory", new Object[] {new String[] {"summary"}},
                            new String[] {String[].class.getName()});
            // "Other" is where Unsafe.allocateMemory, and so every FFM arena, is counted; the other
            // categories (heap, GC, code, classes) move with the JVM's own activity.
            Matcher other = Pattern.compile("Other \\(reserved=\\d+KB, committed=(\\d+)KB").matcher(text);
            return other.find() ? Long.parseLong(other.group(1)) * 1024 : -1;
        } catch (ReflectiveOperationException | RuntimeException e) {
            return -1;
        }
    }

    private static long statusKb(Path status, String field) throws IOException {
        for (String line : Files.readAllLines(status)) {
            if (line.startsWith(field + ":")) {
                return Long.parseLong(line.substring(field.length() + 1).trim().split("\\s+")[0]);
            }
        }
        return -1;
    }

    private static long count(Path directory) throws IOException {
        try (Stream<Path> entries = Files.list(directory)) {
            return entries.count();
        }
    }

    /** utime + stime of a process, in clock ticks. */
    private static long daemonTicks(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
    }

    /** A number field of a flat one-line JSON object, NaN if absent. */
    static double number(String json, String key) {
        Matcher m = Pattern.compile("\"" + Pattern.quote(key) + "\":(-?[0-9.]+)").matcher(json);
        return m.find() ? Double.parseDouble(m.group(1)) : Double.NaN;
    }

    private static void fail(String message) {
        System.err.println("ScaleBench: FAILED: " + message);
        System.out.flush();
        Runtime.getRuntime().halt(2);
    }
}
