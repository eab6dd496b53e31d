package org.jcpg.examples.kv;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import org.jcpg.ConnectionLost;
import org.jcpg.CpgConnection;
import org.jcpg.CpgEvent;
import org.jcpg.CpgEventLoop;
import org.jcpg.CpgException;
import org.jcpg.CpgListener;
import org.jcpg.GroupName;
import org.jcpg.Guarantee;
import org.jcpg.MembershipChange;
import org.jcpg.Message;
import org.jcpg.ModelFlag;
import org.jcpg.Reconnected;
import org.jcpg.TotemChange;
import org.jcpg.ZeroCopyBuffer;
import org.jcpg.examples.kv.Replica.Pid;

/**
 * A string map replicated across the processes of a CPG group: the example
 * of how CPG is meant to be used. See the package documentation for the
 * protocol and why it is correct.
 *
 * <pre>{@code
 * try (ReplicatedMap map = ReplicatedMap.builder(GroupName.of("inventory")).join()) {
 *     map.awaitSynced(Duration.ofSeconds(10));     // the state, from a member already there
 *     map.put("apples", "12").join();             // multicast, completes once applied here
 *     String apples = map.get("apples");          // the same on every replica at the same point
 * }
 * }</pre>
 *
 * Writes go to the group and are applied on delivery, by every member in the
 * same order; reads are local. Thread-safe.
 */
public final class ReplicatedMap implements AutoCloseable {
    /** One change to the map. An update is a list of them, applied together. */
    public sealed interface Op {
        String key();

        /** Sets {@code key} to {@code value}. */
        record Put(String key, String value) implements Op {
            public Put {
                Objects.requireNonNull(key, "key");
                Objects.requireNonNull(value, "value");
            }
        }

        /** Removes {@code key}. */
        record Remove(String key) implements Op {
            public Remove {
                Objects.requireNonNull(key, "key");
            }
        }

        /**
         * Adds {@code delta} to the number held at {@code key} (absent or not a number: 0). Not
         * idempotent: applied twice, it shows.
         */
        record Add(String key, long delta) implements Op {
            public Add {
                Objects.requireNonNull(key, "key");
            }
        }
    }

    /**
     * An update as applied: its position in the group's total order of updates (1, 2, ...; the
     * same on every replica), its sender and the sender's sequence number.
     */
    public record Update(long position, long nodeId, int pid, long seq, List<Op> ops) {
    }

    /**
     * What happens to this replica, called on the event loop's thread in stream order (keep it
     * short). A joiner reports the updates it buffered when it installs the state.
     */
    public interface Listener {
        /** An update was applied. */
        default void applied(ReplicatedMap map, Update update) {
        }

        /** A configuration change was applied; {@code epoch} counts them for the group. */
        default void viewChanged(ReplicatedMap map, MembershipChange change, long epoch) {
        }

        /**
         * This replica holds the state: from a snapshot taken at {@code epoch}, or {@code fresh}
         * (the group was empty). {@code replayed} updates delivered meanwhile were then applied.
         */
        default void synced(ReplicatedMap map, long epoch, boolean fresh, int entries, int replayed) {
        }

        /** This replica sent the state for the members that wait for it. */
        default void snapshotSent(ReplicatedMap map, long epoch, int bytes, int chunks) {
        }

        /** The totem ring changed (corosync's membership of nodes). */
        default void ringChanged(ReplicatedMap map, TotemChange change) {
        }

        /** The connection to corosync is gone; the map no longer changes. */
        default void lost(ReplicatedMap map, CpgException cause) {
        }
    }

    /** Options; {@link #join()} joins. */
    public static final class Builder {
        private final GroupName group;
        private Listener listener = new Listener() {
        };
        private CpgEventLoop loop;
        private int chunkSize = Integer.MAX_VALUE;
        private Duration sendTimeout = Duration.ofSeconds(30);
        private Duration snapshotDelay = Duration.ZERO;

        private Builder(GroupName group) {
            this.group = Objects.requireNonNull(group, "group");
        }

        public Builder listener(Listener listener) {
            this.listener = Objects.requireNonNull(listener, "listener");
            return this;
        }

