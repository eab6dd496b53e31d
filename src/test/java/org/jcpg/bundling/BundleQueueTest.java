package org.jcpg.bundling;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.jcpg.internal.GatherProbe;
import org.jcpg.testsupport.Await;
import org.jcpg.testsupport.UnitTest;
import org.jcpg.testsupport.Where;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Where a bundle lives: the frame the queue packs messages into is native
 * memory that libcpg reads in place (no staging copy between the pack and
 * libcpg), and it is freed at close, but never while a send may still use
 * it. The ordering and back-pressure of the queue: {@code BundleFrameAndQueueTest}.
 */
@UnitTest
class BundleQueueTest {
    private static final long SECOND = 1_000_000_000L;

    private static MemorySegment text(String s) {
        return MemorySegment.ofArray(s.getBytes(StandardCharsets.UTF_8));
    }

    /** What a send through a connection would hand to libcpg for one segment. */
    private record Handed(boolean nativeMemory, long address, long length, long iovBase, long staging, String first) {
    }

    @Test
    @Timeout(30)
    void theTransportGetsTheBundleFrameItselfInNativeMemoryThatLibcpgReadsInPlace() throws Exception {
        List<Handed> handed = new ArrayList<>();
        GatherProbe gather = new GatherProbe();
        BundleQueue queue = new BundleQueue("unit", frame -> {
            long iovBase = gather.iovBase(frame);
            // the first message, read at the address libcpg gets: packed there, not copied on
            MemorySegment atLibcpg = MemorySegment.ofAddress(iovBase).reinterpret(frame.byteSize());
            int length = BundleFrame.lengthAt(atLibcpg, BundleFrame.HEADER_BYTES);
            String first = new String(atLibcpg.asSlice(BundleFrame.HEADER_BYTES + BundleFrame.LENGTH_BYTES, length)
                    .toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
            handed.add(new Handed(frame.isNative(), frame.address(), frame.byteSize(), iovBase, gather.stagingBytes(),
                    first));
            return true;
        }, 4096, 60_000, 1 << 20, SECOND, 4);
        for (int i = 0; i < 5; i++) {
            assertThat(queue.offer(text("message " + i), 0)).isTrue();
        }
        assertThat(handed).hasSize(5);
        for (int i = 0; i < 5; i++) {
            Handed h = handed.get(i);
            assertThat(h.nativeMemory()).as("send %d: native memory", i).isTrue();
            assertThat(h.iovBase()).as("send %d: libcpg reads the frame itself", i).isEqualTo(h.address());
            assertThat(h.staging()).as("send %d: no staging memory was needed", i).isZero();
            assertThat(h.first()).isEqualTo("message " + i);
        }
        assertThat(handed).extracting(Handed::address).as("one frame, reused bundle after bundle").containsOnly(
                handed.get(0).address());
        assertThat(queue.liveFrames()).isEqualTo(1);
        assertThat(queue.close(SECOND)).isZero();
        assertThat(queue.liveFrames()).as("freed at close").isZero();
    }

    @Test
    @Timeout(30)
    void aMessageLargerThanABundleGoesInPlaceToo() throws Exception {
        List<Boolean> nativeFrames = new ArrayList<>();
        BundleQueue queue = new BundleQueue("unit", frame -> nativeFrames.add(frame.isNative()
                && frame.scope().equals(Arena.global().scope())), 256, 60_000, 1 << 20, SECOND, 4);
        assertThat(queue.offer(MemorySegment.ofArray(new byte[10_000]), 0)).isTrue();
        assertThat(nativeFrames).containsExactly(true);
        assertThat(queue.liveFrames()).as("a frame of its own size is not kept").isZero();
        queue.close(SECOND);
    }

    enum Ending { SENT, REFUSED, FAILED }

    /**
     * close() while a send is inside libcpg (here: inside the transport) must
     * not free that frame: it is freed by the sender once the transport
     * returned, whatever it returned; the others are freed by close.
     */
    @ParameterizedTest
    @EnumSource(Ending.class)
    @Timeout(30)
    void closeDuringASendFreesThatFrameOnlyAfterTheSendReturned(Ending ending) throws Exception {
        CountDownLatch inside = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicReference<String> readAfterClose = new AtomicReference<>();
        BundleQueue queue = new BundleQueue("unit", frame -> {
            if (inside.getCount() > 0) {
                inside.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
                // still readable: nobody freed it under us
                readAfterClose.set(new String(frame.asSlice(16, 5).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8));
                return switch (ending) {
                    case SENT -> true;
                    case REFUSED -> false;
                    case FAILED -> throw new IllegalStateException("the connection broke");
                };
            }
            return true;
        }, 256, 60_000, 1 << 20, SECOND, 4);
        Thread sender = Thread.ofPlatform().start(() -> {
            try {
                queue.offer(text("first"), 0);
            } catch (Exception expected) {
                // FAILED: the send's failure comes back to the thread that sent
            }
        });
        assertThat(inside.await(10, TimeUnit.SECONDS)).isTrue();
        for (int i = 0; i < 100; i++) {
            assertThat(queue.offer(text("queued " + i), 0)).isTrue();   // behind the one being sent
        }
        int framesBefore = queue.liveFrames();
        assertThat(framesBefore).isGreaterThan(1);
        assertThat(queue.close(0)).as("dropped at close").isEqualTo(100);
        assertThat(queue.liveFrames()).as("only the frame being sent is left").isEqualTo(1);
        release.countDown();
        sender.join();
        Await.until(() -> queue.liveFrames() == 0, Duration.ofSeconds(10), "the frame freed after its send returned");
        assertThat(readAfterClose.get()).isEqualTo("first");
    }

    @Test
    @Timeout(30)
    void framesAreKeptForReuseUpToAFewAndAllFreedAtClose() throws Exception {
        List<byte[]> frames = new ArrayList<>();
        boolean[] refuse = {true};
        BundleQueue queue = new BundleQueue("unit", frame -> {
            synchronized (frames) {
                if (refuse[0]) {
                    return false;
                }
                frames.add(frame.toArray(ValueLayout.JAVA_BYTE));
                return true;
            }
        }, 256, 60_000, 8192, 50_000, 4);
        int accepted = 0;
        while (queue.offer(text("message %04d".formatted(accepted)), 0)) {
            accepted++;
        }
        assertThat(queue.liveFrames()).as("a full queue of 8 KiB in bundles of 256 bytes").isGreaterThan(20);
        synchronized (frames) {
            refuse[0] = false;
        }
        assertThat(queue.drain(10 * SECOND)).isTrue();
        assertThat(queue.liveFrames()).as("spares kept once drained").isBetween(1, 4);
        assertThat(queue.counts().sent()).isEqualTo(accepted);
        assertThat(queue.close(SECOND)).isZero();
        assertThat(queue.liveFrames()).isZero();
    }

    @Test
    @Timeout(30)
    void aMessageThatCannotBeReadIsNotQueuedAndLeavesNoEmptyBundle() throws Exception {
        List<Integer> counts = new ArrayList<>();
        BundleQueue queue = new BundleQueue("unit", frame -> counts.add(BundleFrame.validate(frame)), 256, 60_000,
                1 << 20, SECOND, 4);
        MemorySegment gone;
        try (Arena arena = Arena.ofConfined()) {
            gone = arena.allocate(10);
        }
        assertThatThrownBy(() -> queue.offer(gone, 0)).isInstanceOf(IllegalStateException.class);
        assertThat(queue.counts().accepted()).isZero();
        assertThat(queue.offer(text("next"), 0)).isTrue();
        assertThat(counts).containsExactly(1);
        assertThat(queue.close(SECOND)).isZero();
        assertThat(queue.liveFrames()).isZero();
    }
}
