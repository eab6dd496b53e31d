package org.jcpg.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.function.Consumer;
import java.util.function.IntConsumer;
import org.jcpg.GroupName;
import org.jcpg.internal.stubs.cpg_address;
import org.jcpg.internal.stubs.cpg_confchg_fn_t;
import org.jcpg.internal.stubs.cpg_deliver_fn_t;
import org.jcpg.internal.stubs.cpg_h;
import org.jcpg.internal.stubs.cpg_model_v1_data_t;
import org.jcpg.internal.stubs.cpg_name;
import org.jcpg.internal.stubs.iovec;

/**
 * The benchmark's {@code stubs} mode: libcpg called through jextract's generated stubs
 * alone, as a C program calls it, without jcpg's layers (no lease, IPC lock, stack check,
 * statistics or failure handling, and jextract's own upcalls). Its runs show what the JVM
 * and FFM cost against C by themselves, so that the report can tell that part of a gap
 * from jcpg's. Only for the benchmark: one thread, errors end the run, a callback that
 * throws kills the JVM.
 */
final class RawStubs implements AutoCloseable {
    private static final ValueLayout.OfInt PID = (ValueLayout.OfInt) cpg_address.pid$layout();

    private final Arena arena = Arena.ofConfined();
    private final long handle;
    private final int fd;
    private final int agreed = cpg_h.CPG_TYPE_AGREED();
    private final int ok = cpg_h.CS_OK();
    private final int tryAgain = cpg_h.CS_ERR_TRY_AGAIN();
    private final int dispatchAll = cpg_h.CS_DISPATCH_ALL();
    private final MemorySegment iov = iovec.allocate(arena);

    /**
     * Connects (model V1).
     *
     * @param onMessage gets each delivered payload, valid during the call
     * @param onJoined  gets the pid of each process that joined
     */
    RawStubs(Consumer<MemorySegment> onMessage, IntConsumer onJoined) {
        MemorySegment model = cpg_model_v1_data_t.allocate(arena);
        cpg_model_v1_data_t.model(model, cpg_h.CPG_MODEL_V1());
        cpg_model_v1_data_t.cpg_deliver_fn(model, cpg_deliver_fn_t.allocate(
                (h, group, nodeId, pid, message, length) -> onMessage.accept(message.reinterpret(length)), arena));
        cpg_model_v1_data_t.cpg_confchg_fn(model, cpg_confchg_fn_t.allocate(
                (h, group, members, memberCount, left, leftCount, joined, joinedCount) -> {
                    MemorySegment list = joined.reinterpret(joinedCount * cpg_address.sizeof());
                    for (long i = 0; i < joinedCount; i++) {
                        onJoined.accept(list.get(PID, i * cpg_address.sizeof() + cpg_address.pid$offset()));
                    }
                }, arena));
        MemorySegment out = arena.allocate(ValueLayout.JAVA_LONG);
        check(cpg_h.cpg_model_initialize(out, cpg_h.CPG_MODEL_V1(), model, MemorySegment.NULL), "cpg_model_initialize");
        handle = out.get(ValueLayout.JAVA_LONG, 0);
        check(cpg_h.cpg_fd_get(handle, out), "cpg_fd_get");
        fd = out.get(ValueLayout.JAVA_INT, 0);
    }

    int fd() {
        return fd;
    }

    void join(GroupName group) {
        MemorySegment name = cpg_name.allocate(arena);
        byte[] bytes = group.toBytes();
        cpg_name.length(name, bytes.length);
        MemorySegment.copy(bytes, 0, cpg_name.value(name), ValueLayout.JAVA_BYTE, 0, bytes.length);
        check(cpg_h.cpg_join(handle, name), "cpg_join");
    }

    /** {@code cpg_mcast_joined} (agreed) of a native segment; false for TRY_AGAIN. */
    boolean send(MemorySegment message) {
        iovec.iov_base(iov, message);
        iovec.iov_len(iov, message.byteSize());
        int rc = cpg_h.cpg_mcast_joined(handle, agreed, iov, 1);
        if (rc == tryAgain) {
            return false;
        }
        check(rc, "cpg_mcast_joined");
        return true;
    }

    /** {@code cpg_dispatch(CS_DISPATCH_ALL)}. */
    void dispatchAll() {
        check(cpg_h.cpg_dispatch(handle, dispatchAll), "cpg_dispatch");
    }

    @Override
    public void close() {
        cpg_h.cpg_finalize(handle);
        arena.close();
    }

    private void check(int rc, String operation) {
        if (rc != ok) {
            throw new IllegalStateException(operation + " returned cs_error_t " + rc);
        }
    }
}
