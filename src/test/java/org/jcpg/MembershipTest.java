package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.Recorder;
import org.jcpg.testsupport.SuiteDaemon;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Group membership: confchg events, their reasons, cpg_membership_get and
 * totem changes, against the private daemon. corosync refuses a second join
 * of one group by the same pid, so other members are child JVMs ({@link PeerProcess}).
 */
@NodeTest
class MembershipTest {
    private static final int PID = (int) SuiteDaemon.OWN_PID;

    /** Dispatches the connections (mode ALL) for about {@code time}, whatever comes. */
    static void dispatchFor(Duration time, CpgConnection... connections) throws InterruptedException {
        long deadline = System.nanoTime() + time.toNanos();
        while (System.nanoTime() < deadline) {
            for (CpgConnection connection : connections) {
                connection.dispatch(DispatchMode.ALL);
            }
            Thread.sleep(5);
        }
        for (CpgConnection connection : connections) {
            connection.dispatch(DispatchMode.ALL);
        }
    }

    static boolean seen(Recorder recorder, GroupName group, Predicate<MembershipChange> test) {
        return recorder.membershipChanges.stream().anyMatch(c -> c.group().equals(group) && test.test(c));
    }

    static MembershipChange first(Recorder recorder, GroupName group, Predicate<MembershipChange> test) {
        return recorder.membershipChanges.stream()
                .filter(c -> c.group().equals(group) && test.test(c)).findFirst().orElseThrow();
    }

    @Test
    @Timeout(30)
    void ownJoinIsDeliveredAsConfchg() {
        Recorder recorder = new Recorder();
        GroupName group = SuiteDaemon.uniqueGroup("member-own");
        try (CpgConnection cpg = CpgConnection.open(recorder)) {
            long node = cpg.localNodeId();
            Member me = new Member(node, PID, Reason.JOIN);
            cpg.join(group);
            SuiteDaemon.dispatchUntil(() -> seen(recorder, group, c -> c.joined().contains(me)), cpg);

            MembershipChange change = first(recorder, group, c -> c.joined().contains(me));
            assertThat(change.group()).isEqualTo(group);
            assertThat(change.joined()).containsExactly(me);
            assertThat(change.left()).isEmpty();
            assertThat(change.members()).containsExactly(new Member(node, PID, Reason.UNDEFINED));
            assertThat(recorder.membershipChanges).allSatisfy(c -> assertThat(c.group()).isEqualTo(group));
        }
    }

    @Test
    @Timeout(40)
    void otherProcessJoiningThenLeavingIsSeenWithReasonLeave() throws Exception {
        Recorder recorder = new Recorder();
        GroupName group = SuiteDaemon.uniqueGroup("member-leave");
        try (CpgConnection cpg = CpgConnection.open(recorder)) {
            long node = cpg.localNodeId();
            cpg.join(group);
            SuiteDaemon.dispatchUntil(() -> seen(recorder, group, c -> c.joined().contains(new Member(node, PID, Reason.JOIN))), cpg);

            try (PeerProcess peer = PeerProcess.joined(group)) {
                Member peerJoin = new Member(node, peer.pid(), Reason.JOIN);
                SuiteDaemon.dispatchUntil(() -> seen(recorder, group, c -> c.joined().contains(peerJoin)), cpg);
                MembershipChange joined = first(recorder, group, c -> c.joined().contains(peerJoin));
                assertThat(joined.joined()).containsExactly(peerJoin);
                assertThat(joined.left()).isEmpty();
                assertThat(joined.members()).containsExactlyInAnyOrder(
                        new Member(node, PID, Reason.UNDEFINED), new Member(node, peer.pid(), Reason.UNDEFINED));

                peer.command("leave");
                SuiteDaemon.dispatchUntil(() -> seen(recorder, group, c -> !c.left().isEmpty()), cpg);
                MembershipChange left = first(recorder, group, c -> !c.left().isEmpty());
                assertThat(left.left()).containsExactly(new Member(node, peer.pid(), Reason.LEAVE));
                assertThat(left.joined()).isEmpty();
                assertThat(left.members()).containsExactly(new Member(node, PID, Reason.UNDEFINED));
                assertThat(peer.process.isAlive()).as("the peer still runs; only its membership ended").isTrue();
                assertThat(cpg.membership(group)).extracting(Member::pid).containsExactly(PID);
            }
            // No further change for the peer, whose process now ends.
            dispatchFor(Duration.ofMillis(200), cpg);
            assertThat(recorder.leaves()).hasSize(1);
        }
    }

