package org.jcpg;

/**
 * The identity of a totem ring configuration ({@code struct cpg_ring_id}).
 * corosync's log prints it in hex as {@code nodeId.seq}: ring
 * {@code (1.d)} there is {@code RingId[nodeId=1, seq=13]} here.
 *
 * @param nodeId the node id that formed the ring, an unsigned 32-bit value
 * @param seq    the ring sequence number, an <em>unsigned</em> 64-bit value held
 *               in a {@code long}: compare with {@link Long#compareUnsigned} and print
 *               with {@link Long#toUnsignedString(long)}, as {@link #toString()} does
 */
public record RingId(long nodeId, long seq) {
    /**
     * Checks the components.
     *
     * @throws IllegalArgumentException if {@code nodeId} is not an unsigned 32-bit value
     */
    public RingId {
        NodeIds.check(nodeId);
    }

    @Override
    public String toString() {
        return "RingId[nodeId=" + nodeId + ", seq=" + Long.toUnsignedString(seq) + "]";
    }
}
