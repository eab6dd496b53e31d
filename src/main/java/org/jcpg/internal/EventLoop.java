package org.jcpg.internal;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import org.jcpg.ConnectionLost;
import org.jcpg.CpgException;

/**
 * One thread that dispatches many connections: it polls their fds and a
 * wake-up eventfd, and dispatches each connection whose fd is readable,
 * right there (its 4 MiB stack is known to have room). Callbacks run on
 * this thread, or on a {@link SerialExecutor} per connection when the loop
 * has an executor; a connection whose executor falls more than
 * {@link #MAX_WAITING} events behind is not read until it catches up, so
 * that the daemon, not the heap, holds the backlog.
 *
 * <p>A registered connection's handle is leased while registered, so its
 * fd stays valid as long as it is polled; closing the connection wakes the
 * loop, which drops it and ends the lease. A dispatch that fails with a
 * libcpg error means the daemon connection broke: the loop drops the
 * connection, marks its handle lost, reports {@link ConnectionLost} once,
 * and, with a {@link ReconnectPolicy}, hands it to its {@link Reconnector}.
 */
public final class EventLoop {
    /** Events queued for an executor, per connection, before the loop stops reading that connection. */
    public static final int MAX_WAITING = 10_000;

    private static final System.Logger LOG = System.getLogger("org.jcpg.CpgEventLoop");
    private static final long POLLFD = Libc.POLLFD_SIZE;

    /** A registered connection, seen only by the loop thread. */
    private record Entry(Dispatcher dispatcher, Consumer<CpgException> onLost) {
    }

    private final String name;
    private final Executor executor;
    private final BiConsumer<EventSink, Throwable> errorHandler;
    private final Thread thread;
    private final Reconnector reconnector;
    private final int wakeFd;
    private final Queue<Runnable> commands = new ConcurrentLinkedQueue<>();
    private final List<Entry> entries = new ArrayList<>();
    private final java.util.Set<SerialExecutor> serials = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final CountDownLatch ended = new CountDownLatch(1);
    private final Arena memory = Arena.ofAuto();
    private final MemorySegment errno = Libc.allocateErrnoState(memory);
    private MemorySegment pollFds = MemorySegment.NULL;
    private Entry[] polled = new Entry[0];
    private volatile boolean closed;
    /** Set before closed by {@link #abandon()}: the loop thread then closes its connections' handles. */
    private volatile boolean abandoned;

    /**
     * @param executor     runs the callbacks, or null for the loop thread
     * @param errorHandler gets what callbacks throw; never stops the loop
     * @param reconnect    how lost connections are reconnected, or null for never
     */
    public EventLoop(String name, Executor executor, BiConsumer<EventSink, Throwable> errorHandler,
            ReconnectPolicy reconnect) {
        this.name = name;
        this.executor = executor;
        this.errorHandler = errorHandler;
        this.reconnector = reconnect == null ? null : new Reconnector(name, this, reconnect);
        this.wakeFd = Libc.eventfd();
        this.thread = new Thread(null, this::run, name, DispatchStack.THREAD_BYTES, false);
        thread.setDaemon(true);
        thread.start();
    }

    /**
     * Makes the loop dispatch this connection from now on.
     *
     * @param connection the connection whose dispatcher this is, held weakly
     * @throws IllegalStateException if the loop or the handle is closed
     */
    public void register(Dispatcher dispatcher, Reconnectable connection) {
        register(dispatcher, connection, null, null);
    }

    /**
     * Like {@link #register(Dispatcher, Reconnectable)}, for the new
     * dispatcher of a reconnected connection: {@code first} runs on the loop
     * thread before any event of it, and its callbacks go to the same
     * executor queue as those of {@code previous}, so that they stay one at
     * a time and in order.
     */
    void register(Dispatcher dispatcher, Reconnectable connection, Runnable first, Dispatcher previous) {
        Consumer<CpgException> onLost = onLost(connection, dispatcher);
        if (closed) {
            throw new IllegalStateException(name + " is closed");
        }
        SerialExecutor serial = executor == null ? null
                : previous != null && previous.serial() != null ? previous.serial()
                : new SerialExecutor(executor, this::wake);
        dispatcher.deliverThrough(serial, errorHandler);
        CpgHandle handle = dispatcher.handle();
        handle.acquire("cpg_fd_get");
        dispatcher.onWake(this::wake);
        commands.add(() -> {
            if (closed) {
                dispatcher.onWake(null);
                if (abandoned) {
                    handle.close();
                }
                handle.release();
                return;
            }
            if (serial != null) {
                serials.add(serial);
            }
            if (first != null) {
                first.run();
            }
            entries.add(new Entry(dispatcher, onLost));
        });
        wake();
    }

    /**
     * Stops the loop: no dispatch after the loop thread has seen it, and no
     * executor callback after this returns (unless called from one).
     * Waits for the thread, unless called on it. Connections are not closed here.
     */
    public void close() {
        closed = true;
        if (reconnector != null) {
            reconnector.close();
        }
        wake();
        if (!isLoopThread()) {
            awaitEnd();
        }
        for (SerialExecutor serial : serials) {
            serial.closeAndAwait();
        }
    }

    /**
     * Like {@link #close()}, for a loop whose owner dropped it: also closes
     * the handles of the connections it dispatches, so that a connection the
     * application still holds throws on use instead of silently getting no
     * more events.
     */
    public void abandon() {
        abandoned = true;
        close();
    }

    /** {@return whether {@link #close()} was called} */
    boolean isClosed() {
        return closed;
    }

