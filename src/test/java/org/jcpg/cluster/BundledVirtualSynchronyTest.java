package org.jcpg.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.jcpg.GroupName;
import org.jcpg.bundling.Bundling;
import org.jcpg.bundling.BundlingSender;
import org.jcpg.bundling.BundlingStatistics;
import org.jcpg.cluster.VsHistory.Delivery;
import org.jcpg.cluster.VsHistory.End;
import org.jcpg.cluster.VsHistory.MsgId;
import org.jcpg.testsupport.Cluster;
import org.jcpg.testsupport.ClusterTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Bundling under node failure: 3 nodes x 2 members (this JVM and a child JVM,
 * each a member through every node), every member sending from three threads
 * in bursts through one {@link org.jcpg.bundling.BundlingSender}, while the harness
 * SIGKILLs one node's corosync and restarts it, cuts another off the network and
 * heals it, and SIGKILLs and restarts the third (which node when, and how long,
 * drawn from a seed: {@link FaultSchedule#killPartitionKill}, {@link RunSeed};
 * printed first, named in a failure with where the logs and histories are
 * kept, {@link FailureArtifacts}). Then the load stops, the
 * deliveries settle, and every member incarnation's history must pass the
 * {@link VsChecker}: agreed order, per-sender FIFO (each member numbers its
 * messages in the order its sender took them, whatever the thread), the same
 * messages among members that stay together, and whole bundles: a bundle's
 * messages reach the application all of them, one after the other, in one
 * view, the same at every member that delivers it, also at members whose
 * daemon died. Each message carries its sender and sequence number; the
 * bundles are recorded from the frames before the receiver unpacks them.
 */
@ClusterTest
class BundledVirtualSynchronyTest {
    private static final int PER_SECOND = 600;
    private static final int MAX_SIZE = 200;
    private static final LoadMember.Sending SENDING = new LoadMember.Sending.Bundled(3, 10);

    /**
     * The histories with, in the first cleanly ended one, the last message of a bundle of
     * several removed: what a receiver that cut bundles short would record.
     */
    static List<VsHistory> cutShort(List<VsHistory> histories) {
        List<String> lines = new ArrayList<>(VsHistory.write(histories).lines().toList());
        boolean clean = false;
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            if (line.startsWith("H ")) {
                clean = line.endsWith(" CLEAN");
            } else if (clean && line.startsWith("B ") && Integer.parseInt(line.substring(2)) > 1) {
                lines.remove(i + Integer.parseInt(line.substring(2)));
                return VsHistory.parse(lines);
            }
        }
        throw new AssertionError("no bundle of several messages in a cleanly ended history");
    }

    private static void step(long t0, String what) {
        System.out.printf("t=%5.1f s: %s%n", (System.nanoTime() - t0) / 1e9, what);
    }

    @Test
    @Timeout(300)
    void bundlesStayWholeAndInOrderWhileNodesDieAndPartition() throws Exception {
        RunSeed seed = RunSeed.fromPropertyOrFresh();
        FaultSchedule schedule = FaultSchedule.killPartitionKill(seed.value());
        System.out.println("BundledVirtualSynchronyTest: " + seed + "; replay: " + seed.replay(getClass()));
        System.out.print(schedule.describe());
        GroupName group = Clients.uniqueGroup("vs-bundled");
        try (Cluster cluster = Cluster.up(3);
             LoadRun run = LoadRun.start(cluster, group, PER_SECOND, MAX_SIZE, SENDING)) {
            FailureArtifacts.keepOnFailure(getClass(), seed, cluster, run, () -> bundlesUnderFaults(cluster, run, schedule));
        }
    }

    private static void bundlesUnderFaults(Cluster cluster, LoadRun run, FaultSchedule schedule) throws Exception {
        run.awaitAllInOneView(30_000);
        long t0 = System.nanoTime();
        Thread.sleep(2_000);
        for (FaultSchedule.Fault f : schedule.faults()) {
            if (f.kind() == FaultSchedule.Kind.KILL_RESTART) {
                step(t0, "SIGKILL node " + f.node() + "'s corosync");
                cluster.kill(f.node());
                Thread.sleep(f.holdMs());
                step(t0, "restart node " + f.node());
                cluster.restart(f.node());
            } else {
                step(t0, "partition node " + f.node());
                cluster.partition(f.node());
                Thread.sleep(f.holdMs());
                step(t0, "heal node " + f.node());
                cluster.heal(f.node());
            }
            Thread.sleep(f.pauseMs());
        }
        cluster.awaitSettled();
        run.awaitAllInOneView(30_000);
        Thread.sleep(1_000);
        step(t0, "stop sending");

        run.stopAndSettle(30_000);
        List<VsHistory> histories = run.finish();
        LoadRun.Bundles sent = run.bundles();

        VsChecker.Report report = VsChecker.check(histories);
        System.out.printf("bundled virtual synchrony: %s; senders: %d messages in %d bundles (largest %d bytes); %s%n",
                report, sent.sent(), sent.bundles(), sent.largestBytes(), crashedSenders(histories));
        report.assertOk();

        assertThat(report.largestBundle()).as("bundles of several messages were delivered").isGreaterThan(1);
        assertThat(sent.largestBytes()).as("the senders' largest bundle (BundlingStatistics) held several messages")
                .isGreaterThan(Bundling.BUNDLE_OVERHEAD + Bundling.MESSAGE_OVERHEAD + MAX_SIZE);
        assertThat(sent.bundles()).as("fewer bundles than messages").isLessThan(sent.sent());
        assertThat(report.messages()).isGreaterThan(5_000);
        assertThat(histories).filteredOn(h -> h.end() == End.CRASHED)
                .as("the members on the two killed nodes lost their daemon").hasSizeGreaterThanOrEqualTo(4);
        assertThat(VsChecker.check(cutShort(histories)).violations())
                .as("the same histories with one bundle cut short at one member fail")
                .anyMatch(v -> v.contains("half a bundle"));
    }

    /**
     * For the log: the sender incarnations whose daemon was killed, what they had queued and
     * what of it the others delivered (the rest went down with the daemon).
     */
    private static String crashedSenders(List<VsHistory> histories) {
        Set<MsgId> delivered = new HashSet<>();
        for (VsHistory h : histories) {
            for (VsHistory.Entry e : h.entries()) {
                if (e instanceof Delivery d) {
                    delivered.add(d.id());
                }
            }
        }
        long queued = 0;
        long arrived = 0;
        int crashed = 0;
        for (VsHistory h : histories) {
            if (h.end() == End.CRASHED) {
                crashed++;
                queued += h.sent();
                arrived += delivered.stream().filter(id -> id.sender().equals(h.name())).count();
            }
        }
        return crashed + " sender incarnations lost their daemon with " + queued + " messages queued, "
                + arrived + " of them delivered";
    }
}
