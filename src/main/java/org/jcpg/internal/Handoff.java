package org.jcpg.internal;

import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * One dispatch run for a caller whose stack is too small for libcpg's
 * dispatch frame (see {@link DispatchStack}): the native work runs on a
 * worker thread with a big stack, and each callback it makes is run back on
 * the caller's thread while the worker waits inside the upcall. So
 * callbacks always run on the thread that called dispatch and see its
 * thread-locals and confined arenas.
 *
 * <p>Workers come from one pool for the JVM: a worker serves one dispatch
 * at a time, idle ones end after a few seconds, and nested dispatches (a
 * callback dispatching another connection) take another worker.
 *
 * <p>The hand-off cannot wedge: if the caller leaves abnormally (a
 * StackOverflowError or OutOfMemoryError in the caller while it runs a
 * callback or waits), the session is marked abandoned, the worker's
 * pending upcall returns (at once, or within {@link #PARK_NANOS} should
 * even the wake-up fail) and the work sees {@link #abandoned()} and stops. Interrupts do not end the wait (the native call cannot be
 * abandoned halfway); the caller's interrupt status is kept.
 */
public final class Handoff {
    /** The native work, run on the worker. */
    @FunctionalInterface
    public interface Work {
        /** Returns a {@code cs_error_t}. */
        int run(Handoff session);
    }

    private static final Object DONE = new Object();
    /** How often a waiting worker re-checks that its caller is still there. */
    static final long PARK_NANOS = 200_000_000L;
    private static final AtomicInteger SERIAL = new AtomicInteger();
    private static final ThreadPoolExecutor WORKERS = new ThreadPoolExecutor(0, Integer.MAX_VALUE,
            5, TimeUnit.SECONDS, new SynchronousQueue<>(),
            task -> {
                Thread thread = new Thread(null, task, "jcpg-dispatch-" + SERIAL.incrementAndGet(),
                        DispatchStack.THREAD_BYTES, false);
                thread.setDaemon(true);
                return thread;
            });

    /**
     * Test-only fault injection, off (and folded away by the JIT) unless the system property
     * {@code jcpg.test.loseHandoffTasks} is a positive count: that many pooled hand-off tasks
     * make their worker die of OutOfMemoryError before it serves the session, as a worker that
     * runs out of heap between taking the task and starting it would.
     */
    private static final int TASKS_TO_LOSE = Integer.getInteger("jcpg.test.loseHandoffTasks", 0);
    private static final boolean LOSING_TASKS = TASKS_TO_LOSE > 0;
    private static final AtomicInteger TASKS_LOST = new AtomicInteger();

    private final Thread caller;
    private final Runnable wake;
    private volatile Thread worker;
    /** From the worker to the caller: a callback to run, or DONE. */
    private volatile Object mailbox;
    private volatile boolean callbackStarted;
    private volatile boolean callbackDone;
    private volatile boolean abandoned;
    private boolean finished;
    private int result;
    private Throwable failure;

    private Handoff(Thread caller, Runnable wake) {
        this.caller = caller;
        this.wake = wake;
    }

    /**
     * Runs {@code work} on a worker and returns its result; meanwhile runs,
     * on this thread, the callbacks it passes to {@link #runOnCaller}.
     *
     * @param wake wakes the work if it waits (for an fd), so that it sees {@link #abandoned()}
     */
    public static int call(Work work, Runnable wake) {
        Handoff session = new Handoff(Thread.currentThread(), wake);
        try {
            WORKERS.execute(() -> session.servePooled(work));
            return session.await();
        } finally {
            if (!session.finished) {
                // The caller is leaving abnormally (e.g. StackOverflowError): release the worker.
                session.abandon();
            }
        }
    }

    private void servePooled(Work work) {
        if (LOSING_TASKS && TASKS_LOST.getAndIncrement() < TASKS_TO_LOSE) {
            throw new OutOfMemoryError("injected (jcpg.test.loseHandoffTasks): the worker dies before it serves");
        }
        serve(work);
    }

    private void serve(Work work) {
        worker = Thread.currentThread();
        try {
            if (!abandoned) {
                result = work.run(this);
            }
        } catch (Throwable t) {
            failure = t;
        } finally {
            worker = null;
            mailbox = DONE;
            LockSupport.unpark(caller);
        }
    }

    private int await() {
        boolean interrupted = false;
        Throwable callbackFailure = null;
        try {
            while (true) {
                Object item = mailbox;
                if (item == null) {
                    LockSupport.park(this);
                    interrupted |= Thread.interrupted();
                    continue;
                }
                mailbox = null;
                if (item == DONE) {
                    finished = true;
                    break;
                }
                callbackStarted = true;
                try {
                    ((Runnable) item).run();
                } catch (Throwable t) {
                    if (callbackFailure == null) {
                        callbackFailure = t;
                    }
                }
                callbackDone = true;
                LockSupport.unpark(worker);
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
        if (failure != null) {
            throw sneaky(failure);
        }
        if (callbackFailure != null) {
            throw sneaky(callbackFailure);
        }
        return result;
    }

    private void abandon() {
        // The flag first: the worker also re-checks it on its own every PARK_NANOS, should
        // the calls below fail for want of stack too.
        abandoned = true;
        LockSupport.unpark(worker);
        wake.run();
    }

    /** Whether the caller has gone; the work should stop. */
    public boolean abandoned() {
        return abandoned;
    }

    /** What became of a callback handed to the caller. */
    public enum Outcome {
        /** It ran to its end. */
        RAN,
        /** The caller left before starting it: it never ran. */
        NOT_RUN,
        /** The caller left while running it. */
        CUT_SHORT
    }

    /**
     * On the worker, inside an upcall: runs {@code callback} on the caller's
     * thread and waits for it, unless the caller has gone.
     */
    public Outcome runOnCaller(Runnable callback) {
        if (abandoned) {
            return Outcome.NOT_RUN;
        }
        callbackStarted = false;
        callbackDone = false;
        mailbox = callback;
        LockSupport.unpark(caller);
        while (!callbackDone && !abandoned) {
            LockSupport.parkNanos(this, PARK_NANOS);
            Thread.interrupted();
        }
        return callbackDone ? Outcome.RAN : callbackStarted ? Outcome.CUT_SHORT : Outcome.NOT_RUN;
    }

    /** Whether the calling thread is this session's worker. */
    public boolean isWorker() {
        return Thread.currentThread() == worker;
    }

    @SuppressWarnings("unchecked")
    private static <T extends Throwable> RuntimeException sneaky(Throwable t) throws T {
        throw (T) t;
    }
}
