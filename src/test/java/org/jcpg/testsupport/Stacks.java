package org.jcpg.testsupport;

/**
 * Plain Java recursion that eats a known amount of stack, to put a call
 * (such as dispatch) close to the end of a thread's stack.
 */
public final class Stacks {
    private static final Runnable NOTHING = () -> { };

    private Stacks() {
    }

    /**
     * Recurses until {@code target} (or a StackOverflowError), then runs
     * {@code atBottom}. Eight long locals live across the recursive call, so
     * each frame keeps them. {@code deepest[0]} records the deepest level reached.
     */
    public static long descend(int depth, int target, Runnable atBottom, int[] deepest) {
        long a = depth * 0x9E3779B97F4A7C15L;
        long b = a ^ (a >>> 7);
        long c = b * 31 + a;
        long d = c ^ (b << 3);
        long e = d + c * 17;
        long f = e ^ (d >>> 11);
        long g = f * 13 + e;
        long h = g ^ (f << 5);
        if (depth > deepest[0]) {
            deepest[0] = depth;
        }
        if (depth >= target) {
            atBottom.run();
            return a ^ h;
        }
        long r = descend(depth + 1, target, atBottom, deepest);
        return r + a + b + c + d + e + f + g + h;
    }

    /** Lets the JIT compile {@link #descend}, so that measuring and using it see frames of one size. */
    public static void warm() {
        long sink = 0;
        for (int i = 0; i < 20_000; i++) {
            sink += descend(0, 40, NOTHING, new int[1]);
        }
        if (sink == 42) {
            System.out.print("");
        }
    }

    /** How deep {@link #descend} gets on the current thread before a StackOverflowError (the least of a few tries). */
    public static int overflowDepth() {
        warm();
        int least = Integer.MAX_VALUE;
        for (int attempt = 0; attempt < 3; attempt++) {
            int[] deepest = {0};
            try {
                descend(0, Integer.MAX_VALUE, NOTHING, deepest);
            } catch (StackOverflowError expected) {
                // measured
            }
            least = Math.min(least, deepest[0]);
        }
        return least;
    }
}
