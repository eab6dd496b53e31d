package org.jcpg.internal;

/**
 * Decides where cpg_dispatch may run. libcpg's dispatch keeps a 1 MiB
 * receive buffer on its stack (a frame of about 1,030 KiB); a Java thread's
 * default stack is 1 MiB, and a virtual thread runs native code on its
 * carrier's stack. Called on a thread that small it crashes the JVM or
 * silently overwrites memory, so it runs only on threads whose native
 * stack leaves room for that frame plus the Java frames beneath it.
 */
public final class DispatchStack {
    /** The stack size jcpg gives its own dispatch threads, and the least a caller's thread needs to dispatch inline. */
    public static final long REQUIRED_BYTES = 4L << 20;

    private static final ThreadLocal<Boolean> ROOMY = ThreadLocal.withInitial(
            () -> Libc.currentThreadStackSize() >= REQUIRED_BYTES);

    private DispatchStack() {
    }

    /** Whether cpg_dispatch may run on the calling thread itself. */
    public static boolean currentThreadHasRoom() {
        return !Thread.currentThread().isVirtual() && ROOMY.get();
    }
}
