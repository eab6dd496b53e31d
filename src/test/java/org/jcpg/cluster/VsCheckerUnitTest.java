package org.jcpg.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.jcpg.cluster.VsHistory.End;
import org.jcpg.cluster.VsHistory.MsgId;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The checker on hand-made histories, no corosync: a correct history passes
 * (also with a partition, a crash, a late initial totem change); a reordered
 * message, a duplicate, a loss among members that stay together, a FIFO
 * violation, a delivery in another view and a lost own message each fail.
 */
@Tag("unit")
class VsCheckerUnitTest {
    /** Members a (node 1), b (node 2), c (node 3), all pid 100, incarnation 0. */
    private static final List<String> ABC = List.of("1/100", "2/100", "3/100");

    private static MsgId m(int node, long seq) {
        return new MsgId(node, 100, 0, seq);
    }

    /** Messages 1:0, 2:0, 1:1, 3:0, 2:1, 1:2 in agreed order. */
    private static List<MsgId> stream() {
        return List.of(m(1, 0), m(2, 0), m(1, 1), m(3, 0), m(2, 1), m(1, 2));
    }

    private static VsHistory member(int node, List<MsgId> delivered, End end) {
        VsHistory h = new VsHistory(node, 100, 0);
        h.totem(1, 8, List.of(1L, 2L, 3L));
        h.view(ABC);
        delivered.forEach(id -> h.delivered(id, true));
        h.sent(stream().stream().filter(id -> id.node() == node).count());
        h.end(end);
        return h;
    }

    private static List<VsHistory> agreeing() {
        return new ArrayList<>(List.of(member(1, stream(), End.CLEAN), member(2, stream(), End.CLEAN),
                member(3, stream(), End.CLEAN)));
    }

    @Test
    void agreeingHistoriesPass() {
        VsChecker.Report report = VsChecker.check(agreeing());
        assertThat(report.violations()).isEmpty();
        assertThat(report.messages()).isEqualTo(6);
        assertThat(report.deliveries()).isEqualTo(18);
        assertThat(report.views()).isEqualTo(1);
    }

    @Test
    void oneReorderedAndOneDuplicatedMessageFail() {
        List<MsgId> bad = new ArrayList<>(stream());
        // 3:0 and 2:1 swapped (different senders: only the agreed order can tell) ...
        bad.set(3, m(2, 1));
        bad.set(4, m(3, 0));
        // ... and 1:1 delivered again.
        bad.add(m(1, 1));
        List<VsHistory> histories = agreeing();
        histories.set(2, member(3, bad, End.CLEAN));

        VsChecker.Report report = VsChecker.check(histories);
        assertThat(report.ok()).isFalse();
        assertThat(report.violations()).anyMatch(v -> v.contains("twice") && v.contains("1/100#0:1"));
        assertThat(report.violations()).anyMatch(v -> v.contains("agreed order broken"));
        assertThatThrownBy(report::assertOk).isInstanceOf(AssertionError.class).hasMessageContaining("violations");
    }

    @Test
    void aLossAmongMembersThatStayTogetherFails() {
        List<MsgId> lossy = new ArrayList<>(stream());
        lossy.remove(m(3, 0));
        List<VsHistory> histories = agreeing();
        histories.set(1, member(2, lossy, End.CLEAN));
        VsChecker.Report report = VsChecker.check(histories);
        assertThat(report.violations()).anyMatch(v -> v.contains("different sets") && v.contains("3/100#0:0"));
    }

    @Test
    void aFifoViolationFailsEvenIfEveryMemberAgrees() {
        List<MsgId> swapped = new ArrayList<>(stream());
        swapped.set(0, m(1, 1));
        swapped.set(2, m(1, 0));
        List<VsHistory> histories = List.of(member(1, swapped, End.CLEAN), member(2, swapped, End.CLEAN),
                member(3, swapped, End.CLEAN));
        VsChecker.Report report = VsChecker.check(histories);
        assertThat(report.violations()).hasSize(3).allMatch(v -> v.contains("FIFO"));
    }

    @Test
    void anOwnMessageNeverDeliveredAndAPhantomFail() {
        List<MsgId> without = new ArrayList<>(stream());
        without.remove(m(1, 2));
        List<VsHistory> histories = List.of(member(1, without, End.CLEAN), member(2, without, End.CLEAN),
                member(3, without, End.CLEAN));
        assertThat(VsChecker.check(histories).violations()).anyMatch(v -> v.contains("never delivered 1"));

        List<MsgId> phantom = new ArrayList<>(stream());
        phantom.add(m(2, 7));
        histories = List.of(member(1, phantom, End.CLEAN), member(2, phantom, End.CLEAN), member(3, phantom, End.CLEAN));
        assertThat(VsChecker.check(histories).violations()).anyMatch(v -> v.contains("never sent"));
    }

