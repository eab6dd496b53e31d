package org.jcpg.examples.kv;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.jcpg.Member;
import org.jcpg.MembershipChange;

/**
 * The replicated state and the deterministic rules that change it. Every
 * replica applies the same events in the same (agreed) order, so every
 * replica that has applied the same prefix of the stream holds the same
 * bytes in {@link #serialize()}. Not thread-safe: {@link ReplicatedMap}
 * guards it.
 *
 * <p>Besides the map it keeps what the state transfer needs to be part of
 * the replicated state, so that every replica agrees on it without a
 * message: the view counter ({@code epoch}, one per configuration change),
 * every member with the epoch it joined in and whether it holds the state,
 * and per sender the last update sequence number applied (which makes a
 * duplicate or a lost update visible as an anomaly).
 */
final class Replica {
    /** A group member as corosync names it. Ordered by node id, then pid. */
    record Pid(long nodeId, int pid) implements Comparable<Pid> {
        static Pid of(Member member) {
            return new Pid(member.nodeId(), member.pid());
        }

        @Override
        public int compareTo(Pid other) {
            int byNode = Long.compare(nodeId, other.nodeId);
            return byNode != 0 ? byNode : Integer.compare(pid, other.pid);
        }

        @Override
        public String toString() {
            return nodeId + "/" + pid;
        }
    }

    /** What the replicas know of one member. */
    static final class MemberState {
        final long joinEpoch;
        boolean synced;

        MemberState(long joinEpoch, boolean synced) {
            this.joinEpoch = joinEpoch;
            this.synced = synced;
        }
    }

    long epoch;
    long position;
    long anomalies;
    final TreeMap<Pid, MemberState> members = new TreeMap<>();
    final TreeMap<Pid, Long> lastSeq = new TreeMap<>();
    final TreeMap<String, String> entries = new TreeMap<>();

    /** The first member(s) of an empty group: everyone in the view starts with the empty map. */
    static Replica bootstrap(MembershipChange first) {
        Replica replica = new Replica();
        replica.view(first);
        replica.members.values().forEach(m -> m.synced = true);
        return replica;
    }

    /** A configuration change: a new epoch; who left is forgotten, who joined waits for the state. */
    void view(MembershipChange change) {
        epoch++;
        for (Member left : change.left()) {
            members.remove(Pid.of(left));
            lastSeq.remove(Pid.of(left));
        }
        for (Member joined : change.joined()) {
            members.put(Pid.of(joined), new MemberState(epoch, false));
        }
    }

    /**
     * Who must send the state now: the lowest member that holds it, if some
     * member does not; else null. Deterministic, so exactly one replica
     * decides it is the one.
     */
    Pid snapshotSender() {
        boolean someoneWaits = members.values().stream().anyMatch(m -> !m.synced);
        if (!someoneWaits) {
            return null;
        }
        return members.entrySet().stream().filter(e -> e.getValue().synced).map(Map.Entry::getKey)
                .findFirst().orElse(null);
    }

    /** Applies one update; returns its position in the total order of updates (1, 2, ...). */
    long apply(Pid origin, long seq, List<ReplicatedMap.Op> ops) {
        long expected = lastSeq.getOrDefault(origin, 0L) + 1;
        if (seq != expected) {
            anomalies++;
        }
        lastSeq.put(origin, seq);
        for (ReplicatedMap.Op op : ops) {
            switch (op) {
                case ReplicatedMap.Op.Put put -> entries.put(put.key(), put.value());
                case ReplicatedMap.Op.Remove remove -> entries.remove(remove.key());
                case ReplicatedMap.Op.Add add -> entries.merge(add.key(), Long.toString(add.delta()),
                        (old, delta) -> Long.toString(parse(old) + Long.parseLong(delta)));
            }
        }
        return ++position;
    }

    private static long parse(String value) {
        try {
            return Long.parseLong(value);
        } catch (NumberFormatException notANumber) {
            return 0;
        }
    }

    /**
     * The state taken at epoch {@code tag} was delivered: every member that
     * joined at or before that epoch now holds it. Returns those members.
     */
    List<Pid> snapshotDelivered(long tag) {
        List<Pid> now = new ArrayList<>();
        members.forEach((pid, m) -> {
            if (!m.synced && m.joinEpoch <= tag) {
                m.synced = true;
                now.add(pid);
            }
        });
        return now;
    }

    /** The canonical form: sorted, fixed-width numbers, length-prefixed strings. Equal states, equal bytes. */
    byte[] serialize() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(64 + entries.size() * 32);
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeLong(epoch);
            out.writeLong(position);
            out.writeLong(anomalies);
            out.writeInt(members.size());
            for (var e : members.entrySet()) {
                out.writeLong(e.getKey().nodeId());
                out.writeInt(e.getKey().pid());
                out.writeLong(e.getValue().joinEpoch);
                out.writeBoolean(e.getValue().synced);
            }
            out.writeInt(lastSeq.size());
            for (var e : lastSeq.entrySet()) {
                out.writeLong(e.getKey().nodeId());
                out.writeInt(e.getKey().pid());
                out.writeLong(e.getValue());
            }
            out.writeInt(entries.size());
            for (var e : entries.entrySet()) {
                writeString(out, e.getKey());
                writeString(out, e.getValue());
            }
        } catch (IOException impossible) {
            throw new UncheckedIOException(impossible);
        }
        return bytes.toByteArray();
    }

    static Replica deserialize(byte[] data) {
        Replica replica = new Replica();
        try (DataInputStream in = new DataInputStream(new java.io.ByteArrayInputStream(data))) {
            replica.epoch = in.readLong();
            replica.position = in.readLong();
            replica.anomalies = in.readLong();
            for (int i = in.readInt(); i > 0; i--) {
                Pid pid = new Pid(in.readLong(), in.readInt());
                replica.members.put(pid, new MemberState(in.readLong(), in.readBoolean()));
            }
            for (int i = in.readInt(); i > 0; i--) {
                replica.lastSeq.put(new Pid(in.readLong(), in.readInt()), in.readLong());
            }
            for (int i = in.readInt(); i > 0; i--) {
                replica.entries.put(readString(in), readString(in));
            }
            if (in.available() != 0) {
                throw new IllegalArgumentException("snapshot has " + in.available() + " bytes too many");
            }
        } catch (IOException truncated) {
            throw new IllegalArgumentException("truncated snapshot", truncated);
        }
        return replica;
    }

    static void writeString(DataOutputStream out, String s) throws IOException {
        byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
        out.writeInt(utf8.length);
        out.write(utf8);
    }

    static String readString(DataInputStream in) throws IOException {
        int length = in.readInt();
        if (length < 0 || length > in.available()) {
            throw new IOException("bad string length " + length);
        }
        return new String(in.readNBytes(length), StandardCharsets.UTF_8);
    }

    /** SHA-256 of the canonical form, in hex. */
    String digest() {
        return digest(serialize());
    }

    static String digest(byte[] canonical) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(canonical));
        } catch (NoSuchAlgorithmException impossible) {
            throw new AssertionError(impossible);
        }
    }
}
