package org.jcpg.internal;

import java.lang.System.Logger.Level;

/**
 * The throwables that one dispatch's callbacks threw. The first is kept to
 * be thrown from dispatch; the next ones are attached to it as suppressed,
 * up to {@link #MAX_REPORTED}. A throwable that refuses suppressed ones
 * (the JVM's own StackOverflowError and OutOfMemoryError do) gets the later
 * ones logged instead, and beyond the bound they are only counted, so that
 * a callback that throws on every event cannot fill the heap.
 */
final class CallbackFailures {
    static final int MAX_REPORTED = 100;

    private final System.Logger log;
    private final String owner;
    private Throwable first;
    private int reported;
    private int dropped;

    CallbackFailures(System.Logger log, String owner) {
        this.log = log;
        this.owner = owner;
    }

    synchronized void record(Throwable failure) {
        if (first == null) {
            first = failure;
            return;
        }
        if (failure == first) {
            return;
        }
        if (reported >= MAX_REPORTED) {
            dropped++;
            return;
        }
        reported++;
        int before = first.getSuppressed().length;
        first.addSuppressed(failure);
        if (first.getSuppressed().length == before) {
            log.log(Level.WARNING, "a further callback of " + owner + " threw, after " + first
                    + " (which takes no suppressed exceptions)", failure);
        }
    }

    synchronized boolean any() {
        return first != null;
    }

    /** Forgets the failures of a dispatch that ended abnormally. */
    synchronized void clear() {
        first = null;
        reported = 0;
        dropped = 0;
    }

    /** The first failure since the last call, or null; forgets them all. */
    synchronized Throwable take() {
        Throwable failure = first;
        if (dropped > 0) {
            log.log(Level.WARNING, dropped + " more callback failures of " + owner + " in the same dispatch were not"
                    + " reported (after " + MAX_REPORTED + ")");
        }
        first = null;
        reported = 0;
        dropped = 0;
        return failure;
    }
}
