package org.jcpg;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static java.lang.foreign.ValueLayout.ADDRESS;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Reference;
import java.lang.reflect.UndeclaredThrowableException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import org.jcpg.internal.DispatchStack;
import org.jcpg.internal.DispatchWorker;
import org.jcpg.internal.Libc;
import org.jcpg.internal.Lifecycle;
import org.jcpg.internal.Upcalls;
import org.jcpg.internal.stubs.cpg_address;
import org.jcpg.internal.stubs.cpg_callbacks_t;
import org.jcpg.internal.stubs.cpg_h;
import org.jcpg.internal.stubs.cpg_iteration_description_t;
import org.jcpg.internal.stubs.cpg_model_v1_data_t;
import org.jcpg.internal.stubs.cpg_name;
import org.jcpg.internal.stubs.cpg_ring_id;
import org.jcpg.internal.stubs.iovec;

/**
 * A connection to the local corosync's Closed Process Group service: one
 * libcpg handle, which may join one group at a time.
 *
 * <pre>{@code
 * try (CpgConnection cpg = CpgConnection.open(new CpgListener() {
 *         public void onMessage(CpgConnection c, Message m) {
 *             System.out.println(m.nodeId() + "/" + m.pid() + ": " + new String(m.toByteArray()));
 *         }
 *     })) {
 *     cpg.join(GroupName.of("demo"));
 *     cpg.multicast(Guarantee.AGREED, "hello".getBytes());
 *     cpg.dispatch(DispatchMode.ONE);   // the JOIN
 *     cpg.dispatch(DispatchMode.ONE);   // our own message, in agreed order
 * }
 * }</pre>
 *
 * <h2>Events and dispatch</h2>
 * Events wait in libcpg until {@link #dispatch} hands them to the
 * {@link CpgListener}, on the thread that called it. libcpg's dispatch needs
 * more than 1 MiB of native stack, more than a Java thread has by default:
 * on a platform thread with at least {@link #DISPATCH_STACK_SIZE} bytes of
 * stack (e.g. {@code Thread.ofPlatform().stackSize(CpgConnection.DISPATCH_STACK_SIZE)})
 * the native dispatch runs right there; from any other thread (including
 * {@code main} and virtual threads) it runs on a helper thread of this
 * connection while the caller waits, and each callback is still run on the
 * caller's thread. Both are safe; the first saves two thread switches per
 * event.
 *
 * <h2>Threads and lifetime</h2>
 * All methods are thread-safe. {@link #close()} may be called at any time,
 * from any thread, also from a callback or while another thread waits in
 * {@code dispatch}: it returns at once, a waiting dispatch returns, and the
 * native handle is finalized as soon as no call uses it any more. Every
 * method called after close throws {@link IllegalStateException}.
 *
 * <h2>Errors</h2>
 * A libcpg error is thrown as {@link CpgException}; misuse that jcpg sees
 * before calling libcpg as {@link IllegalArgumentException} or
 * {@link IllegalStateException}.
 */
public final class CpgConnection implements AutoCloseable {
    /**
     * The native stack size, in bytes, that lets a thread run libcpg's dispatch
     * itself (4 MiB). libcpg's dispatch frame alone is just over 1 MiB.
     */
    public static final long DISPATCH_STACK_SIZE = DispatchStack.REQUIRED_BYTES;

    /** libcpg copies the caller's iovec array into one of 64 entries, the first of which is its own header. */
    private static final int MAX_IOVEC = 63;
    /** cpg_membership_get writes as many entries as the daemon has, up to PROCESSOR_COUNT_MAX, whatever the capacity says. */
    private static final int MEMBERSHIP_CAPACITY = 384;
    private static final int CS_OK = cpg_h.CS_OK();
    private static final int CS_ERR_TRY_AGAIN = cpg_h.CS_ERR_TRY_AGAIN();
    private static final int CS_ERR_NO_SECTIONS = cpg_h.CS_ERR_NO_SECTIONS();
    private static final AtomicLong SERIAL = new AtomicLong();
    /** A thread that never runs: a segment it may access is not confined to one thread. */
    private static final Thread NOBODY = new Thread(() -> { });

    private final String name;
    private final CpgListener listener;
    private final Arena arena;
    private final long handle;
    private final int fd;
    private final int wakeFd;
    private final MemorySegment pollFds;
    private final MemorySegment pollErrno;
    private final Lifecycle lifecycle;
    private final ReentrantLock dispatchLock = new ReentrantLock();
    private final Object membershipLock = new Object();
    private final Set<ZeroCopyBuffer> zeroCopyBuffers = ConcurrentHashMap.newKeySet();

