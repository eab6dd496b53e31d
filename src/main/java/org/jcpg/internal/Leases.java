package org.jcpg.internal;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The leases on one native resource: its open/closed state and a count of
 * the calls using it (each holds a lease). {@link #close()} only marks it closed; whoever ends the last call
 * (or close itself, if none runs) releases the resource, exactly once. So a
 * call never finds its native handle finalized under it, and close never
 * waits for a call that may block (a dispatch, a daemon round trip).
 */
public final class Leases {
    private static final long CLOSED = 1L << 62;

    private final AtomicLong state = new AtomicLong();
    private final String name;
    private final Runnable onClose;
    private final Runnable release;

    /**
     * @param name    what is closed, for the exception message
     * @param onClose runs once, in {@link #close()}, before the resource can
     *                be released (e.g. to wake calls that wait)
     * @param release frees the resource; runs once, on the thread that
     *                closes it or ends its last call
     */
    public Leases(String name, Runnable onClose, Runnable release) {
        this.name = name;
        this.onClose = onClose;
        this.release = release;
    }

    /**
     * Starts a call. Each successful acquire must be paired with {@link #release()}.
     *
     * @throws IllegalStateException if closed
     */
    public void acquire() {
        if (!tryAcquire()) {
            throw new IllegalStateException(name + " is closed");
        }
    }

    /** Starts a call, or returns false if closed. */
    public boolean tryAcquire() {
        while (true) {
            long current = state.get();
            if ((current & CLOSED) != 0) {
                return false;
            }
            if (state.compareAndSet(current, current + 1)) {
                return true;
            }
        }
    }

    /** Ends a call; releases the resource if it was closed meanwhile and this was the last call. */
    public void release() {
        if (state.decrementAndGet() == CLOSED) {
            release.run();
        }
    }

    /**
     * Marks closed and runs the close hook; does nothing if already closed.
     * Releases the resource now if no call is under way.
     */
    public void close() {
        while (true) {
            long current = state.get();
            if ((current & CLOSED) != 0) {
                return;
            }
            // Closing counts as a call, so that the resource outlives the hook.
            if (state.compareAndSet(current, (current + 1) | CLOSED)) {
                try {
                    onClose.run();
                } finally {
                    release();
                }
                return;
            }
        }
    }

    public boolean isClosed() {
        return (state.get() & CLOSED) != 0;
    }

    /** Throws if closed, without starting a call. */
    public void check() {
        if (isClosed()) {
            throw new IllegalStateException(name + " is closed");
        }
    }
}
