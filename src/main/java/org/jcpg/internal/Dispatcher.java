package org.jcpg.internal;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.ref.WeakReference;
import java.lang.reflect.UndeclaredThrowableException;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BiConsumer;
import org.jcpg.ConnectionLost;
import org.jcpg.CpgEvent;
import org.jcpg.CpgException;
import org.jcpg.DispatchMode;
import org.jcpg.GroupName;
import org.jcpg.MembershipChange;
import org.jcpg.Message;
import org.jcpg.Reconnected;
import org.jcpg.RingId;
import org.jcpg.TotemChange;
import org.jcpg.internal.stubs.cpg_ring_id;

/**
 * Delivers one connection's events: waits for them (poll on libcpg's fd and
 * an eventfd that close and abandoned hand-offs signal), runs
 * {@code cpg_dispatch} where the stack allows (inline, or on a
 * {@link Handoff} worker), decodes libcpg's callbacks into events for the
 * {@link CpgListener}, and collects what the callbacks throw
 * ({@link CallbackFailures}). It is the upcall target of its handle.
 *
 * <p>It holds its connection weakly, so that an unreachable connection can
 * be reclaimed although the upcall stubs keep this object alive.
 */
public final class Dispatcher implements Upcalls.Target {
    private static final System.Logger LOG = System.getLogger("org.jcpg.CpgConnection");
    private static final long POLLFD_SIZE = Libc.POLLFD_SIZE;

    private final String name;
    // Weak: the facade holds it, and a connection the application dropped must stay reclaimable.
    private final WeakReference<EventSink> sink;
    private final int wakeFd;
    private final MemorySegment pollFds;
    private final MemorySegment pollErrno;
    private final ReentrantLock dispatchLock = new ReentrantLock();
    // Held by whichever thread runs cpg_dispatch: a worker whose caller left
    // abnormally may still be finishing when the next dispatch starts.
    private final ReentrantLock nativeLock = new ReentrantLock();
    private final CallbackFailures failures;
    private final Counters counters;
    private CpgHandle handle;
    // Set by an event loop before the connection is registered.
    private volatile SerialExecutor serial;
    private volatile BiConsumer<EventSink, Throwable> errorHandler;
    private volatile Runnable loopWake;
    // Set once an event loop dispatches this connection: the application may not.
    private volatile boolean loopOwned;

    // Set while a dispatch runs on a worker; callbacks then go back to the caller.
    private volatile Handoff session;
    // Touched by the thread that runs callbacks, during a dispatch (the hand-off orders them).
    private int callbacksRun;
    // While an event loop dispatches: each callback failure goes straight to its error handler.
    private boolean reportEach;
    // The name of the last group delivered, or joined (see expect).
    private volatile GroupName lastGroup;
    // Events of an abandoned hand-off, copied, for the next dispatch.
    private final Queue<Runnable> pending = new ConcurrentLinkedQueue<>();

    public Dispatcher(String name, EventSink sink, Counters counters) {
        this.name = name;
        this.counters = counters;
        this.sink = new WeakReference<>(sink);
        this.failures = new CallbackFailures(LOG, name);
        Arena memory = Arena.ofAuto();
        this.pollFds = memory.allocate(2 * POLLFD_SIZE, 8);
        this.pollErrno = Libc.allocateErrnoState(memory);
        this.wakeFd = Libc.eventfd();
    }

    /** Completes the construction, once the handle exists. */
    public void attach(CpgHandle handle) {
        this.handle = handle;
        pollFds.set(JAVA_INT, 0, handle.fd());
        pollFds.set(JAVA_SHORT, 4, Libc.POLLIN);
        pollFds.set(JAVA_INT, POLLFD_SIZE, wakeFd);
        pollFds.set(JAVA_SHORT, POLLFD_SIZE + 4, Libc.POLLIN);
    }

    /**
     * For an event loop: where callbacks that throw are reported, and (if
     * not null) the executor that runs the callbacks instead of the
     * dispatching thread.
     */
    void deliverThrough(SerialExecutor serial, BiConsumer<EventSink, Throwable> errorHandler) {
        this.serial = serial;
        this.errorHandler = errorHandler;
        counters.serial = serial;
        this.loopOwned = true;
    }