        /** Dispatch on this loop (which must have no executor); by default the map starts its own. */
        public Builder loop(CpgEventLoop loop) {
            this.loop = Objects.requireNonNull(loop, "loop");
            return this;
        }

        /**
         * The most snapshot bytes per message; never more than what fits in corosync's atomic
         * message size, which is the default.
         */
        public Builder chunkSize(int bytes) {
            if (bytes < 1) {
                throw new IllegalArgumentException("chunk size " + bytes + " < 1");
            }
            this.chunkSize = bytes;
            return this;
        }

        /** How long a send waits while corosync's queue is full (default 30 s). */
        public Builder sendTimeout(Duration timeout) {
            this.sendTimeout = Objects.requireNonNull(timeout, "timeout");
            return this;
        }

        /**
         * A pause before this member sends a snapshot (default none). The snapshot holds the
         * state as of the configuration change whatever the pause; updates delivered meanwhile
         * reach the joiner through its buffer. The tests use it to widen that window.
         */
        public Builder snapshotDelay(Duration delay) {
            this.snapshotDelay = Objects.requireNonNull(delay, "delay");
            return this;
        }

        /** Connects, joins the group and returns at once; {@link #awaitSynced} waits for the state. */
        public ReplicatedMap join() {
            return new ReplicatedMap(this);
        }
    }

    /** What a member that does not hold the state yet keeps, in delivery order. */
    private sealed interface Buffered permits BufferedView, BufferedUpdate, BufferedSnapshot {
    }

    /** {@code index}: 0 for our own join, then 1, 2, ... */
    private record BufferedView(MembershipChange change, int index) implements Buffered {
    }

    private record BufferedUpdate(Pid origin, long seq, List<Op> ops) implements Buffered {
    }

    private record BufferedSnapshot(long epoch) implements Buffered {
    }

    private record AssemblyKey(Pid sender, long epoch) {
    }

    private static final class Assembly {
        final byte[][] chunks;
        int next;

        Assembly(int count) {
            chunks = new byte[count][];
        }
    }

    private final GroupName group;
    private final Listener listener;
    private final Duration sendTimeout;
    private final Duration snapshotDelay;
    private final int chunkSize;
    private final CpgEventLoop loop;
    private final boolean ownLoop;
    private final CpgConnection cpg;
    private final Pid self;
    private final ExecutorService snapshotSender;
    private final ReentrantLock sendLock = new ReentrantLock();
    private final Map<Long, CompletableFuture<Long>> pending = new ConcurrentHashMap<>();
    private final CompletableFuture<Void> synced = new CompletableFuture<>();
    private long nextSeq;

    // Guarded by this; changed on the loop's thread only.
    private Replica replica;
    private int views = -1;
    private final List<Buffered> buffer = new ArrayList<>();
    private final Map<AssemblyKey, Assembly> assemblies = new HashMap<>();
    private volatile boolean left;

    private ReplicatedMap(Builder builder) {
        this.group = builder.group;
        this.listener = builder.listener;
        this.sendTimeout = builder.sendTimeout;
        this.snapshotDelay = builder.snapshotDelay;
        this.ownLoop = builder.loop == null;
        this.loop = ownLoop ? CpgEventLoop.builder().name("replicated-map").start() : builder.loop;
        this.snapshotSender = Executors.newSingleThreadExecutor(r -> Thread.ofPlatform().daemon()
                .name("replicated-map-snapshot").unstarted(r));
        CpgConnection connection = null;
        try {
            connection = loop.open(new CpgListener() {
                @Override
                public void onEvent(CpgConnection c, CpgEvent event) {
                    ReplicatedMap.this.onEvent(event);
                }
            }, ModelFlag.DELIVER_INITIAL_TOTEM_CONF);
            this.cpg = connection;
            this.chunkSize = Math.min(builder.chunkSize, connection.maxAtomicMessageSize() - Wire.CHUNK_HEADER);
            this.self = new Pid(connection.localNodeId(), (int) ProcessHandle.current().pid());
            connection.join(group);
        } catch (RuntimeException e) {
            if (connection != null) {
                connection.close();
            }
            snapshotSender.shutdownNow();
            if (ownLoop) {
                loop.close();
            }
            throw e;
        }
    }

