package org.jcpg.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Decides where cpg_dispatch may run. libcpg's dispatch keeps a 1 MiB
 * receive buffer on its stack (a frame of 1,054,040 bytes in Debian's
 * build), and the callbacks it makes run on top of that frame. What
 * matters is the stack <em>left</em> at the call, not the thread's size:
 * a deep caller, or a callback that dispatches another connection, can
 * leave too little on a big thread. Too little crashes the JVM or silently
 * overwrites memory, so cpg_dispatch runs on the calling thread only where
 * the stack pointer is at least {@link #REQUIRED_LEFT} bytes above the
 * JVM's guard zones; elsewhere on a dispatch worker (see {@link Handoff}).
 */
public final class DispatchStack {
    /** The stack size of jcpg's dispatch workers, and what a caller's thread needs for dispatch to run inline. */
    public static final long THREAD_BYTES = 4L << 20;
    /** libcpg's frame, plus room for the upcall and the callback on top of it. */
    public static final long REQUIRED_LEFT = 1536L << 10;
    /** The JVM's guard zones at the low end of a Java thread's stack (a few pages), with room to spare. */
    static final long GUARD_BYTES = 256L << 10;

    /** Per platform thread: its stack's lowest address and scratch memory for getcontext. */
    private record ThreadStack(long lowest, long size, MemorySegment context) {
    }

    private static final ThreadLocal<ThreadStack> STACK = ThreadLocal.withInitial(() -> {
        long[] bounds = Libc.currentThreadStack();
        return new ThreadStack(bounds[0], bounds[1], Arena.ofAuto().allocate(Libc.UCONTEXT_SIZE, 16));
    });

    private DispatchStack() {
    }

    /** Whether cpg_dispatch may run on the calling thread itself, now, at this depth. */
    public static boolean currentThreadHasRoom() {
        return bytesLeft() >= REQUIRED_LEFT;
    }

    /**
     * The size of the calling platform thread's stack, as the system reports
     * it; 0 on a virtual thread or if unknown.
     */
    static long threadBytes() {
        return Thread.currentThread().isVirtual() ? 0 : STACK.get().size;
    }

    /**
     * The native stack left to the calling thread above its guard zones; 0
     * if unknown: on a virtual thread (native code runs on a carrier whose
     * stack jcpg does not own), on a thread too small for any dispatch, or
     * where the stack pointer cannot be read.
     */
    public static long bytesLeft() {
        if (Thread.currentThread().isVirtual()) {
            return 0;
        }
        ThreadStack stack = STACK.get();
        if (stack.size < REQUIRED_LEFT + GUARD_BYTES) {
            return 0;
        }
        long pointer = Libc.stackPointer(stack.context);
        if (pointer == 0 || pointer < stack.lowest || pointer > stack.lowest + stack.size) {
            return 0;
        }
        return Math.max(0, pointer - stack.lowest - GUARD_BYTES);
    }
}
