package org.jcpg.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

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
        long[] bounds = DispatchStack.currentThreadStack();
        return new ThreadStack(bounds[0], bounds[1], Arena.ofAuto().allocate(DispatchStack.UCONTEXT_SIZE, 16));
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
        long pointer = stackPointer(stack.context);
        if (pointer == 0 || pointer < stack.lowest || pointer > stack.lowest + stack.size) {
            return 0;
        }
        return Math.max(0, pointer - stack.lowest - GUARD_BYTES);
    }

    // ---- reading the native stack (pthread, getcontext, _setjmp) ----------

    /** glibc's pthread_attr_t is 56 bytes on x86-64 and 64 on aarch64; leave room. */
    private static final long PTHREAD_ATTR_SIZE = 128;

    private static final MethodHandle PTHREAD_SELF = Libc.downcall("pthread_self", false,
            FunctionDescriptor.of(ValueLayout.JAVA_LONG));
    private static final MethodHandle PTHREAD_GETATTR_NP = Libc.downcall("pthread_getattr_np", false,
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS));
    private static final MethodHandle PTHREAD_ATTR_GETSTACK = Libc.downcall("pthread_attr_getstack", false,
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS));
    private static final MethodHandle GETCONTEXT = Libc.downcall("getcontext", false,
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS));

    /**
     * glibc's {@code ucontext_t} on x86-64: 968 bytes, the saved RSP at
     * {@code uc_mcontext.gregs[REG_RSP]}, offset 40 + 15 * 8. Other
     * architectures are not read (see {@link #stackPointer}).
     */
    public static final long UCONTEXT_SIZE = 1024;
    private static final long UCONTEXT_RSP_OFFSET = 160;
    private static final boolean X86_64 = "amd64".equals(System.getProperty("os.arch"))
            || "x86_64".equals(System.getProperty("os.arch"));
    private static final MethodHandle PTHREAD_ATTR_DESTROY = Libc.downcall("pthread_attr_destroy", false,
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS));

    /**
     * The calling platform thread's native stack as {lowest address, size}
     * ({@code pthread_getattr_np}), or {0, 0} if it cannot be told.
     */
    public static long[] currentThreadStack() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment attr = arena.allocate(PTHREAD_ATTR_SIZE, 16);
            long self = (long) PTHREAD_SELF.invokeExact();
            if ((int) PTHREAD_GETATTR_NP.invokeExact(self, attr) != 0) {
                return new long[2];
            }
            try {
                MemorySegment address = arena.allocate(ValueLayout.ADDRESS);
                MemorySegment size = arena.allocate(ValueLayout.JAVA_LONG);
                if ((int) PTHREAD_ATTR_GETSTACK.invokeExact(attr, address, size) != 0) {
                    return new long[2];
                }
                return new long[] {address.get(ValueLayout.ADDRESS, 0).address(), size.get(ValueLayout.JAVA_LONG, 0)};
            } finally {
                int ignored = (int) PTHREAD_ATTR_DESTROY.invokeExact(attr);
            }
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
    }

    /**
     * The calling thread's native stack pointer, or 0 where jcpg cannot read
     * it (not x86-64). {@code scratch} is {@link #UCONTEXT_SIZE} bytes of
     * memory of the calling thread.
     *
     * <p>{@code getcontext} costs a system call (it saves the signal mask),
     * once per dispatch. {@code _setjmp} does not, but glibc stores the
     * stack pointer in its {@code jmp_buf} mangled with the process's
     * pointer guard (XOR, then rotate left by 17). The guard is read from
     * the thread control block, and the first call checks the decoded value
     * against {@code getcontext}'s; if they disagree (another libc), every
     * call uses {@code getcontext}.
     */
    public static long stackPointer(MemorySegment scratch) {
        if (!X86_64) {
            return 0;
        }
        int mangling = setjmpMangling;
        if (mangling == UNKNOWN) {
            mangling = calibrate(scratch);
        }
        return mangling == USABLE ? fromSetjmp(scratch) : fromGetcontext(scratch);
    }

    /** Whether {@link #stackPointer} avoids the system call (for tests). */
    static boolean stackPointerWithoutSyscall(MemorySegment scratch) {
        stackPointer(scratch);
        return setjmpMangling == USABLE;
    }

    private static final int UNKNOWN = 0;
    private static final int USABLE = 1;
    private static final int UNUSABLE = 2;
    private static volatile int setjmpMangling = UNKNOWN;
    private static long pointerGuard;
    /** glibc x86-64 {@code jmp_buf}: rbx, rbp, r12, r13, r14, r15, rsp, pc. */
    private static final long JMPBUF_RSP_OFFSET = 6 * 8;
    /** {@code tcbhead_t.pointer_guard} on x86-64, at {@code %fs:0x30}; {@code pthread_self()} is {@code %fs:0}. */
    private static final long POINTER_GUARD_OFFSET = 0x30;
    /** Two downcalls from the same frame: their stack pointers differ by the stubs' frames at most. */
    private static final long CALIBRATION_SLACK = 4096;
    private static final MethodHandle SETJMP = Libc.LINKER.defaultLookup().find("_setjmp")
            .map(address -> Libc.LINKER.downcallHandle(address,
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS), Linker.Option.critical(false)))
            .orElse(null);

    private static synchronized int calibrate(MemorySegment scratch) {
        if (setjmpMangling != UNKNOWN) {
            return setjmpMangling;
        }
        int result = UNUSABLE;
        try {
            if (SETJMP != null) {
                long self = (long) PTHREAD_SELF.invokeExact();
                pointerGuard = MemorySegment.ofAddress(self).reinterpret(POINTER_GUARD_OFFSET + 8)
                        .get(ValueLayout.JAVA_LONG, POINTER_GUARD_OFFSET);
                long expected = fromGetcontext(scratch);
                long decoded = fromSetjmp(scratch);
                if (expected != 0 && Math.abs(expected - decoded) <= CALIBRATION_SLACK) {
                    result = USABLE;
                }
            }
        } catch (Throwable t) {
            result = UNUSABLE;
        }
        setjmpMangling = result;
        return result;
    }

    private static long fromSetjmp(MemorySegment scratch) {
        try {
            int ignored = (int) SETJMP.invokeExact(scratch);
            return Long.rotateRight(scratch.get(ValueLayout.JAVA_LONG, JMPBUF_RSP_OFFSET), 17) ^ pointerGuard;
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
    }

    private static long fromGetcontext(MemorySegment scratch) {
        try {
            if ((int) GETCONTEXT.invokeExact(scratch) != 0) {
                return 0;
            }
            return scratch.get(ValueLayout.JAVA_LONG, UCONTEXT_RSP_OFFSET);
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
    }
}