    public static Builder builder(GroupName group) {
        return new Builder(group);
    }

    // ---- the application's side -------------------------------------------

    /** Sets {@code key} to {@code value} everywhere; completes with the update's position once applied here. */
    public CompletableFuture<Long> put(String key, String value) {
        return update(List.of(new Op.Put(key, value)));
    }

    public CompletableFuture<Long> remove(String key) {
        return update(List.of(new Op.Remove(key)));
    }

    /**
     * Multicasts {@code ops} as one update (agreed order). The future completes with the
     * update's position once this replica has applied it, or fails if the send failed (then
     * nobody applies it) or the connection was lost (then it may or may not have been applied
     * elsewhere).
     *
     * @throws IllegalArgumentException if the update does not fit in one atomic message: an
     *                                  update is never fragmented, so it is all or nothing
     */
    public CompletableFuture<Long> update(List<Op> ops) {
        return send(List.copyOf(ops), false);
    }

    /**
     * As {@link #put}, but the update is written straight into a zero-copy buffer of corosync
     * ({@code cpg_zcb_alloc}) instead of being copied from the heap: for large values.
     */
    public CompletableFuture<Long> putZeroCopy(String key, String value) {
        return send(List.of(new Op.Put(key, value)), true);
    }

    private CompletableFuture<Long> send(List<Op> ops, boolean zeroCopy) {
        int size = Wire.updateSize(ops);
        if (size > cpg.maxAtomicMessageSize()) {
            throw new IllegalArgumentException("update of " + size + " bytes exceeds the atomic message size "
                    + cpg.maxAtomicMessageSize());
        }
        if (left) {
            throw new IllegalStateException("left the group");
        }
        CompletableFuture<Long> applied = new CompletableFuture<>();
        sendLock.lock();
        try {
            long seq = ++nextSeq;
            pending.put(seq, applied);
            try {
                if (zeroCopy) {
                    try (ZeroCopyBuffer buffer = cpg.allocateZeroCopy(size)) {
                        Wire.writeUpdate(buffer.segment().asByteBuffer(), seq, ops);
                        sendWithRetry(buffer, size);
                    }
                } else {
                    ByteBuffer message = ByteBuffer.allocate(size);
                    Wire.writeUpdate(message, seq, ops);
                    cpg.multicast(Guarantee.AGREED, sendTimeout, MemorySegment.ofArray(message.array()));
                }
            } catch (RuntimeException e) {
                // Not sent: the number is free again, so that the receivers' sequence check holds.
                pending.remove(seq);
                nextSeq--;
                throw e;
            }
        } finally {
            sendLock.unlock();
        }
        return applied;
    }

    private void sendWithRetry(ZeroCopyBuffer buffer, int length) {
        long deadline = System.nanoTime() + sendTimeout.toNanos();
        while (!buffer.tryMulticast(Guarantee.AGREED, length)) {
            if (System.nanoTime() > deadline) {
                buffer.multicast(Guarantee.AGREED, length); // throws TRY_AGAIN, or succeeds at last
                return;
            }
            LockSupport.parkNanos(100_000);
        }
    }

    /** Waits until this replica holds the state. */
    public void awaitSynced(Duration timeout) throws InterruptedException, TimeoutException {
        try {
            synced.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IllegalStateException("never synced", e.getCause());
        }
    }

    public synchronized boolean isSynced() {
        return synced.isDone() && !synced.isCompletedExceptionally();
    }

    /** The value here and now, or null; null too before this replica holds the state. */
    public synchronized String get(String key) {
        return replica == null || !isSynced() ? null : replica.entries.get(key);
    }

    /** A copy of the whole map, sorted. */
    public synchronized SortedMap<String, String> entries() {
        return replica == null || !isSynced() ? new TreeMap<>() : new TreeMap<>(replica.entries);
    }

    /** How many updates this replica has applied in the group's history (its position). */
    public synchronized long position() {
        return replica == null ? 0 : replica.position;
    }