    public CpgHandle handle() {
        return handle;
    }

    String name() {
        return name;
    }

    SerialExecutor serial() {
        return serial;
    }

    /**
     * Drops the callbacks queued for an event loop's executor and waits for
     * the one running, if any (unless it is the caller).
     */
    public void stopCallbacks() {
        SerialExecutor queue = serial;
        if (queue != null) {
            queue.closeAndAwait();
        }
    }

    /** Also wakes an event loop that polls this connection (null: none). */
    void onWake(Runnable loopWake) {
        this.loopWake = loopWake;
    }

    /** Wakes a waiting dispatch (and the event loop, if any), so that it checks whether it should end. */
    public void wake() {
        Libc.signal(wakeFd);
        Runnable loop = loopWake;
        if (loop != null) {
            loop.run();
        }
    }

    /** Frees the eventfd, once the handle is finalized (nothing polls any more). */
    public void free() {
        Libc.close(wakeFd);
    }

    /**
     * Delivers events to the listener, on this thread. See
     * {@code CpgConnection.dispatch} for the contract.
     */
    public int dispatch(DispatchMode mode) {
        if (loopOwned) {
            throw new IllegalStateException(name + " belongs to a CpgEventLoop, which dispatches it:"
                    + " the application must not call dispatch on it");
        }
        return dispatch(mode, false, true);
    }

    /**
     * For an event loop, on its own thread (which has room for libcpg's
     * frame): dispatches what waits; callback failures go to the error
     * handler. Returns the {@code cs_error_t} of cpg_dispatch.
     *
     * @throws IllegalStateException if closed
     */
    int dispatchOnLoop() {
        return dispatch(DispatchMode.ALL, true, false);
    }

    /**
     * @param roomKnown the caller knows it has room for libcpg's frame
     * @param throwing  throw callback failures and libcpg errors (else: report, return the error)
     */
    private int dispatch(DispatchMode mode, boolean roomKnown, boolean throwing) {
        if (dispatchLock.isHeldByCurrentThread()) {
            throw new IllegalStateException("dispatch called from a callback of " + name);
        }
        // Decided before any lock is taken: a caller without room may be near the end of its stack.
        boolean room = roomKnown || DispatchStack.currentThreadHasRoom();
        if (!room) {
            StackProbe.ensureRoom();
        }
        handle.acquire("cpg_dispatch");
        try {
            dispatchLock.lock();
            try {
                if (handle.isClosed()) {
                    return throwing ? 0 : CpgHandle.ok();
                }
                callbacksRun = 0;
                failures.clear();
                reportEach = !throwing;
                if (deliverPending(mode) > 0
                        && (mode == DispatchMode.ONE || mode == DispatchMode.ONE_NONBLOCKING || failures.any())) {
                    return throwing ? finish(CpgHandle.ok()) : reportFailures(CpgHandle.ok());
                }
                counters.dispatchCalls++;
                int rc;
                if (room) {
                    rc = dispatchNative(mode, null);
                } else {
                    try {
                        rc = Handoff.call(worker -> {
                            session = worker;
                            return dispatchNative(mode, worker);
                        }, this::wake);
                    } finally {
                        session = null;
                    }
                }
                return throwing ? finish(rc) : reportFailures(rc);
            } finally {
                dispatchLock.unlock();
            }
        } finally {
            handle.release();
        }
    }

    private int reportFailures(int rc) {
        Throwable failure = failures.take();
        if (failure != null) {
            report(sink.get(), failure);
        }
        return rc;
    }

    private int finish(int rc) {
        if (rc == CpgHandle.library()) {
            // The daemon connection is gone: the connection says so, later calls fail, the handle is freed.
            handle.lose(new CpgException("cpg_dispatch", rc));
        }
        Throwable failure = failures.take();
        if (failure != null) {
            if (rc != CpgHandle.ok()) {
                failure.addSuppressed(new CpgException("cpg_dispatch", rc));
            }
            throw rethrow(failure);
        }
        CpgHandle.check(rc, "cpg_dispatch");
        return callbacksRun;
    }

