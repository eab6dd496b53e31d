package org.jcpg.internal;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.ref.Reference;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import org.jcpg.CpgException;
import org.jcpg.GroupMember;
import org.jcpg.GroupName;
import org.jcpg.Member;
import org.jcpg.internal.stubs.cpg_address;
import org.jcpg.internal.stubs.cpg_callbacks_t;
import org.jcpg.internal.stubs.cpg_h;
import org.jcpg.internal.stubs.cpg_iteration_description_t;
import org.jcpg.internal.stubs.cpg_model_v1_data_t;

/**
 * One libcpg handle, and the only caller of libcpg's functions.
 *
 * <p><b>IPC lock.</b> libcpg and libqb are not thread-safe per handle: two
 * requests at once garble messages, crash the JVM, and can make corosync
 * abort. Every call that uses the request channel (sends, fragments of a
 * large send, joins, queries, iteration, zero-copy alloc/send/free) runs
 * under one lock per handle. {@code cpg_dispatch} reads only the event
 * channel and is not under it, so callbacks can send while a dispatch runs.
 *
 * <p><b>Handle table lock.</b> libcpg keeps its handles in a libqb handle
 * database that takes no lock: two {@code cpg_model_initialize} at once
 * (or one beside a {@code cpg_finalize}) can claim the same slot, and the
 * first handle then answers CS_ERR_BAD_HANDLE to every call, dispatch
 * included. So creating and finalizing handles is serialized for the whole
 * JVM ({@link #HANDLE_TABLE}).
 *
 * <p><b>Lease.</b> Every call holds a lease on the handle ({@link Leases}):
 * {@link #close()} only marks it closed and wakes waiters; the reaper
 * thread finalizes it once the last lease ends, so close never waits for
 * the daemon and a call never finds its handle finalized under it.
 *
 * <p><b>Errors.</b> A {@code cs_error_t} other than OK becomes a
 * {@link CpgException}; misuse seen before the call, an
 * {@link IllegalStateException} or {@link IllegalArgumentException}.
 */
public final class CpgHandle {
    /** cpg_membership_get writes as many entries as the daemon has, up to PROCESSOR_COUNT_MAX, whatever the capacity says. */
    private static final int MEMBERSHIP_CAPACITY = 384;
    private static final String LIBRARY = "libcpg.so.4";
    private static final String MISSING_LIBRARY = probeLibrary();
    /** Held around every handle creation and finalization (see the class comment). */
    private static final Object HANDLE_TABLE = new Object();

    /** libcpg's constants, read only once the library is known to load (reading them loads it). */
    private static final class C {
        static final int OK = cpg_h.CS_OK();
        static final int TRY_AGAIN = cpg_h.CS_ERR_TRY_AGAIN();
        static final int LIBRARY = cpg_h.CS_ERR_LIBRARY();
        static final int NO_SECTIONS = cpg_h.CS_ERR_NO_SECTIONS();
        static final int DISPATCH_ALL = cpg_h.CS_DISPATCH_ALL();
        static final int DISPATCH_ONE_NONBLOCKING = cpg_h.CS_DISPATCH_ONE_NONBLOCKING();
        static final int MODEL_V1 = cpg_h.CPG_MODEL_V1();
        static final int FLOW_CONTROL_ENABLED = cpg_h.CPG_FLOW_CONTROL_ENABLED();
    }

    private final String name;
    private final long handle;
    private final int fd;
    private final int maxAtomicMessageSize;
    private final Arena arena;
    private final Leases leases;
    private final Runnable onReleased;
    private final Counters counters;
    // A monitor, not a ReentrantLock: entering and leaving it makes no Java call, so a
    // StackOverflowError of a caller at the end of its stack cannot leave it held.
    private final Object ipc = new Object();
    // Guarded by ipc.
    private final Gather gather = new Gather();
    private final MemorySegment scratch;
    /** Where cpg_flow_control_state_get writes; its own lock, as the call needs no IPC lock. */
    private final MemorySegment flowControlState;
    private final MemorySegment nameScratch;
    // Written under ipc; read without it, so that group() and toString() never wait for a long send.
    private volatile GroupName joined;
    private boolean hasLeft;
    private final Set<ZeroCopySlot> zeroCopy = ConcurrentHashMap.newKeySet();
    private volatile boolean closedByUser;
    // The group this handle joined, left or not: the daemon knows this process in it until finalize.
    private volatile GroupName everJoined;
    private volatile CpgException lost;

