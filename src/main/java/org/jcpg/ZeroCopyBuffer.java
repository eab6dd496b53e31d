package org.jcpg;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Objects;
import org.jcpg.internal.Lifecycle;

/**
 * A buffer that libcpg hands to the daemon without copying
 * ({@code cpg_zcb_alloc}, {@code cpg_zcb_mcast_joined}, {@code cpg_zcb_free}).
 * Fill {@link #segment()} in place, then send some or all of it; the buffer
 * can be filled and sent again. Made by {@link CpgConnection#allocateZeroCopy}.
 *
 * <p>Closing the buffer, or its connection, frees the memory; the segment
 * then throws {@link IllegalStateException} when touched. In corosync 3.1.7
 * the memory is shared with the daemon; later versions may make it plain
 * memory that libcpg copies, so do not rely on which.
 */
public final class ZeroCopyBuffer implements AutoCloseable {
    private final CpgConnection connection;
    private final MemorySegment address;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment segment;
    // The segment dies at close; the native buffer only once no send uses it.
    private final Lifecycle lifecycle = new Lifecycle("zero-copy buffer", this::invalidate, this::free);

    ZeroCopyBuffer(CpgConnection connection, MemorySegment address, long size) {
        this.connection = connection;
        this.address = address;
        this.segment = address.reinterpret(size, arena, null);
    }

    /** The buffer's memory, to fill with the message. Valid until the buffer or its connection is closed. */
    public MemorySegment segment() {
        return segment;
    }

    /**
     * Sends the first {@code length} bytes of the buffer to the connection's group.
     *
     * @throws IllegalArgumentException if {@code length} is negative or beyond the buffer
     * @throws IllegalStateException    if the buffer or connection is closed, or the connection
     *                                  is not in a group
     * @throws CpgException             {@link CpgError#TOO_BIG} above 1 MiB
     */
    public void multicast(Guarantee guarantee, long length) {
        Objects.requireNonNull(guarantee, "guarantee");
        if (length < 0 || length > segment.byteSize()) {
            throw new IllegalArgumentException("length " + length + " is outside the buffer's " + segment.byteSize() + " bytes");
        }
        lifecycle.acquire();
        try {
            connection.multicastZeroCopy(guarantee, address, length);
        } finally {
            lifecycle.release();
        }
    }

    /** Frees the buffer; does nothing if it or its connection is already closed. */
    @Override
    public void close() {
        lifecycle.close();
    }

    private void free() {
        connection.freeZeroCopy(this, address);
    }

    MemorySegment address() {
        return address;
    }

    void invalidate() {
        synchronized (arena) {
            if (arena.scope().isAlive()) {
                arena.close();
            }
        }
    }
}
