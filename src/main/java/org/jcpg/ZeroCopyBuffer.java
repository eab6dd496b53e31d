package org.jcpg;

import java.lang.foreign.MemorySegment;
import java.util.Objects;
import org.jcpg.internal.CpgHandle;
import org.jcpg.internal.ZeroCopySlot;

/**
 * A buffer that libcpg hands to the daemon without copying
 * ({@code cpg_zcb_alloc}, {@code cpg_zcb_mcast_joined}, {@code cpg_zcb_free}).
 * Fill {@link #segment()} in place, then send some or all of it; the buffer
 * can be filled and sent again. Made by {@link CpgConnection#allocateZeroCopy}.
 *
 * <p>One thread sends a buffer at a time: libcpg writes a header just
 * before the buffer, so a second concurrent send of the same buffer is
 * refused. Use a buffer per sending thread.
 *
 * <p>Closing the buffer, or its connection, ends the segment: touching it
 * then throws {@link IllegalStateException}. Close never waits: a jcpg
 * thread frees the native memory once no send uses it and no NIO operation
 * on a {@code ByteBuffer} view of the segment is in flight (until that
 * operation ends, the segment stays usable). The mapping thus outlives
 * close for a moment: right after closing 250 of 500 buffers and then their
 * connection, about 300 remain in {@code /proc/self/maps}; that thread
 * unmaps them within milliseconds (each {@code cpg_zcb_free}, and the
 * connection's finalize, waits for the daemon's answer, so longer while
 * the daemon is slow or stopped). In corosync 3.1.7 the memory
 * is shared with the daemon; later versions may make it plain memory that
 * libcpg copies, so do not rely on which.
 */
public final class ZeroCopyBuffer implements AutoCloseable {
    private final ZeroCopySlot slot;

    ZeroCopyBuffer(ZeroCopySlot slot) {
        this.slot = slot;
    }

    /** {@return the buffer's memory, to fill with the message} Valid until the buffer or its connection is closed. */
    public MemorySegment segment() {
        return slot.segment();
    }

    /**
     * Sends the first {@code length} bytes of the buffer to the connection's group.
     *
     * @param guarantee the delivery order
     * @param length    how many bytes, from the start of {@link #segment()}
     * @throws IllegalArgumentException if {@code length} is negative or beyond the buffer
     * @throws IllegalStateException    if the buffer or connection is closed, the connection
     *                                  is not in a group, or another thread is sending this buffer
     * @throws CpgException             if libcpg fails, e.g. {@link CpgError#LIBRARY} when the
     *                                  daemon went away
     */
    public void multicast(Guarantee guarantee, long length) {
        if (!tryMulticast(guarantee, length)) {
            throw new CpgException("cpg_zcb_mcast_joined", CpgHandle.tryAgain());
        }
    }

    /**
     * Like {@link #multicast}, but returns false instead of throwing when
     * the daemon's queue is full (TRY_AGAIN).
     *
     * @param guarantee the delivery order
     * @param length    how many bytes, from the start of {@link #segment()}
     * @return true if sent, false if the daemon asks to try again later
     */
    public boolean tryMulticast(Guarantee guarantee, long length) {
        return slot.multicast(Objects.requireNonNull(guarantee, "guarantee").code(), length);
    }

    /** Frees the buffer; does nothing if it or its connection is already closed. Never waits. */
    @Override
    public void close() {
        slot.close();
    }
}