    private CpgHandle(String name, long handle, int fd, int maxAtomicMessageSize, Arena arena,
                      Runnable onClose, Runnable onReleased, Counters counters) {
        this.name = name;
        this.counters = counters;
        this.handle = handle;
        this.fd = fd;
        this.maxAtomicMessageSize = maxAtomicMessageSize;
        this.arena = arena;
        this.onReleased = onReleased;
        this.scratch = arena.allocate(MEMBERSHIP_CAPACITY * Marshal.ADDRESS_SIZE + 64, 8);
        this.flowControlState = arena.allocate(JAVA_INT);
        this.nameScratch = arena.allocate(Marshal.NAME_SIZE, 8);
        this.leases = new Leases(name, () -> {
            GroupsAwaitingFinalize.begin(everJoined);
            onClose.run();
            // The buffers' views die with the connection, now; their memory once unused.
            zeroCopy.forEach(ZeroCopySlot::tryKillView);
        }, () -> Reaper.execute(this::releaseNow));
    }

    private static String probeLibrary() {
        try {
            SymbolLookup.libraryLookup(LIBRARY, Arena.global());
            return null;
        } catch (IllegalArgumentException | UnsatisfiedLinkError e) {
            return e.getMessage();
        }
    }

    /** Throws, every time, if libcpg cannot be loaded; jcpg touches no stub before this passed. */
    public static void requireLibrary() {
        if (MISSING_LIBRARY != null) {
            throw new UnsatisfiedLinkError("jcpg needs corosync's " + LIBRARY
                    + " (Debian/Ubuntu package libcpg4, Fedora corosynclib), which could not be loaded: " + MISSING_LIBRARY);
        }
    }

    /**
     * Connects: {@code cpg_model_initialize} (model V1 with {@code flags}),
     * or {@code cpg_initialize} if {@code legacy}. Blocks for the daemon's answer.
     *
     * @param onClose    runs once, in {@link #close()} (wakes waiting dispatches)
     * @param onReleased runs once, on the reaper, after the handle is finalized
     */
    public static CpgHandle open(String name, Upcalls.Target target, boolean legacy, int flags,
                                 Runnable onClose, Runnable onReleased, Counters counters) {
        requireLibrary();
        Reaper.ready();
        synchronized (HANDLE_TABLE) {
            return openLocked(name, target, legacy, flags, onClose, onReleased, counters);
        }
    }

    private static CpgHandle openLocked(String name, Upcalls.Target target, boolean legacy, int flags,
                                        Runnable onClose, Runnable onReleased, Counters counters) {
        Arena arena = Arena.ofShared();
        long handle = 0;
        boolean initialized = false;
        try {
            Upcalls.Stubs stubs = Upcalls.allocate(target, arena);
            MemorySegment out = arena.allocate(JAVA_LONG);
            int rc;
            String operation;
            if (legacy) {
                operation = "cpg_initialize";
                MemorySegment callbacks = cpg_callbacks_t.allocate(arena);
                cpg_callbacks_t.cpg_deliver_fn(callbacks, stubs.deliver());
                cpg_callbacks_t.cpg_confchg_fn(callbacks, stubs.confchg());
                rc = cpg_h.cpg_initialize(out, callbacks);
            } else {
                operation = "cpg_model_initialize";
                MemorySegment model = cpg_model_v1_data_t.allocate(arena);
                cpg_model_v1_data_t.model(model, C.MODEL_V1);
                cpg_model_v1_data_t.cpg_deliver_fn(model, stubs.deliver());
                cpg_model_v1_data_t.cpg_confchg_fn(model, stubs.confchg());
                cpg_model_v1_data_t.cpg_totem_confchg_fn(model, stubs.totemConfchg());
                cpg_model_v1_data_t.flags(model, flags);
                rc = cpg_h.cpg_model_initialize(out, C.MODEL_V1, model, MemorySegment.NULL);
            }
            check(rc, operation);
            handle = out.get(JAVA_LONG, 0);
            initialized = true;
            check(cpg_h.cpg_fd_get(handle, out), "cpg_fd_get");
            int fd = out.get(JAVA_INT, 0);
            check(cpg_h.cpg_max_atomic_msgsize_get(handle, out), "cpg_max_atomic_msgsize_get");
            int max = out.get(JAVA_INT, 0);
            return new CpgHandle(name, handle, fd, max, arena, onClose, onReleased, counters);
        } catch (Throwable t) {
            if (initialized) {
                cpg_h.cpg_finalize(handle);
            }
            arena.close();
            throw t;
        }
    }

