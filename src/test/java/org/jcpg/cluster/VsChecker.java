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
import org.jcpg.cluster.VsHistory.Undecodable;
import org.jcpg.cluster.VsHistory.View;
import org.jcpg.testsupport.Where;

/**
 * Checks recorded {@link VsHistory histories} of a group's members against
 * what virtual synchrony (as corosync's CPG provides it) promises. A pure
 * function of the histories: no corosync needed, usable by tests, the
 * benchmark and the demo.
 *
 * <h2>Checks</h2>
 * <ol>
 * <li><b>Integrity</b>: every delivered message was intact (the recorder compared its bytes),
 *     and none was undecodable ({@link Undecodable}: too short, no magic, refused by a bundling
 *     receiver): a garbled message is a violation of its own, not a missing one.
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
 * <h2>Where a violation happened</h2>
 * Each {@link Violation} names the places (member, entry number in its
 * history, counted from 1) it concerns, two for a disagreement between two
 * members, with the views that member installed just before and after that
 * entry, so that a failure shows both members' view sequences around it
 * ({@link Report#assertOk}, {@link Report#describe}).
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
    /** Views shown before and after a violation's entry. */
    static final int VIEWS_AROUND = 2;
    /** Violations whose places {@link Report#assertOk} shows. */
    static final int DESCRIBED = 5;

    /** A view a member installed: its entry number in the history and its key (ring and members). */
    public record ViewAt(int entry, String view) {
        @Override
        public String toString() {
            return "entry " + entry + ": " + view;
        }
    }

    /**
     * A place of a violation: a member incarnation, the entry of its history (from 1), the
     * views it installed up to that entry (the last {@link #VIEWS_AROUND}) and after it (the
     * first ones), and how its history ends after how many entries.
     */
    public record Place(String member, int entry, List<ViewAt> before, List<ViewAt> after, VsHistory.End end,
                        int entries) {
        public Place {
            before = List.copyOf(before);
            after = List.copyOf(after);
        }

        /** The member's views around the entry, one per line, indented by {@code indent}. */
        public String describe(String indent) {
            StringBuilder out = new StringBuilder(indent).append(member).append(", entry ").append(entry)
                    .append(" of ").append(entries).append(" (ends ").append(end).append("); the views it installed:\n");
            if (before.isEmpty()) {
                out.append(indent).append("  (none before)\n");
            }
            before.forEach(v -> out.append(indent).append("  ").append(v).append('\n'));
            out.append(indent).append("  >> entry ").append(entry).append(": here\n");
            after.forEach(v -> out.append(indent).append("  ").append(v).append('\n'));
            if (after.isEmpty()) {
                out.append(indent).append("  (none after)\n");
            }
            return out.toString();
        }
    }

    /** One violation: what is wrong, and where (one place per member concerned). */
    public record Violation(String text, List<Place> places) {
        public Violation {
            places = List.copyOf(places);
        }

        /** The text, then each place's views. */
        public String describe() {
            StringBuilder out = new StringBuilder(text).append('\n');
            places.forEach(p -> out.append(p.describe("    ")));
            return out.toString();
        }
    }

    /** The outcome: violations (empty if fine) and counts. */
    public record Report(List<Violation> found, int histories, long messages, long deliveries, long undecodable,
                         int views, int bundles, int largestBundle) {
        public Report {
            found = List.copyOf(found);
        }

        public boolean ok() {
            return found.isEmpty();
        }

        /** The violations' texts. */
        public List<String> violations() {
            return found.stream().map(Violation::text).toList();
        }

        /** Every violation with the views around its places (for a file). */
        public String describe() {
            StringBuilder out = new StringBuilder(this + "\n");
            found.forEach(v -> out.append(v.describe()));
            return out.toString();
        }

        /**
         * Throws an AssertionError listing the first violations, then the first
         * {@link #DESCRIBED} of them with the views around their places.
         */
        public void assertOk() {
            if (!ok()) {
                List<String> texts = violations();
                StringBuilder out = new StringBuilder(found.size() + " virtual synchrony violations, first ones:\n  ")
                        .append(String.join("\n  ", texts.subList(0, Math.min(30, texts.size()))))
                        .append("\nthe views around the first ").append(Math.min(DESCRIBED, found.size()))
                        .append(" (entries count from 1 in each member's history):\n");
                found.subList(0, Math.min(DESCRIBED, found.size())).forEach(v -> out.append("  ").append(v.describe()));
                throw new AssertionError(out.toString());
            }
        }

        @Override
        public String toString() {
            return histories + " member histories, " + messages + " distinct messages, " + deliveries
                    + " deliveries, " + undecodable + " undecodable, " + views + " distinct views, "
                    + (bundles == 0 ? "" : bundles + " distinct bundles (largest: " + largestBundle + " messages), ")
                    + found.size() + " violations";
        }
    }

    private static final String END = "<clean end>";
    private static final int MAX_VIOLATIONS = 1000;

    /**
     * One view as one member saw it: its key, what it delivered there (and at which entries),
     * where it ends (its last entry), and the member's next view.
     */
    private record Segment(VsHistory owner, String key, List<MsgId> delivered, List<Integer> at, int[] last,
                           String next) {
        int entryOf(MsgId id) {
            return at.get(delivered.indexOf(id));
        }
    }

    /** Where, before the views are known: a history and an entry number (from 1). */
    private record At(VsHistory history, int entry) {
    }

    private record Found(String text, List<At> at) {
    }

    private final List<Found> violations = new ArrayList<>();
    private final Map<VsHistory, List<ViewAt>> views = new HashMap<>();

    private VsChecker() {
    }

    public static Report check(Collection<VsHistory> histories) {
        return new VsChecker().run(histories);
    }

    private void violation(String text, At... at) {
        if (violations.size() < MAX_VIOLATIONS) {
            violations.add(new Found(text, List.of(at)));
        }
    }

    private Report run(Collection<VsHistory> histories) {
        Map<VsHistory, List<Segment>> segments = new LinkedHashMap<>();
        Set<MsgId> messages = new HashSet<>();
        long deliveries = 0;
        long undecodable = 0;
        for (VsHistory h : histories) {
            segments.put(h, segments(h));
            for (Entry e : h.entries()) {
                if (e instanceof Delivery d) {
                    messages.add(d.id());
                    deliveries++;
                } else if (e instanceof Undecodable) {
                    undecodable++;
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
        List<Violation> found = violations.stream()
                .map(f -> new Violation(f.text(), f.at().stream().map(this::place).toList())).toList();
        return new Report(found, histories.size(), messages.size(), deliveries, undecodable, byKey.size(),
                bundles.size(), largest);
    }

    private Place place(At at) {
        List<ViewAt> all = views.getOrDefault(at.history(), List.of());
        int split = 0;
        while (split < all.size() && all.get(split).entry() <= at.entry()) {
            split++;
        }
        return new Place(at.history().name(), at.entry(), all.subList(Math.max(0, split - VIEWS_AROUND), split),
                all.subList(split, Math.min(all.size(), split + VIEWS_AROUND)), at.history().end(),
                at.history().entries().size());
    }

    /** Splits a history into its views; also checks integrity, duplicates, FIFO and own views. */
    private List<Segment> segments(VsHistory h) {
        List<Entry> entries = h.entries();
        String firstRing = entries.stream().filter(Totem.class::isInstance).map(e -> ((Totem) e).ring())
                .findFirst().orElse("?");
        List<Segment> out = new ArrayList<>();
        List<ViewAt> installed = new ArrayList<>();
        views.put(h, installed);
        Set<MsgId> seen = new HashSet<>();
        Map<String, Long> lastSeq = new HashMap<>();
        String ring = null;
        View pending = null;            // a view whose ring is not known yet
        int pendingAt = 0;
        List<MsgId> current = null;     // deliveries of the current view
        List<Integer> currentAt = null; // and their entries
        int[] last = null;              // the current view's last entry
        int index = 0;
        for (Entry e : entries) {
            index++;
            if (last != null) {
                last[0] = index;
            }
            switch (e) {
                case Bundle b -> {
                    // checked on its own (checkBundles)
                }
                case Totem t -> ring = t.ring();
                case View v -> {
                    if (pending != null) {
                        String key = key(ring != null ? ring : firstRing, pending);
                        installed.add(new ViewAt(pendingAt, key));
                        out.add(new Segment(h, key, current, currentAt, last, null));
                    }
                    if (last != null) {
                        last[0] = index - 1;
                    }
                    if (!v.members().contains(h.memberName())) {
                        violation(h.name() + ": installs view " + v.members() + " without itself (entry " + index + ")",
                                new At(h, index));
                    }
                    pending = v;
                    pendingAt = index;
                    current = new ArrayList<>();
                    currentAt = new ArrayList<>();
                    last = new int[] {index};
                }
                case VsHistory.Received r -> {
                    if (pending != null) {
                        String key = key(ring != null ? ring : firstRing, pending);
                        installed.add(new ViewAt(pendingAt, key));
                        out.add(new Segment(h, key, current, currentAt, last, null));
                        pending = null;
                    }
                    if (current == null) {
                        violation(h.name() + ": delivers " + (r instanceof Delivery d ? d.id() : r)
                                + " before its first view", new At(h, index));
                        current = new ArrayList<>();
                        currentAt = new ArrayList<>();
                        last = new int[] {index};
                        out.add(new Segment(h, "<before any view>", current, currentAt, last, null));
                    }
                    switch (r) {
                        case Undecodable u -> violation(h.name() + ": delivers an undecodable message (" + u.why()
                                + ") of " + u.length() + " bytes from node " + u.node() + " pid " + u.pid()
                                + ", first bytes " + u.head() + " (entry " + index + ")", new At(h, index));
                        case Delivery d -> {
                            delivery(h, d, index, seen, lastSeq);
                            current.add(d.id());
                            currentAt.add(index);
                        }
                    }
                }
            }
        }
        if (pending != null) {
            String key = key(ring != null ? ring : firstRing, pending);
            installed.add(new ViewAt(pendingAt, key));
            out.add(new Segment(h, key, current, currentAt, last, null));
        }
        // Link each segment to the next view's key (or the end).
        List<Segment> linked = new ArrayList<>();
        for (int i = 0; i < out.size(); i++) {
            Segment s = out.get(i);
            String next = i + 1 < out.size() ? out.get(i + 1).key()
                    : h.end() == VsHistory.End.CLEAN ? END : null;
            linked.add(new Segment(h, s.key(), s.delivered(), s.at(), s.last(), next));
        }
        return linked;
    }

    /** Integrity, duplicates and FIFO of one delivery. */
    private void delivery(VsHistory h, Delivery d, int index, Set<MsgId> seen, Map<String, Long> lastSeq) {
        if (!d.intact()) {
            violation(h.name() + ": delivers " + d.id() + " with wrong bytes (entry " + index + ")", new At(h, index));
        }
        if (!seen.add(d.id())) {
            violation(h.name() + ": delivers " + d.id() + " twice (duplicate, entry " + index + ")", new At(h, index));
        } else {
            Long before = lastSeq.put(d.id().sender(), d.id().seq());
            if (before != null && d.id().seq() < before) {
                violation(h.name() + ": delivers " + d.id() + " after seq " + before
                        + " of the same sender (FIFO order broken, entry " + index + ")", new At(h, index));
            }
        }
    }

    private static String key(String ring, View v) {
        return "ring " + ring + " " + v.members();
    }

    private void checkSameView(Map<String, List<Segment>> byKey) {
        Map<MsgId, String> where = new HashMap<>();
        Map<MsgId, At> who = new HashMap<>();
        for (Map.Entry<String, List<Segment>> view : byKey.entrySet()) {
            for (Segment s : view.getValue()) {
                for (int i = 0; i < s.delivered().size(); i++) {
                    MsgId id = s.delivered().get(i);
                    String before = where.putIfAbsent(id, view.getKey());
                    At here = new At(s.owner(), s.at().get(i));
                    if (before == null) {
                        who.put(id, here);
                    } else if (!before.equals(view.getKey())) {
                        violation(id + " is delivered in view " + before + " by " + who.get(id).history().name()
                                + " but in view " + view.getKey() + " by " + s.owner().name(), who.get(id), here);
                    }
                }
            }
        }
    }

    private void checkAgreedOrder(String key, List<Segment> members) {
        for (int a = 0; a < members.size(); a++) {
            Map<MsgId, Integer> position = new HashMap<>();
            Segment first = members.get(a);
            for (int i = 0; i < first.delivered().size(); i++) {
                position.putIfAbsent(first.delivered().get(i), i);
            }
            for (int b = a + 1; b < members.size(); b++) {
                Segment second = members.get(b);
                int last = -1;
                MsgId lastId = null;
                for (int j = 0; j < second.delivered().size(); j++) {
                    MsgId id = second.delivered().get(j);
                    Integer p = position.get(id);
                    if (p == null) {
                        continue;
                    }
                    if (p < last) {
                        violation("view " + key + ": " + first.owner().name() + " delivers " + id + " before "
                                + lastId + ", " + second.owner().name() + " after it (agreed order broken)",
                                new At(first.owner(), first.at().get(p)), new At(second.owner(), second.at().get(j)));
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
            Segment reference = together.get(0);
            Set<MsgId> referenceSet = new HashSet<>(reference.delivered());
            for (Segment s : together.subList(1, together.size())) {
                Set<MsgId> other = new HashSet<>(s.delivered());
                if (!other.equals(referenceSet)) {
                    Set<MsgId> missing = new HashSet<>(referenceSet);
                    missing.removeAll(other);
                    Set<MsgId> extra = new HashSet<>(other);
                    extra.removeAll(referenceSet);
                    // The place: the first message one has and the other lacks, else the view's end.
                    MsgId lacked = reference.delivered().stream().filter(missing::contains).findFirst().orElse(null);
                    MsgId more = s.delivered().stream().filter(extra::contains).findFirst().orElse(null);
                    violation("view " + key + ": " + reference.owner().name() + " and " + s.owner().name()
                            + " both move on to " + group.getKey() + " but delivered different sets there: "
                            + s.owner().name() + " lacks " + missing.size() + " (e.g. " + lacked
                            + ") and has " + extra.size() + " more (e.g. " + more + ")",
                            new At(reference.owner(), lacked != null ? reference.entryOf(lacked) : reference.last()[0]),
                            new At(s.owner(), more != null ? s.entryOf(more) : s.last()[0]));
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
            List<Entry> entries = h.entries();
            for (int i = 0; i < entries.size(); i++) {
                if (entries.get(i) instanceof Delivery d) {
                    VsHistory sender = clean.get(d.id().sender());
                    if (sender != null && d.id().seq() >= sender.sent()) {
                        violation(h.name() + ": delivers " + d.id() + ", which its sender never sent (it sent "
                                + sender.sent() + ", entry " + (i + 1) + ")", new At(h, i + 1));
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
                            + " of them itself (first: seq " + firstMissing + ")", new At(h, entries.size()));
                }
            }
        }
    }

    /**
     * Whole bundles (check 9); returns every distinct bundle, by its first message, with its
     * messages. An undecodable message inside a bundle counts as one of its messages (it is
     * reported on its own).
     */
    private Map<MsgId, List<MsgId>> checkBundles(Collection<VsHistory> histories) {
        Map<MsgId, List<MsgId>> bundles = new HashMap<>();
        Map<MsgId, At> firstSeenBy = new HashMap<>();
        for (VsHistory h : histories) {
            List<Entry> entries = h.entries();
            if (entries.stream().noneMatch(Bundle.class::isInstance)) {
                continue;
            }
            int i = 0;
            while (i < entries.size()) {
                if (!(entries.get(i) instanceof Bundle bundle)) {
                    if (entries.get(i) instanceof Delivery d) {
                        violation(h.name() + ": delivers " + d.id() + " outside any bundle (entry " + (i + 1) + ")",
                                new At(h, i + 1));
                    }
                    i++;
                    continue;
                }
                List<MsgId> inside = new ArrayList<>();
                int count = 0;
                int next = i + 1;
                while (count < bundle.count() && next < entries.size()
                        && entries.get(next) instanceof VsHistory.Received r) {
                    if (r instanceof Delivery d) {
                        inside.add(d.id());
                    }
                    count++;
                    next++;
                }
                At here = new At(h, i + 1);
                if (count < bundle.count()) {
                    violation(h.name() + ": delivers " + count + " of the " + bundle.count()
                            + " messages of a bundle" + (inside.isEmpty() ? "" : " starting with " + inside.getFirst())
                            + ", then " + (next < entries.size() ? entries.get(next) : "its history ends")
                            + " (half a bundle, entry " + (i + 1) + ")", here);
                }
                if (!inside.isEmpty()) {
                    MsgId first = inside.getFirst();
                    if (inside.stream().anyMatch(id -> !id.sender().equals(first.sender()))) {
                        violation(h.name() + ": a bundle holds messages of several senders: " + inside
                                + " (entry " + (i + 1) + ")", here);
                    }
                    List<MsgId> before = bundles.putIfAbsent(first, inside);
                    if (before == null) {
                        firstSeenBy.put(first, here);
                    } else if (!before.equals(inside)) {
                        violation("the bundle starting with " + first + " holds " + before.size() + " messages at "
                                + firstSeenBy.get(first).history().name() + " but " + inside.size() + " at " + h.name()
                                + " (last: " + before.getLast() + " vs " + inside.getLast() + ")",
                                firstSeenBy.get(first), here);
                    }
                }
                i = next;
            }
        }
        return bundles;
    }
}