    private volatile GroupName joined;
    private volatile boolean hasLeft;
    private volatile Object context;

    // Guarded by dispatchLock; read by the upcalls that the dispatch makes.
    private DispatchWorker worker;
    // Touched only by the thread that runs callbacks, during a dispatch.
    private int callbacksRun;
    private Throwable callbackFailure;
    private GroupName lastGroup;

    private CpgConnection(CpgListener listener, boolean legacy, int flags) {
        this.name = "CpgConnection#" + SERIAL.incrementAndGet();
        this.listener = Objects.requireNonNull(listener, "listener");
        this.arena = Arena.ofShared();
        long newHandle = 0;
        boolean initialized = false;
        try {
            Upcalls.Stubs stubs = Upcalls.allocate(new Callbacks(), arena);
            MemorySegment handleOut = arena.allocate(JAVA_LONG);
            int rc;
            String operation;
            if (legacy) {
                operation = "cpg_initialize";
                MemorySegment callbacks = cpg_callbacks_t.allocate(arena);
                cpg_callbacks_t.cpg_deliver_fn(callbacks, stubs.deliver());
                cpg_callbacks_t.cpg_confchg_fn(callbacks, stubs.confchg());
                rc = cpg_h.cpg_initialize(handleOut, callbacks);
            } else {
                operation = "cpg_model_initialize";
                MemorySegment model = cpg_model_v1_data_t.allocate(arena);
                cpg_model_v1_data_t.model(model, cpg_h.CPG_MODEL_V1());
                cpg_model_v1_data_t.cpg_deliver_fn(model, stubs.deliver());
                cpg_model_v1_data_t.cpg_confchg_fn(model, stubs.confchg());
                cpg_model_v1_data_t.cpg_totem_confchg_fn(model, stubs.totemConfchg());
                cpg_model_v1_data_t.flags(model, flags);
                rc = cpg_h.cpg_model_initialize(handleOut, cpg_h.CPG_MODEL_V1(), model, MemorySegment.NULL);
            }
            if (rc != CS_OK) {
                throw connectFailure(operation, rc);
            }
            newHandle = handleOut.get(JAVA_LONG, 0);
            initialized = true;
            MemorySegment fdOut = arena.allocate(JAVA_INT);
            check(cpg_h.cpg_fd_get(newHandle, fdOut), "cpg_fd_get");
            this.fd = fdOut.get(JAVA_INT, 0);
            this.wakeFd = Libc.eventfd();
        } catch (Throwable t) {
            if (initialized) {
                cpg_h.cpg_finalize(newHandle);
            }
            arena.close();
            throw t;
        }
        this.handle = newHandle;
        this.pollFds = arena.allocate(2 * Libc.POLLFD_SIZE, 8);
        pollFds.set(JAVA_INT, 0, fd);
        pollFds.set(JAVA_SHORT, 4, Libc.POLLIN);
        pollFds.set(JAVA_INT, Libc.POLLFD_SIZE, wakeFd);
        pollFds.set(JAVA_SHORT, Libc.POLLFD_SIZE + 4, Libc.POLLIN);
        this.pollErrno = Libc.allocateErrnoState(arena);
        this.lifecycle = new Lifecycle(name, () -> Libc.signal(wakeFd), this::release);
    }

    /**
     * Connects with model V1 ({@code cpg_model_initialize}): messages,
     * membership changes and totem ring changes.
     *
     * @param listener receives the events, during {@link #dispatch}
     * @param flags    options; with none, the first totem change comes only when the ring changes
     * @throws CpgException if corosync refuses, e.g. {@link CpgError#LIBRARY} when no corosync
     *                      runs (in this network namespace)
     */
    public static CpgConnection open(CpgListener listener, ModelFlag... flags) {
        Objects.requireNonNull(listener, "listener");
        int bits = 0;
        for (ModelFlag flag : Objects.requireNonNull(flags, "flags")) {
            bits |= Objects.requireNonNull(flag, "flag").bit();
        }
        return new CpgConnection(listener, false, bits);
    }

    /**
     * Connects with the original API ({@code cpg_initialize}): messages and
     * membership changes; {@link CpgListener#onTotemChange} is never called.
     * For peers of code written against that API; new code can use
     * {@link #open}.
     *
     * @throws CpgException if corosync refuses
     */
    public static CpgConnection openLegacy(CpgListener listener) {
        return new CpgConnection(listener, true, 0);
    }

