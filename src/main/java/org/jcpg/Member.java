package org.jcpg;

/**
 * A process in a group ({@code struct cpg_address}).
 *
 * @param nodeId the corosync node id, an unsigned 32-bit value (0 to 2<sup>32</sup>-1)
 * @param pid    the process id on that node
 * @param reason why the process is listed; {@link Reason#UNDEFINED} in member lists
 */
public record Member(long nodeId, int pid, Reason reason) {
    /**
     * Checks the components.
     *
     * @throws IllegalArgumentException if {@code nodeId} is not an unsigned 32-bit value
     * @throws NullPointerException     if {@code reason} is null
     */
    public Member {
        NodeIds.check(nodeId);
        java.util.Objects.requireNonNull(reason, "reason");
    }
}
