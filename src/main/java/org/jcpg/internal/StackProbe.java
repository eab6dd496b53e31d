package org.jcpg.internal;

/**
 * Makes a StackOverflowError, if one is coming, happen here rather than in
 * the middle of bookkeeping. A caller near the end of its stack (a deep
 * virtual thread) could otherwise overflow inside a lock or a lease and
 * leave it held for good. Recursing {@link #FRAMES} frames first proves
 * that much stack is left; what the caller then does before returning
 * (locks, leases, the hand-off) needs far less.
 *
 * <p>On a small platform thread (under {@link #FULL_PROBE_STACK} bytes, down
 * to the JVM's minimum, about 136 KiB, which a request for 64 KiB gets) the
 * probe is shallower, in proportion to the stack: 256 frames would not fit
 * even at the top of such a thread, yet the hand-off itself does.
 */
final class StackProbe {
    /** Several KiB in compiled code, more interpreted. */
    static final int FRAMES = 256;
    /** Threads with at least this much stack get the full probe. */
    static final long FULL_PROBE_STACK = 512L << 10;
    /** The shallowest probe, for the smallest threads. */
    static final int MIN_FRAMES = 16;

    private StackProbe() {
    }

    /** @throws StackOverflowError before the caller has changed anything */
    static void ensureRoom() {
        if (descend(frames(DispatchStack.threadBytes()), 1, 2, 3, 4) < 0) {
            throw new AssertionError();
        }
    }

    /** How deep to probe on a thread of {@code stackBytes} (0: unknown, e.g. a virtual thread). */
    static int frames(long stackBytes) {
        if (stackBytes <= 0 || stackBytes >= FULL_PROBE_STACK) {
            return FRAMES;
        }
        return (int) Math.max(MIN_FRAMES, FRAMES * stackBytes / FULL_PROBE_STACK / 2);
    }

    // The arguments keep each frame from being folded away.
    private static int descend(int n, long a, long b, long c, long d) {
        if (n == 0) {
            return (int) (a ^ b ^ c ^ d) & 1;
        }
        return descend(n - 1, a + 1, b ^ a, c + b, d - c) + 1;
    }
}
