package org.jcpg;

import java.util.Objects;

/**
 * One process of one group, as the daemon lists them to
 * {@link CpgConnection#members()} ({@code cpg_iteration_description_t}).
 *
 * @param group  the group
 * @param nodeId the node id, an unsigned 32-bit value
 * @param pid    the process id on that node
 */
public record GroupMember(GroupName group, long nodeId, int pid) {
    /**
     * Checks the components.
     *
     * @throws NullPointerException     if {@code group} is null
     * @throws IllegalArgumentException if {@code nodeId} is not an unsigned 32-bit value
     */
    public GroupMember {
        Objects.requireNonNull(group, "group");
        NodeIds.check(nodeId);
    }
}
