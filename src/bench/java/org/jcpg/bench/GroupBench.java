package org.jcpg.bench;

import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import org.jcpg.CpgConnection;
import org.jcpg.CpgEventLoop;
import org.jcpg.CpgListener;
import org.jcpg.GroupName;
import org.jcpg.Guarantee;
import org.jcpg.MembershipChange;
import org.jcpg.Message;
import org.jcpg.bundling.Bundling;
import org.jcpg.bundling.BundlingSender;
import org.jgroups.BytesMessage;
import org.jgroups.JChannel;
import org.jgroups.Receiver;
import org.jgroups.View;

/**
 * One member of the side-by-side benchmark of scripts/bench/bench-bundle.sh (issue
 * 10): jcpg with bundling, plain jcpg, or JGroups (TCP on loopback with
 * SEQUENCER for total order). Two JVMs make a run: the sender (started
 * first, so that in JGroups it is the coordinator and thus the sequencer)
 * and a receiver.
 *
 * <p>{@code GroupBench IMPL ROLE SIZE COUNT WARMUP_SECONDS GROUP [PORT PEER]},
 * IMPL one of {@code bundled plain jgroups}, ROLE {@code sender} or
 * {@code receiver}. The sender waits until both are members, sends untimed
 * warm-up messages for WARMUP_SECONDS, waits for its own delivery of the last
 * of them, then sends COUNT timed ones; all of SIZE bytes (bytes 0-7 the
 * sequence number, 8-15 the send time, 16-19 the kind, the rest 0xA5), as
 * fast as the implementation takes them. It times from just before the
 * first timed send to its own delivery of the last one; delivery latency is
 * measured on its own messages (same clock). Every member checks every
 * delivery's sequence and length: a loss or reorder fails the run, as does a
 * minute without any delivery. The receiver sends a "done" message after the
 * last one, which the sender waits for before it leaves. Each prints one
 * JSON line: throughput and latency (sender), this JVM's CPU time in the
 * timed part, corosync's CPU ticks (jcpg), the number of warm-up messages.
 */
