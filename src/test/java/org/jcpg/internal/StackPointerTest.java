package org.jcpg.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.jcpg.testsupport.UnitTest;
import org.junit.jupiter.api.Test;

/** The stack pointer that decides where cpg_dispatch runs, read without a system call on x86-64 glibc. */
@UnitTest
class StackPointerTest {
    private final MemorySegment scratch = Arena.ofAuto().allocate(DispatchStack.UCONTEXT_SIZE, 16);

    @Test
    void readsItWithoutTheSignalMaskSystemCall() {
        assertThat(DispatchStack.stackPointerWithoutSyscall(scratch)).isTrue();
    }

    @Test
    void itLiesInThisThreadsStackAndFallsAsTheCallGoesDeeper() {
        long[] bounds = DispatchStack.currentThreadStack();
        long here = DispatchStack.stackPointer(scratch);
        assertThat(here).isBetween(bounds[0], bounds[0] + bounds[1]);
        long deeper = deeper(200);
        assertThat(deeper).isBetween(bounds[0], here - 200 * 16);
    }

    @Test
    void itAgreesWithDispatchStacksViewOfABigThread() throws Exception {
        long[] left = new long[2];
        Thread big = new Thread(null, () -> {
            left[0] = DispatchStack.bytesLeft();
            left[1] = deeperLeft(2000);
        }, "big", 8L << 20);
        big.start();
        big.join();
        assertThat(left[0]).isBetween(7L << 20, 8L << 20);
        assertThat(left[1]).isLessThan(left[0] - 2000 * 16);
    }

    private long deeper(int frames) {
        return frames == 0 ? DispatchStack.stackPointer(scratch) : deeper(frames - 1) + 0;
    }

    private static long deeperLeft(int frames) {
        return frames == 0 ? DispatchStack.bytesLeft() : deeperLeft(frames - 1) + 0;
    }
}
