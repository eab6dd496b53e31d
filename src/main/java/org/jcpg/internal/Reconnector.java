package org.jcpg.internal;

import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.jcpg.CpgException;
import org.jcpg.GroupName;
import org.jcpg.Reconnected;

/**
 * An event loop's reconnect policy at work: after a connection is lost,
 * attempts to open a new handle, with growing pauses
 * ({@link ReconnectPolicy}), on a thread of its own (named after the loop,
 * "-reconnect", started on demand and ended after 5 idle seconds) so that
 * the loop thread never waits for the daemon. A new handle joins the lost
 * one's group, takes its place in the connection, and is registered with
 * the loop, which reports {@link Reconnected} before any event of it.
 */
final class Reconnector {
    private final EventLoop loop;
    private final ReconnectPolicy policy;
    private final ScheduledThreadPoolExecutor thread;

    Reconnector(String name, EventLoop loop, ReconnectPolicy policy) {
        this.loop = loop;
        this.policy = policy;
        String threadName = name + "-reconnect";
        this.thread = new ScheduledThreadPoolExecutor(1,
                task -> Thread.ofPlatform().daemon().name(threadName).unstarted(task));
        thread.setKeepAliveTime(5, TimeUnit.SECONDS);
        thread.allowCoreThreadTimeOut(true);
    }

    /** On the loop thread, once the loss is reported: the first attempt, after the first pause. */
    void lost(Reconnectable connection, Dispatcher lost) {
        schedule(connection, lost, 1, policy.firstNanos());
    }

    private void schedule(Reconnectable connection, Dispatcher lost, int attempt, long pauseNanos) {
        try {
            thread.schedule(() -> attempt(connection, lost, attempt, pauseNanos), pauseNanos, TimeUnit.NANOSECONDS);
        } catch (RuntimeException rejected) {
            // The loop closed meanwhile.
        }
    }

    /** On the reconnect thread: one attempt; the next is scheduled if the daemon does not answer. */
    private void attempt(Reconnectable connection, Dispatcher lost, int attempt, long pauseNanos) {
        if (loop.isClosed() || connection.isClosed()) {
            return;
        }
        GroupName group = lost.handle().group();
        Dispatcher fresh;
        try {
            fresh = connection.redial();
        } catch (CpgException notYet) {
            schedule(connection, lost, attempt + 1, policy.after(pauseNanos));
            return;
        }
        try {
            if (group != null) {
                fresh.join(group);
            }
        } catch (CpgException notYet) {
            fresh.handle().close();
            schedule(connection, lost, attempt + 1, policy.after(pauseNanos));
            return;
        }
        if (!connection.replace(lost, fresh)) {
            return;
        }
        try {
            loop.register(fresh, connection, () -> fresh.emitFromLoop(new Reconnected(attempt, group)), lost);
        } catch (IllegalStateException loopClosed) {
            fresh.handle().close();
        }
    }

    /** Cancels waiting attempts; one running finishes (and finds the loop closed). */
    void close() {
        thread.shutdownNow();
    }
}
