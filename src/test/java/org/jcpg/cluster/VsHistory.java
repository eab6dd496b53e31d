package org.jcpg.cluster;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Collectors;
import java.util.HexFormat;
import org.jcpg.Member;
import org.jcpg.MembershipChange;
import org.jcpg.Message;
import org.jcpg.TotemChange;

/**
 * What one member incarnation of a group saw, in delivery order: views
 * (membership changes: the member list after each), totem changes (ring id
 * and nodes) and delivered messages (by {@link MsgId}, and whether the bytes
 * were intact) or, never dropped, messages it could not decode
 * ({@link Undecodable}), for a member of a bundled group also each bundle's arrival in
 * front of its messages ({@link Bundle}), plus how many messages it sent and
 * how it ended. A process that connects again after its daemon died is a
 * new incarnation (same node and pid, next incarnation number): corosync
 * sees a new member.
 *
 * <p>Thread-safe for one recording thread and readers. {@link #write} and
 * {@link #parse} move histories between processes as text.
 */
public final class VsHistory {
    /** A message's identity: its sender incarnation and the sender's sequence number (0, 1, ...). */
    public record MsgId(long node, int pid, int incarnation, long seq) {
        public String sender() {
            return node + "/" + pid + "#" + incarnation;
        }

        @Override
        public String toString() {
            return sender() + ":" + seq;
        }
    }

    public sealed interface Entry permits View, Totem, Received, Bundle {
    }

    /** A message delivered to the member's listener: a load message, or one that is not. */
    public sealed interface Received extends Entry permits Delivery, Undecodable {
    }

    /** A membership change: the members after it, as "node/pid", sorted. */
    public record View(List<String> members) implements Entry {
        public View {
            members = members.stream().sorted().toList();
        }
    }

    /** A totem change: the ring id (representative node, seq) and its nodes. */
    public record Totem(long ringNode, long ringSeq, List<Long> nodes) implements Entry {
        public Totem {
            nodes = List.copyOf(nodes);
        }

        public String ring() {
            return ringNode + "." + Long.toUnsignedString(ringSeq);
        }
    }

    /** A delivered message. */
    public record Delivery(MsgId id, boolean intact) implements Received {
    }

    /**
     * A delivered message that is no load message (shorter than the header, without the magic)
     * or that a bundling receiver refused: recorded, not dropped, so that a garbled message
     * shows as what it is rather than as a missing one. The checker reports every one.
     *
     * @param node   the sender's node id, as corosync gave it
     * @param pid    the sender's pid, as corosync gave it
     * @param length the payload's length in bytes
     * @param head   its first bytes (at most {@link #HEAD_BYTES}) in hex ("-" if none)
     * @param why    why it could not be decoded (no line breaks)
     */
    public record Undecodable(long node, int pid, int length, String head, String why) implements Received {
        public static final int HEAD_BYTES = 16;

        public Undecodable {
            head = head.isEmpty() ? "-" : head;
            why = why.replaceAll("\\s+", " ").strip();
        }

        static Undecodable of(Message m, String why) {
            byte[] bytes = m.toByteArray();
            return new Undecodable(m.nodeId(), m.pid(), bytes.length,
                    HexFormat.of().formatHex(bytes, 0, Math.min(HEAD_BYTES, bytes.length)), why);
        }
    }

    /**
     * A bundle arrived (one CPG message): its frame says it holds {@code count} messages, which
     * should be the next {@code count} deliveries. Recorded in front of the unpacking receiver,
     * from the frame's own bytes, so it tells what the application should see.
     */
    public record Bundle(int count) implements Entry {
    }

    public enum End {
        /** Still recording. */
        OPEN,
        /** Closed by the test after the load stopped and deliveries settled. */
        CLEAN,
        /** Its daemon went away (killed or restarted). */
        CRASHED
    }

    private final long node;
    private final int pid;
    private final int incarnation;
    private final List<Entry> entries = new ArrayList<>();
    private long sent;
    private End end = End.OPEN;

    public VsHistory(long node, int pid, int incarnation) {
        this.node = node;
        this.pid = pid;
        this.incarnation = incarnation;
    }

    public long node() {
        return node;
    }

    public int pid() {
        return pid;
    }

    public int incarnation() {
        return incarnation;
    }

    /** "node/pid#incarnation". */
    public String name() {
        return node + "/" + pid + "#" + incarnation;
    }

    /** "node/pid", as in views. */
    public String memberName() {
        return node + "/" + pid;
    }

    public synchronized void view(List<String> members) {
        entries.add(new View(members));
    }

    public void view(MembershipChange change) {
        view(change.members().stream().map(VsHistory::name).toList());
    }

    static String name(Member m) {
        return m.nodeId() + "/" + m.pid();
    }

