package org.jcpg.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.jcpg.GroupName;
import org.jcpg.testsupport.Await;
import org.jcpg.testsupport.ChildJvm;
import org.jcpg.testsupport.Cluster;

/**
 * The members of a virtual-synchrony load test: this JVM and a child JVM
 * ({@link LoadPeerMain}), each a {@link LoadMember} of one group through every
 * node of a cluster, so two members per node. The test injects faults
 * meanwhile; then {@link #stopAndSettle} and {@link #finish} give every member
 * incarnation's history for the {@link VsChecker}.
 */
final class LoadRun implements AutoCloseable {
    /** What the members' bundling senders did: messages sent in bundles, bundles, the largest in bytes. */
    record Bundles(long sent, long bundles, long largestBytes) {
    }

    private final LoadGroup local;
    private final ChildJvm child;
    private final int members;
    private List<VsHistory> finished;

    private LoadRun(LoadGroup local, ChildJvm child, int members) {
        this.local = local;
        this.child = child;
        this.members = members;
    }

    /** Starts both processes' members; they connect and send on their own from now on. */
    static LoadRun start(Cluster cluster, GroupName group, int perSecond, int maxSize, LoadMember.Sending sending)
            throws Exception {
        List<Path> netns = IntStream.rangeClosed(1, cluster.nodes()).mapToObj(cluster::netnsPath).toList();
        ChildJvm child = ChildJvm.of(LoadPeerMain.class).label("load child")
                .replyTimeout(java.time.Duration.ofMinutes(2)).start();
        try {
            LoadGroup local = new LoadGroup(netns, group, perSecond, maxSize, sending);
            child.call("start " + HexFormat.of().formatHex(group.toBytes()) + " " + perSecond + " " + maxSize + " "
                    + sending.text() + " " + netns.stream().map(Path::toString).collect(Collectors.joining(" ")));
            return new LoadRun(local, child, 2 * cluster.nodes());
        } catch (Exception | Error e) {
            child.close();
            throw e;
        }
    }

    /** Waits until every member is connected and its latest view holds all members. */
    void awaitAllInOneView(long timeoutMs) throws Exception {
        // Every 100 ms: each check asks the child JVM for its status.
        Await.until(() -> {
            String[] s = childStatus();
            return local.connected() && local.minViewSize() == members && s[0].equals("true")
                    && s[1].equals(String.valueOf(members));
        }, Duration.ofMillis(timeoutMs), Duration.ofMillis(100),
                () -> "all " + members + " members in every member's view");
    }

    /**
     * Stops sending, then waits until every member delivered all its own messages and the
     * delivery counts stayed put for 1.5 s, or until the counts stayed put for 10 s without
     * that: nothing more is coming, and the checker's self-delivery check says what is missing
     * (a clearer failure than a timeout here). Fails if deliveries still go on after
     * {@code timeoutMs}.
     */
    void stopAndSettle(long timeoutMs) throws Exception {
        local.stopSending();
        child.call("stop");
        long last = -1;
        long stableSince = System.nanoTime();
        long deadline = System.nanoTime() + timeoutMs * 1_000_000;
        while (true) {
            String[] s = childStatus();
            long total = local.deliveries() + Long.parseLong(s[3]);
            boolean self = local.selfDelivered() && s[2].equals("true");
            long stable = System.nanoTime() - stableSince;
            if (total != last) {
                last = total;
                stableSince = System.nanoTime();
            } else if (self && stable > 1_500_000_000L) {
                return;
            } else if (stable > 10_000_000_000L) {
                System.out.println("deliveries stopped, but not every member delivered all its own messages");
                return;
            }
            assertThat(System.nanoTime()).as("deliveries settle within " + timeoutMs + " ms").isLessThan(deadline);
            Thread.sleep(100);
        }
    }

    /**
     * Closes every member (live histories end CLEAN); returns all member incarnations'
     * histories. Once it succeeded, later calls return the same histories.
     */
    synchronized List<VsHistory> finish() throws Exception {
        if (finished != null) {
            return finished;
        }
        List<VsHistory> histories = new ArrayList<>(local.finish());
        Path file = Files.createTempFile("jcpg-vs-", ".txt");
        try {
            child.call("finish " + file);
            histories.addAll(VsHistory.parse(Files.readAllLines(file)));
        } finally {
            Files.deleteIfExists(file);
        }
        finished = List.copyOf(histories);
        return finished;
    }

    /** The bundling senders' counts over both processes (after {@link #finish}: final). */
    Bundles bundles() throws Exception {
        var mine = local.bundlingStatistics();
        String[] s = childStatus();
        return new Bundles(mine.sent() + Long.parseLong(s[4]), mine.bundles() + Long.parseLong(s[5]),
                Math.max(mine.largestBundle(), Long.parseLong(s[6])));
    }

    private String[] childStatus() throws Exception {
        return child.call("status").split(" ");
    }

    @Override
    public void close() throws Exception {
        child.close();
    }
}
