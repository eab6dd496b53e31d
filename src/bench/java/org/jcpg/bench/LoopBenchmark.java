package org.jcpg.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.jcpg.CpgConnection;
import org.jcpg.CpgEventLoop;
import org.jcpg.CpgListener;
import org.jcpg.DispatchMode;
import org.jcpg.GroupName;
import org.jcpg.Guarantee;
import org.jcpg.Message;

/**
 * One run of scripts/bench/bench-loop.sh: sends COUNT messages of SIZE bytes from
 * the main thread and receives them through MODE:
 * <ul>
 * <li>{@code thread}: a hand-written receiver, dispatch(BLOCKING) on a platform thread
 *     with {@link CpgConnection#DISPATCH_STACK_SIZE};
 * <li>{@code loop}: a {@link CpgEventLoop}, callbacks on its thread;
 * <li>{@code executor}: a {@link CpgEventLoop} handing callbacks to virtual threads.
 * </ul>
 * Prints one line: mode, size, messages per second, this process's CPU
 * microseconds per message, the daemon's CPU microseconds per message.
 * Every delivery's sequence number is checked: a lost or reordered message fails the run.
 */
public final class LoopBenchmark {
    private LoopBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        String mode = args[0];
        int size = Integer.parseInt(args[1]);
        int count = Integer.parseInt(args[2]);
        long daemonPid = Long.parseLong(System.getenv("JCPG_COROSYNC_PID"));
        int warmUp = count / 5;
        int total = warmUp + count;

        AtomicLong next = new AtomicLong();
        CountDownLatch warm = new CountDownLatch(1);
        CountDownLatch done = new CountDownLatch(1);
        CpgListener listener = new CpgListener() {
            @Override
            public void onMessage(CpgConnection connection, Message message) {
                long seq = message.payload().get(ValueLayout.JAVA_LONG_UNALIGNED, 0);
                if (seq != next.get() || message.length() != size) {
                    System.err.println("FAILED: got #" + seq + " (" + message.length() + " bytes), expected #" + next.get());
                    System.exit(2);
                }
                long n = next.incrementAndGet();
                if (n == warmUp) {
                    warm.countDown();
                } else if (n == total) {
                    done.countDown();
                }
            }
        };

        ExecutorService executor = mode.equals("executor") ? Executors.newVirtualThreadPerTaskExecutor() : null;
        CpgEventLoop loop = switch (mode) {
            case "thread" -> null;
            case "loop" -> CpgEventLoop.start();
            case "executor" -> CpgEventLoop.builder().executor(executor).start();
            default -> throw new IllegalArgumentException("mode: thread, loop or executor");
        };
        CpgConnection cpg = loop == null ? CpgConnection.open(listener) : loop.open(listener);
        cpg.join(GroupName.of("loopbench-" + ProcessHandle.current().pid()));
        Thread receiver = null;
        if (loop == null) {
            receiver = Thread.ofPlatform().stackSize(CpgConnection.DISPATCH_STACK_SIZE).start(() -> {
                try {
                    cpg.dispatch(DispatchMode.BLOCKING);
                } catch (IllegalStateException closed) {
                    // the end
                }
            });
        }

        try (Arena arena = Arena.ofConfined()) {
            MemorySegment message = arena.allocate(Math.max(size, 8));
            message.fill((byte) 0xA5);
            MemorySegment payload = message.asSlice(0, size);
            long start = 0;
            long cpuStart = 0;
            long daemonStart = 0;
            for (int i = 0; i < total; i++) {
                if (i == warmUp) {
                    warm.await();
                    start = System.nanoTime();
                    cpuStart = processCpuNanos();
                    daemonStart = daemonCpuTicks(daemonPid);
                }
                message.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, i);
                cpg.multicast(Guarantee.AGREED, Duration.ofSeconds(30), payload);
            }
            if (!done.await(120, TimeUnit.SECONDS)) {
                System.err.println("FAILED: delivered " + next.get() + " of " + total);
                System.exit(2);
            }
            long nanos = System.nanoTime() - start;
            long cpu = processCpuNanos() - cpuStart;
            long daemonTicks = daemonCpuTicks(daemonPid) - daemonStart;
            System.out.printf("%s %d %.0f %.2f %.2f%n", mode, size, count * 1e9 / nanos, cpu / 1e3 / count,
                    daemonTicks * 10_000.0 / count);
        }
        cpg.close();
        if (receiver != null) {
            receiver.join();
        }
        if (loop != null) {
            loop.close();
        }
        if (executor != null) {
            executor.close();
        }
    }

    private static long processCpuNanos() {
        return ProcessHandle.current().info().totalCpuDuration().orElseThrow().toNanos();
    }

    /** utime + stime of a process, in clock ticks (1/100 s on Linux). */
    private static long daemonCpuTicks(long pid) throws Exception {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
    }
}
