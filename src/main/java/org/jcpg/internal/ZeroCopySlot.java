package org.jcpg.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * One {@code cpg_zcb_alloc} buffer: the native memory, the view that the
 * application fills, and who may free it when.
 *
 * <p>The view lives in a shared arena of its own, so that closing the
 * buffer makes every later touch of it throw instead of reading freed
 * memory. The native memory is freed only once the view is dead and no
 * send uses it: a NIO operation in flight on a ByteBuffer of the view keeps
 * the arena from closing, and the free then waits on the reaper thread
 * until it ends. One send at a time: libcpg writes a header just before the
 * buffer, and two sends at once would race on it.
 */
public final class ZeroCopySlot implements AutoCloseable {
    private static final VarHandle SENDING;

    static {
        try {
            SENDING = MethodHandles.lookup().findVarHandle(ZeroCopySlot.class, "sending", boolean.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final CpgHandle owner;
    private final MemorySegment address;
    private final Arena viewArena = Arena.ofShared();
    private final MemorySegment view;
    // Released by a plain field write, which no StackOverflowError can interrupt.
    private volatile boolean sending;
    private final Leases leases;

    ZeroCopySlot(CpgHandle owner, MemorySegment address, long size) {
        this.owner = owner;
        this.address = address;
        this.view = address.reinterpret(size, viewArena, null);
        this.leases = new Leases("zero-copy buffer", this::tryKillView, () -> Reaper.execute(this::free));
    }

    /** The memory the application fills; dies at close. */
    public MemorySegment segment() {
        return view;
    }

    /**
     * Sends the first {@code length} bytes; false if the daemon's queue is full (TRY_AGAIN).
     *
     * @throws IllegalArgumentException if {@code length} is outside the buffer
     * @throws IllegalStateException    if the buffer or its connection is closed, the connection
     *                                  is not in a group, or another thread is sending this buffer
     */
    public boolean multicast(int guarantee, long length) {
        if (length < 0 || length > view.byteSize()) {
            throw new IllegalArgumentException("length " + length + " is outside the buffer's " + view.byteSize() + " bytes");
        }
        leases.acquire();
        try {
            if (!SENDING.compareAndSet(this, false, true)) {
                throw new IllegalStateException("this zero-copy buffer is being sent by another thread;"
                        + " use one buffer per sending thread");
            }
            try {
                return owner.multicastZeroCopy(guarantee, address, length);
            } finally {
                sending = false;
            }
        } finally {
            leases.release();
        }
    }

    /** Kills the view now if it can, and frees the memory (off this thread) once no send uses it. */
    @Override
    public void close() {
        leases.close();
    }

    boolean isClosed() {
        return leases.isClosed();
    }

    MemorySegment address() {
        return address;
    }

    /**
     * Closes the view; false while a NIO operation still holds it. Runs on
     * the closing thread first, then on the reaper until it succeeds.
     */
    boolean tryKillView() {
        synchronized (viewArena) {
            if (!viewArena.scope().isAlive()) {
                return true;
            }
            try {
                viewArena.close();
                return true;
            } catch (IllegalStateException inUse) {
                return false;
            }
        }
    }

    /** On the reaper: frees the native memory, once the view is dead. */
    private void free() {
        if (!tryKillView()) {
            Reaper.retryLater(this::free);
            return;
        }
        owner.freeZeroCopy(this);
    }
}
