package org.jcpg;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.Pipe;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.jcpg.testsupport.Await;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.Payloads;
import org.jcpg.testsupport.Recorder;
import org.jcpg.testsupport.SuiteDaemon;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Zero-copy buffers: sizes libcpg cannot send are refused up front, one
 * buffer shared by two senders never loses a message silently, and closing
 * while a NIO operation still reads the buffer is safe.
 */
@NodeTest
class ZeroCopySafetyTest {
    private static CpgConnection joined(Recorder recorder, GroupName group) {
        CpgConnection cpg = CpgConnection.open(recorder);
        cpg.join(group);
        SuiteDaemon.dispatchUntil(() -> recorder.joins().stream().anyMatch(m -> m.pid() == (int) SuiteDaemon.OWN_PID), cpg);
        return cpg;
    }

    private static void fill(MemorySegment segment, int k) {
        MemorySegment.copy(MemorySegment.ofArray(Payloads.pattern(k, (int) segment.byteSize())), 0, segment, 0,
                segment.byteSize());
    }

    /** On the old code, cpg_zcb_alloc asserts and the JVM aborts here. */
    @Test
    @Timeout(30)
    void anAbsurdSizeIsRefusedWithoutAskingLibcpg() {
        try (CpgConnection cpg = CpgConnection.open(new Recorder())) {
            assertThatThrownBy(() -> cpg.allocateZeroCopy(Long.MAX_VALUE)).isInstanceOf(IllegalArgumentException.class);
            assertThat(cpg.isClosed()).isFalse();
        }
    }

    @Test
    @Timeout(30)
    void sizesOutsideOneToMaxAtomicAreRefused() {
        try (CpgConnection cpg = CpgConnection.open(new Recorder())) {
            int max = cpg.maxAtomicMessageSize();
            for (long size : new long[] {0, -1, 1_048_576, max + 1L, 1_048_393, Integer.MAX_VALUE}) {
                assertThatThrownBy(() -> {
                    try (ZeroCopyBuffer b = cpg.allocateZeroCopy(size)) {
                        b.segment();
                    }
                }).as("allocateZeroCopy(" + size + ")").isInstanceOf(IllegalArgumentException.class);
            }
        }
    }

    @Test
    @Timeout(60)
    void aFullSizeBufferIsDeliveredAndLaterMessagesToo() {
        Recorder recorder = new Recorder();
        try (CpgConnection cpg = joined(recorder, SuiteDaemon.uniqueGroup("zc-full"))) {
            int max = cpg.maxAtomicMessageSize();
            byte[] full = Payloads.pattern(1, max);
            byte[] small = Payloads.pattern(2, 300);
            try (ZeroCopyBuffer buffer = cpg.allocateZeroCopy(max)) {
                assertThat(buffer.segment().byteSize()).isEqualTo(max);
                fill(buffer.segment(), 1);
                buffer.multicast(Guarantee.AGREED, max);
                cpg.multicast(Guarantee.AGREED, small);
                SuiteDaemon.dispatchUntil(() -> recorder.messages.size() >= 2, Duration.ofSeconds(30), cpg);
            }
            assertThat(recorder.messages).hasSize(2);
            assertThat(recorder.messages.get(0).payload()).isEqualTo(full);
            assertThat(recorder.messages.get(1).payload()).isEqualTo(small);
        }
    }

