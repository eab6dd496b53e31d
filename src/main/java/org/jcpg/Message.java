package org.jcpg;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

/**
 * A message delivered to the group, handed to
 * {@link CpgListener#onMessage(CpgConnection, Message)}.
 *
 * <p>The payload is a view of libcpg's receive buffer, not a copy. It is
 * valid only while that callback runs: touching it afterwards throws
 * {@link IllegalStateException} (or {@link WrongThreadException} from
 * another thread) instead of reading freed memory. To keep the bytes, copy
 * them with {@link #toByteArray()} or {@link MemorySegment#copy}.
 *
 * @param group   the group the message was sent to
 * @param nodeId  the sender's node id, an unsigned 32-bit value
 * @param pid     the sender's process id
 * @param payload the message bytes, valid during the callback only
 */
public record Message(GroupName group, long nodeId, int pid, MemorySegment payload) {
    /**
     * @throws NullPointerException     if {@code group} or {@code payload} is null
     * @throws IllegalArgumentException if {@code nodeId} is not an unsigned 32-bit value
     */
    public Message {
        Objects.requireNonNull(group, "group");
        Objects.requireNonNull(payload, "payload");
        NodeIds.check(nodeId);
    }

    /** A copy of the payload. */
    public byte[] toByteArray() {
        return payload.toArray(ValueLayout.JAVA_BYTE);
    }

    /** The payload's length in bytes. */
    public long length() {
        return payload.byteSize();
    }
}
