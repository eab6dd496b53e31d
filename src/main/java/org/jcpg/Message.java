package org.jcpg;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

/**
 * A message delivered to the group, handed to
 * {@link CpgListener#onMessage(CpgConnection, Message)}.
 *
 * <p>The payload is a read-only view of libcpg's receive buffer, not a copy.
 * It is valid only while that callback runs: touching it afterwards throws
 * {@link IllegalStateException} (or {@link WrongThreadException} from
 * another thread) instead of reading freed memory. To keep the bytes, copy
 * them with {@link #toByteArray()} or {@link MemorySegment#copy}.
 *
 * <p>Each delivery is its own event: two messages are {@code equals} only if
 * they are the same object, however alike their contents.
 */
public final class Message implements CpgEvent {
    private final GroupName group;
    private final long nodeId;
    private final int pid;
    private final MemorySegment payload;

    /**
     * A message with these components; jcpg makes the delivered ones.
     *
     * @param group   the group the message was sent to
     * @param nodeId  the sender's node id, an unsigned 32-bit value
     * @param pid     the sender's process id
     * @param payload the message bytes
     * @throws NullPointerException     if {@code group} or {@code payload} is null
     * @throws IllegalArgumentException if {@code nodeId} is not an unsigned 32-bit value
     */
    public Message(GroupName group, long nodeId, int pid, MemorySegment payload) {
        this.group = Objects.requireNonNull(group, "group");
        this.payload = Objects.requireNonNull(payload, "payload");
        NodeIds.check(nodeId);
        this.nodeId = nodeId;
        this.pid = pid;
    }

    /** {@return the group the message was sent to} */
    public GroupName group() {
        return group;
    }

    /** {@return the sender's node id, an unsigned 32-bit value} */
    public long nodeId() {
        return nodeId;
    }

    /** {@return the sender's process id} */
    public int pid() {
        return pid;
    }

    /** {@return the message bytes} For a delivered message, a read-only view valid during the callback only. */
    public MemorySegment payload() {
        return payload;
    }

    /** {@return a copy of the payload} */
    public byte[] toByteArray() {
        return payload.toArray(ValueLayout.JAVA_BYTE);
    }

    /** {@return the payload's length in bytes} */
    public long length() {
        return payload.byteSize();
    }

    @Override
    public String toString() {
        return "Message[group=" + group + ", nodeId=" + nodeId + ", pid=" + pid + ", length=" + payload.byteSize() + "]";
    }
}
