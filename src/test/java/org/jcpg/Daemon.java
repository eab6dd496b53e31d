package org.jcpg;

import static org.assertj.core.api.Assertions.fail;

import java.time.Duration;
import java.util.UUID;
import java.util.function.BooleanSupplier;

/** Helpers for tests against the private corosync started by scripts/test.sh. */
final class Daemon {
    static final long PID = ProcessHandle.current().pid();

    private Daemon() {
    }

    /** A group name no other test uses. */
    static GroupName uniqueGroup(String prefix) {
        return GroupName.of(prefix + "-" + UUID.randomUUID().toString().substring(0, 8));
    }

    /**
     * Dispatches the connections (mode ALL) until the condition holds; fails
     * after the timeout.
     */
    static void dispatchUntil(BooleanSupplier condition, Duration timeout, CpgConnection... connections) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            for (CpgConnection connection : connections) {
                connection.dispatch(DispatchMode.ALL);
            }
            if (condition.getAsBoolean()) {
                return;
            }
            if (System.nanoTime() > deadline) {
                fail("condition not met within " + timeout);
            }
            try {
                Thread.sleep(2);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                fail("interrupted");
            }
        }
    }

    static void dispatchUntil(BooleanSupplier condition, CpgConnection... connections) {
        dispatchUntil(condition, Duration.ofSeconds(20), connections);
    }
}
