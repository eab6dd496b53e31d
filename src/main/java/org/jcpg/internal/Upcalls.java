package org.jcpg.internal;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import org.jcpg.internal.stubs.cpg_h;
import org.jcpg.internal.stubs.cpg_confchg_fn_t;
import org.jcpg.internal.stubs.cpg_deliver_fn_t;
import org.jcpg.internal.stubs.cpg_totem_confchg_fn_t;

/**
 * The one place where libcpg's three callbacks become upcall stubs.
 *
 * <p>An exception escaping an upcall kills the JVM, so each stub catches
 * everything its target throws and hands it to {@link Target#failed}; if
 * even that throws, the throwable is dropped rather than crash.
 *
 * <p>The deliver callback, the one that runs per message, takes its two
 * pointers as 64-bit integers instead of jextract's {@code MemorySegment}s
 * (the same registers on the 64-bit Linux ABIs), so that a delivery
 * creates no object before jcpg decides what to hand the listener.
 */
public final class Upcalls {
    /** What the stubs call, with libcpg's raw arguments (the handle is dropped: each connection has its own stubs). */
    public interface Target {
        void deliver(long groupName, int nodeId, int pid, long message, long length);

        void confchg(MemorySegment groupName, MemorySegment members, long memberCount,
                     MemorySegment left, long leftCount, MemorySegment joined, long joinedCount);

        void totemConfchg(MemorySegment ringId, int memberCount, MemorySegment members);

        /** Called with anything the other methods threw; must not throw. */
        void failed(Throwable failure);
    }

    /** The three function pointers, valid as long as the arena they were made in. */
    public record Stubs(MemorySegment deliver, MemorySegment confchg, MemorySegment totemConfchg) {
    }

    private Upcalls() {
    }

    public static Stubs allocate(Target target, Arena arena) {
        MemorySegment deliver = Linker.nativeLinker().upcallStub(
                DELIVER.bindTo(new Deliver(target)), DELIVER_DESCRIPTOR, arena);
        MemorySegment confchg = cpg_confchg_fn_t.allocate(
                (handle, group, members, memberCount, left, leftCount, joined, joinedCount) -> {
                    try {
                        target.confchg(group, members, memberCount, left, leftCount, joined, joinedCount);
                    } catch (Throwable t) {
                        fail(target, t);
                    }
                }, arena);
        MemorySegment totem = cpg_totem_confchg_fn_t.allocate((handle, ringId, memberCount, members) -> {
            try {
                target.totemConfchg(ringId, memberCount, members);
            } catch (Throwable t) {
                fail(target, t);
            }
        }, arena);
        return new Stubs(deliver, confchg, totem);
    }

    /** libcpg's {@code cpg_deliver_fn_t}, with its pointers as addresses in {@code long}s. */
    private static final FunctionDescriptor DELIVER_DESCRIPTOR = FunctionDescriptor.ofVoid(
            cpg_h.C_LONG, JAVA_LONG, cpg_h.C_INT, cpg_h.C_INT, JAVA_LONG, cpg_h.C_LONG);
    private static final MethodHandle DELIVER;

    static {
        if (!cpg_deliver_fn_t.descriptor().equals(FunctionDescriptor.ofVoid(
                cpg_h.C_LONG, cpg_h.C_POINTER, cpg_h.C_INT, cpg_h.C_INT, cpg_h.C_POINTER, cpg_h.C_LONG))
                || cpg_h.C_POINTER.byteSize() != JAVA_LONG.byteSize()) {
            throw new ExceptionInInitializerError("libcpg's deliver callback is not what jcpg was written for");
        }
        try {
            DELIVER = MethodHandles.lookup().findVirtual(Deliver.class, "deliver", MethodType.methodType(
                    void.class, long.class, long.class, int.class, int.class, long.class, long.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private record Deliver(Target target) {
        void deliver(long handle, long group, int nodeId, int pid, long message, long length) {
            try {
                target.deliver(group, nodeId, pid, message, length);
            } catch (Throwable t) {
                fail(target, t);
            }
        }
    }

    private static void fail(Target target, Throwable failure) {
        try {
            target.failed(failure);
        } catch (Throwable ignored) {
            // Nowhere left to report it that cannot itself throw.
        }
    }
}
