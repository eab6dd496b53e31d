package org.jcpg.bundling;

import java.lang.foreign.MemorySegment;

/** The bundle framing, for tests outside this package ({@code BundleFrame} is package-private). */
public final class BundleFrames {
    private BundleFrames() {
    }

    /** {@return how many messages a bundle holds} Checks the frame as a whole first, as the receiver does. */
    public static int messageCount(MemorySegment bundle) {
        return BundleFrame.validate(bundle);
    }
}