    // ---- membership -------------------------------------------------------

    /**
     * Joins a group. corosync knows a member by node id and process id, so
     * one process can be in a group through one connection only: a second
     * connection of the same process joining the same group gets
     * {@link CpgError#EXIST}. A connection is in at most one group, and joins once:
     * corosync 3.1.7 to 3.1.10 refuse a second join on the same handle even
     * after {@link #leave()} (CS_ERR_EXIST). To re-join, close this
     * connection and join from a new one: the others see it go (PROCDOWN, or
     * LEAVE if it left first), then a JOIN.
     *
     * @throws IllegalStateException if closed, in a group, or it has left one
     * @throws CpgException          e.g. {@link CpgError#TRY_AGAIN} while the daemon synchronizes
     */
    public void join(GroupName group) {
        Objects.requireNonNull(group, "group");
        lifecycle.acquire();
        try {
            synchronized (membershipLock) {
                if (joined != null) {
                    throw new IllegalStateException(name + " is already in group " + joined
                            + ": one group per connection; open another connection for another group");
                }
                if (hasLeft) {
                    throw new IllegalStateException(name + " has left a group and cannot join again"
                            + " (corosync 3.1.7-3.1.10 answer CS_ERR_EXIST): close it and join from a new connection");
                }
                try (Arena scratch = Arena.ofConfined()) {
                    check(cpg_h.cpg_join(handle, toNative(group, scratch)), "cpg_join");
                }
                joined = group;
            }
        } finally {
            lifecycle.release();
        }
    }

    /**
     * Leaves the group joined with {@link #join}. The connection stays open
     * (its events still need dispatching) but cannot join again.
     *
     * @throws IllegalStateException if closed or not in a group
     */
    public void leave() {
        lifecycle.acquire();
        try {
            synchronized (membershipLock) {
                GroupName group = joined;
                if (group == null) {
                    throw new IllegalStateException(name + " is not in a group");
                }
                try (Arena scratch = Arena.ofConfined()) {
                    check(cpg_h.cpg_leave(handle, toNative(group, scratch)), "cpg_leave");
                }
                joined = null;
                hasLeft = true;
            }
        } finally {
            lifecycle.release();
        }
    }

    /** The group this connection is in, or null. */
    public GroupName group() {
        lifecycle.check();
        return joined;
    }

