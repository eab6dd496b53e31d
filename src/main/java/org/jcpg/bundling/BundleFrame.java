package org.jcpg.bundling;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The wire format of a bundle: several application messages of one sender
 * in one CPG message. Version 1, all integers little-endian:
 *
 * <pre>
 * offset  size  field
 *      0     4  magic FE 4A 42 44 ("\xFEJBD")
 *      4     1  version, 1
 *      5     1  flags, 0 (a receiver refuses a frame with a flag it does not know)
 *      6     2  reserved, 0
 *      8     4  count of messages, 1 or more
 *     12        count times: u32 length, then that many bytes of the message
 * </pre>
 *
 * The frame ends exactly after the last message: trailing bytes make it
 * malformed. Every message's sender is the CPG sender of the bundle. The
 * magic starts with 0xFE, a byte that never occurs in UTF-8, so a UTF-8
 * text can never be mistaken for a bundle.
 */
final class BundleFrame {
    public static final int HEADER_BYTES = 12;
    public static final int LENGTH_BYTES = 4;
    public static final int VERSION = 1;
    private static final int MAGIC = 0x44424AFE; // FE 4A 42 44 read little-endian
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfByte BYTE = ValueLayout.JAVA_BYTE;

    private BundleFrame() {
    }

    /** Writes the header of a frame of {@code count} messages at the start of {@code frame}. */
    public static void writeHeader(MemorySegment frame, int count) {
        frame.set(INT, 0, MAGIC);
        frame.set(BYTE, 4, (byte) VERSION);
        frame.set(BYTE, 5, (byte) 0);
        frame.set(ValueLayout.JAVA_SHORT_UNALIGNED, 6, (short) 0);
        frame.set(INT, 8, count);
    }

    /** Writes one message's length prefix and bytes at {@code offset}; returns the offset after it. */
    public static long append(MemorySegment frame, long offset, MemorySegment message) {
        long length = message.byteSize();
        frame.set(INT, offset, (int) length);
        MemorySegment.copy(message, 0, frame, offset + LENGTH_BYTES, length);
        return offset + LENGTH_BYTES + length;
    }

    /** Whether {@code payload} starts with the bundle magic (it may still be malformed). */
    public static boolean hasMagic(MemorySegment payload) {
        return payload.byteSize() >= 4 && payload.get(INT, 0) == MAGIC;
    }

    /**
     * Checks a whole frame before anything of it is delivered, so that a
     * receiver delivers all of its messages or none.
     *
     * @return the number of messages in it
     * @throws IllegalArgumentException saying what is wrong, if it is not a well-formed version-1 frame
     */
    public static int validate(MemorySegment frame) {
        long size = frame.byteSize();
        if (!hasMagic(frame)) {
            throw new IllegalArgumentException("not a bundle (no magic)");
        }
        if (size < HEADER_BYTES) {
            throw new IllegalArgumentException("truncated header: " + size + " bytes");
        }
        int version = Byte.toUnsignedInt(frame.get(BYTE, 4));
        if (version != VERSION) {
            throw new IllegalArgumentException("unsupported bundle version " + version + " (this jcpg reads " + VERSION + ")");
        }
        int flags = Byte.toUnsignedInt(frame.get(BYTE, 5));
        if (flags != 0) {
            throw new IllegalArgumentException("unknown bundle flags 0x" + Integer.toHexString(flags));
        }
        if (frame.get(ValueLayout.JAVA_SHORT_UNALIGNED, 6) != 0) {
            throw new IllegalArgumentException("reserved header bytes are not zero");
        }
        long count = Integer.toUnsignedLong(frame.get(INT, 8));
        if (count == 0) {
            throw new IllegalArgumentException("a bundle of no messages");
        }
        // Each message needs at least its length prefix: bounds the loop by the frame's size.
        if (count > (size - HEADER_BYTES) / LENGTH_BYTES) {
            throw new IllegalArgumentException("count " + count + " does not fit in " + size + " bytes");
        }
        long offset = HEADER_BYTES;
        for (long i = 0; i < count; i++) {
            if (size - offset < LENGTH_BYTES) {
                throw new IllegalArgumentException("message " + i + " of " + count + ": truncated length at byte " + offset);
            }
            long length = Integer.toUnsignedLong(frame.get(INT, offset));
            offset += LENGTH_BYTES;
            if (length > size - offset) {
                throw new IllegalArgumentException("message " + i + " of " + count + ": length " + length
                        + " beyond the end (" + (size - offset) + " bytes left)");
            }
            offset += length;
        }
        if (offset != size) {
            throw new IllegalArgumentException((size - offset) + " bytes after the last of " + count + " messages");
        }
        return (int) count;
    }

    /** The length of the message whose prefix is at {@code offset} of a validated frame. */
    public static int lengthAt(MemorySegment frame, long offset) {
        return frame.get(INT, offset);
    }
}
