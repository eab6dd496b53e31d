package org.jcpg.internal;

/**
 * Makes a StackOverflowError, if one is coming, happen here rather than in
 * the middle of bookkeeping. A caller near the end of its stack (a deep
 * virtual thread) could otherwise overflow inside a lock or a lease and
 * leave it held for good. Recursing {@link #FRAMES} frames first proves
 * that much stack is left; what the caller then does before returning
 * (locks, leases, the hand-off) needs far less.
 */
final class StackProbe {
    /** Several KiB in compiled code, more interpreted. */
    static final int FRAMES = 256;

    private StackProbe() {
    }

    /** @throws StackOverflowError before the caller has changed anything */
    static void ensureRoom() {
        if (descend(FRAMES, 1, 2, 3, 4) < 0) {
            throw new AssertionError();
        }
    }

    // The arguments keep each frame from being folded away.
    private static int descend(int n, long a, long b, long c, long d) {
        if (n == 0) {
            return (int) (a ^ b ^ c ^ d) & 1;
        }
        return descend(n - 1, a + 1, b ^ a, c + b, d - c) + 1;
    }
}