    /**
     * Updates that broke their sender's sequence (a duplicate or a gap); part of the replicated
     * state, and 0 unless the protocol is broken.
     */
    public synchronized long anomalies() {
        return replica == null ? 0 : replica.anomalies;
    }

    /**
     * SHA-256 of the canonical serialization of the replicated state (map, members, sequence
     * numbers). Two replicas at the same position have the same digest. Called from a
     * {@link Listener} it is the digest at exactly that point of the stream.
     */
    public synchronized String digest() {
        return replica == null ? "" : replica.digest();
    }

    /** This process as the group knows it: node id and pid. */
    public long nodeId() {
        return self.nodeId();
    }

    public int pid() {
        return self.pid();
    }

    public CpgConnection connection() {
        return cpg;
    }

    /** Leaves the group (the others see LEAVE) and closes. */
    public void leave() {
        left = true;
        try {
            cpg.leave();
        } finally {
            close();
        }
    }

    /** Closes the connection (the others see the process go) and the map's threads. */
    @Override
    public void close() {
        left = true;
        cpg.close();
        snapshotSender.shutdownNow();
        if (ownLoop) {
            loop.close();
        }
        IllegalStateException gone = new IllegalStateException("the map is closed");
        pending.values().forEach(f -> f.completeExceptionally(gone));
        synced.completeExceptionally(gone);
    }

    // ---- the group's side: every event on the loop's thread ----------------

    private void onEvent(CpgEvent event) {
        if (left) {
            return; // corosync keeps delivering after leave (see CpgConnection.leave)
        }
        switch (event) {
            case Message message -> onMessage(message);
            case MembershipChange change -> onView(change);
            case TotemChange ring -> listener.ringChanged(this, ring);
            case ConnectionLost lost -> {
                pending.values().forEach(f -> f.completeExceptionally(lost.cause()));
                synced.completeExceptionally(lost.cause());
                listener.lost(this, lost.cause());
            }
            case Reconnected again -> {
                // Never: the map's loop has no reconnect policy. A replica that lost its
                // connection cannot know what it missed; it must join anew.
            }
        }
    }

    private synchronized void onView(MembershipChange change) {
        if (views < 0) {
            if (change.joined().stream().noneMatch(m -> Pid.of(m).equals(self))) {
                return; // not ours yet
            }
            views = 0;
            if (change.joined().size() == change.members().size()) {
                // Nobody was here: the map starts empty, for everyone who joined in this change alike.
                replica = Replica.bootstrap(change);
                listener.viewChanged(this, change, replica.epoch);
                becomeSynced(replica.epoch, true, 0);
            } else {
                buffer.add(new BufferedView(change, 0));
            }
            return;
        }
        views++;
        change.left().forEach(m -> assemblies.keySet().removeIf(k -> k.sender().equals(Pid.of(m))));
        if (!isSynced()) {
            buffer.add(new BufferedView(change, views));
            return;
        }
        applyView(change);
        if (self.equals(replica.snapshotSender())) {
            sendSnapshot(replica.epoch, replica.serialize());
        }
    }

    private void applyView(MembershipChange change) {
        replica.view(change);
        listener.viewChanged(this, change, replica.epoch);
    }

    private synchronized void onMessage(Message message) {
        if (views < 0) {
            return; // delivered before our join: not part of our history
        }
        Pid origin = new Pid(message.nodeId(), message.pid());
        switch (Wire.decode(message.toByteArray())) {
            case null -> {
                // not ours: another program in the group
            }
            case Wire.DecodedUpdate update -> {
                if (isSynced()) {
                    applyUpdate(origin, update.seq(), update.ops());
                } else {
                    buffer.add(new BufferedUpdate(origin, update.seq(), update.ops()));
                }
            }
            case Wire.DecodedChunk chunk -> onChunk(origin, chunk);
        }
    }

    private void applyUpdate(Pid origin, long seq, List<Op> ops) {
        long position = replica.apply(origin, seq, ops);
        listener.applied(this, new Update(position, origin.nodeId(), origin.pid(), seq, ops));
        if (origin.equals(self)) {
            CompletableFuture<Long> done = pending.remove(seq);
            if (done != null) {
                done.complete(position);
            }
        }
    }

