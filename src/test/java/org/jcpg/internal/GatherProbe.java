package org.jcpg.internal;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * What a send would hand libcpg for one segment, for tests outside this
 * package ({@code Gather} is package-private in the library).
 */
public final class GatherProbe {
    private final Gather gather = new Gather();

    /** {@return the address libcpg would read the segment from} Fills and releases the iovec once. */
    public long iovBase(MemorySegment segment) {
        gather.fill(segment, segment.byteSize());
        try {
            return gather.iov().get(ValueLayout.JAVA_LONG, 0);
        } finally {
            gather.done();
        }
    }

    /** {@return the staging memory the gather holds} Zero when every segment was read in place. */
    public long stagingBytes() {
        return gather.stagingBytes();
    }
}
