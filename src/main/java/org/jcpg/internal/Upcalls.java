package org.jcpg.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.jcpg.internal.stubs.cpg_confchg_fn_t;
import org.jcpg.internal.stubs.cpg_deliver_fn_t;
import org.jcpg.internal.stubs.cpg_totem_confchg_fn_t;

/**
 * The one place where libcpg's three callbacks become upcall stubs.
 *
 * <p>An exception escaping an upcall kills the JVM, so each stub catches
 * everything its target throws and hands it to {@link Target#failed}; if
 * even that throws, the throwable is dropped rather than crash.
 */
public final class Upcalls {
    /** What the stubs call, with libcpg's raw arguments (the handle is dropped: each connection has its own stubs). */
    public interface Target {
        void deliver(MemorySegment groupName, int nodeId, int pid, MemorySegment message, long length);

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
        MemorySegment deliver = cpg_deliver_fn_t.allocate((handle, group, nodeId, pid, message, length) -> {
            try {
                target.deliver(group, nodeId, pid, message, length);
            } catch (Throwable t) {
                fail(target, t);
            }
        }, arena);
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

    private static void fail(Target target, Throwable failure) {
        try {
            target.failed(failure);
        } catch (Throwable ignored) {
            // Nowhere left to report it that cannot itself throw.
        }
    }
}
