package org.jcpg;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;
import org.jcpg.bundling.Bundling;
import org.jcpg.bundling.BundlingSender;
import org.jcpg.testsupport.LogCapture;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.SuiteDaemon;
import org.jcpg.testsupport.TryAgain;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Connections that the application drops without closing are reclaimed:
 * once they are garbage, their fds, threads and daemon-side membership go.
 */
@NodeTest
class ReclaimTest {
    private static final int CONNECTIONS = 1_000;
    private static final int FD_SLACK = 50;
    private static final int THREAD_SLACK = 20;
    private static final Duration RECLAIM_BOUND = Duration.ofSeconds(90);

    private static long count(Path directory) throws IOException {
        try (Stream<Path> entries = Files.list(directory)) {
            return entries.count();
        }
    }

    private static long fds() throws IOException {
        return count(Path.of("/proc/self/fd"));
    }

    /** Every thread of the process, the JVM's own and native ones. */
    private static long tasks() throws IOException {
        return count(Path.of("/proc/self/task"));
    }

    private static int javaThreads() {
        return Thread.getAllStackTraces().size();
    }

    private static String figures() throws IOException {
        return "fds " + fds() + ", threads " + tasks() + " (Java: " + javaThreads() + ")";
    }

    private static void settle() {
        for (int i = 0; i < 3; i++) {
            System.gc();
            TryAgain.sleep(200);
        }
    }

    /**
     * Opens, joins and dispatches the connections, then forgets them. In a
     * method of its own so that no local of the test keeps one reachable.
     */
    private static void openAndDrop(String prefix, int count) {
        for (int i = 0; i < count; i++) {
            CpgConnection cpg = TryAgain.retrying(() -> CpgConnection.open(new CpgListener() { }));
            GroupName group = GroupName.of(prefix + "-" + i);
            TryAgain.retrying(() -> cpg.join(group));
            // As an application would: dispatch it (here from the JUnit thread, i.e. not inline).
            cpg.dispatch(DispatchMode.ALL);
            if (i == count - 1) {
                // The listing sees such groups (so the check at the end is not vacuous).
                assertThat(ourGroups(cpg, prefix)).as("groups() lists the last one's group").isPositive();
            }
        }
    }

    private static long ourGroups(CpgConnection query, String prefix) {
        return TryAgain.retrying(query::groups).stream()
                .filter(g -> new String(g.toBytes(), UTF_8).startsWith(prefix + "-"))
                .count();
    }

    @Test
    @Timeout(360)
    void droppedConnectionsAreReclaimed() throws Exception {
        // Warm up whatever jcpg creates once per JVM (classes, shared threads).
        try (CpgConnection warm = CpgConnection.open(new CpgListener() { })) {
            warm.join(SuiteDaemon.uniqueGroup("reclaim-warm"));
            warm.dispatch(DispatchMode.ALL);
        }
        CpgConnection dropped = CpgConnection.open(new CpgListener() { });
        dropped.join(SuiteDaemon.uniqueGroup("reclaim-warm"));
        dropped.dispatch(DispatchMode.ALL);
        dropped = null;
        settle();

        long fds0 = fds();
        long tasks0 = tasks();
        System.out.println("ReclaimTest: start: " + figures());

        String prefix = "reclaim-" + UUID.randomUUID().toString().substring(0, 8);
        LogCapture log = new LogCapture("org.jcpg");
        long opening = System.nanoTime();
        openAndDrop(prefix, CONNECTIONS);
        System.out.printf("ReclaimTest: after opening %d connections (%.1f s): %s%n",
                CONNECTIONS, (System.nanoTime() - opening) / 1e9, figures());
        try (CpgConnection query = CpgConnection.open(new CpgListener() { })) {
            // Some may be reclaimed already.
            System.out.println("ReclaimTest: their groups still listed: " + ourGroups(query, prefix));
        }

        long start = System.nanoTime();
        long deadline = start + RECLAIM_BOUND.toNanos();
        long fds = fds();
        long tasks = tasks();
        while (System.nanoTime() < deadline && (fds > fds0 + FD_SLACK || tasks > tasks0 + THREAD_SLACK)) {
            System.gc();
            TryAgain.sleep(500);
            fds = fds();
            tasks = tasks();
        }
        System.out.printf("ReclaimTest: after %.1f s of gc: %s (start: fds %d, threads %d)%n",
                (System.nanoTime() - start) / 1e9, figures(), fds0, tasks0);
        assertThat(fds).as("open fds after reclaiming (start: " + fds0 + ")").isLessThanOrEqualTo(fds0 + FD_SLACK);
        assertThat(tasks).as("live threads after reclaiming (start: " + tasks0 + ")")
                .isLessThanOrEqualTo(tasks0 + THREAD_SLACK);

        // The daemon saw them go: none of their groups is left.
        try (CpgConnection query = CpgConnection.open(new CpgListener() { })) {
            long groupDeadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            long left = ourGroups(query, prefix);
            while (left > 0 && System.nanoTime() < groupDeadline) {
                System.gc();
                TryAgain.sleep(200);
                left = ourGroups(query, prefix);
            }
            List<GroupName> remaining = query.groups().stream()
                    .filter(g -> new String(g.toBytes(), UTF_8).startsWith(prefix + "-")).limit(5).toList();
            assertThat(left).as("groups of dropped connections still listed, e.g. " + remaining).isZero();
        }
        // Each one reclaimed said so (the properly closed ones did not).
        log.close();
        long warnings = log.entries.stream().filter(e -> e.level().equals("WARNING")
                && e.message().contains("became unreachable without close()")).count();
        System.out.println("ReclaimTest: warnings about unclosed connections: " + warnings);
        assertThat(warnings).isGreaterThanOrEqualTo(CONNECTIONS).isLessThanOrEqualTo(CONNECTIONS + 1);
    }

