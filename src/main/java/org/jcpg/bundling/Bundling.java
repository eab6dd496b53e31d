package org.jcpg.bundling;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.Objects;
import java.util.function.BiConsumer;
import org.jcpg.CpgConnection;
import org.jcpg.CpgEventLoop;
import org.jcpg.CpgListener;
import org.jcpg.GroupName;
import org.jcpg.Message;

/**
 * Bundling: many small application messages of one process travel as one
 * CPG message, so that the daemon's fixed cost per CPG message (tens of
 * microseconds) is paid once per bundle rather than once per message.
 * Opt-in, per group: every member of a bundled group sends through a
 * {@link BundlingSender} and receives through a {@link BundlingReceiver}.
 *
 * <pre>{@code
 * Bundling bundling = Bundling.defaults();
 * try (CpgEventLoop loop = CpgEventLoop.start();
 *      CpgConnection cpg = loop.open(bundling.receiver(listener))) {
 *     cpg.join(GroupName.of("orders"));
 *     try (BundlingSender out = bundling.sender(cpg)) {
 *         out.send(order, Duration.ofSeconds(1));   // the listener sees each message on its own
 *     }
 * }
 * }</pre>
 *
 * <h2>When a bundle goes out</h2>
 * Never later than it can: a message sent while nothing is in the way goes
 * out at once, alone in its bundle, on the calling thread. A bundle is in
 * flight from the moment libcpg takes it until it is delivered back to the
 * sender's own connection (its {@link BundlingReceiver} tells the sender).
 * Messages sent while {@link Builder#maxInFlight} bundles (4 by default) are
 * in flight, while another thread is sending, or while the daemon refuses
 * (TRY_AGAIN), are appended to the next bundle, which goes out as soon as
 * the way is free: at high load bundles grow instead of the daemon's queue.
 * Only a bundle that can still grow waits for that window: a full one (with
 * another bundle queued behind it) goes as soon as libcpg takes it, since
 * corosync works most efficiently with a deep queue.
 * A bundle waits for the window at most {@link Builder#maxDelay} (1 ms by
 * default); while the daemon refuses, the sender retries after pauses that
 * grow from 10 microseconds to that delay. A bundle holds at most
 * {@link Builder#maxBundleBytes} (64 KiB by default, framing included); a
 * larger message goes alone in a bundle of its own size. The window needs
 * the sender's connection to be dispatched with a {@code BundlingReceiver}
 * (as every member of a bundled group is); without one the sender sends
 * whenever libcpg takes the bundle.
 *
 * <h2>Guarantees</h2>
 * A bundle is one CPG message: delivered whole, in agreed order, within one
 * view, or not at all (corosync drops a message whose sender left before it
 * was ordered). So the messages in it are too: every member delivers the
 * same messages in the same order, each sender's in the order it sent them
 * (across threads: the order in which the sends returned), and never a part
 * of a bundle. What a bundle carries is documented in the framing below.
 *
 * <h2>The framing, version 1</h2>
 * Little-endian: 4 bytes magic {@code FE 4A 42 44}, a version byte (1), a
 * flags byte (0), 2 reserved bytes (0), a u32 message count (at least 1),
 * then per message a u32 length and its bytes, ending exactly at the end of
 * the CPG message. Each message's sender is the CPG sender of its bundle.
 * A receiver refuses a frame with another version, unknown flags, nonzero
 * reserved bytes or lengths that do not add up, as a whole.
 *
 * <h2>Mixed groups</h2>
 * Bundling is a property of the group. In a bundled group a
 * {@link BundlingReceiver} reports a message that is not a well-formed
 * bundle (a member sending plain messages, a malformed or newer frame) to
 * {@link Builder#onRejected} and does not deliver it, rather than misread
 * it. A group may carry both only if its members say so with
 * {@link Builder#acceptUnbundled}: then a message without the magic is
 * delivered as it is. The magic starts with 0xFE, which no UTF-8 text
 * contains; plain senders of binary data in such a group must not start a
 * message with the magic. A member that does not bundle, in a bundled
 * group, sees the frames as they are: that is not supported ({@link #isBundle}
 * lets it recognise them).
 */
