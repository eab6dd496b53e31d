package org.jcpg.internal;

import java.time.Duration;

/**
 * The pauses between reconnect attempts, in nanoseconds: the first, then
 * each doubled, up to the longest. Every pause is at most
 * {@link #LONGEST_PAUSE}: a longer {@link Duration} (up to
 * {@code Duration.ofSeconds(Long.MAX_VALUE)}) means that one, so that no
 * pause overflows a {@code long} of nanoseconds and reconnecting never
 * stops for arithmetic's sake.
 *
 * @param firstNanos the pause before the first attempt, positive
 * @param maxNanos   the longest pause, at least {@code firstNanos}
 */
public record ReconnectPolicy(long firstNanos, long maxNanos) {
    /** The longest pause taken: 365 days. */
    public static final Duration LONGEST_PAUSE = Duration.ofDays(365);

    /** @throws IllegalArgumentException unless {@code 0 < firstNanos <= maxNanos <= LONGEST_PAUSE} */
    public ReconnectPolicy {
        if (firstNanos <= 0 || maxNanos < firstNanos || maxNanos > LONGEST_PAUSE.toNanos()) {
            throw new IllegalArgumentException("pauses out of range: " + firstNanos + ", " + maxNanos);
        }
    }

    /**
     * The policy of these pauses, each clamped to {@link #LONGEST_PAUSE}.
     *
     * @param first positive
     * @param max   at least {@code first}
     * @return the policy
     */
    public static ReconnectPolicy of(Duration first, Duration max) {
        return new ReconnectPolicy(clamp(first), clamp(max));
    }

    private static long clamp(Duration pause) {
        return (pause.compareTo(LONGEST_PAUSE) > 0 ? LONGEST_PAUSE : pause).toNanos();
    }

    /** {@return the pause after one of {@code pauseNanos}}: doubled, at most the longest (never overflows). */
    public long after(long pauseNanos) {
        return Math.min(pauseNanos * 2, maxNanos);
    }
}
