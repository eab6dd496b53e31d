package org.jcpg.testsupport;

import java.time.Duration;
import java.util.function.Supplier;

/**
 * Waiting, by polling, for something another thread (or process) makes true: the one way tests
 * wait for a condition. A failure says what was awaited, for how long, and what was seen last
 * (the description is computed only then, so it may report the current state).
 */
public final class Await {
    /** How often a condition is checked unless told otherwise. */
    public static final Duration DEFAULT_POLL = Duration.ofMillis(5);

    private Await() {
    }

    /** A condition to wait for; it may fail (a child that does not answer), which ends the wait. */
    @FunctionalInterface
    public interface Condition {
        /** Whether what is awaited has happened. */
        boolean holds() throws Exception;
    }

    /** Checks {@code condition} every {@link #DEFAULT_POLL} until it holds; fails after {@code timeout}. */
    public static void until(Condition condition, Duration timeout, Supplier<String> description) {
        until(condition, timeout, DEFAULT_POLL, description);
    }

    /** As {@link #until(Condition, Duration, Supplier)}, with a fixed description. */
    public static void until(Condition condition, Duration timeout, String description) {
        until(condition, timeout, DEFAULT_POLL, () -> description);
    }

    /**
     * Checks {@code condition} every {@code poll} until it holds. Fails (an {@link AssertionError})
     * after {@code timeout}, if the condition throws a checked exception (an unchecked one passes
     * through as it is), or if the thread is interrupted.
     */
    public static void until(Condition condition, Duration timeout, Duration poll, Supplier<String> description) {
        long start = System.nanoTime();
        long deadline = start + timeout.toNanos();
        while (true) {
            boolean holds;
            try {
                holds = condition.holds();
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Exception e) {
                throw new AssertionError("while awaiting " + description.get() + ": the condition failed", e);
            }
            if (holds) {
                return;
            }
            long now = System.nanoTime();
            if (now - deadline > 0) {
                throw new AssertionError("not within " + timeout + " (waited "
                        + Duration.ofNanos(now - start).toMillis() + " ms): " + description.get());
            }
            try {
                Thread.sleep(poll);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted while awaiting " + description.get(), e);
            }
        }
    }
}