    /**
     * The current members of a group, as the local daemon knows them
     * ({@code cpg_membership_get}), each with reason {@link Reason#UNDEFINED}.
     * Any group can be asked, joined or not; an unknown group has no members.
     */
    public List<Member> membership(GroupName group) {
        Objects.requireNonNull(group, "group");
        lifecycle.acquire();
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment list = cpg_address.allocateArray(MEMBERSHIP_CAPACITY, scratch);
            MemorySegment count = scratch.allocate(JAVA_INT);
            count.set(JAVA_INT, 0, MEMBERSHIP_CAPACITY);
            check(cpg_h.cpg_membership_get(handle, toNative(group, scratch), list, count), "cpg_membership_get");
            return readMembers(list, count.get(JAVA_INT, 0));
        } finally {
            lifecycle.release();
        }
    }

    /** The names of all groups that have members anywhere in the cluster (iteration NAME_ONLY). */
    public List<GroupName> groups() {
        return iterate(cpg_h.CPG_ITERATION_NAME_ONLY(), null, description -> readName(description));
    }

    /** Every process of one group, cluster-wide (iteration ONE_GROUP). */
    public List<GroupMember> members(GroupName group) {
        Objects.requireNonNull(group, "group");
        return iterate(cpg_h.CPG_ITERATION_ONE_GROUP(), group, CpgConnection::readGroupMember);
    }

    /**
     * Every process of every group, cluster-wide (iteration ALL).
     *
     * <p>This and {@link #groups()} and {@link #members(GroupName)} read the
     * whole iteration and finalize it before returning: the lists are
     * snapshots, and no native iteration is ever left open, however the
     * caller uses the result.
     */
    public List<GroupMember> members() {
        return iterate(cpg_h.CPG_ITERATION_ALL(), null, CpgConnection::readGroupMember);
    }

    private <T> List<T> iterate(int type, GroupName group, Function<MemorySegment, T> read) {
        lifecycle.acquire();
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment iterationOut = scratch.allocate(JAVA_LONG);
            MemorySegment groupName = group == null ? MemorySegment.NULL : toNative(group, scratch);
            check(cpg_h.cpg_iteration_initialize(handle, type, groupName, iterationOut), "cpg_iteration_initialize");
            long iteration = iterationOut.get(JAVA_LONG, 0);
            List<T> result = new ArrayList<>();
            try {
                MemorySegment description = cpg_iteration_description_t.allocate(scratch);
                while (true) {
                    int rc = cpg_h.cpg_iteration_next(iteration, description);
                    if (rc == CS_ERR_NO_SECTIONS) {
                        break;
                    }
                    check(rc, "cpg_iteration_next");
                    result.add(read.apply(description));
                }
            } finally {
                cpg_h.cpg_iteration_finalize(iteration);
            }
            return List.copyOf(result);
        } finally {
            lifecycle.release();
        }
    }

    // ---- sending ----------------------------------------------------------

    /**
     * Sends a message to the group. Equivalent to
     * {@code multicast(guarantee, MemorySegment.ofArray(message))}.
     */
    public void multicast(Guarantee guarantee, byte[] message) {
        multicast(guarantee, MemorySegment.ofArray(Objects.requireNonNull(message, "message")));
    }

    /**
     * Sends the remaining bytes of the buffers, in order, as one message
     * (a gather). On success each buffer's position is advanced to its limit.
     */
    public void multicast(Guarantee guarantee, ByteBuffer... parts) {
        Objects.requireNonNull(parts, "parts");
        MemorySegment[] segments = new MemorySegment[parts.length];
        for (int i = 0; i < parts.length; i++) {
            segments[i] = MemorySegment.ofBuffer(Objects.requireNonNull(parts[i], "part"));
        }
        multicast(guarantee, segments);
        for (ByteBuffer part : parts) {
            part.position(part.limit());
        }
    }

    /**
     * Sends the segments, in order, as one message (a gather), with the
     * delivery {@code guarantee}. Returns once libcpg has queued it; every
     * member, this one included, then delivers it in the same order.
     *
     * <p>Native segments of the global arena or confined to the calling
     * thread go to libcpg as they are; others (heap segments, segments that
     * another thread could free meanwhile) are copied first. libcpg accepts
     * at most 63 parts per call; more are gathered into one buffer here.
     * Messages longer than {@link #maxAtomicMessageSize()} are fragmented by
     * libcpg and delivered whole; such a send waits for the daemon.
     *
     * @throws IllegalStateException if closed or not in a group: corosync would accept the
     *                               message and silently drop it
     * @throws CpgException          {@link CpgError#TRY_AGAIN} when the daemon's queue is full
     *                               (retry later), {@link CpgError#INTERRUPT} when a
     *                               configuration change broke a fragmented send
     */
    public void multicast(Guarantee guarantee, MemorySegment... parts) {
        Objects.requireNonNull(guarantee, "guarantee");
        Objects.requireNonNull(parts, "parts");
        long total = 0;
        for (MemorySegment part : parts) {
            total = Math.addExact(total, Objects.requireNonNull(part, "part").byteSize());
        }
        lifecycle.acquire();
        try (Arena scratch = Arena.ofConfined()) {
            requireJoined();
            int count = Math.min(parts.length, MAX_IOVEC);
            MemorySegment iov = iovec.allocateArray(Math.max(count, 1), scratch);
            if (parts.length <= MAX_IOVEC) {
                for (int i = 0; i < count; i++) {
                    MemorySegment part = sendable(parts[i], scratch);
                    MemorySegment entry = iovec.asSlice(iov, i);
                    iovec.iov_base(entry, part);
                    iovec.iov_len(entry, part.byteSize());
                }
            } else {
                MemorySegment all = scratch.allocate(total);
                long offset = 0;
                for (MemorySegment part : parts) {
                    MemorySegment.copy(part, 0, all, offset, part.byteSize());
                    offset += part.byteSize();
                }
                count = 1;
                iovec.iov_base(iov, all);
                iovec.iov_len(iov, total);
            }
            int rc = cpg_h.cpg_mcast_joined(handle, guarantee.code(), iov, count);
            Reference.reachabilityFence(parts);
            check(rc, "cpg_mcast_joined");
        } finally {
            lifecycle.release();
        }
    }

    private static MemorySegment sendable(MemorySegment part, Arena scratch) {
        boolean stable = part.isNative()
                && (part.scope().equals(Arena.global().scope())
                    || (!part.isAccessibleBy(NOBODY) && part.isAccessibleBy(Thread.currentThread())));
        if (stable && part.scope().isAlive()) {
            return part;
        }
        MemorySegment copy = scratch.allocate(part.byteSize());
        MemorySegment.copy(part, 0, copy, 0, part.byteSize());
        return copy;
    }

    private void requireJoined() {
        if (joined == null) {
            throw new IllegalStateException(name + " is not in a group: corosync would drop the message silently");
        }
    }

    /**
     * Allocates a zero-copy buffer ({@code cpg_zcb_alloc}): memory that the
     * caller fills in place and sends with {@link ZeroCopyBuffer#multicast}.
     * Buffers still open when the connection closes are freed with it.
     *
     * @param size bytes, at least 1; a send from it may be at most 1 MiB
     *             (larger: {@link CpgError#TOO_BIG})
     */
    public ZeroCopyBuffer allocateZeroCopy(long size) {
        if (size <= 0) {
            throw new IllegalArgumentException("zero-copy buffer size must be positive: " + size);
        }
        lifecycle.acquire();
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment bufferOut = scratch.allocate(ADDRESS);
            check(cpg_h.cpg_zcb_alloc(handle, size, bufferOut), "cpg_zcb_alloc");
            ZeroCopyBuffer buffer = new ZeroCopyBuffer(this, bufferOut.get(ADDRESS, 0), size);
            zeroCopyBuffers.add(buffer);
            return buffer;
        } finally {
            lifecycle.release();
        }
    }

    void multicastZeroCopy(Guarantee guarantee, MemorySegment buffer, long length) {
        lifecycle.acquire();
        try {
            requireJoined();
            check(cpg_h.cpg_zcb_mcast_joined(handle, guarantee.code(), buffer, length), "cpg_zcb_mcast_joined");
        } finally {
            lifecycle.release();
        }
    }

    /** Frees a zero-copy buffer natively, unless the connection's close frees (or freed) it. */
    void freeZeroCopy(ZeroCopyBuffer buffer, MemorySegment address) {
        try {
            lifecycle.acquire();
        } catch (IllegalStateException closed) {
            return;
        }
        try {
            if (zeroCopyBuffers.remove(buffer)) {
                check(cpg_h.cpg_zcb_free(handle, address), "cpg_zcb_free");
            }
        } finally {
            lifecycle.release();
        }
    }

    // ---- dispatch ---------------------------------------------------------

    /**
     * Delivers waiting events to the listener, on this thread.
     *
     * <ul>
     * <li>{@link DispatchMode#ALL}: every event already waiting; never waits.
     * <li>{@link DispatchMode#ONE_NONBLOCKING}: one waiting event, if any.
     * <li>{@link DispatchMode#ONE}: waits for an event and delivers it.
     * <li>{@link DispatchMode#BLOCKING}: delivers events as they come until the
     *     connection is closed (from a callback or another thread).
     * </ul>
     * A wait also ends, returning normally, when the connection is closed.
     *
     * <p>If callbacks throw, every event of this dispatch is still delivered,
     * and then the first throwable is rethrown here (a checked one wrapped in
     * {@link UndeclaredThrowableException}), with later ones suppressed.
     * Calls on one connection are serialized; calling {@code dispatch} from
     * one of its own callbacks is refused.
     *
     * @return how many callbacks were run
     * @throws IllegalStateException if closed, or called from a callback of this connection
     * @throws CpgException          if libcpg fails, e.g. when the daemon went away
     */
    public int dispatch(DispatchMode mode) {
        Objects.requireNonNull(mode, "mode");
        if (dispatchLock.isHeldByCurrentThread()) {
            throw new IllegalStateException("dispatch called from a callback of " + name);
        }
        lifecycle.acquire();
        try {
            dispatchLock.lock();
            try {
                if (lifecycle.isClosed()) {
                    return 0;
                }
                callbacksRun = 0;
                callbackFailure = null;
                int rc;
                if (DispatchStack.currentThreadHasRoom()) {
                    rc = dispatchNative(mode);
                } else {
                    if (worker == null) {
                        worker = new DispatchWorker(name + "-dispatch");
                    }
                    rc = worker.call(() -> dispatchNative(mode));
                }
                Throwable failure = callbackFailure;
                callbackFailure = null;
                if (failure != null) {
                    if (rc != CS_OK) {
                        failure.addSuppressed(failure("cpg_dispatch", rc));
                    }
                    throw rethrow(failure);
                }
                check(rc, "cpg_dispatch");
                return callbacksRun;
            } finally {
                dispatchLock.unlock();
            }
        } finally {
            lifecycle.release();
        }
    }

    /** Runs on a thread with room for libcpg's dispatch frame. Returns a cs_error_t. */
    private int dispatchNative(DispatchMode mode) {
        switch (mode) {
            case ALL:
                return cpg_h.cpg_dispatch(handle, cpg_h.CS_DISPATCH_ALL());
            case ONE_NONBLOCKING: {
                int rc = cpg_h.cpg_dispatch(handle, cpg_h.CS_DISPATCH_ONE_NONBLOCKING());
                return rc == CS_ERR_TRY_AGAIN ? CS_OK : rc;
            }
            case ONE:
                // libcpg's own ONE and BLOCKING wait inside libqb, where close
                // cannot reach them; wait here, where the eventfd can.
                while (awaitEvent()) {
                    int rc = cpg_h.cpg_dispatch(handle, cpg_h.CS_DISPATCH_ONE_NONBLOCKING());
                    if (rc != CS_ERR_TRY_AGAIN) {
                        return rc;
                    }
                }
                return CS_OK;
            case BLOCKING:
                while (awaitEvent()) {
                    int rc = cpg_h.cpg_dispatch(handle, cpg_h.CS_DISPATCH_ALL());
                    if (rc != CS_OK) {
                        return rc;
                    }
                }
                return CS_OK;
            default:
                throw new AssertionError(mode);
        }
    }

    /** Waits until libcpg's fd is readable (true) or the connection is closed (false). */
    private boolean awaitEvent() {
        while (!lifecycle.isClosed()) {
            pollFds.set(JAVA_SHORT, 6, (short) 0);
            pollFds.set(JAVA_SHORT, Libc.POLLFD_SIZE + 6, (short) 0);
            Libc.poll(pollFds, 2, -1, pollErrno);
            if (pollFds.get(JAVA_SHORT, Libc.POLLFD_SIZE + 6) != 0) {
                return false;
            }
            if (pollFds.get(JAVA_SHORT, 6) != 0) {
                return true;
            }
        }
        return false;
    }

    private static RuntimeException rethrow(Throwable failure) {
        if (failure instanceof RuntimeException runtime) {
            return runtime;
        }
        if (failure instanceof Error error) {
            throw error;
        }
        return new UndeclaredThrowableException(failure, "a CpgListener callback threw " + failure);
    }

    /** The callbacks, in the one place they cross from native code to the listener. */
    private final class Callbacks implements Upcalls.Target {
        @Override
        public void deliver(MemorySegment group, int nodeId, int pid, MemorySegment message, long length) {
            DispatchWorker helper = worker;
            if (helper != null && helper.isWorkerThread()) {
                helper.runOnCaller(() -> onDeliver(group, nodeId, pid, message, length));
            } else {
                onDeliver(group, nodeId, pid, message, length);
            }
        }

        @Override
        public void confchg(MemorySegment group, MemorySegment members, long memberCount,
                            MemorySegment left, long leftCount, MemorySegment joinedList, long joinedCount) {
            DispatchWorker helper = worker;
            if (helper != null && helper.isWorkerThread()) {
                helper.runOnCaller(() -> onConfchg(group, members, memberCount, left, leftCount, joinedList, joinedCount));
            } else {
                onConfchg(group, members, memberCount, left, leftCount, joinedList, joinedCount);
            }
        }

        @Override
        public void totemConfchg(MemorySegment ringId, int memberCount, MemorySegment members) {
            // The ring id arrives by value, in memory that belongs to this
            // upcall's thread: read it here, before any hand-over.
            MemorySegment ring = ringId.reinterpret(cpg_ring_id.sizeof());
            RingId id = new RingId(Integer.toUnsignedLong(cpg_ring_id.nodeid(ring)), cpg_ring_id.seq(ring));
            DispatchWorker helper = worker;
            if (helper != null && helper.isWorkerThread()) {
                helper.runOnCaller(() -> onTotemConfchg(id, memberCount, members));
            } else {
                onTotemConfchg(id, memberCount, members);
            }
        }

        @Override
        public void failed(Throwable failure) {
            recordFailure(failure);
        }
    }

    private void onDeliver(MemorySegment group, int nodeId, int pid, MemorySegment message, long length) {
        if (lifecycle.isClosed()) {
            return;
        }
        callbacksRun++;
        try (Arena view = Arena.ofConfined()) {
            Message delivered = new Message(deliveredGroup(group), Integer.toUnsignedLong(nodeId), pid,
                    message.reinterpret(length, view, null));
            listener.onMessage(this, delivered);
        } catch (Throwable t) {
            recordFailure(t);
        }
    }

    private void onConfchg(MemorySegment group, MemorySegment members, long memberCount,
                           MemorySegment left, long leftCount, MemorySegment joinedList, long joinedCount) {
        if (lifecycle.isClosed()) {
            return;
        }
        callbacksRun++;
        try {
            MembershipChange change = new MembershipChange(readName(group),
                    readMembers(members, memberCount), readMembers(left, leftCount), readMembers(joinedList, joinedCount));
            listener.onMembershipChange(this, change);
        } catch (Throwable t) {
            recordFailure(t);
        }
    }

    private void onTotemConfchg(RingId ringId, int memberCount, MemorySegment members) {
        if (lifecycle.isClosed()) {
            return;
        }
        callbacksRun++;
        try {
            long count = Integer.toUnsignedLong(memberCount);
            MemorySegment ids = members.reinterpret(count * Integer.BYTES);
            List<Long> nodeIds = new ArrayList<>((int) count);
            for (long i = 0; i < count; i++) {
                nodeIds.add(Integer.toUnsignedLong(ids.getAtIndex(JAVA_INT, i)));
            }
            listener.onTotemChange(this, new TotemChange(ringId, nodeIds));
        } catch (Throwable t) {
            recordFailure(t);
        }
    }

    private void recordFailure(Throwable failure) {
        if (callbackFailure == null) {
            callbackFailure = failure;
        } else if (callbackFailure != failure) {
            callbackFailure.addSuppressed(failure);
        }
    }

    /** A connection receives one group's messages: reuse its name rather than decode it per message. */
    private GroupName deliveredGroup(MemorySegment nativeName) {
        MemorySegment name = nativeName.reinterpret(cpg_name.sizeof());
        int length = Math.min(cpg_name.length(name), GroupName.MAX_LENGTH);
        GroupName cached = lastGroup;
        if (cached != null && cached.length() == length
                && MemorySegment.mismatch(name, 4, 4 + length, MemorySegment.ofArray(cached.bytesNoCopy()), 0, length) < 0) {
            return cached;
        }
        GroupName decoded = readName(nativeName);
        lastGroup = decoded;
        return decoded;
    }

    // ---- local queries ----------------------------------------------------

    /** This node's id ({@code cpg_local_get}), an unsigned 32-bit value. */
    public long localNodeId() {
        lifecycle.acquire();
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment out = scratch.allocate(JAVA_INT);
            check(cpg_h.cpg_local_get(handle, out), "cpg_local_get");
            return Integer.toUnsignedLong(out.get(JAVA_INT, 0));
        } finally {
            lifecycle.release();
        }
    }

    /** Whether the daemon asks senders to hold back ({@code cpg_flow_control_state_get}). */
    public FlowControlState flowControlState() {
        lifecycle.acquire();
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment out = scratch.allocate(JAVA_INT);
            check(cpg_h.cpg_flow_control_state_get(handle, out), "cpg_flow_control_state_get");
            return out.get(JAVA_INT, 0) == cpg_h.CPG_FLOW_CONTROL_ENABLED()
                    ? FlowControlState.ENABLED : FlowControlState.DISABLED;
        } finally {
            lifecycle.release();
        }
    }

    /**
     * The largest message that goes to the daemon in one piece
     * ({@code cpg_max_atomic_msgsize_get}; 1,047,552 bytes in corosync 3.1.7).
     * Longer messages are fragmented by libcpg and still delivered whole.
     */
    public int maxAtomicMessageSize() {
        lifecycle.acquire();
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment out = scratch.allocate(JAVA_INT);
            check(cpg_h.cpg_max_atomic_msgsize_get(handle, out), "cpg_max_atomic_msgsize_get");
            return out.get(JAVA_INT, 0);
        } finally {
            lifecycle.release();
        }
    }

    /**
     * The file descriptor that becomes readable when events wait
     * ({@code cpg_fd_get}), for an external poll loop that then calls
     * {@code dispatch(DispatchMode.ALL)}. It belongs to libcpg: do not read
     * or close it. It is invalid once the connection is closed.
     */
    public int fd() {
        lifecycle.check();
        return fd;
    }

    /**
     * The application's object for this connection, or null. libcpg offers a
     * {@code void *} context ({@code cpg_context_get/set}) so that C callbacks
     * can find their state from a handle; a Java reference cannot live in
     * native memory, and every jcpg callback receives its connection anyway,
     * so the context is kept here, on the connection.
     */
    public Object context() {
        lifecycle.check();
        return context;
    }

    /** Sets the object returned by {@link #context()}. */
    public void setContext(Object context) {
        lifecycle.check();
        this.context = context;
    }

    // ---- close ------------------------------------------------------------

    /**
     * Closes the connection ({@code cpg_finalize}); does nothing if already
     * closed. Returns at once: a dispatch waiting on another thread returns,
     * callbacks not yet run are dropped, and the native handle is finalized
     * as soon as no call uses it. Members of its group see this process
     * leave with {@link Reason#PROCDOWN}; {@link #leave()} first for {@link Reason#LEAVE}.
     */
    @Override
    public void close() {
        lifecycle.close();
    }

    /** Whether {@link #close()} was called. */
    public boolean isClosed() {
        return lifecycle.isClosed();
    }

    /** Runs once, when closed and no call uses the handle. */
    private void release() {
        try {
            for (ZeroCopyBuffer buffer : zeroCopyBuffers) {
                if (zeroCopyBuffers.remove(buffer)) {
                    buffer.invalidate();
                    cpg_h.cpg_zcb_free(handle, buffer.address());
                }
            }
            cpg_h.cpg_finalize(handle);
        } finally {
            DispatchWorker helper = worker;
            if (helper != null) {
                helper.stop();
            }
            Libc.close(wakeFd);
            arena.close();
        }
    }

    @Override
    public String toString() {
        return name + (isClosed() ? "[closed]" : joined == null ? "" : "[" + joined + "]");
    }

    // ---- marshalling ------------------------------------------------------

    private static MemorySegment toNative(GroupName group, Arena arena) {
        MemorySegment name = cpg_name.allocate(arena);
        byte[] bytes = group.bytesNoCopy();
        cpg_name.length(name, bytes.length);
        MemorySegment.copy(bytes, 0, name, JAVA_BYTE, 4, bytes.length);
        return name;
    }

    private static GroupName readName(MemorySegment nativeName) {
        MemorySegment name = nativeName.reinterpret(cpg_name.sizeof());
        int length = Math.min(cpg_name.length(name), GroupName.MAX_LENGTH);
        byte[] bytes = new byte[Math.max(length, 0)];
        MemorySegment.copy(name, JAVA_BYTE, 4, bytes, 0, bytes.length);
        return GroupName.wrapNative(bytes);
    }

    private static GroupMember readGroupMember(MemorySegment description) {
        return new GroupMember(readName(cpg_iteration_description_t.group(description)),
                Integer.toUnsignedLong(cpg_iteration_description_t.nodeid(description)),
                cpg_iteration_description_t.pid(description));
    }

    private static List<Member> readMembers(MemorySegment list, long count) {
        if (count <= 0) {
            return List.of();
        }
        MemorySegment entries = list.reinterpret(count * cpg_address.sizeof());
        Member[] members = new Member[(int) count];
        for (int i = 0; i < count; i++) {
            MemorySegment entry = cpg_address.asSlice(entries, i);
            members[i] = new Member(Integer.toUnsignedLong(cpg_address.nodeid(entry)), cpg_address.pid(entry),
                    Reason.of(cpg_address.reason(entry)));
        }
        return List.of(members);
    }

    // ---- errors -----------------------------------------------------------

    private static void check(int rc, String operation) {
        if (rc != CS_OK) {
            throw failure(operation, rc);
        }
    }

    private static CpgException failure(String operation, int rc) {
        return failure(operation, rc, "");
    }

    private static CpgException failure(String operation, int rc, String hint) {
        CpgError error;
        try {
            error = CpgError.of(rc);
        } catch (IllegalArgumentException unknown) {
            error = CpgError.LIBRARY;
        }
        String text = cpg_h.cs_strerror(rc).reinterpret(256).getString(0);
        return new CpgException(operation, error, text + (error.code() == rc ? "" : " (code " + rc + ")") + hint);
    }

    private static CpgException connectFailure(String operation, int rc) {
        return failure(operation, rc, rc == cpg_h.CS_ERR_LIBRARY()
                ? " - is corosync running, and reachable from this network namespace?" : "");
    }
}