    private void onChunk(Pid sender, Wire.DecodedChunk chunk) {
        AssemblyKey key = new AssemblyKey(sender, chunk.epoch());
        Assembly assembly = chunk.index() == 0 ? new Assembly(chunk.count()) : assemblies.get(key);
        if (assembly == null || assembly.chunks.length != chunk.count() || assembly.next != chunk.index()) {
            assemblies.remove(key); // a chunk out of line: cannot happen in agreed order; drop it
            return;
        }
        assembly.chunks[assembly.next++] = chunk.data();
        if (assembly.next < chunk.count()) {
            assemblies.put(key, assembly);
            return;
        }
        assemblies.remove(key);
        onSnapshot(chunk.epoch(), assembly.chunks);
    }

    /** A whole snapshot, taken at {@code epoch}, was delivered. */
    private void onSnapshot(long epoch, byte[][] chunks) {
        if (isSynced()) {
            replica.snapshotDelivered(epoch);
            return;
        }
        int total = 0;
        for (byte[] c : chunks) {
            total += c.length;
        }
        ByteBuffer whole = ByteBuffer.allocate(total);
        for (byte[] c : chunks) {
            whole.put(c);
        }
        Replica state = Replica.deserialize(whole.array());
        Replica.MemberState mine = state.members.get(self);
        if (state.epoch != epoch || mine == null) {
            // Taken before we joined: not for us. It is still an event of the stream that
            // changes who holds the state, so a later snapshot replays it.
            buffer.add(new BufferedSnapshot(epoch));
            return;
        }
        // Our buffer starts at our join, whose epoch is mine.joinEpoch: the snapshot's view is
        // the buffered change number (epoch - joinEpoch). What came after it is not in the snapshot.
        long index = epoch - mine.joinEpoch;
        int start = -1;
        for (int i = 0; i < buffer.size(); i++) {
            if (buffer.get(i) instanceof BufferedView view && view.index() == index) {
                start = i + 1;
                break;
            }
        }
        if (start < 0) {
            throw new IllegalStateException("snapshot of epoch " + epoch + " names view " + index
                    + " since our join, which we did not see");
        }
        replica = state;
        int replayed = 0;
        for (Buffered event : buffer.subList(start, buffer.size())) {
            switch (event) {
                case BufferedView view -> applyView(view.change());
                case BufferedUpdate update -> {
                    applyUpdate(update.origin(), update.seq(), update.ops());
                    replayed++;
                }
                case BufferedSnapshot snapshot -> replica.snapshotDelivered(snapshot.epoch());
            }
        }
        buffer.clear();
        replica.snapshotDelivered(epoch);
        becomeSynced(epoch, false, replayed);
    }

    private void becomeSynced(long epoch, boolean fresh, int replayed) {
        try {
            listener.synced(this, epoch, fresh, replica.entries.size(), replayed);
        } finally {
            synced.complete(null);
        }
    }

    /** Sends the state taken at {@code epoch}, in chunks that each fit in one atomic message. */
    private void sendSnapshot(long epoch, byte[] state) {
        int count = Math.max(1, (state.length + chunkSize - 1) / chunkSize);
        snapshotSender.execute(() -> {
            try {
                Thread.sleep(snapshotDelay);
                for (int i = 0; i < count; i++) {
                    int from = i * chunkSize;
                    byte[] chunk = Wire.chunk(epoch, i, count, state, from, Math.min(chunkSize, state.length - from));
                    cpg.multicast(Guarantee.AGREED, sendTimeout, MemorySegment.ofArray(chunk));
                }
                listener.snapshotSent(this, epoch, state.length, count);
            } catch (RuntimeException | InterruptedException e) {
                // The connection is gone or closing: the others see us leave, and the next
                // configuration change picks another sender.
                System.getLogger(ReplicatedMap.class.getName()).log(System.Logger.Level.DEBUG,
                        "snapshot of epoch " + epoch + " not sent", e);
            }
        });
    }

    @Override
    public String toString() {
        return "ReplicatedMap[" + group + " as " + self + "]";
    }
}