    // ---- lease --------------------------------------------------------------

    /**
     * Starts a call of {@code operation}; pair with {@link #release()}.
     *
     * @throws IllegalStateException if closed
     * @throws CpgException          if the connection to the daemon was lost
     */
    public void acquire(String operation) {
        if (!leases.tryAcquire()) {
            CpgException cause = lost;
            if (cause != null && !closedByUser) {
                throw new CpgException(operation, cause.code());
            }
            throw new IllegalStateException(name + " is closed");
        }
    }

    public void release() {
        leases.release();
    }

    /** Whether calls are over: closed, or lost. */
    public boolean isClosed() {
        return leases.isClosed();
    }

    /** Whether {@link #close()} was called (a lost connection is not closed until then). */
    public boolean isClosedByUser() {
        return closedByUser;
    }

    /** The daemon connection's failure, or null. */
    public CpgException lost() {
        return lost;
    }

    /** @throws IllegalStateException if closed; {@link CpgException} if lost */
    public void checkOpen() {
        if (closedByUser) {
            throw new IllegalStateException(name + " is closed");
        }
        CpgException cause = lost;
        if (cause != null) {
            throw new CpgException(cause.operation(), cause.code());
        }
    }

    /** Marks closed and wakes waiters; never waits. The handle is finalized on the reaper once unused. */
    public void close() {
        closedByUser = true;
        leases.close();
    }

    /**
     * The daemon connection broke: later calls throw {@link CpgException}
     * with the cause's code, and the dead handle is finalized once unused
     * (libqb then removes its ring files) and its empty ring directory
     * removed ({@link ShmLeftovers}).
     */
    public void lose(CpgException cause) {
        if (lost == null) {
            lost = cause;
        }
        leases.close();
    }

    /** On the reaper, once closed and unused: frees zero-copy buffers, finalizes, frees memory. */
    private void releaseNow() {
        for (ZeroCopySlot slot : zeroCopy) {
            slot.close();
            if (!slot.tryKillView()) {
                // A NIO operation still reads or writes a buffer: the memory must outlive it.
                Reaper.retryLater(this::releaseNow);
                return;
            }
        }
        for (ZeroCopySlot slot : zeroCopy) {
            if (zeroCopy.remove(slot)) {
                cpg_h.cpg_zcb_free(handle, slot.address());
            }
        }
        try {
            synchronized (HANDLE_TABLE) {
                cpg_h.cpg_finalize(handle);
            }
            // Also for a connection that was never marked lost: its daemon may have died all the same.
            ShmLeftovers.removeEmptyOfDeadDaemons();
        } finally {
            GroupsAwaitingFinalize.end(everJoined);
            arena.close();
            onReleased.run();
        }
    }

    // ---- requests (under the IPC lock) --------------------------------------

    public void join(GroupName group) {
        acquire("cpg_join");
        try {
            synchronized (ipc) {
                if (joined != null) {
                    throw new IllegalStateException(name + " is already in group " + joined
                            + ": one group per connection; open another connection for another group");
                }
                if (hasLeft) {
                    throw new IllegalStateException(name + " has left a group and cannot join again"
                            + " (corosync 3.1.7-3.1.10 answer CS_ERR_EXIST): close it and join from a new connection");
                }
                // A closed connection of this process in that group would make the daemon answer EXIST.
                GroupsAwaitingFinalize.await(group);
                check(cpg_h.cpg_join(handle, Marshal.writeName(group, nameScratch)), "cpg_join");
                joined = group;
                everJoined = group;
            }
        } finally {
            release();
        }
    }

    public void leave() {
        acquire("cpg_leave");
        try {
            synchronized (ipc) {
                if (joined == null) {
                    throw new IllegalStateException(name + " is not in a group");
                }
                check(cpg_h.cpg_leave(handle, Marshal.writeName(joined, nameScratch)), "cpg_leave");
                joined = null;
                hasLeft = true;
            }
        } finally {
            release();
        }
    }

    /** The group joined, or null. */
    public GroupName group() {
        return joined;
    }

