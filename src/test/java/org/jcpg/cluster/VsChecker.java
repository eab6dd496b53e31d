package org.jcpg.cluster;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jcpg.cluster.VsHistory.Bundle;
import org.jcpg.cluster.VsHistory.Delivery;
import org.jcpg.cluster.VsHistory.Entry;
import org.jcpg.cluster.VsHistory.MsgId;
import org.jcpg.cluster.VsHistory.Totem;
import org.jcpg.cluster.VsHistory.View;

/**
 * Checks recorded {@link VsHistory histories} of a group's members against
 * what virtual synchrony (as corosync's CPG provides it) promises. A pure
 * function of the histories: no corosync needed, usable by tests, the
 * benchmark and the demo.
 *
 * <h2>Checks</h2>
 * <ol>
 * <li><b>Integrity</b>: every delivered message was intact (the recorder compared its bytes).
 * <li><b>No duplicates</b>: no member incarnation delivers a message twice.
 * <li><b>FIFO</b>: each member delivers each sender incarnation's messages in increasing
 *     sequence order (gaps allowed here; see 7 and 6).
 * <li><b>Same view</b>: a message delivered by several members is delivered in the same view by all.
 * <li><b>Agreed order</b>: within a view, any two members deliver the messages they both
 *     deliver in the same relative order.
 * <li><b>Same set when moving together</b>: members that have view V and then the same next
 *     view W (or both end cleanly after V) delivered exactly the same messages in V (with 5:
 *     the same sequence). So nothing is lost among members that stay together. A member whose
 *     daemon died in V (CRASHED) or that moved to another view (partition) only has to agree
 *     on the order (5).
 * <li><b>Self delivery</b>: a member that ended cleanly delivered every message it sent
 *     (seq 0 .. sent-1), and nobody delivered a message of a cleanly ended sender that it
 *     did not send.
 * <li><b>Own views</b>: a member appears in every view it installs.
 * <li><b>Whole bundles</b> (for histories that record {@link Bundle bundles}): the
 *     messages a bundle's frame announces are exactly the next deliveries, all of them, with
 *     no view, totem change or other delivery in between (so never half a bundle, also not
 *     for a member whose daemon died), and no delivery comes outside a bundle; a bundle's
 *     messages have one sender; every member that delivers a bundle delivers the same
 *     messages in it. With 4 and 6 that makes a bundle delivered in one view, to all of the
 *     members that stay together or to none.
 * </ol>
 *
 * <h2>How views are identified across members</h2>
 * corosync gives a group view no id of its own. A view is keyed here by
 * <em>(ring id, sorted member list)</em>: the member list of the membership
 * change, and the ring id of the totem ring in which the view's first message
 * (or the next view) is delivered, i.e. the latest totem change recorded
 * before the next delivery or view entry after it; a member that has seen no
 * totem change yet at that point uses the first one it ever records. This
 * works because corosync delivers a ring change's totem callback right after
 * the group membership changes it caused and before any message of the new
 * ring, at the same point of the agreed stream on every node, while the
 * initial totem callback of a new connection (which may come before or after
 * its own JOIN, and is local) always names the current ring. Ring ids are
 * (representative node, seq): the two sides of a partition may have the same
 * seq with different representatives.
 *
 * <p>Limits: two different views with the same members in the same ring (a
 * process leaving and the same node/pid re-joining without a ring change)
 * get the same key and are checked as one view (a member that saw only one
 * of them may then be reported wrongly); a member that never records a
 * totem change has views keyed by an unknown ring. The checker does not
 * check that a view's member list is right, nor that every member saw every
 * view (members that join late or crash early see fewer), nor liveness
 * beyond self delivery.
 */
