package org.jcpg.internal;

import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Runs one connection's callbacks on a user's executor one at a time, in
 * the order they were queued, whatever the executor's threads: one drain
 * task is in the executor at a time. Counts what waits, so that the event
 * loop can stop reading a connection whose callbacks fall behind.
 *
 * <p>An executor that refuses the drain task (shut down, saturated) cannot
 * run what waits: each waiting callback is {@linkplain Task#refused refused}
 * (its owner reports it), and the next callback asks the executor again. So
 * a saturated executor loses only what it refused, in order, and nothing
 * goes without a report. A drain task that an executor accepted and then
 * discarded ({@code shutdownNow}) is noticed once the executor has
 * terminated, on the next callback.
 */
final class SerialExecutor {
    /** A callback, and what to do when the executor will not run it. */
    interface Task extends Runnable {
        /** The executor refused the callback: it will never run. Must not throw. */
        void refused(RuntimeException why);
    }

    private final Executor executor;
    private final Queue<Task> queue = new ConcurrentLinkedQueue<>();
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

    void execute(Task callback) {
        if (closed) {
            return;
        }
        waiting.incrementAndGet();
        queue.add(callback);
        if (scheduled.get() && executor instanceof ExecutorService service && service.isTerminated()) {
            // The drain task was accepted, then discarded (shutdownNow): it will never run or clear the flag.
            // A terminated executor runs nothing, so no drain task of ours is running either.
            scheduled.set(false);
        }
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
                // Whatever waits now would wait for a drain task that does not exist.
                refuseWaiting(rejected);
            }
        }
    }

    /** Hands every waiting callback its refusal; a callback queued meanwhile schedules on its own. */
    private void refuseWaiting(RuntimeException rejected) {
        Task task;
        while ((task = queue.poll()) != null) {
            waiting.decrementAndGet();
            if (!closed) {
                task.refused(rejected instanceof RejectedExecutionException ? rejected
                        : new RejectedExecutionException(rejected));
            }
        }
        if (paused) {
            onDrained.run();
        }
    }

    private void drain() {
        try {
            Task callback;
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