    @Test
    void corruptBytesFail() {
        List<VsHistory> histories = agreeing();
        histories.get(0).delivered(m(9, 0), false);
        assertThat(VsChecker.check(histories).violations()).anyMatch(v -> v.contains("wrong bytes"));
    }

    /**
     * Node 3 is cut off after 1:1: nodes 1 and 2 go on together and deliver
     * more in the old view (recovered messages) than node 3, which moves to a
     * view of its own; then they merge. Node 3's deliveries in the old view
     * are a subset in the same order: fine. One crashed member delivered a
     * prefix: fine. A late initial totem change: same view key.
     */
    @Test
    void partitionCrashAndLateInitialTotemPass() {
        List<String> ab = List.of("1/100", "2/100");
        List<String> abcd = List.of("1/100", "2/100", "3/100", "4/100");
        List<VsHistory> histories = new ArrayList<>();
        for (int node = 1; node <= 3; node++) {
            VsHistory h = new VsHistory(node, 100, 0);
            h.totem(1, 8, List.of(1L, 2L, 3L, 4L));
            h.view(abcd);
            if (node == 3) {
                h.delivered(m(1, 0), true);
                h.delivered(m(3, 0), true);
                h.view(List.of("3/100"));
                h.totem(3, 12, List.of(3L));
                h.delivered(m(3, 1), true);
            } else {
                h.delivered(m(1, 0), true);
                h.delivered(m(2, 0), true);
                h.delivered(m(3, 0), true);
                h.view(ab);
                h.totem(1, 12, List.of(1L, 2L));
                h.delivered(m(1, 1), true);
            }
            h.view(List.of("1/100", "2/100", "3/100"));
            h.totem(1, 16, List.of(1L, 2L, 3L));
            h.delivered(m(2, 1), true);
            h.sent(node == 1 ? 2 : 2);
            h.end(End.CLEAN);
            histories.add(h);
        }
        // Node 4 crashed after delivering a prefix of the first view.
        VsHistory crashed = new VsHistory(4, 100, 0);
        crashed.view(abcd);
        crashed.delivered(m(1, 0), true);
        crashed.totem(1, 8, List.of(1L, 2L, 3L, 4L)); // initial totem after its JOIN and a message
        crashed.end(End.CRASHED);
        histories.add(crashed);

        VsChecker.Report report = VsChecker.check(histories);
        assertThat(report.violations()).isEmpty();
        assertThat(report.views()).isEqualTo(4);

        // Node 3 with 2:0 and 3:0 in the other order than nodes 1 and 2 in the shared view: fails.
        VsHistory bad = new VsHistory(3, 100, 1);
        bad.totem(1, 8, List.of(1L, 2L, 3L, 4L));
        bad.view(abcd);
        bad.delivered(m(3, 0), true);
        bad.delivered(m(2, 0), true);
        bad.end(End.CRASHED);
        histories.add(bad);
        assertThat(VsChecker.check(histories).violations()).anyMatch(v -> v.contains("agreed order broken"));
    }

    @Test
    void aMessageDeliveredInDifferentViewsFails() {
        List<VsHistory> histories = agreeing();
        VsHistory late = new VsHistory(3, 100, 0);
        late.totem(1, 8, List.of(1L, 2L, 3L));
        late.view(ABC);
        late.delivered(m(1, 0), true);
        late.view(List.of("1/100", "3/100"));
        late.delivered(m(2, 0), true);
        late.end(End.CRASHED);
        histories.set(2, late);
        assertThat(VsChecker.check(histories).violations()).anyMatch(v -> v.contains("2/100#0:0 is delivered in view"));
    }

    @Test
    void textFormRoundTrips() {
        List<VsHistory> histories = agreeing();
        histories.get(0).totem(2, -1L, List.of(2L));
        String text = VsHistory.write(histories);
        List<VsHistory> back = VsHistory.parse(text.lines().toList());
        assertThat(VsHistory.write(back)).isEqualTo(text);
        assertThat(back.get(0).entries()).isEqualTo(histories.get(0).entries());
    }
}
