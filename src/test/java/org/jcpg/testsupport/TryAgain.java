package org.jcpg.testsupport;

import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.jcpg.CpgException;

/**
 * Riding out flow control: a call the daemon may refuse with TRY_AGAIN (a send while its queue is
 * full, a query while it processes a departure) is retried for up to 30 s.
 */
public final class TryAgain {
    private TryAgain() {
    }

    /** Runs a call, retrying TRY_AGAIN (flow control) after a short sleep; any other CpgException propagates. */
    public static <T> T retrying(Supplier<T> call) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            try {
                return call.get();
            } catch (CpgException e) {
                if (!e.isRetryable() || System.nanoTime() > deadline) {
                    throw e;
                }
            }
            sleep(2);
        }
    }

    /** {@link #retrying(Supplier)} for a call without a result. */
    public static void retrying(Runnable call) {
        retrying(() -> {
            call.run();
            return null;
        });
    }

    /** Sleeps; an interrupt fails the caller. */
    public static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}