    /**
     * Sends {@code total} bytes from {@code parts} with {@code cpg_mcast_joined}.
     * Returns false, allocating nothing, if the daemon's queue is full (TRY_AGAIN).
     */
    public boolean multicast(int guarantee, MemorySegment[] parts, long total) {
        return send(guarantee, parts, total);
    }

    /** {@link #multicast(int, MemorySegment[], long)} of one segment. */
    public boolean multicast(int guarantee, MemorySegment message) {
        return send(guarantee, message, message.byteSize());
    }

    /** {@link #multicast(int, MemorySegment[], long)} of a byte array. */
    public boolean multicast(int guarantee, byte[] message) {
        return send(guarantee, message, message.length);
    }

    /** {@code message}: what {@link Gather#fill(Object, long)} takes. */
    private boolean send(int guarantee, Object message, long bytes) {
        acquire("cpg_mcast_joined");
        try {
            synchronized (ipc) {
                requireJoined();
                int rc;
                try {
                    int count = gather.fill(message, bytes);
                    rc = cpg_h.cpg_mcast_joined(handle, guarantee, gather.iov(), count);
                } finally {
                    gather.done();
                }
                Reference.reachabilityFence(message);
                return sent(rc, bytes, "cpg_mcast_joined");
            }
        } finally {
            release();
        }
    }

    /** Counts a send; false for TRY_AGAIN. Under the IPC lock. */
    private boolean sent(int rc, long bytes, String operation) {
        if (rc == C.OK) {
            counters.messagesSent++;
            counters.bytesSent += bytes;
            return true;
        }
        if (rc == C.TRY_AGAIN) {
            counters.sendsRefused++;
            return false;
        }
        throw new CpgException(operation, rc);
    }

    public List<Member> membership(GroupName group) {
        acquire("cpg_membership_get");
        try {
            synchronized (ipc) {
                MemorySegment count = scratch.asSlice(0, JAVA_INT);
                MemorySegment list = scratch.asSlice(8, MEMBERSHIP_CAPACITY * Marshal.ADDRESS_SIZE);
                count.set(JAVA_INT, 0, MEMBERSHIP_CAPACITY);
                check(cpg_h.cpg_membership_get(handle, Marshal.writeName(group, nameScratch), list, count),
                        "cpg_membership_get");
                return Marshal.readMembers(list, Math.min(count.get(JAVA_INT, 0), MEMBERSHIP_CAPACITY));
            }
        } finally {
            release();
        }
    }

    public long localNodeId() {
        acquire("cpg_local_get");
        try {
            synchronized (ipc) {
                check(cpg_h.cpg_local_get(handle, scratch), "cpg_local_get");
                return Integer.toUnsignedLong(scratch.get(JAVA_INT, 0));
            }
        } finally {
            release();
        }
    }

    public List<GroupName> groups() {
        return iterate(cpg_h.CPG_ITERATION_NAME_ONLY(), null, Marshal::readName);
    }

    public List<GroupMember> members(GroupName group) {
        return iterate(cpg_h.CPG_ITERATION_ONE_GROUP(), group, Marshal::readGroupMember);
    }

    public List<GroupMember> members() {
        return iterate(cpg_h.CPG_ITERATION_ALL(), null, Marshal::readGroupMember);
    }

    /** Reads a whole iteration and finalizes it, all under the lock: no native iteration outlives the call. */
    private <T> List<T> iterate(int type, GroupName group, Function<MemorySegment, T> read) {
        acquire("cpg_iteration_initialize");
        try {
            synchronized (ipc) {
                MemorySegment groupName = group == null ? MemorySegment.NULL : Marshal.writeName(group, nameScratch);
                check(cpg_h.cpg_iteration_initialize(handle, type, groupName, scratch), "cpg_iteration_initialize");
                long iteration = scratch.get(JAVA_LONG, 0);
                List<T> result = new ArrayList<>();
                try {
                    MemorySegment description = scratch.asSlice(8, cpg_iteration_description_t.sizeof());
                    while (true) {
                        int rc = cpg_h.cpg_iteration_next(iteration, description);
                        if (rc == C.NO_SECTIONS) {
                            break;
                        }
                        check(rc, "cpg_iteration_next");
                        result.add(read.apply(description));
                    }
                } finally {
                    cpg_h.cpg_iteration_finalize(iteration);
                }
                return List.copyOf(result);
            }
        } finally {
            release();
        }
    }

