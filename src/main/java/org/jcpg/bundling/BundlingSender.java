package org.jcpg.bundling;

import java.lang.foreign.MemorySegment;
import java.lang.ref.Cleaner;
import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.WeakHashMap;
import org.jcpg.CpgConnection;
import org.jcpg.CpgError;
import org.jcpg.CpgException;
import org.jcpg.Guarantee;

/**
 * Sends messages to a bundled group (see {@link Bundling}): each message is
 * copied into the bundle being filled and goes out with it, in the order of
 * the sends. Made by {@link Bundling#sender}. Bundles are native memory
 * that libcpg reads in place, so a message is copied twice on its way to
 * the daemon: into the bundle here, into libcpg's ring there. They are
 * freed at {@link #close}.
 *
 * <p>One sender per connection. Thread-safe: any number of threads may send at once. The queue is
 * bounded ({@link Bundling.Builder#queueBytes}): when it is full,
 * {@link #trySend} refuses and {@link #send} waits up to its timeout;
 * nothing is dropped. A message is "sent" when it is in the queue; it is
 * handed to libcpg at once or by the sender's own thread (named
 * {@code ...-flusher-N}) while the daemon pushes back. {@link #flush} waits
 * until libcpg has everything.
 *
 * <p>If the connection fails (closed, or the daemon died), the bundles not
 * yet handed to libcpg cannot be sent: the failing send throws, later calls
 * throw {@link IllegalStateException} with the cause and the number of
 * messages that were not sent. As with {@link CpgConnection#multicast(Guarantee, Duration, MemorySegment...)},
 * someone must dispatch the connection meanwhile: do not wait in
 * {@code send} or {@code flush} on the thread of an event loop without an
 * executor; use {@code trySend} there.
 *
 * <p>A sender does not keep its connection alive beyond itself: neither its
 * thread nor the way its {@link BundlingReceiver} finds it holds the
 * connection strongly. A sender that becomes unreachable without
 * {@link #close} is closed by a cleaner (its thread ends, its native memory
 * is freed, messages still queued are dropped, and a WARNING on
 * "org.jcpg.Bundling" says how many); its connection, once unreachable too,
 * is closed as any dropped connection is (see {@link CpgConnection}). Close
 * senders yourself: the cleaner runs only when the garbage collector says.
 */
public final class BundlingSender implements AutoCloseable {
    private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(10);
    private static final int PID = (int) ProcessHandle.current().pid();
    private static final System.Logger LOG = System.getLogger("org.jcpg.Bundling");
    private static final Cleaner CLEANER = Cleaner.create(
            task -> Thread.ofPlatform().daemon().name("jcpg-bundling-cleaner").unstarted(task));
    /**
     * The queue of each connection's open sender, for the connection's
     * receiver to report the sender's own bundles delivered. The key is weak
     * and the value holds the connection only weakly (see {@link WeakTransport}),
     * so this map keeps neither a connection nor its sender alive.
     */
    private static final Map<CpgConnection, Registration> QUEUES = Collections.synchronizedMap(new WeakHashMap<>());

    /** What a receiver needs of its connection's sender: not the sender, not the connection. */
    private record Registration(BundleQueue queue, long localNodeId) {
    }

    /**
     * Sends through a connection that it holds weakly: the queue's thread
     * holds the queue, the queue this, and a strong reference here would
     * keep an abandoned connection (and its group in the daemon) forever.
     * While the sender is reachable, so is the connection (the sender holds it).
     */
    private record WeakTransport(WeakReference<CpgConnection> connection) implements BundleQueue.Transport {
        @Override
        public boolean trySend(MemorySegment frame) {
            CpgConnection c = connection.get();
            if (c == null) {
                throw new IllegalStateException("the connection of this bundling sender was reclaimed");
            }
            return c.tryMulticast(Guarantee.AGREED, frame);
        }
    }

    /** The cleaner's action for a sender dropped without close: holds the queue only, never the sender. */
    private record Abandon(BundleQueue queue, String name) implements Runnable {
        @Override
        public void run() {
            if (queue.isClosed()) {
                return;
            }
            long dropped = queue.close(0);
            LOG.log(System.Logger.Level.WARNING, name + " became unreachable without close(): its thread is stopped"
                    + (dropped == 0 ? "" : ", " + dropped + " queued messages are dropped"));
        }
    }

    private final CpgConnection connection;
    private final BundleQueue queue;
    private final Cleaner.Cleanable cleanable;
    private volatile boolean closed;

    BundlingSender(CpgConnection connection, Bundling bundling) {
        this.connection = connection;
        if (connection.group() == null) {
            throw new IllegalStateException(connection + " has not joined a group");
        }
        int atomic = connection.maxAtomicMessageSize();
        if (bundling.maxBundleBytes > atomic) {
            throw new IllegalArgumentException("bundles of " + bundling.maxBundleBytes
                    + " bytes exceed the atomic message size " + atomic);
        }
        long largest = atomic - BundleFrame.HEADER_BYTES - BundleFrame.LENGTH_BYTES;
        long localNodeId = connection.localNodeId();
        this.queue = new BundleQueue("jcpg-bundler", new WeakTransport(new WeakReference<>(connection)),
                bundling.maxBundleBytes, largest, bundling.queueBytes, bundling.maxDelay.toNanos(),
                bundling.maxInFlight);
        Registration mine = new Registration(queue, localNodeId);
        // A sender dropped without close leaves a closed queue behind while its connection lives on.
        if (QUEUES.compute(connection, (c, old) -> old == null || old.queue().isClosed() ? mine : old) != mine) {
            queue.close(0);
            throw new IllegalStateException(connection + " already has an open bundling sender");
        }
        this.cleanable = CLEANER.register(this, new Abandon(queue, "a bundling sender of " + connection));
    }

