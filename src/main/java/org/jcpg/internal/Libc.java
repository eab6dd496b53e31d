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
 * waiting dispatch can be woken by close). Linux only, as corosync is. The
 * calls that read the thread's stack are {@link DispatchStack}'s.
 */
public final class Libc {
    static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURED = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURED.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    private static final int EINTR = 4;
    private static final int EAGAIN = 11;
    private static final int EFD_NONBLOCK = 0x800;
    private static final int EFD_CLOEXEC = 0x80000;
    public static final short POLLIN = 0x1;
    /** {@code struct pollfd}: int fd; short events; short revents. */
    public static final long POLLFD_SIZE = 8;

    private static final MethodHandle POLL = downcall("poll", true,
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
    private static final MethodHandle EVENTFD = downcall("eventfd", true,
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle WRITE = downcall("write", true,
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
    private static final MethodHandle CLOSE = downcall("close", false,
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle READ = downcall("read", true,
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));


    private Libc() {
    }

    static MethodHandle downcall(String name, boolean errno, FunctionDescriptor descriptor) {
        MemorySegment address = LINKER.defaultLookup().find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("libc has no " + name));
        return errno
                ? LINKER.downcallHandle(address, descriptor, Linker.Option.captureCallState("errno"))
                : LINKER.downcallHandle(address, descriptor);
    }

    static RuntimeException unexpected(Throwable t) {
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
}