public final class GroupBench {
    private static final ValueLayout.OfLong LE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int DATA = 0;
    private static final int DONE = 1;
    private static final int WARMUP = 2;
    private static final Duration SEND_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration STALL_LIMIT = Duration.ofSeconds(60);
    private static final MethodHandle CLOCK_GETTIME = Linker.nativeLinker().downcallHandle(
            Linker.nativeLinker().defaultLookup().find("clock_gettime").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
    private static final int CLOCK_PROCESS_CPUTIME_ID = 2;

    private final String impl;
    private final boolean sender;
    private final int size;
    private final int count;
    private final Duration warmupTime;
    private final long[] latencies;
    private final CountDownLatch members = new CountDownLatch(1);
    private final CountDownLatch warmedUp = new CountDownLatch(1);
    private final CountDownLatch lastDelivered = new CountDownLatch(1);
    private final CountDownLatch peerDone = new CountDownLatch(1);
    private volatile String failure;
    private volatile long expected;
    /** Sender: how many warm-up messages it sent, -1 until the warm-up is over. */
    private volatile long warmupSent = -1;
    /** The sequence number of the first timed message, -1 until it is known. */
    private long firstTimed = -1;
    private long warmupMessages;
    private long cpuStart;
    private long cpuEnd;
    private long endNanos;

    private GroupBench(String impl, boolean sender, int size, int count, Duration warmupTime) {
        this.impl = impl;
        this.sender = sender;
        this.size = Math.max(size, 20);
        this.count = count;
        this.warmupTime = warmupTime;
        this.latencies = new long[sender ? count : 0];
    }

    public static void main(String[] args) throws Throwable {
        if (args.length < 6) {
            System.err.println("usage: GroupBench bundled|plain|jgroups sender|receiver SIZE COUNT WARMUP_SECONDS GROUP [PORT PEER]");
            System.exit(2);
        }
        GroupBench bench = new GroupBench(args[0], args[1].equals("sender"), Integer.parseInt(args[2]),
                Integer.parseInt(args[3]), Duration.ofMillis(Math.round(Double.parseDouble(args[4]) * 1000)));
        bench.startWatchdog();
        String json = switch (bench.impl) {
            case "bundled", "plain" -> bench.runJcpg(args[5]);
            case "jgroups" -> bench.runJGroups(args[5], args[6], args[7]);
            default -> throw new IllegalArgumentException("unknown implementation " + bench.impl);
        };
        System.out.println(json);
        System.out.flush();
        Runtime.getRuntime().halt(bench.failure == null ? 0 : 1);
    }

    // ---- deliveries, the same for every implementation ------------------------

    /** A delivered message (any thread, one at a time). */
    private void delivered(MemorySegment payload, boolean fromSender) {
        long now = System.nanoTime();
        int kind = payload.get(LE_INT, 16);
        if (kind == DONE) {
            peerDone.countDown();
            return;
        }
        if (!fromSender) {
            return;
        }
        long seq = payload.get(LE_LONG, 0);
        if (seq != expected || payload.byteSize() != size) {
            fail("delivery " + expected + ": got seq " + seq + ", " + payload.byteSize() + " bytes");
            return;
        }
        expected++;
        if (kind == WARMUP) {
            if (seq == warmupSent - 1) {
                warmedUp.countDown();
            }
            return;
        }
        if (firstTimed < 0) {
            firstTimed = seq;
            if (!sender) {
                cpuStart = processCpuNanos();
            }
        }
        if (sender) {
            latencies[(int) (seq - firstTimed)] = now - payload.get(LE_LONG, 8);
        }
        if (seq == firstTimed + count - 1) {
            endNanos = now;
            cpuEnd = processCpuNanos();
            lastDelivered.countDown();
        }
    }

    private void fill(MemorySegment message, long seq, int kind) {
        message.set(LE_LONG, 0, seq);
        message.set(LE_LONG, 8, System.nanoTime());
        message.set(LE_INT, 16, kind);
    }

    private MemorySegment template(MemorySegment message) {
        message.fill((byte) 0xA5);
        return message;
    }

    private void fail(String what) {
        if (failure == null) {
            failure = what;
        }
        warmedUp.countDown();
        lastDelivered.countDown();
        peerDone.countDown();
    }

    /** Sends one message of this sequence number and kind (the sender's thread). */
    @FunctionalInterface
    private interface Send {
        void send(long seq, int kind) throws Exception;
    }

    /** Hands over whatever the sender still holds back (bundled jcpg). */
    @FunctionalInterface
    private interface Flush {
        void flush() throws Exception;
    }

    /**
     * The sender's part: warm-up messages for {@link #warmupTime} (the JIT of
     * each implementation needs time and iterations: JGroups at some 500,000
     * msgs/s needs seconds and about a million messages before it runs
     * compiled code), then, once its own last warm-up message is delivered,
     * COUNT timed ones. The timed part thus starts on an empty pipeline:
     * otherwise whatever the warm-up left queued (in JGroups up to its
     * flow-control credits, tens of thousands of small messages) would be
     * delivered inside it. Returns the start time of the timed part.
     */
    private long sendAll(Send send, Flush flush, Runnable atTimedStart) throws Exception {
        long seq = 0;
        long warmupEnd = System.nanoTime() + warmupTime.toNanos();
        while (failure == null && System.nanoTime() - warmupEnd < 0) {
            send.send(seq++, WARMUP);
        }
        flush.flush();
        warmupSent = seq;
        if (expected >= seq) {
            warmedUp.countDown();
        }
        warmedUp.await();
        warmupMessages = seq;
        atTimedStart.run();
        cpuStart = processCpuNanos();
        long startNanos = System.nanoTime();
        for (long last = seq + count; seq < last && failure == null; seq++) {
            send.send(seq, DATA);
        }
        flush.flush();
        return startNanos;
    }

    /**
     * A slow machine is no failure, a stall is: if no delivery came for
     * {@link #STALL_LIMIT} (the main thread may be blocked in a send), this
     * member reports the failure and exits.
     */
    private void startWatchdog() {
        Thread watchdog = new Thread(() -> {
            long seen = -1;
            while (true) {
                try {
                    Thread.sleep(STALL_LIMIT.toMillis());
                } catch (InterruptedException e) {
                    return;
                }
                long now = expected;
                if (now == seen && failure == null && peerDone.getCount() > 0) {
                    fail("no delivery for " + STALL_LIMIT.toSeconds() + " s (after " + now + ")");
                    System.out.println(sender ? senderJson(0, 0, "") : receiverJson(0));
                    System.out.flush();
                    Runtime.getRuntime().halt(1);
                }
                seen = now;
            }
        }, "watchdog");
        watchdog.setDaemon(true);
        watchdog.start();
    }

    // ---- jcpg -----------------------------------------------------------------

    private String runJcpg(String groupName) throws Throwable {
        boolean bundled = impl.equals("bundled");
        long[] senderPid = {-1};
        CpgListener listener = new CpgListener() {
            @Override
            public void onMessage(CpgConnection connection, Message message) {
                if (senderPid[0] < 0 && message.payload().get(LE_INT, 16) != DONE) {
                    senderPid[0] = message.pid();
                }
                delivered(message.payload(), message.pid() == senderPid[0]);
            }

            @Override
            public void onMembershipChange(CpgConnection connection, MembershipChange change) {
                if (change.members().size() >= 2) {
                    members.countDown();
                } else if (members.getCount() == 0 && lastDelivered.getCount() > 0) {
                    fail("the other member left");
                }
            }
        };
        Bundling bundling = bundling();
        long daemonPid = Long.parseLong(System.getenv().getOrDefault("JCPG_COROSYNC_PID", "0"));
        try (CpgEventLoop loop = CpgEventLoop.start();
             CpgConnection cpg = loop.open(bundled ? bundling.receiver(listener) : listener)) {
            cpg.join(GroupName.of(groupName));
            System.out.println("CONNECTED true");
            System.out.flush();
            BundlingSender out = bundled ? bundling.sender(cpg) : null;
            members.await();
            Arena arena = Arena.ofConfined();
            MemorySegment message = template(bundled ? MemorySegment.ofArray(new byte[size]) : arena.allocate(size));
            if (sender) {
                long[] daemonStart = {0};
                long startNanos = sendAll((seq, kind) -> {
                    fill(message, seq, kind);
                    if (bundled) {
                        out.send(message, SEND_TIMEOUT);
                    } else {
                        cpg.multicast(Guarantee.AGREED, SEND_TIMEOUT, message);
                    }
                }, () -> {
                    if (bundled) {
                        out.flush(SEND_TIMEOUT);
                    }
                }, () -> daemonStart[0] = daemonTicks(daemonPid));
                lastDelivered.await();
                long daemonTicks = daemonTicks(daemonPid) - daemonStart[0];
                peerDone.await();
                String extra = (bundled ? ",\"bundles\":" + out.statistics().bundles()
                        + ",\"largest_bundle\":" + out.statistics().largestBundle() : "")
                        + ",\"try_again\":" + cpg.statistics().sendsRefused()
                        + ",\"dispatches\":" + cpg.statistics().dispatchCalls();
                return senderJson(startNanos, daemonTicks, extra);
            }
            lastDelivered.await();
            long daemonTicks = 0;
            fill(message, 0, DONE);
            if (bundled) {
                out.send(message, SEND_TIMEOUT);
                out.flush(SEND_TIMEOUT);
            } else {
                cpg.multicast(Guarantee.AGREED, SEND_TIMEOUT, message);
            }
            Thread.sleep(200);
            return receiverJson(daemonTicks);
        }
    }

    /**
     * The defaults, or options given as system properties (for trying other
     * settings: {@code -Dbench.maxBundleBytes=N -Dbench.maxInFlight=N
     * -Dbench.maxDelayMicros=N -Dbench.queueBytes=N}, e.g. through
     * BENCH_JAVA_OPTS).
     */
    static Bundling bundling() {
        Bundling defaults = Bundling.defaults();
        Bundling.Builder builder = Bundling.builder()
                .maxBundleBytes(Integer.getInteger("bench.maxBundleBytes", defaults.maxBundleBytes()))
                .maxInFlight(Integer.getInteger("bench.maxInFlight", defaults.maxInFlight()))
                .maxDelay(Duration.ofNanos(1000L * Long.getLong("bench.maxDelayMicros", defaults.maxDelay().toNanos() / 1000)))
                .queueBytes(Long.getLong("bench.queueBytes", defaults.queueBytes()));
        return builder.build();
    }

    private static long daemonTicks(long pid) {
        if (pid <= 0) {
            return 0;
        }
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
        } catch (Exception e) {
            return 0;
        }
    }

