package org.jcpg.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.jcpg.testsupport.UnitTest;
import org.junit.jupiter.api.Test;

/**
 * What libcpg is handed for a send: the caller's own memory where it may
 * read it in place (no intermediate copy), else reused staging memory.
 */
@UnitTest
class GatherTest {
    private final Gather gather = new Gather();

    private long base(int entry) {
        return gather.iov().get(ValueLayout.JAVA_LONG, entry * 16L);
    }

    private long length(int entry) {
        return gather.iov().get(ValueLayout.JAVA_LONG, entry * 16L + 8);
    }

    @Test
    void nativeSegmentsGoToLibcpgAsTheyAre() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment first = arena.allocate(100);
            MemorySegment second = Arena.global().allocate(300);
            assertThat(gather.fill(first, 100)).isEqualTo(1);
            assertThat(base(0)).isEqualTo(first.address());
            assertThat(length(0)).isEqualTo(100);
            gather.done();
            assertThat(gather.fill(new MemorySegment[] {first, second}, 400)).isEqualTo(2);
            assertThat(base(0)).isEqualTo(first.address());
            assertThat(base(1)).isEqualTo(second.address());
            assertThat(length(1)).isEqualTo(300);
            gather.done();
        }
    }

    @Test
    void heapMessagesAreStagedInMemoryThatGrowsAndIsReused() {
        byte[] small = new byte[1000];
        small[999] = 42;
        gather.fill(small, small.length);
        long staging = base(0);
        assertThat(MemorySegment.ofAddress(staging).reinterpret(1000).get(ValueLayout.JAVA_BYTE, 999)).isEqualTo((byte) 42);
        gather.done();
        assertThat(gather.stagingBytes()).isEqualTo(64 << 10);

        byte[] big = new byte[256 << 10];
        gather.fill(big, big.length);
        long grown = base(0);
        gather.done();
        assertThat(gather.stagingBytes()).isEqualTo(256 << 10);
        gather.fill(MemorySegment.ofArray(big), big.length);
        assertThat(base(0)).as("the same staging memory, no new allocation").isEqualTo(grown);
        gather.done();
        gather.fill(small, small.length);
        assertThat(base(0)).isEqualTo(grown);
        gather.done();
    }

    @Test
    void heapMessagesAboveTheKeptSizeAreStagedForThatSendOnly() {
        byte[] huge = new byte[(int) Gather.KEEP_STAGING + 1];
        gather.fill(huge, huge.length);
        long staged = base(0);
        assertThat(length(0)).isEqualTo(huge.length);
        assertThat(MemorySegment.ofAddress(staged).reinterpret(huge.length).get(ValueLayout.JAVA_BYTE, 0)).isZero();
        gather.done();
        assertThat(gather.stagingBytes()).as("not kept").isLessThanOrEqualTo(Gather.KEEP_STAGING);
    }
}
