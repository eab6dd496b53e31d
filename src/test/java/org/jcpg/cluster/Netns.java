package org.jcpg.cluster;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.file.Path;

/**
 * Moves the calling thread into a network namespace: {@code setns(2)} with
 * {@code CLONE_NEWNET} on an fd of {@code /run/netns/NAME}. Linux keeps the
 * network namespace per thread, so only the caller moves (and the threads it
 * starts afterwards, which inherit it); the rest of the JVM stays where it
 * was. corosync's IPC is an abstract unix socket, one per network namespace:
 * a connection opened on such a thread reaches that node's daemon, and keeps
 * reaching it from any thread once it is open.
 */
public final class Netns {
    private static final int O_RDONLY = 0;
    private static final int O_CLOEXEC = 0x80000;
    private static final int CLONE_NEWNET = 0x40000000;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURED = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURED.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final MethodHandle OPEN = LINKER.downcallHandle(find("open"),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT),
            Linker.Option.firstVariadicArg(2), Linker.Option.captureCallState("errno"));
    private static final MethodHandle SETNS = LINKER.downcallHandle(find("setns"),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT),
            Linker.Option.captureCallState("errno"));
    private static final MethodHandle CLOSE = LINKER.downcallHandle(find("close"),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));

    private Netns() {
    }

    private static MemorySegment find(String name) {
        return LINKER.defaultLookup().find(name).orElseThrow(() -> new UnsatisfiedLinkError("libc has no " + name));
    }

    /**
     * Moves the calling platform thread into the network namespace at {@code path}.
     *
     * @throws IllegalStateException on a virtual thread (it would move its carrier)
     * @throws IllegalStateException if open or setns fails (with errno)
     */
    public static void enter(Path path) {
        if (Thread.currentThread().isVirtual()) {
            throw new IllegalStateException("setns on a virtual thread would move its carrier thread");
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURED);
            int fd = (int) OPEN.invokeExact(state, arena.allocateFrom(path.toString()), O_RDONLY | O_CLOEXEC, 0);
            if (fd < 0) {
                throw new IllegalStateException("open(" + path + ") failed: errno " + (int) ERRNO.get(state, 0L));
            }
            try {
                int rc = (int) SETNS.invokeExact(state, fd, CLONE_NEWNET);
                if (rc != 0) {
                    throw new IllegalStateException("setns(" + path + ", CLONE_NEWNET) failed: errno "
                            + (int) ERRNO.get(state, 0L) + " (needs root / CAP_SYS_ADMIN)");
                }
            } finally {
                int ignored = (int) CLOSE.invokeExact(fd);
            }
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** The inode of the calling thread's network namespace, e.g. "net:[4026532]" (for checks and messages). */
    public static String current() {
        try {
            return java.nio.file.Files.readSymbolicLink(Path.of("/proc/thread-self/ns/net")).toString();
        } catch (java.io.IOException e) {
            return "?";
        }
    }
}