    // ---- JGroups ---------------------------------------------------------------

    private String runJGroups(String groupName, String port, String peer) throws Throwable {
        System.setProperty("java.net.preferIPv4Stack", "true");
        System.setProperty("bench.port", port);
        System.setProperty("bench.peer", peer);
        JChannel channel;
        try (InputStream config = GroupBench.class.getResourceAsStream("jgroups-tcp-sequencer.xml")) {
            channel = new JChannel(config);
        }
        Object[] senderAddress = {null};
        channel.setReceiver(new Receiver() {
            @Override
            public void receive(org.jgroups.Message message) {
                MemorySegment payload = MemorySegment.ofArray(message.getArray())
                        .asSlice(message.getOffset(), message.getLength());
                if (senderAddress[0] == null && payload.get(LE_INT, 16) != DONE) {
                    senderAddress[0] = message.getSrc();
                }
                delivered(payload, message.getSrc().equals(senderAddress[0]));
            }

            @Override
            public void viewAccepted(View view) {
                if (view.size() >= 2) {
                    members.countDown();
                } else if (members.getCount() == 0 && lastDelivered.getCount() > 0) {
                    fail("the other member left");
                }
            }
        });
        try {
            channel.connect(groupName);
            // The script starts the receiver once the sender is its own cluster's coordinator.
            System.out.println("CONNECTED " + channel.getView().getCoord().equals(channel.getAddress()));
            System.out.flush();
            members.await();
            if (sender) {
                if (!channel.getView().getCoord().equals(channel.getAddress())) {
                    fail("the sender is not the coordinator (sequencer)");
                }
                long startNanos = sendAll((seq, kind) -> {
                    // JGroups keeps a reference to the array until its bundler has sent it.
                    MemorySegment message = template(MemorySegment.ofArray(new byte[size]));
                    fill(message, seq, kind);
                    channel.send(new BytesMessage(null, (byte[]) message.heapBase().orElseThrow()));
                }, () -> { }, () -> { });
                lastDelivered.await();
                peerDone.await();
                return senderJson(startNanos, 0, "");
            }
            lastDelivered.await();
            MemorySegment done = template(MemorySegment.ofArray(new byte[size]));
            fill(done, 0, DONE);
            channel.send(new BytesMessage(null, (byte[]) done.heapBase().orElseThrow()));
            Thread.sleep(200);
            return receiverJson(0);
        } finally {
            channel.close();
        }
    }

