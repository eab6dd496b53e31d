package org.jcpg.internal;

import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Runs one connection's callbacks on a user's executor one at a time, in
 * the order they were queued, whatever the executor's threads: one drain
 * task is in the executor at a time. Counts what waits, so that the event
 * loop can stop reading a connection whose callbacks fall behind.
 */
final class SerialExecutor {
    private final Executor executor;
    private final Queue<Runnable> queue = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean scheduled = new AtomicBoolean();
    private final AtomicInteger waiting = new AtomicInteger();
    private final Runnable onDrained;
    private volatile boolean closed;
    private volatile Thread runner;
    /** Set by the event loop while it does not read the connection because this is too far behind. */
    volatile boolean paused;

    /** @param onDrained runs after a drain task emptied the queue while {@link #paused} (the loop may read again) */
    SerialExecutor(Executor executor, Runnable onDrained) {
        this.executor = executor;
        this.onDrained = onDrained;
    }

    void execute(Runnable callback) {
        if (closed) {
            return;
        }
        waiting.incrementAndGet();
        queue.add(callback);
        schedule();
    }

    int waiting() {
        return waiting.get();
    }

    /** Whether no callback runs or waits now. */
    boolean idle() {
        return runner == null && waiting.get() == 0;
    }

    /** Drops what waits; callbacks not yet started never run. */
    void close() {
        closed = true;
        while (queue.poll() != null) {
            waiting.decrementAndGet();
        }
    }

    /** {@link #close()}, then waits until no callback runs (unless called from the one that runs). */
    void closeAndAwait() {
        close();
        Thread current = Thread.currentThread();
        while (true) {
            Thread busy = runner;
            if (busy == null || busy == current) {
                return;
            }
            java.util.concurrent.locks.LockSupport.parkNanos(100_000);
        }
    }

    private void schedule() {
        if (scheduled.compareAndSet(false, true)) {
            try {
                executor.execute(this::drain);
            } catch (RuntimeException rejected) {
                scheduled.set(false);
                close();
                throw rejected;
            }
        }
    }

    private void drain() {
        try {
            Runnable callback;
            runner = Thread.currentThread();
            while (!closed && (callback = queue.poll()) != null) {
                waiting.decrementAndGet();
                callback.run();
            }
        } finally {
            runner = null;
            scheduled.set(false);
            if (paused) {
                onDrained.run();
            }
            // A callback queued after the last poll and before the flag was cleared.
            if (!closed && !queue.isEmpty()) {
                schedule();
            }
        }
    }
}
