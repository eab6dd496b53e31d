package org.jcpg.bundling;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BiConsumer;
import org.jcpg.CpgConnection;
import org.jcpg.CpgEvent;
import org.jcpg.CpgListener;
import org.jcpg.Message;

/**
 * A listener for a bundled group (see {@link Bundling}): it checks each
 * delivered bundle as a whole, then hands its messages one by one, in
 * order, to the application's listener, each as a {@link Message} with the
 * bundle's group, node id and pid. Other events pass through unchanged.
 * Made by {@link Bundling#receiver}; pass it where a listener is expected.
 *
 * <p>A message's payload is a read-only slice of the delivered CPG message:
 * like any delivery, valid during the callback only (with an event loop's
 * executor, a slice of the heap copy, valid as long as it is kept).
 *
 * <p>A message that is not a well-formed bundle is not delivered (unless
 * {@link Bundling.Builder#acceptUnbundled} lets one without the magic
 * through as it is); it goes to {@link Bundling.Builder#onRejected} and is
 * counted in {@link #rejected()}. If the application's listener throws for
 * one message of a bundle, the bundle's remaining messages are still
 * delivered, then the first throwable is thrown on (later ones attached as
 * suppressed), as {@link CpgConnection#dispatch} does with events.
 */
public final class BundlingReceiver implements CpgListener {
    private static final int MAX_SUPPRESSED = 100;

    private final CpgListener listener;
    private final boolean acceptUnbundled;
    private final BiConsumer<Message, String> onRejected;
    private final LongAdder bundles = new LongAdder();
    private final LongAdder messages = new LongAdder();
    private final LongAdder rejected = new LongAdder();

    BundlingReceiver(CpgListener listener, boolean acceptUnbundled, BiConsumer<Message, String> onRejected) {
        this.listener = listener;
        this.acceptUnbundled = acceptUnbundled;
        this.onRejected = onRejected;
    }

    @Override
    public void onEvent(CpgConnection connection, CpgEvent event) {
        if (event instanceof Message message) {
            unpack(connection, message);
        } else {
            listener.onEvent(connection, event);
        }
    }

    private void unpack(CpgConnection connection, Message bundle) {
        MemorySegment frame = bundle.payload();
        if (!BundleFrame.hasMagic(frame)) {
            if (acceptUnbundled) {
                messages.increment();
                listener.onEvent(connection, bundle);
            } else {
                reject(bundle, "not a bundle (a member that does not bundle?), " + frame.byteSize() + " bytes");
            }
            return;
        }
        int count;
        try {
            count = BundleFrame.validate(frame);
        } catch (IllegalArgumentException malformed) {
            reject(bundle, "malformed bundle: " + malformed.getMessage());
            return;
        }
        bundles.increment();
        BundlingSender.delivered(connection, bundle.nodeId(), bundle.pid());
        Throwable first = null;
        int suppressed = 0;
        long offset = BundleFrame.HEADER_BYTES;
        for (int i = 0; i < count; i++) {
            int length = BundleFrame.lengthAt(frame, offset);
            offset += BundleFrame.LENGTH_BYTES;
            Message one = new Message(bundle.group(), bundle.nodeId(), bundle.pid(), frame.asSlice(offset, length));
            offset += length;
            messages.increment();
            try {
                listener.onEvent(connection, one);
            } catch (Throwable t) {
                if (first == null) {
                    first = t;
                } else if (suppressed++ < MAX_SUPPRESSED && first != t) {
                    first.addSuppressed(t);
                }
            }
        }
        if (first != null) {
            throw BundlingReceiver.<RuntimeException>rethrow(first);
        }
    }

    private void reject(Message message, String reason) {
        rejected.increment();
        try {
            onRejected.accept(message, reason);
        } catch (RuntimeException e) {
            System.getLogger("org.jcpg.Bundling").log(System.Logger.Level.WARNING, "the rejection handler threw", e);
        }
    }

    @SuppressWarnings("unchecked")
    private static <T extends Throwable> T rethrow(Throwable t) throws T {
        throw (T) t;
    }

    /** {@return the bundles unpacked so far} */
    public long bundles() {
        return bundles.sum();
    }

    /** {@return the application messages handed to the listener so far} */
    public long messages() {
        return messages.sum();
    }

    /** {@return the messages refused so far: not bundles (in a group that does not accept them) or malformed} */
    public long rejected() {
        return rejected.sum();
    }

    /** {@return the application's listener} */
    public CpgListener listener() {
        return listener;
    }
}
