package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.jcpg.bundling.Bundling;
import org.jcpg.bundling.BundlingSender;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.SuiteDaemon;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Every Duration a bundling sender takes has an outcome, the extremes included (as for
 * {@code CpgConnection.multicast}): zero or negative waits not at all, anything above 365 days
 * waits 365 days, null is refused. {@code Duration.ofSeconds(Long.MIN_VALUE)} threw
 * {@code ArithmeticException} before.
 */
@NodeTest
class BundlingTimeoutsTest {
    private static final Duration[] EXTREMES = {
        Duration.ofSeconds(Long.MIN_VALUE), Duration.ofNanos(-1), Duration.ZERO, Duration.ofNanos(1),
        Duration.ofDays(366), Duration.ofSeconds(Long.MAX_VALUE), Duration.ofSeconds(Long.MAX_VALUE, 999_999_999)};

    @Test
    @Timeout(60)
    void everyTimeoutHasAnOutcome() {
        Bundling bundling = Bundling.defaults();
        try (CpgConnection cpg = CpgConnection.open(bundling.receiver(new CpgListener() { }))) {
            cpg.join(SuiteDaemon.uniqueGroup("bundling-timeouts"));
            try (BundlingSender sender = bundling.sender(cpg)) {
                for (Duration timeout : EXTREMES) {
                    // The queue has room: every timeout queues the message.
                    sender.send(new byte[] {1}, timeout);
                }
                assertThat(sender.flush(Duration.ofSeconds(30))).as("all handed to libcpg").isTrue();
                for (Duration timeout : EXTREMES) {
                    assertThat(sender.flush(timeout)).as("flush(%s) of an empty queue", timeout).isTrue();
                }
                assertThat(sender.statistics().accepted()).isEqualTo(EXTREMES.length);
                assertThatThrownBy(() -> sender.send(new byte[] {1}, null)).isInstanceOf(NullPointerException.class);
                assertThatThrownBy(() -> sender.flush(null)).isInstanceOf(NullPointerException.class);
            }
        }
    }
}
