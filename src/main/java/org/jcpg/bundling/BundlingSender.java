package org.jcpg.bundling;

import java.lang.foreign.MemorySegment;
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
 */
public final class BundlingSender implements AutoCloseable {
    private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(10);
    private static final int PID = (int) ProcessHandle.current().pid();
    /** The open sender of each connection, for its receiver to report the sender's own bundles. */
    private static final Map<CpgConnection, BundlingSender> SENDERS = Collections.synchronizedMap(new WeakHashMap<>());

    private final CpgConnection connection;
    private final BundleQueue queue;
    private final long localNodeId;
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
        this.localNodeId = connection.localNodeId();
        this.queue = new BundleQueue("jcpg-bundler", this::transmit, bundling.maxBundleBytes, largest,
                bundling.queueBytes, bundling.maxDelay.toNanos(), bundling.maxInFlight);
        if (SENDERS.putIfAbsent(connection, this) != null) {
            queue.close(0);
            throw new IllegalStateException(connection + " already has an open bundling sender");
        }
    }

    /** A {@link BundlingReceiver} on {@code connection} delivered a bundle of {@code nodeId}/{@code pid}. */
    static void delivered(CpgConnection connection, long nodeId, int pid) {
        if (pid != PID || connection == null) {
            return;
        }
        BundlingSender sender = SENDERS.get(connection);
        if (sender != null && sender.localNodeId == nodeId) {
            sender.queue.selfDelivered();
        }
    }

    private boolean transmit(MemorySegment frame) {
        return connection.tryMulticast(Guarantee.AGREED, frame);
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
     * @param timeout how long to wait for room
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
     * @param timeout how long to wait
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
            SENDERS.remove(connection, this);
        }
        if (dropped != 0) {
            throw new IllegalStateException("closed with " + dropped
                    + " messages that libcpg never took: they are dropped");
        }
    }

    private static long nanos(Duration timeout) {
        Objects.requireNonNull(timeout, "timeout");
        return timeout.compareTo(Duration.ofDays(365)) > 0 ? Duration.ofDays(365).toNanos()
                : Math.max(0, timeout.toNanos());
    }

    @Override
    public String toString() {
        return "BundlingSender[" + connection + (closed ? ", closed" : "") + "]";
    }
}
