package org.jcpg.internal;

import java.util.concurrent.SynchronousQueue;
import java.util.function.IntSupplier;

/**
 * A thread with a stack big enough for cpg_dispatch, for callers whose own
 * thread is too small (see {@link DispatchStack}). The caller hands it the
 * native dispatch and waits; each callback that the dispatch makes is
 * handed back and run on the caller's thread while the worker waits inside
 * the upcall. So callbacks always run on the thread that called dispatch,
 * whichever thread runs the native code, and see its thread-locals, its
 * confined arenas and its exceptions.
 */
public final class DispatchWorker {
    private static final Object ACK = new Object();
    private static final Object STOP = new Object();

    private record Done(int result, Throwable failure) {
    }

    private final SynchronousQueue<Object> toWorker = new SynchronousQueue<>();
    private final SynchronousQueue<Object> toCaller = new SynchronousQueue<>();
    private final Thread thread;

    public DispatchWorker(String name) {
        thread = new Thread(null, this::serve, name, DispatchStack.REQUIRED_BYTES);
        thread.setDaemon(true);
        thread.start();
    }

    /**
     * Runs {@code work} on the worker thread and returns its result; runs the
     * tasks that it passes to {@link #runOnCaller} on this thread meanwhile.
     * Not interruptible: the native call cannot be abandoned halfway.
     */
    public int call(IntSupplier work) {
        boolean interrupted = false;
        Throwable taskFailure = null;
        try {
            interrupted = put(toWorker, work);
            Object[] item = new Object[1];
            while (true) {
                interrupted |= take(toCaller, item);
                if (item[0] instanceof Done done) {
                    if (done.failure != null) {
                        throw sneaky(done.failure);
                    }
                    if (taskFailure != null) {
                        throw sneaky(taskFailure);
                    }
                    return done.result;
                }
                try {
                    ((Runnable) item[0]).run();
                } catch (Throwable t) {
                    if (taskFailure == null) {
                        taskFailure = t;
                    }
                }
                interrupted |= put(toWorker, ACK);
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Whether the calling thread is this worker. */
    public boolean isWorkerThread() {
        return Thread.currentThread() == thread;
    }

    /** On the worker, during {@link #call}: runs {@code task} on the caller's thread and waits for it. */
    public void runOnCaller(Runnable task) {
        put(toCaller, task);
        take(toWorker, new Object[1]);
    }

    /** Ends the worker thread. Not during a {@link #call}. */
    public void stop() {
        boolean interrupted = put(toWorker, STOP);
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private void serve() {
        Object[] request = new Object[1];
        while (true) {
            take(toWorker, request);
            if (request[0] == STOP) {
                return;
            }
            Done done;
            try {
                done = new Done(((IntSupplier) request[0]).getAsInt(), null);
            } catch (Throwable t) {
                done = new Done(0, t);
            }
            put(toCaller, done);
        }
    }

    /** Returns whether the thread was interrupted while waiting. */
    private static boolean put(SynchronousQueue<Object> queue, Object item) {
        boolean interrupted = false;
        while (true) {
            try {
                queue.put(item);
                return interrupted;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
    }

    private static boolean take(SynchronousQueue<Object> queue, Object[] into) {
        boolean interrupted = false;
        while (true) {
            try {
                into[0] = queue.take();
                return interrupted;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
    }

    @SuppressWarnings("unchecked")
    private static <T extends Throwable> RuntimeException sneaky(Throwable t) throws T {
        throw (T) t;
    }
}
