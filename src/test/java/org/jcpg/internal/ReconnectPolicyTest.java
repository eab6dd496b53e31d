package org.jcpg.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.jcpg.testsupport.UnitTest;
import org.junit.jupiter.api.Test;

/** The reconnect pauses: doubling up to the longest, and every Duration clamped rather than overflowing. */
@UnitTest
class ReconnectPolicyTest {
    private static final long YEAR = Duration.ofDays(365).toNanos();

    @Test
    void pausesDoubleUpToTheLongest() {
        ReconnectPolicy policy = ReconnectPolicy.of(Duration.ofMillis(100), Duration.ofMillis(700));
        long pause = policy.firstNanos();
        assertThat(pause).isEqualTo(100_000_000L);
        pause = policy.after(pause);
        assertThat(pause).isEqualTo(200_000_000L);
        pause = policy.after(policy.after(pause));
        assertThat(pause).as("800 ms capped").isEqualTo(700_000_000L);
        assertThat(policy.after(pause)).isEqualTo(700_000_000L);
    }

    @Test
    void theLongestDurationsMeanAYear() {
        Duration longest = Duration.ofSeconds(Long.MAX_VALUE, 999_999_999);
        ReconnectPolicy policy = ReconnectPolicy.of(longest, longest);
        assertThat(policy.firstNanos()).isEqualTo(YEAR);
        assertThat(policy.after(policy.firstNanos())).isEqualTo(YEAR);
        // 293 years: toNanos() alone would overflow.
        assertThat(ReconnectPolicy.of(Duration.ofSeconds(1), Duration.ofDays(293 * 365)).maxNanos()).isEqualTo(YEAR);
    }

    @Test
    void fromOneNanosecondTheDoublingNeverOverflows() {
        ReconnectPolicy policy = ReconnectPolicy.of(Duration.ofNanos(1), Duration.ofSeconds(Long.MAX_VALUE));
        long pause = policy.firstNanos();
        for (int attempt = 0; attempt < 1_000; attempt++) {
            long next = policy.after(pause);
            assertThat(next).isGreaterThanOrEqualTo(pause).isPositive().isLessThanOrEqualTo(YEAR);
            pause = next;
        }
        assertThat(pause).isEqualTo(YEAR);
    }

    @Test
    void aLoopAcceptsTheLongestPauses() {
        Duration longest = Duration.ofSeconds(Long.MAX_VALUE);
        try (org.jcpg.CpgEventLoop loop = org.jcpg.CpgEventLoop.builder().reconnect(longest, longest).start()) {
            assertThat(loop.isClosed()).isFalse();
        }
    }

    @Test
    void inconsistentPausesAreRefused() {
        assertThatThrownBy(() -> new ReconnectPolicy(0, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new ReconnectPolicy(2, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new ReconnectPolicy(1, YEAR + 1)).isInstanceOf(IllegalArgumentException.class);
    }
}