    /**
     * Runs on a thread with room for libcpg's frame. On a worker
     * ({@code session} not null) events are taken one at a time, so that an
     * abandoned hand-off stops between two events instead of dropping the rest.
     */
    private int dispatchNative(DispatchMode mode, Handoff session) {
        nativeLock.lock();
        try {
            return dispatchNativeLocked(mode, session);
        } finally {
            nativeLock.unlock();
        }
    }

    private int dispatchNativeLocked(DispatchMode mode, Handoff session) {
        int ok = CpgHandle.ok();
        switch (mode) {
            case ALL:
                return dispatchWaiting(session);
            case ONE_NONBLOCKING: {
                int rc = handle.dispatchOne();
                return rc == CpgHandle.tryAgain() ? ok : rc;
            }
            case ONE:
                // libcpg's own ONE and BLOCKING wait inside libqb, where close
                // cannot reach them; wait here, where the eventfd can. An
                // event may run no callback (a fragment of a large message):
                // wait on until one has run.
                while (awaitEvent(session)) {
                    int rc = handle.dispatchOne();
                    if (rc == CpgHandle.tryAgain()) {
                        continue;
                    }
                    if (rc != ok || callbacksRun > 0) {
                        return rc;
                    }
                }
                return ok;
            case BLOCKING:
                while (awaitEvent(session)) {
                    int rc = dispatchWaiting(session);
                    if (rc != ok || failures.any()) {
                        return rc;
                    }
                }
                return ok;
            default:
                throw new AssertionError(mode);
        }
    }

    private int dispatchWaiting(Handoff session) {
        SerialExecutor queue = serial;
        if (session == null && queue == null) {
            return handle.dispatchAll();
        }
        if (session == null) {
            // An event loop with an executor: read no further than the backlog limit.
            while (!handle.isClosed() && queue.waiting() < EventLoop.MAX_WAITING) {
                int rc = handle.dispatchOne();
                if (rc != CpgHandle.ok()) {
                    return rc == CpgHandle.tryAgain() ? CpgHandle.ok() : rc;
                }
            }
            return CpgHandle.ok();
        }
        while (!session.abandoned() && !handle.isClosed()) {
            int rc = handle.dispatchOne();
            if (rc != CpgHandle.ok()) {
                return rc == CpgHandle.tryAgain() ? CpgHandle.ok() : rc;
            }
        }
        return CpgHandle.ok();
    }