    /**
     * What the loop thread runs when a dispatcher's handle breaks. It holds
     * the connection weakly: the loop thread must not keep it reachable.
     */
    private Consumer<CpgException> onLost(Reconnectable connection, Dispatcher dispatcher) {
        WeakReference<Reconnectable> weakConnection = new WeakReference<>(connection);
        return cause -> {
            Reconnectable reachable = weakConnection.get();
            if (reachable != null) {
                lost(reachable, dispatcher, cause);
            }
        };
    }

    /** On the loop thread, once per broken handle. */
    private void lost(Reconnectable connection, Dispatcher dispatcher, CpgException cause) {
        dispatcher.handle().lose(cause);
        LOG.log(System.Logger.Level.WARNING, dispatcher.name() + " lost its connection to corosync: " + cause.getMessage());
        dispatcher.emitFromLoop(new ConnectionLost(cause));
        if (reconnector != null && !closed && !connection.isClosed()) {
            reconnector.lost(connection, dispatcher);
        }
    }

    /** Whether the caller is this loop's thread. */
    public boolean isLoopThread() {
        return Thread.currentThread() == thread;
    }

    private void awaitEnd() {
        boolean interrupted = false;
        while (true) {
            try {
                ended.await();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** Safe at any time: once the loop has ended (and closed the eventfd) it does nothing. */
    void wake() {
        synchronized (commands) {
            if (!ended()) {
                Libc.signal(wakeFd);
            }
        }
    }

    private boolean ended() {
        return ended.getCount() == 0;
    }

    private void run() {
        try {
            while (!closed) {
                Runnable command;
                while ((command = commands.poll()) != null) {
                    command.run();
                }
                if (closed) {
                    break;
                }
                int count = preparePoll();
                Libc.poll(pollFds, count, -1, errno);
                if (pollFds.get(JAVA_SHORT, 6) != 0) {
                    Libc.drain(wakeFd, errno);
                }
                for (int i = 1; i < count; i++) {
                    if (pollFds.get(JAVA_SHORT, i * POLLFD + 6) != 0) {
                        serve(polled[i]);
                    }
                }
            }
        } catch (Throwable t) {
            LOG.log(System.Logger.Level.ERROR, name + " failed; its connections are no longer dispatched", t);
        } finally {
            closed = true;
            for (Entry entry : entries) {
                entry.dispatcher.onWake(null);
                if (abandoned) {
                    entry.dispatcher.handle().close();
                }
                entry.dispatcher.handle().release();
            }
            entries.clear();
            Runnable command;
            while ((command = commands.poll()) != null) {
                command.run();
            }
            synchronized (commands) {
                Libc.close(wakeFd);
                ended.countDown();
            }
        }
    }

    /** Fills the pollfd array: the wake-up fd, then each connection that is open and not paused. Drops closed ones. */
    private int preparePoll() {
        // An index loop, not removeIf with a lambda: nothing allocated per wake-up.
        for (int i = entries.size() - 1; i >= 0; i--) {
            Entry entry = entries.get(i);
            if (entry.dispatcher.handle().isClosed()) {
                entries.remove(i);
                drop(entry);
            }
        }
        long needed = (entries.size() + 1) * POLLFD;
        if (pollFds.byteSize() < needed) {
            pollFds = memory.allocate(Math.max(needed, 16 * POLLFD), 8);
            polled = new Entry[(int) (pollFds.byteSize() / POLLFD)];
        }
        pollFds.set(JAVA_INT, 0, wakeFd);
        pollFds.set(JAVA_SHORT, 4, Libc.POLLIN);
        pollFds.set(JAVA_SHORT, 6, (short) 0);
        int count = 1;
        for (Entry entry : entries) {
            SerialExecutor serial = entry.dispatcher.serial();
            if (serial != null && serial.paused) {
                if (serial.waiting() > MAX_WAITING / 2) {
                    continue;
                }
                serial.paused = false;
            }
            long at = count * POLLFD;
            pollFds.set(JAVA_INT, at, entry.dispatcher.handle().fd());
            pollFds.set(JAVA_SHORT, at + 4, Libc.POLLIN);
            pollFds.set(JAVA_SHORT, at + 6, (short) 0);
            polled[count++] = entry;
        }
        return count;
    }

    /** Stops polling a connection and ends the loop's lease on its handle. Its executor finishes what it has. */
    private void drop(Entry entry) {
        entry.dispatcher.onWake(null);
        SerialExecutor serial = entry.dispatcher.serial();
        if (serial != null && serial.idle()) {
            // One with a callback running stays, for close() to wait on; pruned once idle.
            serials.remove(serial);
        }
        serials.removeIf(SerialExecutor::idle);
        entry.dispatcher.handle().release();
    }

    /** Runs {@code task} on the loop thread, soon. */
    public void execute(Runnable task) {
        commands.add(task);
        wake();
    }

    private void serve(Entry entry) {
        Dispatcher dispatcher = entry.dispatcher;
        int rc;
        try {
            rc = dispatcher.dispatchOnLoop();
        } catch (IllegalStateException closedMeanwhile) {
            return;
        }
        if (rc != CpgHandle.ok() && rc != CpgHandle.tryAgain()) {
            CpgException cause = new CpgException("cpg_dispatch", rc);
            entries.remove(entry);
            drop(entry);
            try {
                entry.onLost.accept(cause);
            } catch (Throwable t) {
                LOG.log(System.Logger.Level.ERROR, name + ": handling the loss of " + dispatcher.name() + " failed", t);
            }
            return;
        }
        SerialExecutor serial = dispatcher.serial();
        if (serial != null && serial.waiting() >= MAX_WAITING) {
            serial.paused = true;
            // The executor may have drained meanwhile without seeing the flag.
            if (serial.waiting() <= MAX_WAITING / 2) {
                serial.paused = false;
            }
        }
    }
}
