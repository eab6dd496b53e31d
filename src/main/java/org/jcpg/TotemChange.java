package org.jcpg;

import java.util.List;
import java.util.Objects;

/**
 * A new totem ring configuration: which nodes the cluster has now
 * ({@code cpg_totem_confchg_fn_t}). It follows the group membership changes
 * that the same event caused.
 *
 * @param ringId  the new ring
 * @param nodeIds the node ids in the ring, unsigned 32-bit values
 */
public record TotemChange(RingId ringId, List<Long> nodeIds) implements CpgEvent {
    /** Copies the list into an unmodifiable one. */
    public TotemChange {
        Objects.requireNonNull(ringId, "ringId");
        nodeIds = List.copyOf(nodeIds);
    }
}