    // ---- zero-copy ----------------------------------------------------------

    /**
     * {@code cpg_zcb_alloc}. Sizes are limited to the atomic message size:
     * libcpg asserts (aborting the process) on absurd sizes, and the daemon
     * accepts, then silently drops, zero-copy sends just under 1 MiB.
     */
    public ZeroCopySlot allocateZeroCopy(long size) {
        if (size < 1 || size > maxAtomicMessageSize) {
            throw new IllegalArgumentException("a zero-copy buffer holds 1 to " + maxAtomicMessageSize
                    + " bytes (the atomic message size, above which corosync cannot deliver it), not " + size);
        }
        acquire("cpg_zcb_alloc");
        try {
            synchronized (ipc) {
                MemorySegment out = scratch.asSlice(0, ADDRESS);
                check(cpg_h.cpg_zcb_alloc(handle, size, out), "cpg_zcb_alloc");
                ZeroCopySlot slot = new ZeroCopySlot(this, out.get(ADDRESS, 0), size);
                zeroCopy.add(slot);
                return slot;
            }
        } finally {
            release();
        }
    }

    /** Like {@link #multicast}: false for TRY_AGAIN. */
    boolean multicastZeroCopy(int guarantee, MemorySegment address, long length) {
        acquire("cpg_zcb_mcast_joined");
        try {
            synchronized (ipc) {
                requireJoined();
                return sent(cpg_h.cpg_zcb_mcast_joined(handle, guarantee, address, length), length, "cpg_zcb_mcast_joined");
            }
        } finally {
            release();
        }
    }

    /** On the reaper: frees a closed buffer, unless the handle's own release frees (or freed) it. */
    void freeZeroCopy(ZeroCopySlot slot) {
        if (!leases.tryAcquire()) {
            return;
        }
        try {
            synchronized (ipc) {
                if (zeroCopy.remove(slot)) {
                    cpg_h.cpg_zcb_free(handle, slot.address());
                }
            }
        } finally {
            release();
        }
    }

    // ---- no IPC ---------------------------------------------------------------

    public int fd() {
        return fd;
    }

    public int maxAtomicMessageSize() {
        return maxAtomicMessageSize;
    }

    public boolean flowControlEnabled() {
        acquire("cpg_flow_control_state_get");
        try {
            synchronized (flowControlState) {
                int rc;
                try {
                    rc = (int) FlowControlStateGet.HANDLE.invokeExact(handle, flowControlState);
                } catch (Throwable t) {
                    throw new AssertionError(t);
                }
                check(rc, "cpg_flow_control_state_get");
                return flowControlState.get(JAVA_INT, 0) == C.FLOW_CONTROL_ENABLED;
            }
        } finally {
            release();
        }
    }

    /**
     * libcpg reads a field under its handle database's mutex, without IPC:
     * a critical downcall (no thread-state transition) keeps the public call
     * within nanoseconds of C's. A holder class: linking it loads libcpg,
     * which must fail where {@code open} does, not when this class loads.
     */
    private static final class FlowControlStateGet {
        static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(
                cpg_h.cpg_flow_control_state_get$address(), cpg_h.cpg_flow_control_state_get$descriptor(),
                Linker.Option.critical(false));
    }

    /** Every waiting event ({@code CS_DISPATCH_ALL}); the caller holds a lease. Not under the IPC lock. */
    int dispatchAll() {
        return cpg_h.cpg_dispatch(handle, C.DISPATCH_ALL);
    }

    /** One waiting event ({@code CS_DISPATCH_ONE_NONBLOCKING}); TRY_AGAIN if none. */
    int dispatchOne() {
        return cpg_h.cpg_dispatch(handle, C.DISPATCH_ONE_NONBLOCKING);
    }

    static int ok() {
        return C.OK;
    }

    public static int tryAgain() {
        return C.TRY_AGAIN;
    }

    static int library() {
        return C.LIBRARY;
    }

    // ---- errors ---------------------------------------------------------------

    private void requireJoined() {
        if (joined == null) {
            throw new IllegalStateException(name + " is not in a group" + (hasLeft ? " (it left one)" : "")
                    + ": corosync would drop the message silently");
        }
    }

    static void check(int rc, String operation) {
        if (rc != C.OK) {
            throw new CpgException(operation, rc);
        }
    }

    @Override
    public String toString() {
        return name;
    }
}