public final class Bundling {
    /** The framing version that this jcpg writes and reads. */
    public static final int FRAMING_VERSION = BundleFrame.VERSION;
    /** Bytes of framing per bundle. */
    public static final int BUNDLE_OVERHEAD = BundleFrame.HEADER_BYTES;
    /** Bytes of framing per message. */
    public static final int MESSAGE_OVERHEAD = BundleFrame.LENGTH_BYTES;

    private static final System.Logger LOG = System.getLogger("org.jcpg.Bundling");
    private static final Bundling DEFAULTS = builder().build();

    final int maxBundleBytes;
    final long queueBytes;
    final Duration maxDelay;
    final int maxInFlight;
    final boolean acceptUnbundled;
    final BiConsumer<Message, String> onRejected;

    private Bundling(Builder builder) {
        this.maxBundleBytes = builder.maxBundleBytes;
        this.queueBytes = builder.queueBytes;
        this.maxDelay = builder.maxDelay;
        this.maxInFlight = builder.maxInFlight;
        this.acceptUnbundled = builder.acceptUnbundled;
        this.onRejected = builder.onRejected != null ? builder.onRejected
                : (message, reason) -> LOG.log(System.Logger.Level.WARNING, "dropped a message of node "
                        + message.nodeId() + " pid " + message.pid() + " in bundled group " + message.group()
                        + ": " + reason);
    }

    /** {@return the defaults: 64 KiB bundles, 1 MiB queue, 1 ms maximum delay, plain messages rejected and logged} */
    public static Bundling defaults() {
        return DEFAULTS;
    }

    /** {@return a builder, with the defaults set} */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * A listener that unpacks bundles and hands each message to
     * {@code listener} on its own; other events pass through unchanged.
     *
     * @param listener what receives each unpacked message and every other event
     * @return the listener to open the connection with
     */
    public BundlingReceiver receiver(CpgListener listener) {
        return new BundlingReceiver(Objects.requireNonNull(listener, "listener"), acceptUnbundled, onRejected);
    }

    /**
     * A sender that bundles messages to the group that {@code connection}
     * has joined. Use one per connection (it starts a thread of its own,
     * which ends at {@link BundlingSender#close}, or when a sender dropped
     * without close is reclaimed); any number of threads may send through it.
     *
     * @param connection a connection that has joined its group
     * @return the sender, running
     * @throws IllegalStateException    if the connection is closed or not in a group
     * @throws IllegalArgumentException if {@link Builder#maxBundleBytes} is above the
     *                                  connection's {@link CpgConnection#maxAtomicMessageSize()}
     */
    public BundlingSender sender(CpgConnection connection) {
        return new BundlingSender(Objects.requireNonNull(connection, "connection"), this);
    }

    /**
     * Whether a payload starts with the bundle magic; says nothing about whether it is well-formed.
     *
     * @param payload a delivered message's payload
     * @return true if it starts with the magic of a bundle
     */
    public static boolean isBundle(MemorySegment payload) {
        return BundleFrame.hasMagic(Objects.requireNonNull(payload, "payload"));
    }

    /** {@return the largest bundle, framing included} */
    public int maxBundleBytes() {
        return maxBundleBytes;
    }

    /** {@return the most bytes queued in a sender, framing included} */
    public long queueBytes() {
        return queueBytes;
    }

    /** {@return the longest pause between two attempts while the daemon refuses} */
    public Duration maxDelay() {
        return maxDelay;
    }

    /** {@return the most bundles of one sender on their way at once} */
    public int maxInFlight() {
        return maxInFlight;
    }

    /** {@return whether a receiver delivers plain (unbundled) messages instead of rejecting them} */
    public boolean acceptsUnbundled() {
        return acceptUnbundled;
    }

    @Override
    public String toString() {
        return "Bundling[maxBundleBytes=" + maxBundleBytes + ", queueBytes=" + queueBytes + ", maxDelay=" + maxDelay
                + ", maxInFlight=" + maxInFlight + ", acceptUnbundled=" + acceptUnbundled + "]";
    }

