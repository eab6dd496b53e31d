package org.jcpg;

import java.lang.System.Logger.Level;
import java.lang.ref.Cleaner;
import java.time.Duration;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.WeakHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;
import org.jcpg.internal.EventLoop;
import org.jcpg.internal.ReconnectPolicy;

/**
 * Dispatches any number of connections on a thread of its own, so that an
 * application need not write a dispatch loop.
 *
 * <pre>{@code
 * try (CpgEventLoop loop = CpgEventLoop.start();
 *      CpgConnection cpg = loop.open(listener)) {
 *     cpg.join(GroupName.of("orders"));
 *     cpg.multicast(Guarantee.AGREED, Duration.ofSeconds(1), payload);
 *     ...
 * }
 * }</pre>
 *
 * <h2>Threads</h2>
 * The loop's thread is a platform thread with a 4 MiB stack
 * ({@link CpgConnection#DISPATCH_STACK_SIZE}): libcpg's dispatch runs on it
 * directly, with no hand-off, and it wakes only when a connection has
 * events or is closed. By default the callbacks run on that thread, one at
 * a time, with payloads that are views valid during the callback, as with
 * {@link CpgConnection#dispatch}. With {@link Builder#executor} they run on
 * the executor (virtual threads welcome) instead, still one at a time and in
 * order per connection; a message's payload is then a read-only copy on the
 * heap, valid as long as it is kept. A connection whose callbacks fall
 * 10,000 events behind is not read until they catch up: the daemon holds
 * the backlog, and senders see TRY_AGAIN rather than this JVM's heap filling.
 *
 * <p>Connections opened here are dispatched by the loop only: their
 * {@code dispatch} throws {@link IllegalStateException} (it would compete
 * with the loop). A callback must not block
 * for long on the loop thread: every connection of the loop waits for it.
 *
 * <h2>Failures</h2>
 * What a callback throws goes to the {@link Builder#errorHandler} (by
 * default the {@code System.Logger} "org.jcpg.CpgEventLoop", at ERROR) and
 * never stops the loop. When the daemon connection breaks (corosync died or
 * restarted) the loop reports {@link ConnectionLost} once to that
 * connection's listener, stops reading it, and its calls throw
 * {@link CpgException}; {@link CpgConnection#isLost()} tells. With
 * {@link Builder#reconnect} the loop then connects again with growing pauses
 * until the daemon answers, joins the group again and reports
 * {@link Reconnected}; without, the connection stays lost until closed.
 *
 * <p>An {@link Builder#executor} that refuses a callback (it throws, as a
 * shut-down or saturated executor does) loses no event silently: each event
 * that could not be handed over goes to the error handler instead, as a
 * {@link java.util.concurrent.RejectedExecutionException} naming it, one
 * report per event, and is not delivered. The next event asks the executor
 * again, so a saturated executor loses only what it refused, and the rest
 * arrives in order. An executor that accepted a task and then discarded it
 * ({@code shutdownNow}) is noticed once it has terminated: what waited is
 * reported the same way. {@link CpgConnection#statistics()} counts only the
 * events the listener got.
 *
 * <h2>Closing</h2>
 * {@link #close()} closes every connection opened here, stops the thread and
 * returns once no callback runs any more (except the one that called it, if
 * any): none runs after it returns.
 *
 * <p>A loop that becomes unreachable without {@code close()} is closed by
 * the thread "jcpg-loop-cleaner", which logs a WARNING. The connections it
 * dispatched are closed with it, so that one the application still holds
 * fails clearly rather than silently getting no more events: its
 * {@link CpgConnection#isClosed()} returns true and its calls throw
 * {@link IllegalStateException}, as after its own close. One that was lost
 * and waiting for a reconnect then stays lost.
 */
