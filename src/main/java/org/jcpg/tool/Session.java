package org.jcpg.tool;

import org.jcpg.CpgConnection;
import org.jcpg.CpgEventLoop;
import org.jcpg.CpgListener;
import org.jcpg.GroupName;
import org.jcpg.ModelFlag;

/**
 * A connection joined to one group and dispatched by an event loop, for
 * listen and send. Closing leaves the group first (members see LEAVE, not
 * PROCDOWN), then closes. A shutdown hook does the same when SIGINT or
 * SIGTERM ends the JVM.
 */
final class Session implements AutoCloseable {
    private final CpgEventLoop loop;
    private final CpgConnection cpg;
    private final Thread closeOnSignal;

    Session(CpgListener listener, ModelFlag... flags) {
        loop = CpgEventLoop.start();
        try {
            cpg = loop.open(listener, flags);
        } catch (RuntimeException | Error e) {
            loop.close();
            throw e;
        }
        closeOnSignal = Thread.ofPlatform().name("jcpg-close-on-signal").unstarted(this::leaveAndClose);
        Runtime.getRuntime().addShutdownHook(closeOnSignal);
    }

    CpgConnection connection() {
        return cpg;
    }

    void join(GroupName group) {
        cpg.join(group);
    }

    private void leaveAndClose() {
        try {
            if (!cpg.isClosed() && cpg.group() != null) {
                cpg.leave();
            }
        } catch (RuntimeException alreadyGone) {
            // lost or left: closing is all there is to do
        }
        loop.close();
    }

    @Override
    public void close() {
        try {
            Runtime.getRuntime().removeShutdownHook(closeOnSignal);
        } catch (IllegalStateException shuttingDown) {
            // the hook runs (or ran) anyway
        }
        leaveAndClose();
    }
}
