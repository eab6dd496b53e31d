package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jcpg.testsupport.EventLoops.SEND_TIMEOUT;
import static org.jcpg.testsupport.EventLoops.builder;
import static org.jcpg.testsupport.EventLoops.parkMillis;
import static org.jcpg.testsupport.EventLoops.range;
import static org.jcpg.testsupport.EventLoops.send;
import static org.jcpg.testsupport.EventLoops.sleep;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.jcpg.testsupport.Await;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.Payloads;
import org.jcpg.testsupport.SuiteDaemon;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link CpgEventLoop}'s resource use over many connections: 10,000 open/join/close cycles
 * through one loop leave file descriptors, threads and memory flat; against the real daemon.
 */
@NodeTest
class EventLoopResourceTest {
    // ---- resources over many connections --------------------------------------

    record Usage(long fds, long threads, long rssKiB) {
        static Usage now() throws IOException {
            System.gc();
            long fds;
            try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
                fds = s.count();
            }
            long threads = 0;
            long rss = 0;
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("Threads:")) {
                    threads = Long.parseLong(line.substring(8).trim());
                } else if (line.startsWith("VmRSS:")) {
                    rss = Long.parseLong(line.substring(6).replace("kB", "").trim());
                }
            }
            return new Usage(fds, threads, rss);
        }
    }

    @Test
    @Timeout(240)
    void tenThousandOpenJoinCloseCyclesThroughOneLoopLeakNothing() throws Exception {
        int target = 10_000;
        int warmUp = 1_000;
        long budgetNanos = Duration.ofSeconds(90).toNanos();
        List<GroupName> groups = IntStream.range(0, 4).mapToObj(i -> SuiteDaemon.uniqueGroup("evl-cycle-" + i)).toList();
        CpgListener listener = new CpgListener() {
        };
        Usage baseline = null;
        int cycles = 0;
        AtomicInteger joinRefused = new AtomicInteger();
        long start = System.nanoTime();
        long warmStart = 0;
        try (CpgEventLoop loop = CpgEventLoop.builder().name("evl-cycles").start()) {
            for (; cycles < target; cycles++) {
                if (cycles == warmUp) {
                    baseline = Usage.now();
                    warmStart = System.nanoTime();
                }
                if (cycles > warmUp && System.nanoTime() - start > budgetNanos) {
                    break;
                }
                CpgConnection cpg = loop.open(listener);
                try {
                    joinRetrying(cpg, groups.get(cycles % groups.size()), joinRefused);
                } finally {
                    cpg.close();
                }
                if ((cycles + 1) % 1000 == 0) {
                    System.out.printf("cycles: %d after %.1f s, %s%n", cycles + 1, (System.nanoTime() - start) / 1e9, Usage.now());
                }
            }
            long elapsed = System.nanoTime() - start;
            double rate = (cycles - warmUp) / ((System.nanoTime() - warmStart) / 1e9);
            // Closing finalizes on a jcpg thread: give the last ones a moment.
            Usage base = baseline;
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            Usage end = Usage.now();
            while (end.fds() > base.fds() + 50 && System.nanoTime() < deadline) {
                sleep(100);
                end = Usage.now();
            }
            System.out.printf("open/join/close cycles: %d in %.1f s (%.0f/s after warm-up, %d joins answered TRY_AGAIN"
                            + " and retried); after %d: %s; at the end: %s%n",
                    cycles, elapsed / 1e9, rate, joinRefused.get(), warmUp, base, end);
            assertThat(cycles).as("cycles done in the time budget").isGreaterThanOrEqualTo(2 * warmUp);
            assertThat(end.fds()).as("open fds").isLessThanOrEqualTo(base.fds() + 50);
            assertThat(end.threads()).as("threads").isLessThanOrEqualTo(base.threads() + 20);
            assertThat(end.rssKiB()).as("RSS KiB").isLessThanOrEqualTo(base.rssKiB() + 64 * 1024);
            // The loop still works after all that.
            List<Integer> seen = new CopyOnWriteArrayList<>();
            try (CpgConnection cpg = loop.open(new CpgListener() {
                @Override
                public void onMessage(CpgConnection connection, Message message) {
                    seen.add(Payloads.index(message.payload()));
                }
            })) {
                cpg.join(SuiteDaemon.uniqueGroup("evl-cycle-after"));
                send(cpg, 7, 16);
                Await.until(() -> seen.size() == 1, Duration.ofSeconds(10), () -> "a message after the cycles");
                assertThat(seen).containsExactly(7);
            }
        }
    }

    /** Joins, retrying while the daemon answers TRY_AGAIN (it may, while it processes a departure). */
    static void joinRetrying(CpgConnection cpg, GroupName group, AtomicInteger refused) {
        long deadline = System.nanoTime() + SEND_TIMEOUT.toNanos();
        while (true) {
            try {
                cpg.join(group);
                return;
            } catch (CpgException e) {
                if (!e.isRetryable() || System.nanoTime() > deadline) {
                    throw e;
                }
                refused.incrementAndGet();
                parkMillis(1);
            }
        }
    }
}