public final class VsChecker {
    /** The outcome: violations (empty if fine) and counts. */
    public record Report(List<String> violations, int histories, long messages, long deliveries, int views,
                         int bundles, int largestBundle) {
        public boolean ok() {
            return violations.isEmpty();
        }

        /** Throws an AssertionError listing the first violations. */
        public void assertOk() {
            if (!ok()) {
                throw new AssertionError(violations.size() + " virtual synchrony violations, first ones:\n  "
                        + String.join("\n  ", violations.subList(0, Math.min(30, violations.size()))));
            }
        }

        @Override
        public String toString() {
            return histories + " member histories, " + messages + " distinct messages, " + deliveries
                    + " deliveries, " + views + " distinct views, "
                    + (bundles == 0 ? "" : bundles + " distinct bundles (largest: " + largestBundle + " messages), ")
                    + violations.size() + " violations";
        }
    }

    private static final String END = "<clean end>";
    private static final int MAX_VIOLATIONS = 1000;

    /** One view as one member saw it: its key, what it delivered there, and the member's next view. */
    private record Segment(VsHistory owner, String key, List<MsgId> delivered, String next) {
    }

    private final List<String> violations = new ArrayList<>();

    private VsChecker() {
    }

    public static Report check(Collection<VsHistory> histories) {
        return new VsChecker().run(histories);
    }

    private void violation(String text) {
        if (violations.size() < MAX_VIOLATIONS) {
            violations.add(text);
        }
    }

    private Report run(Collection<VsHistory> histories) {
        Map<VsHistory, List<Segment>> segments = new LinkedHashMap<>();
        Set<MsgId> messages = new HashSet<>();
        long deliveries = 0;
        for (VsHistory h : histories) {
            segments.put(h, segments(h));
            for (Entry e : h.entries()) {
                if (e instanceof Delivery d) {
                    messages.add(d.id());
                    deliveries++;
                }
            }
        }
        Map<String, List<Segment>> byKey = new LinkedHashMap<>();
        for (List<Segment> list : segments.values()) {
            for (Segment s : list) {
                byKey.computeIfAbsent(s.key(), k -> new ArrayList<>()).add(s);
            }
        }
        checkSameView(byKey);
        for (Map.Entry<String, List<Segment>> view : byKey.entrySet()) {
            checkAgreedOrder(view.getKey(), view.getValue());
            checkMoveTogether(view.getKey(), view.getValue());
        }
        checkSelfDelivery(histories);
        Map<MsgId, List<MsgId>> bundles = checkBundles(histories);
        int largest = bundles.values().stream().mapToInt(List::size).max().orElse(0);
        return new Report(List.copyOf(violations), histories.size(), messages.size(), deliveries, byKey.size(),
                bundles.size(), largest);
    }

    /** Splits a history into its views; also checks integrity, duplicates, FIFO and own views. */
    private List<Segment> segments(VsHistory h) {
        List<Entry> entries = h.entries();
        String firstRing = entries.stream().filter(Totem.class::isInstance).map(e -> ((Totem) e).ring())
                .findFirst().orElse("?");
        List<Segment> out = new ArrayList<>();
        Set<MsgId> seen = new HashSet<>();
        Map<String, Long> lastSeq = new HashMap<>();
        String ring = null;
        View pending = null;            // a view whose ring is not known yet
        List<MsgId> current = null;     // deliveries of the current view
        String currentKey = null;
        List<String> pendingKeys = new ArrayList<>();
        int index = 0;
        for (Entry e : entries) {
            index++;
            switch (e) {
                case Bundle b -> {
                    // checked on its own (checkBundles)
                }
                case Totem t -> ring = t.ring();
                case View v -> {
                    if (pending != null) {
                        currentKey = key(ring != null ? ring : firstRing, pending);
                        out.add(new Segment(h, currentKey, current, null));
                    }
                    if (!v.members().contains(h.memberName())) {
                        violation(h.name() + ": installs view " + v.members() + " without itself (entry " + index + ")");
                    }
                    pending = v;
                    current = new ArrayList<>();
                }
                case Delivery d -> {
                    if (pending != null) {
                        currentKey = key(ring != null ? ring : firstRing, pending);
                        out.add(new Segment(h, currentKey, current, null));
                        pending = null;
                    }
                    if (current == null) {
                        violation(h.name() + ": delivers " + d.id() + " before its first view");
                        current = new ArrayList<>();
                        currentKey = "<before any view>";
                        out.add(new Segment(h, currentKey, current, null));
                    }
                    if (!d.intact()) {
                        violation(h.name() + ": delivers " + d.id() + " with wrong bytes");
                    }
                    if (!seen.add(d.id())) {
                        violation(h.name() + ": delivers " + d.id() + " twice (duplicate, entry " + index + ")");
                    } else {
                        Long last = lastSeq.put(d.id().sender(), d.id().seq());
                        if (last != null && d.id().seq() < last) {
                            violation(h.name() + ": delivers " + d.id() + " after seq " + last
                                    + " of the same sender (FIFO order broken, entry " + index + ")");
                        }
                    }
                    current.add(d.id());
                }
            }
        }
        if (pending != null) {
            out.add(new Segment(h, key(ring != null ? ring : firstRing, pending), current, null));
        }
        // Link each segment to the next view's key (or the end).
        List<Segment> linked = new ArrayList<>();
        for (int i = 0; i < out.size(); i++) {
            Segment s = out.get(i);
            String next = i + 1 < out.size() ? out.get(i + 1).key()
                    : h.end() == VsHistory.End.CLEAN ? END : null;
            linked.add(new Segment(h, s.key(), s.delivered(), next));
        }
        return linked;
    }