    /** Waits until libcpg's fd is readable (true), or the connection is closed or the caller gone (false). */
    private boolean awaitEvent(Handoff session) {
        while (!handle.isClosed() && (session == null || !session.abandoned())) {
            pollFds.set(JAVA_SHORT, 6, (short) 0);
            pollFds.set(JAVA_SHORT, POLLFD_SIZE + 6, (short) 0);
            // A worker wakes now and then to see whether its caller is still there.
            Libc.poll(pollFds, 2, session == null ? -1 : (int) (Handoff.PARK_NANOS / 1_000_000), pollErrno);
            if (pollFds.get(JAVA_SHORT, POLLFD_SIZE + 6) != 0) {
                if (handle.isClosed()) {
                    return false;
                }
                // Not closed: a stale wake-up, or an abandoned hand-off; the loop checks.
                Libc.drain(wakeFd, pollErrno);
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

    // ---- upcalls: on the thread that runs cpg_dispatch -------------------------

    @Override
    public void deliver(long group, int nodeId, int pid, long message, long length) {
        Handoff worker = session;
        if (worker == null || !worker.isWorker()) {
            onMessage(deliveredGroup(group), nodeId, pid, message, length);
            return;
        }
        GroupName name = deliveredGroup(group);
        Handoff.Outcome outcome = worker.runOnCaller(() -> onMessage(name, nodeId, pid, message, length));
        if (outcome == Handoff.Outcome.NOT_RUN) {
            // libcpg frees its buffer when this upcall returns: keep a copy for the next dispatch.
            byte[] copy = Marshal.bytesAt(message, length);
            keep(() -> {
                try (Arena memory = Arena.ofConfined()) {
                    MemorySegment kept = memory.allocateFrom(JAVA_BYTE, copy);
                    onMessage(name, nodeId, pid, kept.address(), kept.byteSize());
                }
            });
        } else if (outcome == Handoff.Outcome.CUT_SHORT) {
            cutShort();
        }
    }

    @Override
    public void confchg(MemorySegment group, MemorySegment members, long memberCount,
                        MemorySegment left, long leftCount, MemorySegment joined, long joinedCount) {
        MembershipChange change = new MembershipChange(Marshal.readName(group),
                Marshal.readMembers(members, memberCount), Marshal.readMembers(left, leftCount),
                Marshal.readMembers(joined, joinedCount));
        notify(() -> onOther(change));
    }

    @Override
    public void totemConfchg(MemorySegment ringId, int memberCount, MemorySegment members) {
        // The ring id arrives by value, in memory of this upcall's frame: read it before any hand-off.
        MemorySegment ring = ringId.reinterpret(cpg_ring_id.sizeof());
        RingId id = new RingId(Integer.toUnsignedLong(cpg_ring_id.nodeid(ring)), cpg_ring_id.seq(ring));
        TotemChange change = new TotemChange(id, Marshal.readNodeIds(members, memberCount));
        notify(() -> onOther(change));
    }

    /** Runs a callback whose event is already decoded: here, or on the caller of a hand-off. */
    private void notify(Runnable callback) {
        Handoff worker = session;
        if (worker == null || !worker.isWorker()) {
            callback.run();
            return;
        }
        Handoff.Outcome outcome = worker.runOnCaller(callback);
        if (outcome == Handoff.Outcome.NOT_RUN) {
            keep(callback);
        } else if (outcome == Handoff.Outcome.CUT_SHORT) {
            cutShort();
        }
    }

    /** An event taken from libcpg whose caller left before it could run: the next dispatch delivers it first. */
    private void keep(Runnable callback) {
        pending.add(callback);
    }

    private void cutShort() {
        LOG.log(System.Logger.Level.WARNING, name + ": the thread that called dispatch failed (e.g. StackOverflowError)"
                + " while a callback ran; that event counts as delivered");
    }

    /** Delivers events kept from an abandoned hand-off; at most one for the ONE modes. Returns how many. */
    private int deliverPending(DispatchMode mode) {
        int delivered = 0;
        Runnable callback;
        while ((callback = pending.poll()) != null) {
            callback.run();
            delivered++;
            if (mode == DispatchMode.ONE || mode == DispatchMode.ONE_NONBLOCKING) {
                break;
            }
        }
        return delivered;
    }

    @Override
    public void failed(Throwable failure) {
        failures.record(failure);
    }

    // ---- callbacks: on the thread that called dispatch ----------------------------

    /** The sink that hands events to the listener, or null if closed (events not yet delivered are dropped). */
    private EventSink target() {
        if (handle.isClosed()) {
            return null;
        }
        EventSink c = sink.get();
        if (c != null) {
            callbacksRun++;
        }
        return c;
    }

    /** The payload is {@code length} bytes at {@code address}, valid until this method returns. */
    private void onMessage(GroupName group, int nodeId, int pid, long address, long length) {
        EventSink c = target();
        if (c == null) {
            return;
        }
        SerialExecutor queue = serial;
        if (queue != null) {
            // The view dies with this upcall: an executor gets a read-only copy. Counted when it runs.
            Message copy = new Message(group, Integer.toUnsignedLong(nodeId), pid,
                    MemorySegment.ofArray(Marshal.bytesAt(address, length)).asReadOnly());
            queue.execute(new Queued(c, copy));
            return;
        }
        counters.messagesDelivered++;
        counters.bytesDelivered += length;
        // Small and free of escapes, so that the JIT can drop the arena, the view and the Message
        // when the listener keeps none of them: a delivery then allocates nothing.
        try (Arena view = Arena.ofConfined()) {
            callHere(c, new Message(group, Integer.toUnsignedLong(nodeId), pid,
                    MemorySegment.ofAddress(address).reinterpret(length, view, null).asReadOnly()));
        }
    }

    /** A non-message event, during a dispatch: on this thread, or queued for the executor. */
    private void onOther(CpgEvent event) {
        EventSink c = target();
        if (c == null) {
            return;
        }
        SerialExecutor queue = serial;
        if (queue != null) {
            queue.execute(new Queued(c, event));
            return;
        }
        counters.otherEvents++;
        callHere(c, event);
    }

    /**
     * Runs a callback on the dispatching thread; what it throws is thrown
     * from dispatch, or given to the error handler of the event loop that dispatches.
     */
    private void callHere(EventSink c, CpgEvent event) {
        long start = System.nanoTime();
        try {
            c.deliver(event);
        } catch (Throwable t) {
            counters.callbackFailures++;
            if (reportEach) {
                report(c, t);
            } else {
                failures.record(t);
            }
        } finally {
            counters.callbackNanos += System.nanoTime() - start;
        }
    }

    /**
     * An event of the event loop itself ({@link ConnectionLost}, {@link Reconnected}),
     * outside any dispatch: on the loop thread, or queued for the executor.
     * What the callback throws goes to the loop's error handler.
     */
    public void emitFromLoop(CpgEvent event) {
        EventSink c = sink.get();
        if (c == null) {
            return;
        }
        SerialExecutor queue = serial;
        if (queue != null) {
            queue.execute(new Queued(c, event));
        } else {
            runQueued(c, event);
        }
    }

    /**
     * An event waiting for the event loop's executor. If the executor refuses
     * to run it (shut down, saturated), the error handler is told, one report
     * per event: an accepted event is never lost without a word.
     */
    private final class Queued implements SerialExecutor.Task {
        private final EventSink sink;
        private final CpgEvent event;

        Queued(EventSink sink, CpgEvent event) {
            this.sink = sink;
            this.event = event;
        }

        @Override
        public void run() {
            runQueued(sink, event);
        }

        @Override
        public void refused(RuntimeException why) {
            if (handle.isClosedByUser()) {
                return;
            }
            String what = event instanceof Message m ? "a message of " + m.payload().byteSize() + " bytes from node "
                    + m.nodeId() + " pid " + m.pid() : event.toString();
            report(sink, new RejectedExecutionException(
                    name + ": the event loop's executor refused the callback; not delivered: " + what, why));
        }
    }

    /**
     * Runs a callback outside a dispatch (on an executor, or an event of the
     * loop); failures go to the handler. Counts the event as delivered: the
     * statistics count what reached the listener.
     */
    private void runQueued(EventSink c, CpgEvent event) {
        if (handle.isClosedByUser()) {
            return;
        }
        if (event instanceof Message message) {
            counters.messagesDelivered++;
            counters.bytesDelivered += message.payload().byteSize();
        } else {
            counters.otherEvents++;
        }
        long start = System.nanoTime();
        try {
            c.deliver(event);
        } catch (Throwable t) {
            counters.callbackFailures++;
            report(c, t);
        } finally {
            counters.callbackNanos += System.nanoTime() - start;
        }
    }

    /** Hands a callback failure to the loop's error handler; never throws. */
    void report(EventSink c, Throwable failure) {
        BiConsumer<EventSink, Throwable> handler = errorHandler;
        try {
            if (handler != null) {
                handler.accept(c, failure);
                return;
            }
        } catch (Throwable t) {
            failure.addSuppressed(t);
        }
        LOG.log(System.Logger.Level.ERROR, "a callback of " + name + " threw", failure);
    }

    /**
     * Joins the group: the one join path, for a connection's join and an
     * event loop's reconnect. It first primes the delivered-group cache, so
     * the first message finds the name already decoded: a first delivery that
     * missed the cache would take a branch that the JIT, compiling for
     * earlier connections, left out, and the compiled delivery path would be
     * thrown away and compiled again.
     */
    public void join(GroupName group) {
        lastGroup = group;
        handle.join(group);
    }

    /** A connection receives one group's messages: reuse its name rather than decode it per message. */
    private GroupName deliveredGroup(long nativeName) {
        GroupName cached = lastGroup;
        if (cached != null && Marshal.nameEquals(nativeName, cached)) {
            return cached;
        }
        GroupName decoded = Marshal.readName(nativeName);
        lastGroup = decoded;
        return decoded;
    }
}
