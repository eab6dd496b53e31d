package org.jcpg.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.jcpg.cluster.VsHistory.End;
import org.jcpg.cluster.VsHistory.MsgId;
import org.jcpg.testsupport.UnitTest;
import org.junit.jupiter.api.Test;

/**
 * The checker on hand-made histories, no corosync: a correct history passes
 * (also with a partition, a crash, a late initial totem change); a reordered
 * message, a duplicate, a loss among members that stay together, a FIFO
 * violation, a delivery in another view and a lost own message each fail.
 * With bundles: whole bundles pass; a bundle cut short (also at a crashed
 * member, where the other checks allow any prefix), split by a view, split
 * in two, mixing senders, or a delivery outside a bundle each fail. An
 * undecodable delivery fails; a violation shows its members' views around it.
 */
@UnitTest
class VsCheckerTest {
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

    /** A garbled delivery the recorder could not decode is a violation, not a silently missing message. */
    @Test
    void anUndecodableDeliveryFails() {
        List<VsHistory> histories = agreeing();
        assertThat(VsChecker.check(histories).ok()).isTrue();
        histories.get(1).received(
                new VsHistory.Undecodable(1, 100, 7, "56534c4400000001", "shorter than the 32-byte header"));
        histories.get(2).received(new VsHistory.Undecodable(3, 100, 40, "00", "without the magic"));
        VsChecker.Report report = VsChecker.check(histories);
        assertThat(report.undecodable()).isEqualTo(2);
        assertThat(report.violations())
                .anyMatch(v -> v.startsWith(
                        "2/100#0: delivers an undecodable message (shorter than the 32-byte header) of 7 bytes")
                        && v.contains("first bytes 56534c4400000001 (entry 9)"))
                .anyMatch(v -> v.startsWith("3/100#0: delivers an undecodable message (without the magic) of 40 bytes"));
        assertThatThrownBy(report::assertOk).hasMessageContaining("undecodable");

        // Also in the text form that the child JVM sends its histories in.
        List<VsHistory> back = VsHistory.parse(VsHistory.write(histories).lines().toList());
        assertThat(VsHistory.write(back)).isEqualTo(VsHistory.write(histories));
        assertThat(VsChecker.check(back).violations()).filteredOn(v -> v.contains("undecodable")).hasSize(2);
    }

