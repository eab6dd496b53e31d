package org.jcpg.testsupport;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.IntStream;
import org.jcpg.CpgConnection;
import org.jcpg.CpgEventLoop;
import org.jcpg.Guarantee;

/**
 * What the event-loop tests share: loops with each kind of executor, and numbered messages of
 * varying size ({@link Payloads#pattern}) sent and counted.
 */
public final class EventLoops {
    /** How long a send may wait out flow control. */
    public static final Duration SEND_TIMEOUT = Duration.ofSeconds(30);

    private EventLoops() {
    }

    /** Sleeps; an interrupt fails the caller. */
    public static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Parks the thread for about {@code millis} ms; an interrupt ends it early, silently. */
    public static void parkMillis(long millis) {
        LockSupport.parkNanos(millis * 1_000_000);
    }

    /** Sends pattern(k, size), waiting out TRY_AGAIN (something else dispatches). */
    public static void send(CpgConnection cpg, int k, int size) {
        cpg.multicast(Guarantee.AGREED, SEND_TIMEOUT, MemorySegment.ofArray(Payloads.pattern(k, size)));
    }

    /** A size that varies with k, at least 4 (the index). */
    public static int sizeOf(int k) {
        return 8 + (k * 37) % 300;
    }

    /** An executor of the named kind ("virtual", "fixed4"), or null ("loop") for callbacks on the loop thread. */
    public static ExecutorService executor(String kind) {
        return switch (kind) {
            case "loop" -> null;
            case "virtual" -> Executors.newVirtualThreadPerTaskExecutor();
            case "fixed4" -> Executors.newFixedThreadPool(4, r -> {
                Thread t = new Thread(r);
                t.setDaemon(true);
                return t;
            });
            default -> throw new IllegalArgumentException(kind);
        };
    }

    /** A loop builder with this name and executor (none: callbacks on the loop thread). */
    public static CpgEventLoop.Builder builder(String name, ExecutorService executor) {
        CpgEventLoop.Builder b = CpgEventLoop.builder().name(name);
        if (executor != null) {
            b.executor(executor);
        }
        return b;
    }

    /** Stops the executor (if any) and fails unless it ends within 20 s. */
    public static void shutdown(ExecutorService executor) throws InterruptedException {
        if (executor != null) {
            executor.shutdownNow();
            assertThat(executor.awaitTermination(20, TimeUnit.SECONDS)).as("executor ends").isTrue();
        }
    }

    /** 0, 1, ..., n - 1: the message numbers one sender's n messages arrive with, in order. */
    public static List<Integer> range(int n) {
        return IntStream.range(0, n).boxed().toList();
    }
}
