package org.jcpg.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The few libc calls jcpg needs beside libcpg: poll and eventfd (so that a
 * waiting dispatch can be woken by close), and the calling thread's native
 * stack bounds and stack pointer (so that dispatch runs only where libcpg's
 * big frame fits). Linux only, as corosync is.
 */
public final class Libc {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURED = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURED.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    private static final int EINTR = 4;
    private static final int EAGAIN = 11;
    private static final int EFD_NONBLOCK = 0x800;
    private static final int EFD_CLOEXEC = 0x80000;
    public static final short POLLIN = 0x1;
    /** {@code struct pollfd}: int fd; short events; short revents. */
    public static final long POLLFD_SIZE = 8;

    /** glibc's pthread_attr_t is 56 bytes on x86-64 and 64 on aarch64; leave room. */
    private static final long PTHREAD_ATTR_SIZE = 128;

    private static final MethodHandle POLL = downcall("poll", true,
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
    private static final MethodHandle EVENTFD = downcall("eventfd", true,
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle WRITE = downcall("write", true,
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
    private static final MethodHandle CLOSE = downcall("close", false,
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle PTHREAD_SELF = downcall("pthread_self", false,
            FunctionDescriptor.of(ValueLayout.JAVA_LONG));
    private static final MethodHandle PTHREAD_GETATTR_NP = downcall("pthread_getattr_np", false,
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS));
    private static final MethodHandle PTHREAD_ATTR_GETSTACK = downcall("pthread_attr_getstack", false,
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS));
    private static final MethodHandle READ = downcall("read", true,
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
    private static final MethodHandle GETCONTEXT = downcall("getcontext", false,
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
    private static final MethodHandle PTHREAD_ATTR_DESTROY = downcall("pthread_attr_destroy", false,
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS));

    private Libc() {
    }

    private static MethodHandle downcall(String name, boolean errno, FunctionDescriptor descriptor) {
        MemorySegment address = LINKER.defaultLookup().find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("libc has no " + name));
        return errno
                ? LINKER.downcallHandle(address, descriptor, Linker.Option.captureCallState("errno"))
                : LINKER.downcallHandle(address, descriptor);
    }

    private static RuntimeException unexpected(Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(t);
    }

    /** A new non-blocking, close-on-exec eventfd. */
    public static int eventfd() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURED);
            int fd = (int) EVENTFD.invokeExact(state, 0, EFD_NONBLOCK | EFD_CLOEXEC);
            if (fd < 0) {
                throw new IllegalStateException("eventfd failed: errno " + (int) ERRNO.get(state, 0L));
            }
            return fd;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** Adds one to an eventfd's counter, which makes it readable. */
    public static void signal(int eventFd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURED);
            MemorySegment one = arena.allocate(ValueLayout.JAVA_LONG);
            one.set(ValueLayout.JAVA_LONG, 0, 1L);
            long written = (long) WRITE.invokeExact(state, eventFd, one, 8L);
            // EAGAIN: the counter is already at its maximum, so already readable.
            if (written != 8 && (int) ERRNO.get(state, 0L) != EAGAIN) {
                throw new IllegalStateException("write to eventfd failed: errno " + (int) ERRNO.get(state, 0L));
            }
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static void close(int fd) {
        try {
            int ignored = (int) CLOSE.invokeExact(fd);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /**
     * poll(2) on {@code count} pollfd entries, retried on EINTR. Returns the
     * number of ready entries.
     */
    public static int poll(MemorySegment pollFds, int count, int timeoutMillis, MemorySegment errnoState) {
        try {
            while (true) {
                int ready = (int) POLL.invokeExact(errnoState, pollFds, (long) count, timeoutMillis);
                if (ready >= 0) {
                    return ready;
                }
                int errno = (int) ERRNO.get(errnoState, 0L);
                if (errno != EINTR) {
                    throw new IllegalStateException("poll failed: errno " + errno);
                }
            }
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** Memory for {@link #poll}'s errno. */
    public static MemorySegment allocateErrnoState(Arena arena) {
        return arena.allocate(CAPTURED);
    }

    /** Reads and so resets an eventfd's counter; does nothing if it is zero. */
    public static void drain(int eventFd, MemorySegment errnoState) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment counter = arena.allocate(ValueLayout.JAVA_LONG);
            long ignored = (long) READ.invokeExact(errnoState, eventFd, counter, 8L);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

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
            throw unexpected(t);
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
    private static final MethodHandle SETJMP = LINKER.defaultLookup().find("_setjmp")
            .map(address -> LINKER.downcallHandle(address,
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
            throw unexpected(t);
        }
    }

    private static long fromGetcontext(MemorySegment scratch) {
        try {
            if ((int) GETCONTEXT.invokeExact(scratch) != 0) {
                return 0;
            }
            return scratch.get(ValueLayout.JAVA_LONG, UCONTEXT_RSP_OFFSET);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }
}
