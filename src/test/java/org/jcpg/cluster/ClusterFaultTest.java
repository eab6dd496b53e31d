package org.jcpg.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jcpg.cluster.Clients.AWAIT;
import static org.jcpg.cluster.Clients.PID;
import static org.jcpg.cluster.Clients.member;

import java.util.List;
import org.jcpg.GroupName;
import org.jcpg.MembershipChange;
import org.jcpg.PeerProcess;
import org.jcpg.Reason;
import org.jcpg.RingId;
import org.jcpg.TotemChange;
import org.jcpg.testsupport.Cluster;
import org.jcpg.testsupport.ClusterTest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Faults in a real 3-node corosync cluster (scripts/cluster.sh): a node
 * killed and restarted, a node partitioned and healed, a client process
 * killed, a client leaving. This JVM is a member through every node (one
 * thread per node in that node's network namespace); other processes run
 * in a node's namespace through {@code cluster.sh exec}.
 *
 * <p>Only what corosync promises is asserted: the reasons, the member
 * lists, that a ring change follows the membership change it caused with
 * the same new ring id on every node of a side, and that ring sequence
 * numbers grow. Not the order of the initial totem change against the own
 * JOIN, nor timings.
 */
@ClusterTest
class ClusterFaultTest {
    private Cluster cluster;
    private List<NodeClient> clients = List.of();

    @BeforeEach
    void up() {
        cluster = Cluster.up(3);
    }

    @AfterEach
    void down() {
        try {
            Clients.closeAll(clients);
        } finally {
            cluster.close();
        }
    }

    private static boolean newer(RingId a, RingId b) {
        return Long.compareUnsigned(a.seq(), b.seq()) > 0;
    }

    private static RingId lastRing(NodeClient client) {
        List<TotemChange> totems = client.totemChanges();
        return totems.get(totems.size() - 1).ringId();
    }

    @Test
    @Timeout(120)
    void killedNodeIsNodedownForSurvivorsAndRestartedNodeComesBack() {
        GroupName group = Clients.uniqueGroup("kill");
        clients = Clients.joinAll(cluster, group);
        NodeClient c1 = clients.get(0), c2 = clients.get(1), c3 = clients.get(2);
        RingId before = lastRing(c1);

        cluster.kill(3);

        RingId[] rings = new RingId[2];
        for (NodeClient survivor : List.of(c1, c2)) {
            MembershipChange down = survivor.awaitChange("NODEDOWN of node 3",
                    c -> c.left().stream().anyMatch(m -> m.nodeId() == 3), AWAIT);
            System.out.println("node " + survivor.node() + " after kill of node 3: " + Clients.describe(down));
            assertThat(down.left()).containsExactly(member(3, PID, Reason.NODEDOWN));
            assertThat(down.joined()).isEmpty();
            assertThat(down.members()).containsExactlyInAnyOrder(
                    member(1, PID, Reason.UNDEFINED), member(2, PID, Reason.UNDEFINED));
            TotemChange ring = Clients.totemAfter(survivor, down, List.of(1L, 2L));
            assertThat(newer(ring.ringId(), before)).as("ring %s after %s", ring.ringId(), before).isTrue();
            rings[survivor.node() - 1] = ring.ringId();
        }
        assertThat(rings[0]).as("both survivors are in the same new ring").isEqualTo(rings[1]);
        System.out.println("ring before " + before + ", after the kill " + rings[0]);
        assertThat(c3.awaitLost(AWAIT)).as("the client on the killed node loses its daemon").isNotNull();

        cluster.restart(3);
        NodeClient again = NodeClient.join(cluster, 3, group);
        clients = List.of(c1, c2, c3, again);
        RingId[] back = new RingId[2];
        for (NodeClient survivor : List.of(c1, c2)) {
            MembershipChange up = survivor.awaitChange("node 3's member back",
                    c -> c.joined().stream().anyMatch(m -> m.nodeId() == 3), AWAIT);
            System.out.println("node " + survivor.node() + " after restart of node 3: " + Clients.describe(up));
            assertThat(up.joined()).hasSize(1);
            assertThat(up.joined().get(0).pid()).isEqualTo(PID);
            assertThat(up.joined().get(0).reason()).isIn(Reason.JOIN, Reason.NODEUP);
            assertThat(up.members()).containsExactlyInAnyOrder(member(1, PID, Reason.UNDEFINED),
                    member(2, PID, Reason.UNDEFINED), member(3, PID, Reason.UNDEFINED));
            MembershipChange down = survivor.membershipChanges().stream()
                    .filter(c -> c.left().stream().anyMatch(m -> m.nodeId() == 3)).findFirst().orElseThrow();
            TotemChange full = Clients.totemAfter(survivor, down, List.of(1L, 2L, 3L));
            assertThat(newer(full.ringId(), rings[0])).isTrue();
            back[survivor.node() - 1] = full.ringId();
        }
        assertThat(back[0]).isEqualTo(back[1]);
        again.awaitChange("the restarted member sees all three", c -> c.members().size() == 3, AWAIT);
        again.await("the full ring", e -> e.stream().anyMatch(x -> x instanceof TotemChange t
                && t.nodeIds().size() == 3 && t.ringId().equals(back[0])), AWAIT);
        System.out.println("ring after the restart " + back[0]);
    }

    @Test
    @Timeout(120)
    void partitionedNodeSplitsAndMerges() {
        GroupName group = Clients.uniqueGroup("partition");
        clients = Clients.joinAll(cluster, group);
        NodeClient c1 = clients.get(0), c2 = clients.get(1), c3 = clients.get(2);
        RingId before = lastRing(c1);

        cluster.partition(3);
        cluster.awaitSettled();

        RingId[] rings = new RingId[3];
        MembershipChange[] splits = new MembershipChange[3];
        for (NodeClient c : List.of(c1, c2)) {
            MembershipChange split = c.awaitChange("node 3 gone", x -> x.left().stream().anyMatch(m -> m.nodeId() == 3), AWAIT);
            System.out.println("node " + c.node() + " after the partition: " + Clients.describe(split));
            assertThat(split.left()).containsExactly(member(3, PID, Reason.NODEDOWN));
            assertThat(split.members()).containsExactlyInAnyOrder(member(1, PID, Reason.UNDEFINED), member(2, PID, Reason.UNDEFINED));
            rings[c.node() - 1] = Clients.totemAfter(c, split, List.of(1L, 2L)).ringId();
            splits[c.node() - 1] = split;
        }
        MembershipChange alone = c3.awaitChange("nodes 1 and 2 gone", x -> x.left().size() == 2, AWAIT);
        System.out.println("node 3 after the partition: " + Clients.describe(alone));
        assertThat(alone.left()).containsExactlyInAnyOrder(member(1, PID, Reason.NODEDOWN), member(2, PID, Reason.NODEDOWN));
        assertThat(alone.members()).containsExactly(member(3, PID, Reason.UNDEFINED));
        assertThat(alone.joined()).isEmpty();
        rings[2] = Clients.totemAfter(c3, alone, List.of(3L)).ringId();
        splits[2] = alone;
        System.out.println("rings: before " + before + ", nodes 1+2 " + rings[0] + ", node 3 " + rings[2]);
        assertThat(rings[0]).isEqualTo(rings[1]);
        assertThat(rings[2]).isNotEqualTo(rings[0]);
        assertThat(newer(rings[0], before)).isTrue();
        assertThat(newer(rings[2], before)).isTrue();

        cluster.heal(3);

        RingId[] merged = new RingId[3];
        for (NodeClient c : List.of(c1, c2)) {
            MembershipChange merge = c.awaitChange("node 3 back", x -> x.joined().stream().anyMatch(m -> m.nodeId() == 3), AWAIT);
            System.out.println("node " + c.node() + " after the heal: " + Clients.describe(merge));
            // corosync 3.1.7 reports the merged side's processes as JOIN (not NODEUP) here.
            assertThat(merge.joined()).hasSize(1);
            assertThat(merge.joined().get(0).nodeId()).isEqualTo(3);
            assertThat(merge.joined().get(0).pid()).isEqualTo(PID);
            assertThat(merge.joined().get(0).reason()).isIn(Reason.JOIN, Reason.NODEUP);
            assertThat(merge.left()).isEmpty();
            assertThat(merge.members()).hasSize(3);
            merged[c.node() - 1] = Clients.totemAfter(c, merge, List.of(1L, 2L, 3L)).ringId();
        }
        MembershipChange merge3 = c3.awaitChange("nodes 1 and 2 back", x -> x.joined().size() == 2, AWAIT);
        System.out.println("node 3 after the heal: " + Clients.describe(merge3));
        assertThat(merge3.joined()).extracting(m -> m.nodeId() + "/" + m.pid())
                .containsExactlyInAnyOrder("1/" + PID, "2/" + PID);
        assertThat(merge3.joined()).allSatisfy(m -> assertThat(m.reason()).isIn(Reason.JOIN, Reason.NODEUP));
        assertThat(merge3.members()).hasSize(3);
        merged[2] = Clients.totemAfter(c3, merge3, List.of(1L, 2L, 3L)).ringId();
        System.out.println("ring after the merge " + merged[0]);
        assertThat(merged[1]).isEqualTo(merged[0]);
        assertThat(merged[2]).isEqualTo(merged[0]);
        assertThat(newer(merged[0], rings[0]) && newer(merged[0], rings[2])).isTrue();

        // The merged group works: a message from each side reaches every member.
        c3.send("from-3".getBytes());
        c1.send("from-1".getBytes());
        for (NodeClient c : clients) {
            c.await("both messages", e -> e.stream().filter(x -> x instanceof NodeClient.Delivered d
                    && d.payload() != null && (new String(d.payload()).startsWith("from-"))).count() == 2, AWAIT);
        }
    }

    @Test
    @Timeout(120)
    void killedClientProcessIsProcdownOnEveryNode() throws Exception {
        GroupName group = Clients.uniqueGroup("procdown");
        clients = Clients.joinAll(cluster, group);
        try (PeerProcess peer = PeerProcess.start(cluster.execCommand(2, List.of()))) {
            peer.join(group);
            for (NodeClient c : clients) {
                c.awaitChange("the peer's JOIN", x -> x.joined().contains(member(2, peer.pid(), Reason.JOIN)), AWAIT);
            }
            peer.kill();
            for (NodeClient c : clients) {
                MembershipChange gone = c.awaitChange("the peer's PROCDOWN", x -> !x.left().isEmpty(), AWAIT);
                System.out.println("node " + c.node() + " after SIGKILL of the client: " + Clients.describe(gone));
                assertThat(gone.left()).containsExactly(member(2, peer.pid(), Reason.PROCDOWN));
                assertThat(gone.joined()).isEmpty();
                assertThat(gone.members()).hasSize(3);
            }
        }
    }

    @Test
    @Timeout(120)
    void leaveIsLeaveOnEveryNode() throws Exception {
        GroupName group = Clients.uniqueGroup("leave");
        clients = Clients.joinAll(cluster, group);
        try (PeerProcess peer = PeerProcess.start(cluster.execCommand(1, List.of()))) {
            peer.join(group);
            for (NodeClient c : clients) {
                c.awaitChange("the peer's JOIN", x -> x.joined().contains(member(1, peer.pid(), Reason.JOIN)), AWAIT);
            }
            peer.command("leave");
            for (NodeClient c : clients) {
                MembershipChange gone = c.awaitChange("the peer's LEAVE", x -> !x.left().isEmpty(), AWAIT);
                System.out.println("node " + c.node() + " after leave(): " + Clients.describe(gone));
                assertThat(gone.left()).containsExactly(member(1, peer.pid(), Reason.LEAVE));
                assertThat(gone.members()).hasSize(3);
            }
            assertThat(peer.process.isAlive()).isTrue();
        }
    }
}