    @Test
    @Timeout(120)
    void twoThreadsSendingOneBufferEachSucceedOrAreRefused() throws Exception {
        final int perThread = 300;
        final int size = 1000;
        Recorder recorder = new Recorder();
        GroupName group = SuiteDaemon.uniqueGroup("zc-shared");
        CpgConnection cpg = joined(recorder, group);
        AtomicReference<Throwable> dispatchFailure = new AtomicReference<>();
        Thread dispatcher = Thread.ofPlatform().name("zc-dispatcher").stackSize(CpgConnection.DISPATCH_STACK_SIZE).start(() -> {
            try {
                cpg.dispatch(DispatchMode.BLOCKING);
            } catch (Throwable t) {
                dispatchFailure.set(t);
            }
        });
        AtomicInteger sent = new AtomicInteger();
        AtomicInteger refused = new AtomicInteger();
        List<Throwable> problems = new CopyOnWriteArrayList<>();
        try (ZeroCopyBuffer buffer = cpg.allocateZeroCopy(size)) {
            fill(buffer.segment(), 5);
            CountDownLatch start = new CountDownLatch(1);
            Runnable sender = () -> {
                try {
                    start.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int i = 0; i < perThread; i++) {
                    long deadline = System.nanoTime() + 20_000_000_000L;
                    while (true) {
                        try {
                            buffer.multicast(Guarantee.AGREED, size);
                            sent.incrementAndGet();
                            break;
                        } catch (IllegalStateException inUse) {
                            refused.incrementAndGet();
                            break;
                        } catch (CpgException e) {
                            if (!e.isRetryable() || System.nanoTime() > deadline) {
                                problems.add(e);
                                return;
                            }
                            Thread.onSpinWait();
                        } catch (Throwable t) {
                            problems.add(t);
                            return;
                        }
                    }
                }
            };
            Thread a = Thread.ofPlatform().name("zc-sender-a").start(sender);
            Thread b = Thread.ofPlatform().name("zc-sender-b").start(sender);
            start.countDown();
            a.join(Duration.ofSeconds(60));
            b.join(Duration.ofSeconds(60));
            assertThat(a.isAlive() || b.isAlive()).as("senders still running after 60 s").isFalse();
            assertThat(problems).as("unexpected failures of the senders").isEmpty();
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (recorder.messages.size() < sent.get() && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            Thread.sleep(300); // nothing extra arrives
        } finally {
            cpg.close();
            dispatcher.join(Duration.ofSeconds(20));
        }
        System.out.println("one buffer, two senders: " + sent.get() + " sent, " + refused.get() + " refused, "
                + recorder.messages.size() + " delivered");
        assertThat(dispatchFailure.get()).isNull();
        assertThat(sent.get() + refused.get()).isEqualTo(2 * perThread);
        assertThat(recorder.messages).as("delivered messages (one per successful call)").hasSize(sent.get());
        byte[] expected = Payloads.pattern(5, size);
        for (Recorder.Received r : recorder.messages) {
            assertThat(r.payload()).as("a delivered message").isEqualTo(expected);
        }
        String daemonPid = System.getenv("JCPG_COROSYNC_PID");
        if (daemonPid != null) {
            assertThat(ProcessHandle.of(Long.parseLong(daemonPid)).map(ProcessHandle::isAlive)).as("corosync alive")
                    .contains(true);
        }
    }

    /** Runs r on a thread and waits (bounded); returns what it threw, or null. */
    private static Throwable closeOnAThread(Runnable r, String what) throws InterruptedException {
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        Thread t = Thread.ofPlatform().name("zc-closer").start(() -> {
            try {
                r.run();
            } catch (Throwable e) {
                thrown.set(e);
            }
        });
        if (!t.join(Duration.ofSeconds(15))) {
            fail(what + " did not return within 15 s while a NIO write was in flight");
        }
        return thrown.get();
    }

    /** A thread that writes the whole segment into a pipe nobody reads yet: it blocks after 64 KiB. */
    private static Thread blockedWriter(Pipe pipe, MemorySegment segment, AtomicReference<Throwable> outcome) {
        return Thread.ofPlatform().name("zc-nio-writer").start(() -> {
            try {
                ByteBuffer view = segment.asByteBuffer();
                pipe.sink().write(view);
            } catch (Throwable t) {
                outcome.set(t);
            }
        });
    }

    /** Reads the pipe until the writer is done (bounded); returns the bytes read. */
    private static long drain(Pipe pipe, Thread writer) throws Exception {
        pipe.source().configureBlocking(false);
        ByteBuffer chunk = ByteBuffer.allocate(64 * 1024);
        long total = 0;
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (System.nanoTime() < deadline) {
            chunk.clear();
            int n = pipe.source().read(chunk);
            if (n > 0) {
                total += n;
                continue;
            }
            if (!writer.isAlive()) {
                chunk.clear();
                n = pipe.source().read(chunk);
                if (n <= 0) {
                    return total;
                }
                total += n;
                continue;
            }
            Thread.sleep(5);
        }
        return fail("the NIO writer did not finish within 30 s");
    }

    private static void awaitSegmentDead(MemorySegment segment) {
        Await.until(() -> {
            try {
                segment.get(JAVA_BYTE, 0);
                return false;
            } catch (IllegalStateException expected) {
                return true;
            }
        }, Duration.ofSeconds(15), Duration.ofMillis(10),
                () -> "the segment of a closed buffer inaccessible after its NIO operation ended");
    }

    private static void awaitBlocked(Thread writer) throws InterruptedException {
        Thread.sleep(500);
        assertThat(writer.isAlive()).as("the NIO write blocks on the full pipe").isTrue();
    }

    @Test
    @Timeout(90)
    void closingTheBufferDuringANioWriteReturnsNormally() throws Exception {
        Recorder recorder = new Recorder();
        try (CpgConnection cpg = joined(recorder, SuiteDaemon.uniqueGroup("zc-nio"))) {
            Pipe pipe = Pipe.open();
            try {
                int max = cpg.maxAtomicMessageSize();
                ZeroCopyBuffer buffer = cpg.allocateZeroCopy(max);
                MemorySegment segment = buffer.segment();
                fill(segment, 3);
                AtomicReference<Throwable> writeOutcome = new AtomicReference<>();
                Thread writer = blockedWriter(pipe, segment, writeOutcome);
                awaitBlocked(writer);
                Throwable closeFailure;
                try {
                    closeFailure = closeOnAThread(buffer::close, "ZeroCopyBuffer.close()");
                } finally {
                    long read = drain(pipe, writer);
                    System.out.println("NIO write after buffer close: read " + read + " bytes, writer: " + writeOutcome.get());
                }
                assertThat(closeFailure).as("what ZeroCopyBuffer.close() threw").isNull();
                awaitSegmentDead(segment);
                // The connection still works.
                cpg.multicast(Guarantee.AGREED, Payloads.pattern(8, 100));
                SuiteDaemon.dispatchUntil(() -> !recorder.messages.isEmpty(), cpg);
            } finally {
                pipe.sink().close();
                pipe.source().close();
            }
        }
    }

    @Test
    @Timeout(90)
    void closingTheConnectionDuringANioWriteReturnsNormallyAndFinalizesAfterwards() throws Exception {
        Recorder recorder = new Recorder();
        GroupName group = SuiteDaemon.uniqueGroup("zc-nio-conn");
        try (CpgConnection observer = CpgConnection.open(new Recorder())) {
            CpgConnection cpg = joined(recorder, group);
            Pipe pipe = Pipe.open();
            try {
                ZeroCopyBuffer buffer = cpg.allocateZeroCopy(cpg.maxAtomicMessageSize());
                MemorySegment segment = buffer.segment();
                fill(segment, 4);
                AtomicReference<Throwable> writeOutcome = new AtomicReference<>();
                Thread writer = blockedWriter(pipe, segment, writeOutcome);
                awaitBlocked(writer);
                Throwable closeFailure;
                try {
                    closeFailure = closeOnAThread(cpg::close, "CpgConnection.close()");
                } finally {
                    long read = drain(pipe, writer);
                    System.out.println("NIO write after connection close: read " + read + " bytes, writer: "
                            + writeOutcome.get());
                }
                assertThat(closeFailure).as("what CpgConnection.close() threw").isNull();
                long deadline = System.nanoTime() + 30_000_000_000L;
                while (observer.membership(group).stream().anyMatch(m -> m.pid() == (int) SuiteDaemon.OWN_PID)) {
                    if (System.nanoTime() > deadline) {
                        fail("30 s after close() and the end of the NIO write, this process is still in " + group);
                    }
                    Thread.sleep(20);
                }
                awaitSegmentDead(segment);
            } finally {
                pipe.sink().close();
                pipe.source().close();
                cpg.close();
            }
        }
    }
}
