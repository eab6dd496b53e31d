package org.jcpg.internal;

import java.util.HashMap;
import java.util.Map;
import org.jcpg.GroupName;

/**
 * The groups in which this process has a closed connection whose handle is
 * not finalized yet. corosync knows a member by node id and pid, so until
 * that finalize a new connection of this process joining the same group
 * gets CS_ERR_EXIST; close() does not wait for the finalize, so join waits
 * for it instead (it waits for the daemon either way).
 */
final class GroupsAwaitingFinalize {
    private static final Map<GroupName, Integer> GROUPS = new HashMap<>();

    private GroupsAwaitingFinalize() {
    }

    static void begin(GroupName group) {
        if (group != null) {
            synchronized (GROUPS) {
                GROUPS.merge(group, 1, Integer::sum);
            }
        }
    }

    static void end(GroupName group) {
        if (group != null) {
            synchronized (GROUPS) {
                GROUPS.computeIfPresent(group, (g, n) -> n == 1 ? null : n - 1);
                GROUPS.notifyAll();
            }
        }
    }

    /** Waits until no closed connection of this process is still in {@code group}. Not interruptible. */
    static void await(GroupName group) {
        boolean interrupted = false;
        synchronized (GROUPS) {
            while (GROUPS.containsKey(group)) {
                try {
                    GROUPS.wait();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