    /** The options of bundling. */
    public static final class Builder {
        private int maxBundleBytes = 64 * 1024;
        private long queueBytes = 1 << 20;
        private Duration maxDelay = Duration.ofMillis(1);
        private int maxInFlight = 4;
        private boolean acceptUnbundled;
        private BiConsumer<Message, String> onRejected;

        private Builder() {
        }

        /**
         * The largest bundle in bytes, framing included (default 64 KiB; at
         * least 64, at most the connection's atomic message size). Larger
         * bundles carry more per CPG message but make each one wait longer
         * behind the ones before it.
         *
         * @param bytes the largest bundle
         * @return this builder
         */
        public Builder maxBundleBytes(int bytes) {
            if (bytes < 64) {
                throw new IllegalArgumentException("a bundle of at least 64 bytes, not " + bytes);
            }
            this.maxBundleBytes = bytes;
            return this;
        }

        /**
         * The most bytes (framing included) a sender holds that libcpg has not
         * taken yet (default 1 MiB; at least {@link #maxBundleBytes}). When it
         * is full, {@link BundlingSender#trySend} refuses and
         * {@link BundlingSender#send} waits.
         *
         * @param bytes the queue's size
         * @return this builder
         */
        public Builder queueBytes(long bytes) {
            if (bytes < 64) {
                throw new IllegalArgumentException("a queue of at least 64 bytes, not " + bytes);
            }
            this.queueBytes = bytes;
            return this;
        }

        /**
         * How many of a sender's bundles may be on their way (handed to libcpg,
         * not yet delivered back to its connection) before the next one waits
         * and fills (default 4; 1 to 1024). Fewer: larger bundles and less
         * work for the daemon under load; more: less waiting. A full bundle
         * does not wait for this window.
         *
         * @param bundles how many bundles may be on their way
         * @return this builder
         */
        public Builder maxInFlight(int bundles) {
            if (bundles < 1 || bundles > 1024) {
                throw new IllegalArgumentException("1 to 1024 bundles in flight, not " + bundles);
            }
            this.maxInFlight = bundles;
            return this;
        }

        /**
         * The longest a bundle waits for the sender's earlier bundles to be
         * delivered, and the longest pause between attempts while the daemon
         * refuses (default 1 ms; 10 µs to 1 s).
         *
         * @param delay the longest wait
         * @return this builder
         */
        public Builder maxDelay(Duration delay) {
            if (delay.compareTo(Duration.ofNanos(10_000)) < 0 || delay.compareTo(Duration.ofSeconds(1)) > 0) {
                throw new IllegalArgumentException("a maximum delay from 10 µs to 1 s, not " + delay);
            }
            this.maxDelay = delay;
            return this;
        }

        /**
         * Whether a receiver delivers messages without the bundle magic as
         * they are (a mixed group) instead of rejecting them (default false).
         * Every member of the group should agree.
         *
         * @param accept true for a mixed group
         * @return this builder
         */
        public Builder acceptUnbundled(boolean accept) {
            this.acceptUnbundled = accept;
            return this;
        }

        /**
         * Called, on the dispatching thread, with each message a receiver
         * refuses and why (default: logged at WARNING on "org.jcpg.Bundling").
         * The message is valid during the call only. It must not throw.
         *
         * @param handler what to do with a refused message and the reason
         * @return this builder
         */
        public Builder onRejected(BiConsumer<Message, String> handler) {
            this.onRejected = Objects.requireNonNull(handler, "handler");
            return this;
        }

        /**
         * {@return the options}
         *
         * @throws IllegalArgumentException if the queue cannot hold a whole bundle
         */
        public Bundling build() {
            if (queueBytes < maxBundleBytes) {
                throw new IllegalArgumentException("the queue (" + queueBytes + " bytes) must hold a whole bundle ("
                        + maxBundleBytes + " bytes)");
            }
            return new Bundling(this);
        }
    }
}
