package org.jcpg.internal;

import java.lang.System.Logger.Level;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The thread that frees native resources once nothing uses them: it runs
 * {@code cpg_finalize} and {@code cpg_zcb_free}, which wait for the daemon
 * with no timeout, so that {@code close()} never does. One daemon thread for
 * the whole JVM, started with the first connection and then on demand, and
 * ended after a few idle seconds.
 */
final class Reaper {
    private static final System.Logger LOG = System.getLogger("org.jcpg.internal.Reaper");
    private static final ScheduledThreadPoolExecutor EXECUTOR = new ScheduledThreadPoolExecutor(1,
            task -> Thread.ofPlatform().daemon().name("jcpg-release").unstarted(task));

    static {
        EXECUTOR.setKeepAliveTime(3, TimeUnit.SECONDS);
        EXECUTOR.allowCoreThreadTimeOut(true);
        // The first worker loads ThreadPoolExecutor.Worker, a new subclass of AbstractQueuedSynchronizer.
        // The JIT may have compiled jcpg's locks assuming ReentrantLock's is the only one: loading it at
        // the first release would throw away the compiled dispatch path of the connections running
        // then. So it comes with the first handle, before that path is compiled.
        try {
            EXECUTOR.prestartCoreThread();
        } catch (OutOfMemoryError | RuntimeException noThreadNow) {
            // E.g. at the process's thread limit: execute() starts the thread when one is needed,
            // and this class stays usable (a failed initializer would make it unusable for good).
        }
    }

    private Reaper() {
    }

    /** Readies the reaper, as a handle opens (see the static initializer). */
    static void ready() {
        // The class's initialization does it, once.
    }

    /** Runs {@code task} on the reaper thread, soon. */
    static void execute(Runnable task) {
        EXECUTOR.execute(() -> guarded(task));
    }

    /** Runs {@code task} on the reaper thread after a short pause (a resource was still in use). */
    static void retryLater(Runnable task) {
        EXECUTOR.schedule(() -> guarded(task), 10, TimeUnit.MILLISECONDS);
    }

    private static void guarded(Runnable task) {
        try {
            task.run();
        } catch (Throwable t) {
            LOG.log(Level.ERROR, "jcpg failed to release a native resource", t);
        }
    }
}