    /**
     * A process that closes (cpg_finalize) without cpg_leave: corosync 3.1.7
     * reports PROCDOWN, not LEAVE.
     */
    @Test
    @Timeout(40)
    void otherProcessClosingWithoutLeaveIsSeenWithReasonProcdown() throws Exception {
        Recorder recorder = new Recorder();
        GroupName group = SuiteDaemon.uniqueGroup("member-close");
        try (CpgConnection cpg = CpgConnection.open(recorder);
             PeerProcess peer = PeerProcess.joined(group)) {
            long node = cpg.localNodeId();
            cpg.join(group);
            SuiteDaemon.dispatchUntil(() -> seen(recorder, group, c -> c.members().size() == 2), cpg);
            MembershipChange first = first(recorder, group, c -> c.members().size() == 2);
            // The peer joined first: our JOIN lists both as members, only us as joined.
            assertThat(first.joined()).containsExactly(new Member(node, PID, Reason.JOIN));
            assertThat(first.members()).contains(new Member(node, peer.pid(), Reason.UNDEFINED));

            peer.command("close");
            SuiteDaemon.dispatchUntil(() -> seen(recorder, group, c -> !c.left().isEmpty()), cpg);
            MembershipChange left = first(recorder, group, c -> !c.left().isEmpty());
            assertThat(left.left()).containsExactly(new Member(node, peer.pid(), Reason.PROCDOWN));
            assertThat(left.members()).containsExactly(new Member(node, PID, Reason.UNDEFINED));
            assertThat(peer.process.isAlive()).as("closing the connection ended only the membership").isTrue();
        }
    }

    /** Our own connection closed without leave drops out of the group at once. */
    @Test
    @Timeout(40)
    void ourConnectionClosedWithoutLeaveDropsOutOfTheGroup() throws Exception {
        Recorder recorder = new Recorder();
        GroupName group = SuiteDaemon.uniqueGroup("member-ourclose");
        // The peer stays in the group; we join, close, and a fresh connection
        // reads the membership to see that we are gone.
        try (PeerProcess peer = PeerProcess.joined(group)) {
            CpgConnection cpg = CpgConnection.open(recorder);
            long node = cpg.localNodeId();
            cpg.join(group);
            SuiteDaemon.dispatchUntil(() -> seen(recorder, group, c -> c.members().size() == 2), cpg);
            cpg.close();
            try (CpgConnection observer = CpgConnection.open(new Recorder())) {
                long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
                while (observer.membership(group).size() != 1 && System.nanoTime() < deadline) {
                    Thread.sleep(5);
                }
                assertThat(observer.membership(group)).containsExactly(new Member(node, peer.pid(), Reason.UNDEFINED));
            }
        }
    }

    @Test
    @Timeout(40)
    void otherProcessExitingIsSeenWithReasonProcdown() throws Exception {
        Recorder recorder = new Recorder();
        GroupName group = SuiteDaemon.uniqueGroup("member-exit");
        try (CpgConnection cpg = CpgConnection.open(recorder)) {
            long node = cpg.localNodeId();
            cpg.join(group);
            try (PeerProcess peer = PeerProcess.joined(group)) {
                SuiteDaemon.dispatchUntil(() -> seen(recorder, group,
                        c -> c.joined().contains(new Member(node, peer.pid(), Reason.JOIN))), cpg);
                peer.exit();
                SuiteDaemon.dispatchUntil(() -> seen(recorder, group, c -> !c.left().isEmpty()), cpg);
                assertThat(first(recorder, group, c -> !c.left().isEmpty()).left())
                        .containsExactly(new Member(node, peer.pid(), Reason.PROCDOWN));
            }
        }
    }

    @Test
    @Timeout(40)
    void membershipListsTheGroupsProcesses() throws Exception {
        GroupName group = SuiteDaemon.uniqueGroup("member-get");
        GroupName unknown = SuiteDaemon.uniqueGroup("member-unknown");
        Recorder recorder = new Recorder();
        try (CpgConnection cpg = CpgConnection.open(recorder)) {
            long node = cpg.localNodeId();
            assertThat(cpg.membership(group)).isEmpty();
            cpg.join(group);
            SuiteDaemon.dispatchUntil(() -> seen(recorder, group, c -> !c.joined().isEmpty()), cpg);
            assertThat(cpg.membership(group)).containsExactly(new Member(node, PID, Reason.UNDEFINED));
            try (PeerProcess peer = PeerProcess.joined(group)) {
                SuiteDaemon.dispatchUntil(() -> seen(recorder, group, c -> c.members().size() == 2), cpg);
                List<Member> members = cpg.membership(group);
                assertThat(members).hasSize(2);
                assertThat(members).extracting(Member::reason).containsOnly(Reason.UNDEFINED);
                Map<Integer, Long> nodeByPid = members.stream().collect(Collectors.toMap(Member::pid, Member::nodeId));
                assertThat(nodeByPid).containsExactlyInAnyOrderEntriesOf(Map.of(PID, node, peer.pid(), node));
                // The same list, asked from a connection that is in no group.
                try (CpgConnection outsider = CpgConnection.open(new Recorder())) {
                    assertThat(outsider.membership(group)).containsExactlyInAnyOrderElementsOf(members);
                    assertThat(outsider.membership(unknown)).isEmpty();
                }
            }
            assertThat(cpg.membership(unknown)).isEmpty();
        }
    }