public final class CpgEventLoop implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("org.jcpg.CpgEventLoop");
    private static final AtomicInteger SERIAL = new AtomicInteger();

    private final String name;
    private final EventLoop loop;
    // Weak: a connection dropped without close is still reclaimed (see CpgConnection).
    private final Map<CpgConnection, Boolean> connections = Collections.synchronizedMap(new WeakHashMap<>());
    private final Cleaner.Cleanable cleanable;

    private static final Cleaner CLEANER = Cleaner.create(
            task -> Thread.ofPlatform().daemon().name("jcpg-loop-cleaner").unstarted(task));

    /**
     * The safety net of a loop dropped without close(): stops its thread and
     * its reconnect thread, and closes the connections it dispatched (which
     * the application may still hold). It must not reach the facade, and neither may the
     * loop thread (it holds the connections only through weak references):
     * otherwise the loop's own thread would keep it reachable forever.
     */
    private record Reclaim(String name, EventLoop loop, AtomicBoolean closed) implements Runnable {
        @Override
        public void run() {
            if (closed.get()) {
                loop.close();
                return;
            }
            LOG.log(Level.WARNING, "CpgEventLoop " + name + " became unreachable without close(); closing it"
                    + " and the connections it dispatched");
            loop.abandon();
        }
    }

    /** Set by {@link #close()}; shared with the cleaner's action, which must not reach this object. */
    private final AtomicBoolean closed = new AtomicBoolean();

    private CpgEventLoop(Builder builder) {
        this.name = builder.name != null ? builder.name : "jcpg-loop-" + SERIAL.incrementAndGet();
        BiConsumer<CpgConnection, Throwable> handler = builder.errorHandler != null ? builder.errorHandler
                : (connection, failure) -> LOG.log(Level.ERROR, "a callback of " + connection + " threw", failure);
        // The internal loop names sinks, not connections: the handler gets the sink's connection.
        ReconnectPolicy reconnect = builder.reconnectFirst == null ? null
                : ReconnectPolicy.of(builder.reconnectFirst, builder.reconnectMax);
        this.loop = new EventLoop(name, builder.executor,
                (sink, failure) -> handler.accept(CpgConnection.of(sink), failure), reconnect);
        cleanable = CLEANER.register(this, new Reclaim(name, loop, closed));
    }

    /** {@return a started loop with the defaults} Callbacks on its thread, errors logged, no reconnect. */
    public static CpgEventLoop start() {
        return builder().start();
    }

    /** {@return a builder of a loop with other options than the defaults of {@link #start()}} */
    public static Builder builder() {
        return new Builder();
    }

    /** The options of a loop. */
    public static final class Builder {
        private String name;
        private Executor executor;
        private BiConsumer<CpgConnection, Throwable> errorHandler;
        private Duration reconnectFirst;
        private Duration reconnectMax;

        private Builder() {
        }

        /**
         * The loop thread's name (default "jcpg-loop-N").
         *
         * @param name the thread's name
         * @return this builder
         */
        public Builder name(String name) {
            this.name = Objects.requireNonNull(name, "name");
            return this;
        }

        /**
         * Runs the callbacks on {@code executor} instead of the loop thread:
         * per connection one at a time and in order; message payloads are
         * read-only heap copies. An event the executor refuses is reported to
         * the {@link #errorHandler} and not delivered (see "Failures" above).
         *
         * @param executor runs the callbacks
         * @return this builder
         */
        public Builder executor(Executor executor) {
            this.executor = Objects.requireNonNull(executor, "executor");
            return this;
        }

        /**
         * Receives what callbacks throw (default: logged at ERROR); it must not throw itself.
         *
         * @param errorHandler gets the connection and what its callback threw
         * @return this builder
         */
        public Builder errorHandler(BiConsumer<CpgConnection, Throwable> errorHandler) {
            this.errorHandler = Objects.requireNonNull(errorHandler, "errorHandler");
            return this;
        }

        /**
         * Reconnects lost connections: the first attempt after
         * {@code firstPause}, then with the pause doubled each time up to
         * {@code maxPause}, until the daemon answers; then joins the group
         * again and reports {@link Reconnected}. Off by default.
         *
         * <p>Every pause that passes the check below is valid: a pause longer
         * than 365 days is taken as 365 days, so that even
         * {@code Duration.ofSeconds(Long.MAX_VALUE)} keeps attempts coming
         * (doubling up to a year, then yearly) rather than overflowing.
         *
         * @param firstPause the pause before the first attempt, positive
         * @param maxPause   the longest pause, at least {@code firstPause}
         * @return this builder
         * @throws IllegalArgumentException if the pauses are not so
         */
        public Builder reconnect(Duration firstPause, Duration maxPause) {
            if (firstPause.isNegative() || firstPause.isZero() || maxPause.compareTo(firstPause) < 0) {
                throw new IllegalArgumentException("pauses must be positive, the first no longer than the longest: "
                        + firstPause + ", " + maxPause);
            }
            this.reconnectFirst = firstPause;
            this.reconnectMax = maxPause;
            return this;
        }

        /** {@return the loop, its thread started} */
        public CpgEventLoop start() {
            return new CpgEventLoop(this);
        }
    }

    /**
     * Connects with model V1, like {@link CpgConnection#open}, and dispatches
     * the new connection on this loop.
     *
     * @param listener receives the events, on the loop's thread or its executor
     * @param flags    options, as for {@link CpgConnection#open}
     * @return the open connection, in no group yet
     * @throws IllegalStateException if the loop is closed
     * @throws CpgException          if corosync refuses
     */
    public CpgConnection open(CpgListener listener, ModelFlag... flags) {
        int bits = 0;
        for (ModelFlag flag : Objects.requireNonNull(flags, "flags")) {
            bits |= Objects.requireNonNull(flag, "flag").bit();
        }
        return adopt(new CpgConnection(listener, false, bits));
    }

    /**
     * Connects with the original API, like {@link CpgConnection#openLegacy}, dispatched on this loop.
     *
     * @param listener receives the events, on the loop's thread or its executor
     * @return the open connection, in no group yet
     * @throws IllegalStateException if the loop is closed
     * @throws CpgException          if corosync refuses
     */
    public CpgConnection openLegacy(CpgListener listener) {
        return adopt(new CpgConnection(listener, true, 0));
    }

    private CpgConnection adopt(CpgConnection connection) {
        if (closed.get()) {
            connection.close();
            throw new IllegalStateException(name + " is closed");
        }
        connections.put(connection, Boolean.TRUE);
        CpgConnection.Core core = connection.core();
        try {
            loop.register(core.dispatcher(), connection.reconnectable());
        } catch (RuntimeException e) {
            connection.close();
            throw e;
        }
        return connection;
    }

    /**
     * Closes every connection opened here and stops the loop. Returns once no
     * callback runs (apart from the one calling this, if any); none runs
     * after. Idempotent.
     */
    @Override
    public void close() {
        closed.set(true);
        List<CpgConnection> open;
        synchronized (connections) {
            open = List.copyOf(connections.keySet());
            connections.clear();
        }
        for (CpgConnection connection : open) {
            connection.close();
        }
        cleanable.clean();
        for (CpgConnection connection : open) {
            connection.core().dispatcher().stopCallbacks();
        }
    }

    /** {@return whether {@link #close()} was called} */
    public boolean isClosed() {
        return closed.get();
    }

    @Override
    public String toString() {
        return name + (closed.get() ? "[closed]" : "");
    }
}