    // ---- results -----------------------------------------------------------------

    private String senderJson(long startNanos, long daemonTicks, String extra) {
        long elapsed = endNanos - startNanos;
        long[] sorted = latencies.clone();
        Arrays.sort(sorted);
        return String.format(Locale.ROOT,
                "{\"impl\":\"%s\",\"role\":\"sender\",\"size\":%d,\"count\":%d,\"ok\":%b,\"failure\":%s,"
                        + "\"elapsed_s\":%.4f,\"msgs_per_s\":%.0f,\"latency_p50_us\":%.1f,\"latency_p99_us\":%.1f,"
                        + "\"cpu_ns\":%d,\"daemon_ticks\":%d,\"warmup_msgs\":%d%s}",
                impl, size, count, failure == null, failure == null ? "null" : "\"" + failure.replace("\"", "'") + "\"",
                elapsed / 1e9, count / (elapsed / 1e9), percentile(sorted, 50) / 1e3, percentile(sorted, 99) / 1e3,
                cpuEnd - cpuStart, daemonTicks, warmupMessages, extra);
    }

    private String receiverJson(long daemonTicks) {
        return String.format(Locale.ROOT,
                "{\"impl\":\"%s\",\"role\":\"receiver\",\"size\":%d,\"count\":%d,\"ok\":%b,\"failure\":%s,\"cpu_ns\":%d}",
                impl, size, count, failure == null, failure == null ? "null" : "\"" + failure.replace("\"", "'") + "\"",
                cpuEnd - cpuStart);
    }

    private static long percentile(long[] sorted, int p) {
        if (sorted.length == 0) {
            return 0;
        }
        int rank = (int) Math.ceil(p / 100.0 * sorted.length);
        return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
    }

    private static long processCpuNanos() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment timespec = arena.allocate(16, 8);
            int rc = (int) CLOCK_GETTIME.invokeExact(CLOCK_PROCESS_CPUTIME_ID, timespec);
            if (rc != 0) {
                throw new IllegalStateException("clock_gettime failed");
            }
            return timespec.get(ValueLayout.JAVA_LONG, 0) * 1_000_000_000L + timespec.get(ValueLayout.JAVA_LONG, 8);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
