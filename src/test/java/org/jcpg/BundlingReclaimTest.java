package org.jcpg;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.jcpg.bundling.Bundling;
import org.jcpg.bundling.BundlingSender;
import org.jcpg.testsupport.LogCapture;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.TryAgain;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Connections with a {@link BundlingSender}, on an event loop that stays
 * open, dropped without closing either: once garbage, the sender's thread,
 * the connection's fds and its group in the daemon go, as for a plain
 * connection ({@link ReclaimTest}). Neither the sender's thread nor the
 * receiver's way to its sender may keep them reachable.
 */
@NodeTest
class BundlingReclaimTest {
    private static final int CONNECTIONS = 100;
    private static final int FD_SLACK = 20;
    private static final int THREAD_SLACK = 10;
    private static final Duration RECLAIM_BOUND = Duration.ofSeconds(60);

    private static long count(Path directory) throws IOException {
        try (Stream<Path> entries = Files.list(directory)) {
            return entries.count();
        }
    }

    private static long fds() throws IOException {
        return count(Path.of("/proc/self/fd"));
    }

    private static long threads() throws IOException {
        return count(Path.of("/proc/self/task"));
    }

    /**
     * Opens the connections on the loop, joins, sends one bundled message
     * each and waits for it, then forgets connection and sender. In a method
     * of its own so that no local of the test keeps one reachable.
     */
    private static void openAndDrop(CpgEventLoop loop, String prefix, int count, AtomicLong delivered)
            throws InterruptedException {
        Bundling bundling = Bundling.defaults();
        for (int i = 0; i < count; i++) {
            CpgConnection cpg = TryAgain.retrying(() -> loop.open(bundling.receiver(new CpgListener() {
                @Override
                public void onMessage(CpgConnection connection, Message message) {
                    delivered.incrementAndGet();
                }
            })));
            GroupName group = GroupName.of(prefix + "-" + i);
            TryAgain.retrying(() -> cpg.join(group));
            BundlingSender sender = bundling.sender(cpg);
            sender.send(new byte[] {1, 2, 3}, Duration.ofSeconds(10));
            assertThat(sender.flush(Duration.ofSeconds(10))).isTrue();
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (delivered.get() < count && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertThat(delivered.get()).as("own bundles delivered back").isEqualTo(count);
    }

    private static long warnings(LogCapture log) {
        return log.entries.stream().filter(e -> e.level().equals("WARNING") && e.logger().equals("org.jcpg.Bundling")
                && e.message().contains("became unreachable without close(): its thread is stopped")).count();
    }

    private static long ourGroups(CpgConnection query, String prefix) {
        return TryAgain.retrying(query::groups).stream()
                .filter(g -> new String(g.toBytes(), UTF_8).startsWith(prefix + "-"))
                .count();
    }

    @Test
    @Timeout(240)
    void droppedSendersAndTheirConnectionsAreReclaimed() throws Exception {
        try (CpgEventLoop loop = CpgEventLoop.start();
             CpgConnection query = CpgConnection.open(new CpgListener() { })) {
            // Warm up what jcpg makes once per JVM (classes, the cleaner's thread).
            openAndDrop(loop, "bundle-reclaim-warm-" + UUID.randomUUID().toString().substring(0, 8), 1,
                    new AtomicLong());
            for (int i = 0; i < 3; i++) {
                System.gc();
                Thread.sleep(200);
            }
            long fds0 = fds();
            long threads0 = threads();
            String prefix = "bundle-reclaim-" + UUID.randomUUID().toString().substring(0, 8);
            LogCapture log = new LogCapture("org.jcpg");
            openAndDrop(loop, prefix, CONNECTIONS, new AtomicLong());
            long listed = ourGroups(query, prefix);
            System.out.printf("BundlingReclaimTest: after opening %d: fds %d, threads %d, groups %d "
                    + "(start: fds %d, threads %d)%n", CONNECTIONS, fds(), threads(), listed, fds0, threads0);

            long deadline = System.nanoTime() + RECLAIM_BOUND.toNanos();
            long fds = fds();
            long threads = threads();
            long groups = ourGroups(query, prefix);
            while (System.nanoTime() < deadline
                    && (fds > fds0 + FD_SLACK || threads > threads0 + THREAD_SLACK || groups > 0)) {
                System.gc();
                Thread.sleep(300);
                fds = fds();
                threads = threads();
                groups = ourGroups(query, prefix);
            }
            System.out.printf("BundlingReclaimTest: after gc: fds %d, threads %d, groups %d%n", fds, threads, groups);
            assertThat(groups).as("groups of dropped connections the daemon still lists").isZero();
            assertThat(threads).as("threads (start: %d)", threads0).isLessThanOrEqualTo(threads0 + THREAD_SLACK);
            assertThat(fds).as("fds (start: %d)", fds0).isLessThanOrEqualTo(fds0 + FD_SLACK);
            assertThat(loop.isClosed()).isFalse();
            // Each reclaimed sender said so, as BundlingSender documents (the warm-up's may come late).
            while (warnings(log) < CONNECTIONS && System.nanoTime() < deadline + Duration.ofSeconds(10).toNanos()) {
                System.gc();
                Thread.sleep(100);
            }
            log.close();
            assertThat(warnings(log)).as("warnings about senders dropped without close")
                    .isBetween((long) CONNECTIONS, CONNECTIONS + 1L);
        }
    }
}