    private static final int LOOPS = 50;

    /**
     * Starts loops, each with a joined connection and, as in issue 18 item 4, a bundling sender
     * that has sent one message, and forgets them.
     */
    private static void startAndDropLoops(String prefix, int count) {
        Bundling bundling = Bundling.defaults();
        for (int i = 0; i < count; i++) {
            CpgEventLoop loop = CpgEventLoop.start();
            CpgConnection cpg = TryAgain.retrying(() -> loop.open(bundling.receiver(new CpgListener() { })));
            GroupName group = GroupName.of(prefix + "-" + i);
            TryAgain.retrying(() -> cpg.join(group));
            BundlingSender sender = bundling.sender(cpg);
            sender.send(new byte[] {(byte) i}, Duration.ofSeconds(10));
        }
    }

    /**
     * Event loops dropped without close() are reclaimed like connections: the
     * loop thread, its eventfd, its connections, their bundling senders (flusher threads)
     * and their groups go, and each loop says it was not closed.
     */
    @Test
    @Timeout(240)
    void droppedEventLoopsAreReclaimed() throws Exception {
        try (CpgEventLoop warm = CpgEventLoop.start(); CpgConnection c = warm.open(new CpgListener() { })) {
            c.join(SuiteDaemon.uniqueGroup("reclaim-loop-warm"));
        }
        settle();
        long fds0 = fds();
        long tasks0 = tasks();
        String prefix = "reclaim-loop-" + UUID.randomUUID().toString().substring(0, 8);
        LogCapture log = new LogCapture("org.jcpg");
        startAndDropLoops(prefix, LOOPS);
        System.out.println("ReclaimTest: after starting " + LOOPS + " loops: " + figures());
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        long fds = fds();
        long tasks = tasks();
        long left;
        try (CpgConnection query = CpgConnection.open(new CpgListener() { })) {
            left = ourGroups(query, prefix);
            while (System.nanoTime() < deadline && (fds > fds0 + 10 || tasks > tasks0 + 10 || left > 0)) {
                System.gc();
                TryAgain.sleep(500);
                fds = fds();
                tasks = tasks();
                left = ourGroups(query, prefix);
            }
        }
        System.out.println("ReclaimTest: after gc: " + figures() + ", groups left " + left
                + " (start: fds " + fds0 + ", threads " + tasks0 + ")");
        assertThat(tasks).as("threads after reclaiming loops (start: " + tasks0 + ")").isLessThanOrEqualTo(tasks0 + 10);
        assertThat(fds).as("fds after reclaiming loops (start: " + fds0 + ")").isLessThanOrEqualTo(fds0 + 10);
        assertThat(left).as("groups of dropped loops' connections still listed").isZero();
        log.close();
        long warnings = log.entries.stream().filter(e -> e.level().equals("WARNING")
                && e.message().contains("CpgEventLoop") && e.message().contains("without close()")).count();
        assertThat(warnings).as("warnings about unclosed loops").isEqualTo(LOOPS);
    }
}
