package org.jcpg.testsupport;

import static org.assertj.core.api.Assertions.fail;

import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;
import org.jcpg.CpgConnection;
import org.jcpg.internal.DispatchStack;

/** The kinds of thread a test can run its calls on. */
public enum Where {
    /** The JUnit thread itself: a default (1 MiB) stack, so dispatch hands off to the worker. */
    JUNIT_THREAD,
    /**
     * {@code new Thread(...)}: asks for the default 1 MiB stack, but glibc may hand it a cached
     * larger stack of an ended thread (e.g. a 4 MiB dispatch worker), so either path may be taken.
     */
    DEFAULT_THREAD,
    /** A platform thread with a 512 KiB stack: too small for a reused 4 MiB stack, so hand-off for sure. */
    SMALL_STACK_THREAD,
    /** A virtual thread: native code runs on a carrier's stack, hand-off path. */
    VIRTUAL_THREAD,
    /** A platform thread with {@link CpgConnection#DISPATCH_STACK_SIZE}: dispatch runs inline. */
    BIG_STACK_THREAD;

    /** Whether jcpg should run cpg_dispatch on this kind of thread itself. */
    public boolean inline() {
        return this == BIG_STACK_THREAD;
    }

    /** Whether the dispatch path is known in advance (see DEFAULT_THREAD). */
    public boolean pathKnown() {
        return this != DEFAULT_THREAD;
    }

    /** Runs body on a thread of this kind, waits for it (up to the timeout) and returns its result or rethrows. */
    public <T> T call(Duration timeout, Callable<T> body) throws Exception {
        if (this == JUNIT_THREAD) {
            return body.call();
        }
        AtomicReference<T> result = new AtomicReference<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Runnable task = () -> {
            try {
                result.set(body.call());
            } catch (Throwable t) {
                failure.set(t);
            }
        };
        Thread thread = start(task, "where-" + name());
        if (!thread.join(timeout)) {
            fail(this + " did not finish within " + timeout + "; stack: "
                    + java.util.Arrays.toString(thread.getStackTrace()));
        }
        Throwable t = failure.get();
        if (t instanceof Exception e) {
            throw e;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return result.get();
    }

    public void run(Duration timeout, ThrowingRunnable body) throws Exception {
        call(timeout, () -> {
            body.run();
            return null;
        });
    }

    public void run(ThrowingRunnable body) throws Exception {
        run(Duration.ofSeconds(25), body);
    }

    /** Starts a new thread of this kind (JUNIT_THREAD: a default platform thread). */
    public Thread start(Runnable task, String name) {
        return switch (this) {
            case JUNIT_THREAD, DEFAULT_THREAD -> {
                Thread t = new Thread(task, name);
                t.start();
                yield t;
            }
            case SMALL_STACK_THREAD -> Thread.ofPlatform().name(name).stackSize(512 * 1024).start(task);
            case VIRTUAL_THREAD -> Thread.ofVirtual().name(name).start(task);
            case BIG_STACK_THREAD -> Thread.ofPlatform().name(name)
                    .stackSize(CpgConnection.DISPATCH_STACK_SIZE).start(task);
        };
    }

    /** Asserts, on the current thread, that jcpg takes the path this kind is meant to exercise. */
    public void assertPath() {
        boolean room = DispatchStack.currentThreadHasRoom();
        if (pathKnown() && room != inline()) {
            fail(this + " on " + Thread.currentThread() + ": DispatchStack.currentThreadHasRoom() = " + room);
        }
    }

    /** The live threads of jcpg's dispatch worker pool. */
    public static long dispatchWorkers() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith("jcpg-dispatch-") && t.isAlive())
                .count();
    }

    /** "CpgConnection#N", from toString before join/close. */
    public static String nameOf(CpgConnection connection) {
        String s = connection.toString();
        int bracket = s.indexOf('[');
        return bracket < 0 ? s : s.substring(0, bracket);
    }

    @FunctionalInterface
    public interface ThrowingRunnable {
        void run() throws Exception;
    }
}