    /**
     * A violation between two members names both places, and the report shows each member's
     * views just before and after its place.
     */
    @Test
    void aViolationShowsBothMembersViewsAroundIt() {
        List<VsHistory> histories = new ArrayList<>();
        for (int node = 1; node <= 2; node++) {
            VsHistory h = new VsHistory(node, 100, 0);
            h.totem(1, 8, List.of(1L, 2L, 3L));
            h.view(List.of("1/100", "2/100", "3/100"));
            h.view(ABC); // the same members again: a second view entry in the same ring
            h.delivered(m(1, 0), true);
            if (node == 1) {
                h.delivered(m(2, 0), true);
                h.delivered(m(3, 0), true);
            } else {
                h.delivered(m(3, 0), true);   // 2 delivers 3:0 before 2:0: agreed order broken
                h.delivered(m(2, 0), true);
            }
            h.view(List.of("1/100", "2/100"));
            h.totem(1, 12, List.of(1L, 2L));
            h.delivered(m(1, 1), true);
            h.sent(node == 1 ? 2 : 1);
            h.end(End.CLEAN);
            histories.add(h);
        }
        VsChecker.Report report = VsChecker.check(histories);
        assertThat(report.found()).singleElement().satisfies(v -> {
            assertThat(v.text()).contains("agreed order broken");
            assertThat(v.places()).extracting(VsChecker.Place::member).containsExactly("1/100#0", "2/100#0");
            VsChecker.Place first = v.places().getFirst();
            assertThat(first.entry()).isEqualTo(5);   // 1 delivers 2:0 at entry 5, 2 at entry 6
            assertThat(v.places().get(1).entry()).isEqualTo(6);
            assertThat(first.before()).extracting(VsChecker.ViewAt::entry).containsExactly(2, 3);
            assertThat(first.after()).singleElement().satisfies(w -> {
                assertThat(w.entry()).isEqualTo(7);
                assertThat(w.view()).isEqualTo("ring 1.12 [1/100, 2/100]");
            });
        });
        assertThatThrownBy(report::assertOk).hasMessageContainingAll(
                "the views around the first 1",
                "1/100#0, entry 5 of 9 (ends CLEAN); the views it installed:",
                "2/100#0, entry 6 of 9 (ends CLEAN)",
                "entry 3: ring 1.8 [1/100, 2/100, 3/100]",
                ">> entry 5: here",
                "entry 7: ring 1.12 [1/100, 2/100]");
        assertThat(report.describe()).contains("1 violations", ">> entry 6: here");
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

    /** The same messages as {@link #stream()}, in bundles of one sender each: 1:0 1:1 | 2:0 | 3:0 2:1... */
    private static List<List<MsgId>> bundles() {
        return List.of(List.of(m(1, 0), m(1, 1)), List.of(m(2, 0)), List.of(m(3, 0)), List.of(m(2, 1)),
                List.of(m(1, 2)));
    }

    private static VsHistory bundledMember(int node, List<List<MsgId>> bundles, End end) {
        VsHistory h = new VsHistory(node, 100, 0);
        h.totem(1, 8, List.of(1L, 2L, 3L));
        h.view(ABC);
        for (List<MsgId> bundle : bundles) {
            h.bundle(bundle.size());
            bundle.forEach(id -> h.delivered(id, true));
        }
        h.sent(stream().stream().filter(id -> id.node() == node).count());
        h.end(end);
        return h;
    }

    private static List<VsHistory> bundledAgreeing() {
        return new ArrayList<>(List.of(bundledMember(1, bundles(), End.CLEAN), bundledMember(2, bundles(), End.CLEAN),
                bundledMember(3, bundles(), End.CLEAN)));
    }

    @Test
    void wholeBundlesPass() {
        VsChecker.Report report = VsChecker.check(bundledAgreeing());
        assertThat(report.violations()).isEmpty();
        assertThat(report.bundles()).isEqualTo(5);
        assertThat(report.largestBundle()).isEqualTo(2);
        assertThat(report.toString()).contains("5 distinct bundles (largest: 2 messages)");
    }

    @Test
    void aBundleCutShortFails() {
        List<VsHistory> histories = bundledAgreeing();
        VsHistory cut = new VsHistory(3, 100, 0);
        cut.totem(1, 8, List.of(1L, 2L, 3L));
        cut.view(ABC);
        cut.bundle(2);
        cut.delivered(m(1, 0), true);   // 1:1, the bundle's last message, never reaches the listener
        for (List<MsgId> bundle : bundles().subList(1, 5)) {
            cut.bundle(bundle.size());
            bundle.forEach(id -> cut.delivered(id, true));
        }
        cut.sent(1);
        cut.end(End.CLEAN);
        histories.set(2, cut);
        assertThat(VsChecker.check(histories).violations())
                .anyMatch(v -> v.startsWith("3/100#0: delivers 1 of the 2 messages of a bundle starting with 1/100#0:0")
                        && v.contains("half a bundle"))
                .anyMatch(v -> v.contains("holds 2 messages at 1/100#0 but 1 at 3/100#0"));
    }

    /** A member whose daemon died may deliver any prefix of its view, but not half a bundle. */
    @Test
    void aCrashedMemberWithHalfABundleFails() {
        List<VsHistory> plain = agreeing();
        plain.set(2, member(3, List.of(m(1, 0)), End.CRASHED));
        assertThat(VsChecker.check(plain).violations()).as("without bundles a prefix is fine").isEmpty();

        List<VsHistory> histories = bundledAgreeing();
        VsHistory crashed = new VsHistory(3, 100, 0);
        crashed.totem(1, 8, List.of(1L, 2L, 3L));
        crashed.view(ABC);
        crashed.bundle(2);
        crashed.delivered(m(1, 0), true);
        crashed.end(End.CRASHED);
        histories.set(2, crashed);
        assertThat(VsChecker.check(histories).violations())
                .anyMatch(v -> v.contains("3/100#0: delivers 1 of the 2 messages") && v.contains("its history ends"));
    }

    @Test
    void aViewBetweenTheMessagesOfABundleFails() {
        List<VsHistory> histories = bundledAgreeing();
        VsHistory split = new VsHistory(3, 100, 0);
        split.totem(1, 8, List.of(1L, 2L, 3L));
        split.view(ABC);
        split.bundle(2);
        split.delivered(m(1, 0), true);
        split.view(List.of("1/100", "3/100"));
        split.delivered(m(1, 1), true);
        split.end(End.CRASHED);
        histories.set(2, split);
        assertThat(VsChecker.check(histories).violations())
                .anyMatch(v -> v.contains("delivers 1 of the 2 messages") && v.contains("then View["))
                .anyMatch(v -> v.contains("delivers 1/100#0:1 outside any bundle"));
    }

    @Test
    void aBundleSplitInTwoOrMixingSendersFails() {
        List<VsHistory> histories = bundledAgreeing();
        List<List<MsgId>> split = new ArrayList<>(bundles());
        split.set(0, List.of(m(1, 0)));
        split.add(1, List.of(m(1, 1)));
        histories.set(2, bundledMember(3, split, End.CLEAN));
        assertThat(VsChecker.check(histories).violations()).singleElement().asString()
                .contains("the bundle starting with 1/100#0:0 holds 2 messages at 1/100#0 but 1 at 3/100#0");

        List<List<MsgId>> mixed = List.of(List.of(m(1, 0), m(1, 1), m(2, 0)), List.of(m(3, 0)), List.of(m(2, 1)),
                List.of(m(1, 2)));
        histories = List.of(bundledMember(1, mixed, End.CLEAN), bundledMember(2, mixed, End.CLEAN),
                bundledMember(3, mixed, End.CLEAN));
        assertThat(VsChecker.check(histories).violations()).hasSize(3).allMatch(v -> v.contains("several senders"));
    }

    @Test
    void bundlesRoundTripAsText() {
        List<VsHistory> histories = bundledAgreeing();
        String text = VsHistory.write(histories);
        assertThat(text).contains("\nB 2\n");
        List<VsHistory> back = VsHistory.parse(text.lines().toList());
        assertThat(VsHistory.write(back)).isEqualTo(text);
        assertThat(VsChecker.check(back).bundles()).isEqualTo(5);
    }
}
