package org.jcpg.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.jcpg.GroupName;
import org.jcpg.cluster.FaultSchedule.Fault;
import org.jcpg.cluster.FaultSchedule.Kind;
import org.jcpg.testsupport.Cluster;
import org.jcpg.testsupport.ClusterTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Virtual synchrony under faults: 3 nodes x 2 senders (this JVM and a child
 * JVM, each a member through every node) multicast continuously while the
 * harness kills and restarts nodes and partitions and heals them on a
 * schedule drawn from a seed ({@link FaultSchedule#mixed}; after
 * {@value #MIN_FAULTS} faults the run stops once about 70 s are over). The
 * seed is new each run unless {@code -Djcpg.vs.seed=N} gives it
 * ({@link RunSeed}); the test prints it and the schedule first and names
 * it in a failure, with the directory where the daemons' logs and the
 * histories are kept ({@link FailureArtifacts}). Then the load stops, the
 * deliveries settle, and every member incarnation's history must pass the
 * {@link VsChecker}; the same histories tampered with (a reordered, a
 * duplicated and an undecodable delivery) must fail it. Prints the counts.
 */
@ClusterTest
class VirtualSynchronyLoadTest {
    private static final int FAULTS = 14;
    private static final long SCHEDULE_MS = 70_000;
    private static final int MIN_FAULTS = 6;
    private static final int PER_SECOND = 100;
    private static final int MAX_SIZE = 2048;

    /**
     * The histories with, in the first cleanly ended one, two adjacent deliveries of different
     * senders swapped, the first delivery repeated at the end, and an undecodable delivery
     * (what the recorder makes of a message shorter than the header) after it.
     */
    static List<VsHistory> tampered(List<VsHistory> histories) {
        List<String> lines = new ArrayList<>(VsHistory.write(histories).lines().toList());
        int start = -1;
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).startsWith("H ") && lines.get(i).endsWith(" CLEAN")) {
                start = i;
                break;
            }
        }
        assertThat(start).isNotNegative();
        int end = start + 1;
        while (end < lines.size() && !lines.get(end).startsWith("H ")) {
            end++;
        }
        String firstDelivery = null;
        boolean swapped = false;
        for (int i = start + 1; i + 1 < end; i++) {
            String a = lines.get(i), b = lines.get(i + 1);
            if (a.startsWith("D ") && firstDelivery == null) {
                firstDelivery = a;
            }
            if (!swapped && i > start + 50 && a.startsWith("D ") && b.startsWith("D ")
                    && !a.split(" ")[1].equals(b.split(" ")[1])) {
                lines.set(i, b);
                lines.set(i + 1, a);
                swapped = true;
            }
        }
        assertThat(swapped).isTrue();
        lines.add(end, firstDelivery);
        lines.add(end + 1, "U 1 1 7 56534c44000000 shorter than the 32-byte header");
        return VsHistory.parse(lines);
    }

    @Test
    @Timeout(300)
    void threeNodesTimesTwoSendersUnderKillsRestartsAndPartitions() throws Exception {
        RunSeed seed = RunSeed.fromPropertyOrFresh();
        FaultSchedule schedule = FaultSchedule.mixed(seed.value(), FAULTS, 3);
        System.out.println("VirtualSynchronyLoadTest: " + seed + "; replay: " + seed.replay(getClass()));
        System.out.print(schedule.describe());
        GroupName group = Clients.uniqueGroup("vs");
        try (Cluster cluster = Cluster.up(3);
             LoadRun run = LoadRun.start(cluster, group, PER_SECOND, MAX_SIZE, new LoadMember.Sending.Plain())) {
            FailureArtifacts.keepOnFailure(getClass(), seed, cluster, run, () -> loadUnderFaults(cluster, run, schedule));
        }
    }

    private static void loadUnderFaults(Cluster cluster, LoadRun run, FaultSchedule schedule) throws Exception {
        run.awaitAllInOneView(30_000);

        long t0 = System.nanoTime();
        int kills = 0, partitions = 0;
        for (Fault f : schedule.faults()) {
            // At least MIN_FAULTS whatever the time: on a loaded machine a fault takes longer.
            if (kills + partitions >= MIN_FAULTS && (System.nanoTime() - t0) / 1_000_000 > SCHEDULE_MS) {
                break;
            }
            System.out.printf("t=%5.1f s: %s node %d for %d ms%n", (System.nanoTime() - t0) / 1e9, f.kind(), f.node(), f.holdMs());
            if (f.kind() == Kind.KILL_RESTART) {
                cluster.kill(f.node());
                Thread.sleep(f.holdMs());
                cluster.restart(f.node());
                kills++;
            } else {
                cluster.partition(f.node());
                Thread.sleep(f.holdMs());
                cluster.heal(f.node());
                partitions++;
            }
            Thread.sleep(f.pauseMs());
        }
        long faultsMs = (System.nanoTime() - t0) / 1_000_000;
        cluster.awaitSettled();
        run.awaitAllInOneView(30_000);
        Thread.sleep(1_000);

        run.stopAndSettle(30_000);
        List<VsHistory> histories = run.finish();

        VsChecker.Report report = VsChecker.check(histories);
        System.out.printf("virtual synchrony: %d faults injected in %.1f s (%d kill+restart, %d partition+heal); %s%n",
                kills + partitions, faultsMs / 1e3, kills, partitions, report);
        report.assertOk();
        assertThat(VsChecker.check(tampered(histories)).violations())
                .as("the same histories with one message reordered, one duplicated and one undecodable fail")
                .anyMatch(v -> v.contains("agreed order broken"))
                .anyMatch(v -> v.contains("twice"))
                .anyMatch(v -> v.contains("undecodable message"));
        assertThat(kills + partitions).isGreaterThanOrEqualTo(MIN_FAULTS);
        assertThat(report.messages()).isGreaterThan(5_000);
        assertThat(report.views()).isGreaterThan(2 * (kills + partitions));
        assertThat(histories).as("a member incarnation per connection").hasSizeGreaterThan(6 + (kills > 0 ? 1 : 0));
    }
}