    /** A {@link BundlingReceiver} on {@code connection} delivered a bundle of {@code nodeId}/{@code pid}. */
    static void delivered(CpgConnection connection, long nodeId, int pid) {
        if (pid != PID || connection == null) {
            return;
        }
        Registration sender = QUEUES.get(connection);
        if (sender != null && sender.localNodeId() == nodeId) {
            sender.queue().selfDelivered();
        }
    }

    /**
     * Queues a message if there is room, without waiting.
     *
     * @param message the message, copied into the queue if taken
     * @return false if the queue is full (counted in {@link BundlingStatistics#refused()})
     * @throws IllegalArgumentException if the message is larger than the atomic message size
     *                                  less the framing
     * @throws IllegalStateException    if this sender is closed or an earlier send failed
     * @throws CpgException             if handing a bundle to libcpg failed just now
     */
    public boolean trySend(MemorySegment message) {
        Objects.requireNonNull(message, "message");
        try {
            return queue.offer(message, 0);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /**
     * {@link #trySend(MemorySegment)} of a byte array.
     *
     * @param message the message, copied into the queue if taken
     * @return false if the queue is full
     */
    public boolean trySend(byte[] message) {
        return trySend(MemorySegment.ofArray(Objects.requireNonNull(message, "message")));
    }

    /**
     * Queues a message, waiting up to {@code timeout} for room.
     *
     * @param message the message, copied into the queue if taken
     * @param timeout how long to wait for room: zero or negative (even
     *                {@code Duration.ofSeconds(Long.MIN_VALUE)}) does not wait, anything
     *                above 365 days waits at most 365 days; not null
     * @throws CpgException          {@link CpgError#TRY_AGAIN} (retryable) if the queue stayed full
     * @throws IllegalStateException if interrupted while waiting (the message was not queued;
     *                               the interrupt status is set), and as {@link #trySend}
     */
    public void send(MemorySegment message, Duration timeout) {
        Objects.requireNonNull(message, "message");
        try {
            if (!queue.offer(message, nanos(timeout))) {
                throw new CpgException("bundled send", CpgError.TRY_AGAIN.code());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for room in the bundling queue", e);
        }
    }

    /**
     * {@link #send(MemorySegment, Duration)} of a byte array.
     *
     * @param message the message, copied into the queue if taken
     * @param timeout how long to wait for room
     */
    public void send(byte[] message, Duration timeout) {
        send(MemorySegment.ofArray(Objects.requireNonNull(message, "message")), timeout);
    }

    /**
     * Waits until every message queued so far has been handed to libcpg.
     *
     * @param timeout how long to wait, as for {@link #send(MemorySegment, Duration)}: zero or
     *                negative does not wait, above 365 days waits at most 365 days
     * @return false if some were still queued at the timeout
     * @throws IllegalStateException if a send failed (see above)
     */
    public boolean flush(Duration timeout) {
        try {
            return queue.drain(nanos(timeout));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** {@return what this sender has done so far} */
    public BundlingStatistics statistics() {
        BundleQueue.Counts c = queue.counts();
        return new BundlingStatistics(c.accepted(), c.sent(), c.bundles(), c.refused(), c.tryAgain(),
                c.largestBundle(), c.queuedBytes());
    }

    /**
     * Refuses further sends, waits up to 10 seconds for the queue to drain
     * (call {@link #flush} first to choose the wait) and stops the sender's
     * thread. Does not close the connection. Idempotent.
     *
     * @throws IllegalStateException if messages were still queued after the wait: they are
     *                               dropped, and the exception says how many
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        long dropped;
        try {
            dropped = queue.close(CLOSE_TIMEOUT.toNanos());
        } finally {
            QUEUES.computeIfPresent(connection, (c, registered) -> registered.queue() == queue ? null : registered);
            cleanable.clean();   // the queue is closed: the cleaner's action does nothing but deregister
        }
        if (dropped != 0) {
            throw new IllegalStateException("closed with " + dropped
                    + " messages that libcpg never took: they are dropped");
        }
    }

    /** Zero or negative: no wait; above 365 days: 365 days (toNanos would overflow at the extremes). */
    private static long nanos(Duration timeout) {
        Objects.requireNonNull(timeout, "timeout");
        if (timeout.isNegative() || timeout.isZero()) {
            return 0;
        }
        Duration longest = Duration.ofDays(365);
        return (timeout.compareTo(longest) > 0 ? longest : timeout).toNanos();
    }

    @Override
    public String toString() {
        return "BundlingSender[" + connection + (closed ? ", closed" : "") + "]";
    }
}