    @Test
    @Timeout(30)
    void initialTotemConfigurationComesOnlyWithTheFlag() throws Exception {
        Recorder flagged = new Recorder();
        Recorder plain = new Recorder();
        GroupName group = SuiteDaemon.uniqueGroup("member-totem");
        GroupName plainGroup = SuiteDaemon.uniqueGroup("member-nototem");
        try (CpgConnection withFlag = CpgConnection.open(flagged, ModelFlag.DELIVER_INITIAL_TOTEM_CONF);
             CpgConnection without = CpgConnection.open(plain)) {
            long node = withFlag.localNodeId();
            withFlag.join(group);
            without.join(plainGroup);
            SuiteDaemon.dispatchUntil(() -> !flagged.totemChanges.isEmpty()
                    && seen(flagged, group, c -> !c.joined().isEmpty())
                    && seen(plain, plainGroup, c -> !c.joined().isEmpty()), withFlag, without);
            dispatchFor(Duration.ofMillis(400), withFlag, without);

            assertThat(flagged.totemChanges).hasSize(1);
            TotemChange totem = flagged.totemChanges.get(0);
            assertThat(totem.nodeIds()).containsExactly(node);
            assertThat(totem.ringId().nodeId()).isEqualTo(1L);
            assertThat(Long.compareUnsigned(totem.ringId().seq(), 0)).isPositive();

            assertThat(plain.totemChanges).isEmpty();
            assertThat(plain.membershipChanges).hasSize(1);
        }
    }

    @Test
    @Timeout(30)
    void legacyConnectionJoinsSendsAndReceivesButNeverGetsTotemChanges() throws Exception {
        Recorder recorder = new Recorder();
        GroupName group = SuiteDaemon.uniqueGroup("member-legacy");
        try (CpgConnection cpg = CpgConnection.openLegacy(recorder)) {
            long node = cpg.localNodeId();
            cpg.join(group);
            cpg.multicast(Guarantee.AGREED, "legacy hello".getBytes());
            SuiteDaemon.dispatchUntil(() -> recorder.messages.size() == 1
                    && seen(recorder, group, c -> c.joined().contains(new Member(node, PID, Reason.JOIN))), cpg);
            Recorder.Received message = recorder.messages.get(0);
            assertThat(message.group()).isEqualTo(group);
            assertThat(message.nodeId()).isEqualTo(node);
            assertThat(message.pid()).isEqualTo(PID);
            assertThat(new String(message.payload())).isEqualTo("legacy hello");
            MembershipChange change = recorder.membershipChanges.get(0);
            assertThat(change.members()).containsExactly(new Member(node, PID, Reason.UNDEFINED));

            dispatchFor(Duration.ofMillis(300), cpg);
            assertThat(recorder.totemChanges).isEmpty();
            assertThat(recorder.messages).hasSize(1);
            assertThat(recorder.membershipChanges).hasSize(1);
        }
    }

    @Test
    @Timeout(30)
    void groupIsTheJoinedGroupUntilLeave() {
        Recorder recorder = new Recorder();
        GroupName group = SuiteDaemon.uniqueGroup("member-group");
        CpgConnection cpg = CpgConnection.open(recorder);
        try {
            assertThat(cpg.group()).isNull();
            cpg.join(group);
            assertThat(cpg.group()).isEqualTo(group);
            SuiteDaemon.dispatchUntil(() -> seen(recorder, group, c -> !c.joined().isEmpty()), cpg);
            assertThat(cpg.group()).isEqualTo(group);
            cpg.leave();
            assertThat(cpg.group()).isNull();
            assertThatThrownBy(cpg::leave).isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(() -> cpg.join(group)).isInstanceOf(IllegalStateException.class);
            assertThat(cpg.group()).isNull();
            // our own LEAVE comes to us as well
            SuiteDaemon.dispatchUntil(() -> seen(recorder, group,
                    c -> c.left().contains(new Member(cpg.localNodeId(), PID, Reason.LEAVE))), cpg);
        } finally {
            cpg.close();
        }
        assertThatThrownBy(cpg::group).isInstanceOf(IllegalStateException.class);
    }
}