    private static String key(String ring, View v) {
        return "ring " + ring + " " + v.members();
    }

    private void checkSameView(Map<String, List<Segment>> byKey) {
        Map<MsgId, String> where = new HashMap<>();
        Map<MsgId, String> who = new HashMap<>();
        for (Map.Entry<String, List<Segment>> view : byKey.entrySet()) {
            for (Segment s : view.getValue()) {
                for (MsgId id : s.delivered()) {
                    String before = where.putIfAbsent(id, view.getKey());
                    if (before == null) {
                        who.put(id, s.owner().name());
                    } else if (!before.equals(view.getKey())) {
                        violation(id + " is delivered in view " + before + " by " + who.get(id) + " but in view "
                                + view.getKey() + " by " + s.owner().name());
                    }
                }
            }
        }
    }

    private void checkAgreedOrder(String key, List<Segment> members) {
        for (int a = 0; a < members.size(); a++) {
            Map<MsgId, Integer> position = new HashMap<>();
            List<MsgId> first = members.get(a).delivered();
            for (int i = 0; i < first.size(); i++) {
                position.putIfAbsent(first.get(i), i);
            }
            for (int b = a + 1; b < members.size(); b++) {
                int last = -1;
                MsgId lastId = null;
                for (MsgId id : members.get(b).delivered()) {
                    Integer p = position.get(id);
                    if (p == null) {
                        continue;
                    }
                    if (p < last) {
                        violation("view " + key + ": " + members.get(a).owner().name() + " delivers " + id + " before "
                                + lastId + ", " + members.get(b).owner().name() + " after it (agreed order broken)");
                        break;
                    }
                    last = p;
                    lastId = id;
                }
            }
        }
    }

    private void checkMoveTogether(String key, List<Segment> members) {
        Map<String, List<Segment>> byNext = new LinkedHashMap<>();
        for (Segment s : members) {
            if (s.next() != null) {
                byNext.computeIfAbsent(s.next(), k -> new ArrayList<>()).add(s);
            }
        }
        for (Map.Entry<String, List<Segment>> group : byNext.entrySet()) {
            List<Segment> together = group.getValue();
            Set<MsgId> reference = new HashSet<>(together.get(0).delivered());
            for (Segment s : together.subList(1, together.size())) {
                Set<MsgId> other = new HashSet<>(s.delivered());
                if (!other.equals(reference)) {
                    Set<MsgId> missing = new HashSet<>(reference);
                    missing.removeAll(other);
                    Set<MsgId> extra = new HashSet<>(other);
                    extra.removeAll(reference);
                    violation("view " + key + ": " + together.get(0).owner().name() + " and " + s.owner().name()
                            + " both move on to " + group.getKey() + " but delivered different sets there: "
                            + s.owner().name() + " lacks " + missing.size() + " (e.g. " + missing.stream().findFirst().orElse(null)
                            + ") and has " + extra.size() + " more (e.g. " + extra.stream().findFirst().orElse(null) + ")");
                }
            }
        }
    }

