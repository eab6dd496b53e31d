package org.jcpg;

import java.lang.foreign.MemorySegment;
import java.lang.ref.Cleaner;
import java.lang.ref.Reference;
import java.lang.reflect.UndeclaredThrowableException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Objects;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.jcpg.internal.Counters;
import org.jcpg.internal.CpgHandle;
import org.jcpg.internal.DispatchStack;
import org.jcpg.internal.Dispatcher;
import org.jcpg.internal.EventSink;
import org.jcpg.internal.Reconnectable;

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
 * about 1 MiB of native stack <em>left</em> at the call, plus room for the
 * callbacks on top of it: more than a Java thread has by default. Where the
 * calling platform thread has at least 1.5 MiB of stack left (e.g. near the
 * top of a thread made with
 * {@code Thread.ofPlatform().stackSize(CpgConnection.DISPATCH_STACK_SIZE)})
 * the native dispatch runs right there; otherwise (including {@code main},
 * default threads, deep call stacks, a callback dispatching another
 * connection, and virtual threads) it runs on a jcpg worker thread while
 * the caller waits, and each callback is still run on the caller's thread.
 * Both are safe; the first saves two thread switches per event. jcpg reads
 * the stack pointer on x86-64 only; elsewhere it always uses a worker.
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
     * The stack size, in bytes, of a thread on which dispatch can run inline
     * (4 MiB), and of jcpg's own dispatch workers. libcpg's dispatch frame
     * alone is just over 1 MiB.
     */
    public static final long DISPATCH_STACK_SIZE = DispatchStack.THREAD_BYTES;

    private static final System.Logger LOG = System.getLogger("org.jcpg.CpgConnection");
    private static final AtomicLong SERIAL = new AtomicLong();
    private static final Cleaner CLEANER = Cleaner.create(
            task -> Thread.ofPlatform().daemon().name("jcpg-cleaner").unstarted(task));

    /** The native side of the connection: replaced only when an event loop reconnects it. */
    record Core(CpgHandle handle, Dispatcher dispatcher) {
        void join(GroupName group) {
            dispatcher.join(group);
        }
    }

    private final String name;
    private final CpgListener listener;
    // The dispatchers hold it weakly: it lives as long as this connection.
    private final ListenerSink sink = new ListenerSink();
    // An event loop holds it weakly: it lives as long as this connection.
    private final Redial redial = new Redial();
    private final boolean legacy;
    private final int flags;
    private final Counters counters = new Counters();
    private final AtomicReference<Core> core;
    private volatile boolean closed;
    private volatile Object context;

    CpgConnection(CpgListener listener, boolean legacy, int flags) {
        this.listener = Objects.requireNonNull(listener, "listener");
        this.legacy = legacy;
        this.flags = flags;
        CpgHandle.requireLibrary();
        this.name = "CpgConnection#" + SERIAL.incrementAndGet();
        this.core = new AtomicReference<>(connect());
        CLEANER.register(this, new Reclaim(name, core));
    }

    /** Opens a new handle for this connection (not joined). */
    Core connect() {
        Dispatcher dispatcher = new Dispatcher(name, sink, counters);
        CpgHandle handle;
        try {
            handle = CpgHandle.open(name, dispatcher, legacy, flags, dispatcher::wake, dispatcher::free, counters);
        } catch (Throwable t) {
            dispatcher.free();
            throw t;
        }
        dispatcher.attach(handle);
        return new Core(handle, dispatcher);
    }

    Core core() {
        return core.get();
    }

    /** Hands the dispatcher's events to the listener, with this connection. */
    final class ListenerSink implements EventSink {
        @Override
        public void deliver(CpgEvent event) {
            listener.onEvent(CpgConnection.this, event);
        }

        CpgConnection connection() {
            return CpgConnection.this;
        }
    }

    /** The connection whose sink this is (the internal layer names sinks, not connections). */
    static CpgConnection of(EventSink sink) {
        return sink == null ? null : ((ListenerSink) sink).connection();
    }

    Reconnectable reconnectable() {
        return redial;
    }

    /** What an event loop's reconnect needs of this connection. */
    private final class Redial implements Reconnectable {
        @Override
        public boolean isClosed() {
            return closed;
        }

        @Override
        public Dispatcher redial() {
            return connect().dispatcher();
        }

        @Override
        public boolean replace(Dispatcher lost, Dispatcher fresh) {
            Core current = core.get();
            if (current.dispatcher() != lost || !core.compareAndSet(current, new Core(fresh.handle(), fresh))) {
                fresh.handle().close();
                return false;
            }
            // close() sets the flag before it reads the core: one of us closes the new one.
            if (closed) {
                fresh.handle().close();
                return false;
            }
            return true;
        }
    }

    String name() {
        return name;
    }

    /** Closes a connection that became unreachable while open. Holds no reference to it. */
    private record Reclaim(String name, AtomicReference<Core> core) implements Runnable {
        @Override
        public void run() {
            CpgHandle handle = core.get().handle();
            if (!handle.isClosedByUser()) {
                LOG.log(System.Logger.Level.WARNING, name + " became unreachable without close(): closing it now");
                handle.close();
            }
        }
    }

    /**
     * Connects with model V1 ({@code cpg_model_initialize}): messages,
     * membership changes and totem ring changes.
     *
     * @param listener receives the events, during {@link #dispatch}
     * @param flags    options; with none, the first totem change comes only when the ring changes
     * @return the open connection, in no group yet
     * @throws CpgException         if corosync refuses, e.g. {@link CpgError#LIBRARY} when no corosync
     *                              runs (in this network namespace)
     * @throws UnsatisfiedLinkError if libcpg.so.4 (package libcpg4) cannot be loaded; thrown
     *                              again by every later attempt
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
     * @param listener receives the events, during {@link #dispatch}
     * @return the open connection, in no group yet
     * @throws CpgException         if corosync refuses
     * @throws UnsatisfiedLinkError if libcpg.so.4 cannot be loaded
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
     * @param group the group to join
     * @throws IllegalStateException if closed, in a group, or it has left one
     * @throws CpgException          e.g. {@link CpgError#TRY_AGAIN} while the daemon synchronizes
     */
    public void join(GroupName group) {
        core().join(Objects.requireNonNull(group, "group"));
    }

    /**
     * Leaves the group joined with {@link #join}. The connection stays open
     * but cannot join again. corosync 3.1.7 to 3.1.10 keep delivering the
     * left group's messages and membership changes to this connection until
     * it is closed (their bookkeeping of left groups is wrong): a listener
     * that must not see them can ignore events after {@code leave()}, or close
     * the connection instead of leaving.
     *
     * @throws IllegalStateException if closed or not in a group
     */
    public void leave() {
        core().handle().leave();
    }

    /** {@return the group this connection is in, or null} */
    public GroupName group() {
        checkOpen();
        return core().handle().group();
    }

    /**
     * The current members of a group, as the local daemon knows them
     * ({@code cpg_membership_get}), each with reason {@link Reason#UNDEFINED}.
     * Any group can be asked, joined or not; an unknown group has no members.
     *
     * @param group the group to ask about
     * @return its members; empty if it has none
     */
    public List<Member> membership(GroupName group) {
        return core().handle().membership(Objects.requireNonNull(group, "group"));
    }

    /** {@return the names of all groups that have members anywhere in the cluster} (iteration NAME_ONLY) */
    public List<GroupName> groups() {
        return core().handle().groups();
    }

    /**
     * Every process of one group, cluster-wide (iteration ONE_GROUP).
     *
     * @param group the group to ask about
     * @return its members; empty if it has none
     */
    public List<GroupMember> members(GroupName group) {
        return core().handle().members(Objects.requireNonNull(group, "group"));
    }

    /**
     * Every process of every group, cluster-wide (iteration ALL).
     *
     * <p>This and {@link #groups()} and {@link #members(GroupName)} read the
     * whole iteration and finalize it before returning: the lists are
     * snapshots, and no native iteration is ever left open, however the
     * caller uses the result.
     *
     * @return every member of every group
     */
    public List<GroupMember> members() {
        return core().handle().members();
    }

    // ---- sending ----------------------------------------------------------

    /**
     * Sends a message to the group. Equivalent to
     * {@code multicast(guarantee, MemorySegment.ofArray(message))}.
     *
     * @param guarantee the delivery order
     * @param message   the payload
     */
    public void multicast(Guarantee guarantee, byte[] message) {
        if (!tryMulticast(guarantee, message)) {
            throw new CpgException("cpg_mcast_joined", CpgHandle.tryAgain());
        }
    }

    /**
     * Sends the remaining bytes of the buffers, in order, as one message
     * (a gather). On success each buffer's position is advanced to its limit.
     *
     * @param guarantee the delivery order
     * @param parts     the payload, in order
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
     * another thread could free meanwhile, and mapped segments, whose file
     * could shrink under libcpg) are copied first. libcpg accepts at most 63
     * parts per call; more are gathered into one buffer here. Messages
     * longer than {@link #maxAtomicMessageSize()} are fragmented by libcpg
     * and delivered whole; such a send waits for the daemon's answer to each
     * fragment, and when the daemon pushes back libcpg sleeps 10 ms and
     * retries, up to 100 times per fragment, before it gives up with
     * TRY_AGAIN: count on milliseconds per MiB, seconds under load, during
     * which this connection's other requests wait. If a configuration change
     * interrupts it ({@link CpgError#INTERRUPT}, retryable) the receivers drop
     * the part they got: send it again.
     *
     * @param guarantee the delivery order
     * @param parts     the payload, in order
     * @throws IllegalStateException if closed or not in a group (corosync would accept the
     *                               message and silently drop it), if a segment's arena is
     *                               closed, or if a mapped segment's file shrank
     * @throws CpgException          {@link CpgError#TRY_AGAIN} when the daemon's queue is full
     *                               (dispatch, then retry), {@link CpgError#INTERRUPT} when a
     *                               configuration change broke a fragmented send
     */
    public void multicast(Guarantee guarantee, MemorySegment... parts) {
        if (!tryMulticast(guarantee, parts)) {
            throw new CpgException("cpg_mcast_joined", CpgHandle.tryAgain());
        }
    }

    /**
     * Like {@link #multicast(Guarantee, MemorySegment...)}, but when the
     * daemon's queue is full (TRY_AGAIN) returns false instead of throwing,
     * without allocating: for send loops that have something else to do
     * meanwhile. Counted in {@link CpgStatistics#sendsRefused()}.
     *
     * @param guarantee the delivery order
     * @param parts     the payload, in order
     * @return true if sent, false if the daemon asks to try again later
     */
    public boolean tryMulticast(Guarantee guarantee, MemorySegment... parts) {
        Objects.requireNonNull(guarantee, "guarantee");
        Objects.requireNonNull(parts, "parts");
        long total = 0;
        for (MemorySegment part : parts) {
            total = Math.addExact(total, Objects.requireNonNull(part, "part").byteSize());
        }
        return core().handle().multicast(guarantee.code(), parts, total);
    }

    /**
     * {@link #tryMulticast(Guarantee, MemorySegment...)} of one segment, without a varargs array.
     *
     * @param guarantee the delivery order
     * @param message   the payload
     * @return true if sent, false if the daemon asks to try again later
     */
    public boolean tryMulticast(Guarantee guarantee, MemorySegment message) {
        Objects.requireNonNull(guarantee, "guarantee");
        return core().handle().multicast(guarantee.code(), Objects.requireNonNull(message, "message"));
    }

    /**
     * {@link #tryMulticast(Guarantee, MemorySegment)} of a byte array.
     *
     * @param guarantee the delivery order
     * @param message   the payload
     * @return true if sent, false if the daemon asks to try again later
     */
    public boolean tryMulticast(Guarantee guarantee, byte[] message) {
        Objects.requireNonNull(guarantee, "guarantee");
        return core().handle().multicast(guarantee.code(), Objects.requireNonNull(message, "message"));
    }

    /**
     * Sends like {@link #multicast(Guarantee, MemorySegment...)}, waiting up
     * to {@code timeout} while the daemon's queue is full: it retries after
     * pauses that start at 20 microseconds and double up to 1 ms, so that it
     * neither spins a core nor sleeps long past the moment the daemon has
     * room. The retries count in {@link CpgStatistics#sendsRefused()}.
     * Events keep arriving meanwhile, so something must dispatch them (an
     * event loop, or another thread): do not call this from a callback of an
     * event loop that has no executor, whose thread would then wait instead
     * of dispatching.
     *
     * <p>Every timeout is valid: zero or negative (down to
     * {@code Duration.ofSeconds(Long.MIN_VALUE)}) tries once, like
     * {@link #multicast(Guarantee, MemorySegment...)}; one longer than 365
     * days waits at most 365 days (so {@code Duration.ofSeconds(Long.MAX_VALUE)}
     * means "until sent", for any practical purpose).
     *
     * <p>An interrupt ends the wait at once, as if the timeout had run out:
     * the call throws {@link CpgError#TRY_AGAIN} (the message was not sent)
     * with an {@link InterruptedException} attached as suppressed, and the
     * thread's interrupt status stays set. A thread interrupted before the
     * call tries once, as with a zero timeout (and if refused, throws the same).
     *
     * @param guarantee the delivery order
     * @param timeout   how long to retry while the daemon refuses
     * @param parts     the payload, in order
     * @throws CpgException {@link CpgError#TRY_AGAIN} if the daemon still refused at the
     *                      timeout, or when the thread was interrupted
     */
    public void multicast(Guarantee guarantee, Duration timeout, MemorySegment... parts) {
        long wait = retryNanos(Objects.requireNonNull(timeout, "timeout"));
        long deadline = System.nanoTime() + wait;
        long pause = 20_000;
        while (!tryMulticast(guarantee, parts)) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new CpgException("cpg_mcast_joined", CpgHandle.tryAgain());
            }
            if (Thread.currentThread().isInterrupted()) {
                // parkNanos would return at once, again and again: give up, keeping the flag.
                CpgException refused = new CpgException("cpg_mcast_joined", CpgHandle.tryAgain());
                refused.addSuppressed(new InterruptedException("interrupted while the daemon's queue was full"));
                throw refused;
            }
            LockSupport.parkNanos(Math.min(pause, left));
            pause = Math.min(pause * 2, 1_000_000);
        }
    }

    /** How long a timed send retries: 0 for zero or negative, at most 365 days (never overflowing). */
    static long retryNanos(Duration timeout) {
        if (timeout.isNegative() || timeout.isZero()) {
            return 0;
        }
        Duration longest = Duration.ofDays(365);
        return (timeout.compareTo(longest) > 0 ? longest : timeout).toNanos();
    }

    /**
     * Allocates a zero-copy buffer ({@code cpg_zcb_alloc}): memory that the
     * caller fills in place and sends with {@link ZeroCopyBuffer#multicast}.
     * Buffers still open when the connection closes are freed with it.
     *
     * @param size bytes, 1 to {@link #maxAtomicMessageSize()}: corosync delivers no larger
     *             zero-copy message (it accepts some and drops them silently), and libcpg
     *             aborts the process on absurd sizes
     * @return the buffer, to fill through {@link ZeroCopyBuffer#segment()}
     * @throws IllegalArgumentException if {@code size} is outside that range
     * @throws IllegalStateException    if closed
     */
    public ZeroCopyBuffer allocateZeroCopy(long size) {
        return new ZeroCopyBuffer(core().handle().allocateZeroCopy(size));
    }

    // ---- dispatch ---------------------------------------------------------

    /**
     * Delivers waiting events to the listener, on this thread.
     *
     * <ul>
     * <li>{@link DispatchMode#ALL}: every event already waiting; never waits.
     * <li>{@link DispatchMode#ONE_NONBLOCKING}: one waiting event, if any.
     * <li>{@link DispatchMode#ONE}: waits until one callback has run (a
     *     fragment of a large message runs none).
     * <li>{@link DispatchMode#BLOCKING}: delivers events as they come until the
     *     connection is closed (from a callback or another thread), or until a
     *     callback throws.
     * </ul>
     * A wait also ends, returning normally, when the connection is closed.
     *
     * <p>If callbacks throw, the events already taken from libcpg in this
     * dispatch are still delivered, then the first throwable is rethrown here
     * (a checked one wrapped in {@link UndeclaredThrowableException}), with up
     * to 100 later ones attached as suppressed; the rest, and those that a
     * throwable refusing suppression (the JVM's own StackOverflowError and
     * OutOfMemoryError) cannot take, are logged at WARNING on the
     * {@code System.Logger} "org.jcpg.CpgConnection". So {@code BLOCKING}
     * reports a failing callback at once, ending its loop: call it again to go on.
     * Dispatches of one connection are serialized; calling {@code dispatch}
     * from one of its own callbacks is refused (other connections' are fine).
     *
     * @param mode how many events to deliver, and whether to wait
     * @return how many callbacks were run
     * @throws IllegalStateException if closed, called from a callback of this connection, or
     *                               the connection was opened on a {@link CpgEventLoop} (which
     *                               dispatches it)
     * @throws CpgException          if libcpg fails, e.g. {@link CpgError#LIBRARY} when the
     *                               daemon went away
     */
    public int dispatch(DispatchMode mode) {
        Objects.requireNonNull(mode, "mode");
        try {
            return core().dispatcher().dispatch(mode);
        } finally {
            // The callbacks receive this object through a weak reference.
            Reference.reachabilityFence(this);
        }
    }

    // ---- local queries ----------------------------------------------------

    /** {@return this node's id} ({@code cpg_local_get}), an unsigned 32-bit value. */
    public long localNodeId() {
        return core().handle().localNodeId();
    }

    /** {@return whether the daemon asks senders to hold back} ({@code cpg_flow_control_state_get}) */
    public FlowControlState flowControlState() {
        return core().handle().flowControlEnabled() ? FlowControlState.ENABLED : FlowControlState.DISABLED;
    }

    /**
     * The largest message that goes to the daemon in one piece
     * ({@code cpg_max_atomic_msgsize_get}, read once when connecting;
     * 1,047,552 bytes in corosync 3.1.7). Longer messages are fragmented by
     * libcpg and still delivered whole; zero-copy buffers are at most this big.
     *
     * @return the size in bytes
     */
    public int maxAtomicMessageSize() {
        checkOpen();
        return core().handle().maxAtomicMessageSize();
    }

    /**
     * The file descriptor that becomes readable when events wait
     * ({@code cpg_fd_get}), for an external poll loop that then calls
     * {@code dispatch(DispatchMode.ALL)}. It belongs to libcpg: do not read
     * or close it. It is invalid once the connection is closed.
     *
     * @return the descriptor
     */
    public int fd() {
        checkOpen();
        return core().handle().fd();
    }

    /**
     * The application's object for this connection, or null. libcpg offers a
     * {@code void *} context ({@code cpg_context_get/set}) so that C callbacks
     * can find their state from a handle; a Java reference cannot live in
     * native memory, and every jcpg callback receives its connection anyway,
     * so the context is kept here, on the connection.
     *
     * @return the object last given to {@link #setContext}, or null
     */
    public Object context() {
        checkOpen();
        return context;
    }

    /**
     * Sets the object returned by {@link #context()}.
     *
     * @param context any object, or null
     */
    public void setContext(Object context) {
        checkOpen();
        this.context = context;
    }

    // ---- close ------------------------------------------------------------

    /**
     * Closes the connection ({@code cpg_finalize}); does nothing if already
     * closed. Never waits for the daemon: a dispatch waiting on another
     * thread returns, callbacks not yet run are dropped, and a jcpg thread
     * finalizes the native handle (and frees its zero-copy buffers) as soon
     * as no call uses it, and no NIO operation uses a zero-copy buffer's
     * memory. Members of its group see this process leave with
     * {@link Reason#PROCDOWN}; {@link #leave()} first for {@link Reason#LEAVE}.
     */
    @Override
    public void close() {
        closed = true;
        core().handle().close();
    }

    /**
     * Whether the connection is closed: by {@link #close()}, or with the
     * {@link CpgEventLoop} that dispatched it, when that loop was dropped
     * without being closed and reclaimed.
     *
     * @return true once closed
     */
    public boolean isClosed() {
        return closed || core().handle().isClosedByUser();
    }

    /**
     * Whether the connection to corosync broke (as {@code dispatch} found,
     * throwing {@link CpgError#LIBRARY}, or a {@link CpgEventLoop}, reporting
     * {@link ConnectionLost}) and has not been {@link Reconnected}: calls then
     * throw {@link CpgException}, and the dead handle is freed in the background.
     *
     * @return true while the connection is lost
     */
    public boolean isLost() {
        return !closed && core().handle().lost() != null;
    }

    /** {@return what this connection has sent and delivered so far} */
    public CpgStatistics statistics() {
        return counters.snapshot();
    }

    /** @throws IllegalStateException if closed; {@link CpgException} if lost */
    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException(name + " is closed");
        }
        core().handle().checkOpen();
    }

    @Override
    public String toString() {
        if (isClosed()) {
            return name + "[closed]";
        }
        GroupName group = core().handle().group();
        return name + (isLost() ? "[lost]" : "") + (group == null ? "" : "[" + group + "]");
    }
}
