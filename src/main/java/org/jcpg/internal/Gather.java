package org.jcpg.internal;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.jcpg.internal.stubs.iovec;

/**
 * Turns the segments of one send into libcpg's iovec array, and decides
 * which of them libcpg may read in place. Used only under the connection's
 * IPC lock, so one iovec array and one staging buffer serve all its sends.
 *
 * <p>In place: native, unmapped segments that cannot be freed during the
 * call (the global arena's, or confined to the calling thread). Copied
 * through Java first: heap segments, segments of shared or automatic arenas
 * (another thread could free them meanwhile), and mapped segments (a file
 * that shrank would make libcpg's memcpy die of SIGBUS; Java's copy
 * reports it as an error instead). libcpg takes at most 63 entries;
 * more parts are gathered into one buffer.
 */
final class Gather {
    static final int MAX_IOVEC = 63;
    /** Staging memory starts at this size, and grows with the sends that need more. */
    private static final long FIRST_STAGING = 64 << 10;
    /** Staging memory kept between sends, at most; a bigger send stages in memory freed right after it. */
    static final long KEEP_STAGING = 1 << 20;
    /** A thread that never runs: a segment it may access is not confined to one thread. */
    private static final Thread NOBODY = Thread.ofPlatform().unstarted(() -> { });
    private static final long ENTRY = iovec.sizeof();
    private static final long BASE = iovec.iov_base$offset();
    private static final long LENGTH = iovec.iov_len$offset();

    private final MemorySegment iov = iovec.allocateArray(MAX_IOVEC, Arena.ofAuto());
    private MemorySegment staging = MemorySegment.NULL;
    private Arena oversize;

    /**
     * Fills the iovec array for a message of {@code total} bytes, given as
     * a {@code MemorySegment[]} (a gather), a {@code MemorySegment} or a
     * {@code byte[]}, and returns the entry count.
     */
    int fill(Object message, long total) {
        return switch (message) {
            case MemorySegment[] parts -> fill(parts, total);
            case MemorySegment part -> fill(part);
            case byte[] bytes -> fill(bytes);
            default -> throw new AssertionError(message);
        };
    }

    private int fill(MemorySegment[] parts, long total) {
        if (parts.length > MAX_IOVEC) {
            MemorySegment all = stage(total);
            long offset = 0;
            for (MemorySegment part : parts) {
                copy(part, all, offset);
                offset += part.byteSize();
            }
            set(0, all.address(), total);
            return 1;
        }
        long toCopy = 0;
        for (MemorySegment part : parts) {
            if (!readableInPlace(part)) {
                toCopy += part.byteSize();
            }
        }
        MemorySegment copies = toCopy == 0 ? MemorySegment.NULL : stage(toCopy);
        long offset = 0;
        for (int i = 0; i < parts.length; i++) {
            MemorySegment part = parts[i];
            if (readableInPlace(part)) {
                set(i, part.address(), part.byteSize());
            } else {
                copy(part, copies, offset);
                set(i, copies.address() + offset, part.byteSize());
                offset += part.byteSize();
            }
        }
        return parts.length;
    }

    /** One segment: allocates nothing once the staging memory has grown to the sizes sent (up to 1 MiB). */
    private int fill(MemorySegment part) {
        if (readableInPlace(part)) {
            set(0, part.address(), part.byteSize());
        } else {
            MemorySegment staged = stage(part.byteSize());
            copy(part, staged, 0);
            set(0, staged.address(), part.byteSize());
        }
        return 1;
    }

    /** A copy of a byte array. */
    private int fill(byte[] message) {
        MemorySegment staged = stage(message.length);
        MemorySegment.copy(message, 0, staged, JAVA_BYTE, 0, message.length);
        set(0, staged.address(), message.length);
        return 1;
    }

    MemorySegment iov() {
        return iov;
    }

    /** After the send, whatever happened: frees memory staged for a big one. */
    void done() {
        Arena big = oversize;
        if (big != null) {
            oversize = null;
            big.close();
        }
    }

    private static boolean readableInPlace(MemorySegment part) {
        if (!part.isNative() || part.isMapped()) {
            return false;
        }
        boolean pinned = part.scope().equals(Arena.global().scope())
                || (!part.isAccessibleBy(NOBODY) && part.isAccessibleBy(Thread.currentThread()));
        if (pinned && !part.scope().isAlive()) {
            throw new IllegalStateException("the segment's arena is already closed");
        }
        return pinned;
    }

    /** Writes one entry; the address as a 64-bit value (jcpg runs on 64-bit Linux only). */
    private void set(int index, long address, long length) {
        long entry = index * ENTRY;
        iov.set(JAVA_LONG, entry + BASE, address);
        iov.set(JAVA_LONG, entry + LENGTH, length);
    }

    /** At least {@code bytes} of memory that libcpg may read until {@link #done()}. */
    private MemorySegment stage(long bytes) {
        if (bytes > KEEP_STAGING) {
            oversize = Arena.ofConfined();
            return oversize.allocate(bytes, 16);
        }
        if (staging.byteSize() < bytes) {
            staging = Arena.ofAuto().allocate(Math.max(FIRST_STAGING, Long.highestOneBit(bytes - 1) << 1), 16);
        }
        return staging;
    }

    /** The staging memory kept for the next send (for tests). */
    long stagingBytes() {
        return staging.byteSize();
    }

    private static void copy(MemorySegment part, MemorySegment target, long offset) {
        try {
            MemorySegment.copy(part, 0, target, offset, part.byteSize());
        } catch (InternalError e) {
            // What Java's copy makes of SIGBUS: the mapped file shrank under the segment.
            throw new IllegalStateException("a mapped segment could not be read (did its file shrink?)", e);
        }
    }
}