    public synchronized void totem(long ringNode, long ringSeq, List<Long> nodes) {
        entries.add(new Totem(ringNode, ringSeq, nodes));
    }

    public void totem(TotemChange change) {
        totem(change.ringId().nodeId(), change.ringId().seq(), change.nodeIds());
    }

    public synchronized void delivered(MsgId id, boolean intact) {
        entries.add(new Delivery(id, intact));
    }

    public synchronized void received(Received r) {
        entries.add(r);
    }

    public synchronized void bundle(int count) {
        entries.add(new Bundle(count));
    }

    /** Messages this incarnation sent successfully: seq 0 .. sent-1. */
    public synchronized void sent(long count) {
        this.sent = count;
    }

    public synchronized long sent() {
        return sent;
    }

    public synchronized void end(End how) {
        this.end = how;
    }

    public synchronized End end() {
        return end;
    }

    public synchronized List<Entry> entries() {
        return List.copyOf(entries);
    }

    /** Messages delivered to the listener, undecodable ones included. */
    public synchronized long deliveries() {
        return entries.stream().filter(Received.class::isInstance).count();
    }

    /** How many of its own messages it delivered. */
    public synchronized long ownDelivered() {
        return entries.stream().filter(e -> e instanceof Delivery d && d.id().node() == node && d.id().pid() == pid
                && d.id().incarnation() == incarnation).count();
    }

    // ---- text form --------------------------------------------------------
    // H node pid incarnation sent END / V n/p,n/p / T ringNode ringSeq n,n / D node pid inc seq 1|0 / B count
    // / U node pid length headhex why...

    public synchronized void write(StringBuilder out) {
        out.append("H ").append(node).append(' ').append(pid).append(' ').append(incarnation).append(' ')
                .append(sent).append(' ').append(end).append('\n');
        for (Entry e : entries) {
            switch (e) {
                case View v -> out.append("V ").append(String.join(",", v.members())).append('\n');
                case Totem t -> out.append("T ").append(t.ringNode()).append(' ').append(Long.toUnsignedString(t.ringSeq()))
                        .append(' ').append(t.nodes().stream().map(String::valueOf).collect(Collectors.joining(","))).append('\n');
                case Delivery d -> out.append("D ").append(d.id().node()).append(' ').append(d.id().pid()).append(' ')
                        .append(d.id().incarnation()).append(' ').append(d.id().seq()).append(' ')
                        .append(d.intact() ? 1 : 0).append('\n');
                case Bundle b -> out.append("B ").append(b.count()).append('\n');
                case Undecodable u -> out.append("U ").append(u.node()).append(' ').append(u.pid()).append(' ')
                        .append(u.length()).append(' ').append(u.head()).append(' ').append(u.why()).append('\n');
            }
        }
    }

    public static String write(List<VsHistory> histories) {
        StringBuilder out = new StringBuilder();
        histories.forEach(h -> h.write(out));
        return out.toString();
    }

    public static List<VsHistory> parse(List<String> lines) {
        List<VsHistory> all = new ArrayList<>();
        VsHistory h = null;
        for (String line : lines) {
            if (line.isBlank()) {
                continue;
            }
            String[] w = line.split(" ", -1);
            switch (w[0]) {
                case "H" -> {
                    h = new VsHistory(Long.parseLong(w[1]), Integer.parseInt(w[2]), Integer.parseInt(w[3]));
                    h.sent = Long.parseLong(w[4]);
                    h.end = End.valueOf(w[5]);
                    all.add(h);
                }
                case "V" -> h.view(w.length < 2 || w[1].isEmpty() ? List.of() : List.of(w[1].split(",")));
                case "T" -> h.totem(Long.parseLong(w[1]), Long.parseUnsignedLong(w[2]),
                        w[3].isEmpty() ? List.of() : java.util.Arrays.stream(w[3].split(",")).map(Long::valueOf).toList());
                case "D" -> h.delivered(new MsgId(Long.parseLong(w[1]), Integer.parseInt(w[2]), Integer.parseInt(w[3]),
                        Long.parseLong(w[4])), w[5].equals("1"));
                case "B" -> h.bundle(Integer.parseInt(w[1]));
                case "U" -> h.received(new Undecodable(Long.parseLong(w[1]), Integer.parseInt(w[2]),
                        Integer.parseInt(w[3]), w[4], String.join(" ", java.util.Arrays.copyOfRange(w, 5, w.length))));
                default -> throw new IllegalArgumentException("bad history line: " + line);
            }
        }
        return all;
    }

    public static Comparator<VsHistory> order() {
        return Comparator.comparingLong(VsHistory::node).thenComparingInt(VsHistory::pid).thenComparingInt(VsHistory::incarnation);
    }

    @Override
    public String toString() {
        return "VsHistory[" + name() + ", " + end() + ", sent " + sent() + ", " + entries().size() + " entries]";
    }
}