    private void checkSelfDelivery(Collection<VsHistory> histories) {
        Map<String, VsHistory> clean = new HashMap<>();
        for (VsHistory h : histories) {
            if (h.end() == VsHistory.End.CLEAN) {
                clean.put(h.name(), h);
            }
        }
        for (VsHistory h : histories) {
            Set<Long> own = new HashSet<>();
            for (Entry e : h.entries()) {
                if (e instanceof Delivery d) {
                    VsHistory sender = clean.get(d.id().sender());
                    if (sender != null && d.id().seq() >= sender.sent()) {
                        violation(h.name() + ": delivers " + d.id() + ", which its sender never sent (it sent "
                                + sender.sent() + ")");
                    }
                    if (d.id().sender().equals(h.name())) {
                        own.add(d.id().seq());
                    }
                }
            }
            if (h.end() == VsHistory.End.CLEAN) {
                long missing = 0;
                long firstMissing = -1;
                for (long seq = 0; seq < h.sent(); seq++) {
                    if (!own.contains(seq)) {
                        missing++;
                        if (firstMissing < 0) {
                            firstMissing = seq;
                        }
                    }
                }
                if (missing > 0) {
                    violation(h.name() + ": sent " + h.sent() + " messages but never delivered " + missing
                            + " of them itself (first: seq " + firstMissing + ")");
                }
            }
        }
    }

    /** Whole bundles (check 9); returns every distinct bundle, by its first message, with its messages. */
    private Map<MsgId, List<MsgId>> checkBundles(Collection<VsHistory> histories) {
        Map<MsgId, List<MsgId>> bundles = new HashMap<>();
        Map<MsgId, String> firstSeenBy = new HashMap<>();
        for (VsHistory h : histories) {
            List<Entry> entries = h.entries();
            if (entries.stream().noneMatch(Bundle.class::isInstance)) {
                continue;
            }
            int i = 0;
            while (i < entries.size()) {
                if (!(entries.get(i) instanceof Bundle bundle)) {
                    if (entries.get(i) instanceof Delivery d) {
                        violation(h.name() + ": delivers " + d.id() + " outside any bundle (entry " + (i + 1) + ")");
                    }
                    i++;
                    continue;
                }
                List<MsgId> inside = new ArrayList<>();
                int next = i + 1;
                while (inside.size() < bundle.count() && next < entries.size()
                        && entries.get(next) instanceof Delivery d) {
                    inside.add(d.id());
                    next++;
                }
                if (inside.size() < bundle.count()) {
                    violation(h.name() + ": delivers " + inside.size() + " of the " + bundle.count()
                            + " messages of a bundle" + (inside.isEmpty() ? "" : " starting with " + inside.getFirst())
                            + ", then " + (next < entries.size() ? entries.get(next) : "its history ends")
                            + " (half a bundle, entry " + (i + 1) + ")");
                }
                if (!inside.isEmpty()) {
                    MsgId first = inside.getFirst();
                    if (inside.stream().anyMatch(id -> !id.sender().equals(first.sender()))) {
                        violation(h.name() + ": a bundle holds messages of several senders: " + inside);
                    }
                    List<MsgId> before = bundles.putIfAbsent(first, inside);
                    if (before == null) {
                        firstSeenBy.put(first, h.name());
                    } else if (!before.equals(inside)) {
                        violation("the bundle starting with " + first + " holds " + before.size() + " messages at "
                                + firstSeenBy.get(first) + " but " + inside.size() + " at " + h.name()
                                + " (last: " + before.getLast() + " vs " + inside.getLast() + ")");
                    }
                }
                i = next;
            }
        }
        return bundles;
    }
}
