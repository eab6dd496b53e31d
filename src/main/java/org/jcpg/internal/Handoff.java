package org.jcpg.internal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
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
 * <p>The hand-off cannot wedge. If the caller leaves abnormally (a
 * StackOverflowError or OutOfMemoryError in the caller while it runs a
 * callback or waits), the session is marked abandoned, the worker's
 * pending upcall returns (at once, or within {@link #PARK_NANOS} should
 * even the wake-up fail) and the work sees {@link #abandoned()} and stops.
 * If the worker goes instead, the caller does not wait for it forever: the
 * thread that runs the work first claims the session (a compare-and-set, so
 * the work runs at most once), and the caller, which waits in steps of
 * {@link #PARK_NANOS}, claims a session that no worker has claimed within
 * {@link #UNCLAIMED_NANOS} (a pooled task lost with a worker that died, e.g.
 * of OutOfMemoryError, before it started it) and runs the work on a new
 * big-stack thread of its own. A worker that claimed the session ends it in
 * a finally block that allocates nothing (locks released, then DONE), so it
 * cannot die with the session open; should it all the same, the caller sees
 * the dead thread and throws IllegalStateException rather than wait.
 * Interrupts do not end the wait (the native call cannot be abandoned
 * halfway); the caller's interrupt status is kept.
 */
public final class Handoff {
    /** The native work, run on the worker. */
    @FunctionalInterface
    public interface Work {
        /** Returns a {@code cs_error_t}. */
        int run(Handoff session);
    }

    private static final System.Logger LOG = System.getLogger(Handoff.class.getName());
    private static final Object DONE = new Object();
    /** How often a waiting worker re-checks that its caller is still there, and a caller its worker. */
    static final long PARK_NANOS = 200_000_000L;
    /** How long a session may go unclaimed before its caller runs the work on a thread of its own. */
    static final long UNCLAIMED_NANOS = 1_000_000_000L;
    private static final VarHandle RUNNER;

    static {
        try {
            RUNNER = MethodHandles.lookup().findVarHandle(Handoff.class, "runner", Thread.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
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
    private final Work work;
    /** The one thread that runs the work: set once, by compare-and-set (see {@link #claim}). */
    @SuppressWarnings("unused") // through RUNNER
    private volatile Thread runner;
    /** The runner while it serves; null before and after. */
    private volatile Thread worker;
    /** From the worker to the caller: a callback to run, or DONE. */
    private volatile Object mailbox;
    private volatile boolean callbackStarted;
    private volatile boolean callbackDone;
    private volatile boolean abandoned;
    private boolean finished;
    private int result;
    private Throwable failure;

    private Handoff(Thread caller, Runnable wake, Work work) {
        this.caller = caller;
        this.wake = wake;
        this.work = work;
    }

    /** A session of the current thread whose work no pooled worker is asked to run (for unit tests). */
    static Handoff unsubmitted(Work work, Runnable wake) {
        return new Handoff(Thread.currentThread(), wake, work);
    }

    /**
     * Runs {@code work} on a worker and returns its result; meanwhile runs,
     * on this thread, the callbacks it passes to {@link #runOnCaller}.
     *
     * @param wake wakes the work if it waits (for an fd), so that it sees {@link #abandoned()}
     */
    public static int call(Work work, Runnable wake) {
        Handoff session = new Handoff(Thread.currentThread(), wake, work);
        try {
            WORKERS.execute(session::servePooled);
            return session.await();
        } finally {
            if (!session.finished) {
                // The caller is leaving abnormally (e.g. StackOverflowError): release the worker.
                session.abandon();
            }
        }
    }

    private void servePooled() {
        if (LOSING_TASKS && TASKS_LOST.getAndIncrement() < TASKS_TO_LOSE) {
            throw new OutOfMemoryError("injected (jcpg.test.loseHandoffTasks): the worker dies before it serves");
        }
        serve();
    }

    /** Whether the current thread is, or now becomes, the one that runs the work. */
    boolean claim() {
        Thread me = Thread.currentThread();
        return runner == me || RUNNER.compareAndSet(this, (Thread) null, me);
    }

    void serve() {
        if (!claim()) {
            // The caller gave up on this (late) task and runs the work elsewhere.
            return;
        }
        worker = Thread.currentThread();
        try {
            if (!abandoned) {
                result = work.run(this);
            }
        } catch (Throwable t) {
            failure = t;
        } finally {
            // Nothing here allocates: the session ends even under a full heap.
            worker = null;
            mailbox = DONE;
            LockSupport.unpark(caller);
        }
    }

    int await() {
        boolean interrupted = false;
        Throwable callbackFailure = null;
        long since = System.nanoTime();
        try {
            while (true) {
                Object item = mailbox;
                if (item == null) {
                    LockSupport.parkNanos(this, PARK_NANOS);
                    interrupted |= Thread.interrupted();
                    if (mailbox == null) {
                        checkRunner(since);
                    }
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

    /**
     * On the caller, while nothing is in the mailbox: runs the work on a
     * new thread if no worker has claimed it in time; throws if the thread
     * that claimed it is gone without ending the session.
     */
    private void checkRunner(long since) {
        Thread claimed = runner;
        if (claimed == null) {
            if (System.nanoTime() - since >= UNCLAIMED_NANOS) {
                Thread rescue = new Thread(null, this::serve, "jcpg-dispatch-unclaimed-" + SERIAL.incrementAndGet(),
                        DispatchStack.THREAD_BYTES, false);
                rescue.setDaemon(true);
                if (RUNNER.compareAndSet(this, (Thread) null, rescue)) {
                    rescue.start();
                    LOG.log(System.Logger.Level.WARNING, "no jcpg-dispatch worker took a hand-off within "
                            + UNCLAIMED_NANOS / 1_000_000 + " ms (did one die, e.g. of OutOfMemoryError?);"
                            + " running it on " + rescue.getName());
                }
            }
        } else if (!claimed.isAlive() && mailbox == null) {
            throw new IllegalStateException("the thread that ran cpg_dispatch for this hand-off, " + claimed.getName()
                    + ", ended without finishing it");
        }
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
