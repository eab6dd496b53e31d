package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.SuiteDaemon;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * An event loop whose executor refuses work (shut down, or saturated):
 * every event that cannot be handed over is reported to the error handler,
 * one report each, none is lost silently, and the statistics count what the
 * listener got, not what was read from the daemon.
 */
@NodeTest
@Timeout(120)
class RejectingExecutorTest {
    private static final int MESSAGES = 20;
    private static final Duration DEADLINE = Duration.ofSeconds(20);

    /** What the listener got and what the error handler was told. */
    private static final class Seen implements CpgListener {
        final List<Integer> messages = new CopyOnWriteArrayList<>();
        final AtomicInteger others = new AtomicInteger();
        final List<Throwable> reports = new CopyOnWriteArrayList<>();

        @Override
        public void onMessage(CpgConnection connection, Message message) {
            messages.add((int) message.payload().get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0));
        }

        @Override
        public void onEvent(CpgConnection connection, CpgEvent event) {
            if (event instanceof Message) {
                CpgListener.super.onEvent(connection, event);
            } else {
                others.incrementAndGet();
            }
        }

        void report(CpgConnection connection, Throwable failure) {
            reports.add(failure);
        }

        /** Reports of messages not delivered (membership events refused are reported too, not counted here). */
        long rejections() {
            return reports.stream().filter(r -> r instanceof RejectedExecutionException
                    && r.getMessage().contains("a message of")).count();
        }
    }

    /** From the listening connection itself: a second connection of this process could not join its group. */
    private static void sendAll(CpgConnection sender) {
        for (int i = 0; i < MESSAGES; i++) {
            sender.multicast(Guarantee.AGREED, Duration.ofSeconds(10), java.lang.foreign.MemorySegment.ofArray(
                    new byte[] {(byte) i}));
        }
    }

    private static void awaitAccounted(Seen seen, String what) throws InterruptedException {
        long deadline = System.nanoTime() + DEADLINE.toNanos();
        while (seen.messages.size() + seen.rejections() < MESSAGES && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        Thread.sleep(200); // nothing more may come
        assertThat(seen.messages.size() + seen.rejections())
                .as("%s: messages delivered (%s) plus reported as refused (%d)", what, seen.messages, seen.rejections())
                .isEqualTo(MESSAGES);
    }

    @Test
    void aShutDownExecutorReportsEveryEventItCouldNotRun() throws Exception {
        GroupName group = SuiteDaemon.uniqueGroup("rejecting-shutdown");
        Seen seen = new Seen();
        ExecutorService executor = Executors.newSingleThreadExecutor();
        try (CpgEventLoop loop = CpgEventLoop.builder().executor(executor).errorHandler(seen::report).start();
             CpgConnection listening = loop.open(seen)) {
            listening.join(group);
            long deadline = System.nanoTime() + DEADLINE.toNanos();
            while (seen.others.get() == 0 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertThat(seen.others.get()).as("its own join, delivered before the shutdown").isPositive();
            executor.shutdown();
            assertThat(executor.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
            CpgStatistics before = listening.statistics();

            sendAll(listening);
            awaitAccounted(seen, "shut-down executor");
            assertThat(seen.messages).isEmpty();
            assertThat(seen.reports).as("one report per event, each a RejectedExecutionException")
                    .allMatch(r -> r instanceof RejectedExecutionException);
            assertThat(seen.reports.getFirst().getMessage()).contains("not delivered");
            assertThat(seen.rejections()).isEqualTo(MESSAGES);
            CpgStatistics after = listening.statistics();
            assertThat(after.messagesDelivered()).as("messages the listener got").isZero();
            assertThat(after.bytesDelivered()).isZero();
            assertThat(after.otherEvents()).as("other events the listener got")
                    .isEqualTo(before.otherEvents()).isEqualTo(seen.others.get());
        } finally {
            executor.shutdownNow();
        }
    }

    @Test
    void aSaturatedExecutorIsTriedAgainAndWhatItRefusesIsReported() throws Exception {
        GroupName group = SuiteDaemon.uniqueGroup("rejecting-every-other");
        Seen seen = new Seen();
        ExecutorService pool = Executors.newSingleThreadExecutor();
        AtomicInteger calls = new AtomicInteger();
        // Refuses every other hand-over, as a bounded pool under load may.
        Executor flaky = task -> {
            if (calls.incrementAndGet() % 2 == 0) {
                throw new RejectedExecutionException("busy");
            }
            pool.execute(task);
        };
        try (CpgEventLoop loop = CpgEventLoop.builder().executor(flaky).errorHandler(seen::report).start();
             CpgConnection listening = loop.open(seen)) {
            listening.join(group);
            sendAll(listening);
            awaitAccounted(seen, "executor refusing every other task");
            assertThat(calls.get()).as("the executor was asked again after a refusal").isGreaterThan(2);
            assertThat(seen.messages).as("delivered in order").isSorted();
            assertThat(seen.reports).allMatch(r -> r instanceof RejectedExecutionException);
            CpgStatistics statistics = listening.statistics();
            assertThat(statistics.messagesDelivered()).as("messages the listener got").isEqualTo(seen.messages.size());
            assertThat(statistics.bytesDelivered()).isEqualTo(seen.messages.size());
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void anExecutorThatDiscardsAnAcceptedTaskIsNoticedOnceTerminated() throws Exception {
        GroupName group = SuiteDaemon.uniqueGroup("rejecting-discarding");
        Seen seen = new Seen();
        ExecutorService executor = Executors.newSingleThreadExecutor();
        try (CpgEventLoop loop = CpgEventLoop.builder().executor(executor).errorHandler(seen::report).start();
             CpgConnection listening = loop.open(seen)) {
            listening.join(group);
            long deadline = System.nanoTime() + DEADLINE.toNanos();
            while (seen.others.get() == 0 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            java.util.concurrent.CountDownLatch blocked = new java.util.concurrent.CountDownLatch(1);
            executor.execute(() -> {
                try {
                    blocked.await();
                } catch (InterruptedException e) {
                    // shutdownNow: end
                }
            });
            // The first half waits behind the blocking task; shutdownNow discards the drain task.
            for (int i = 0; i < MESSAGES / 2; i++) {
                listening.multicast(Guarantee.AGREED, Duration.ofSeconds(10),
                        java.lang.foreign.MemorySegment.ofArray(new byte[] {(byte) i}));
            }
            deadline = System.nanoTime() + DEADLINE.toNanos();
            while (listening.statistics().dispatchCalls() < 2 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            Thread.sleep(300); // the loop has read them
            assertThat(executor.shutdownNow()).as("the drain task it discards").isNotEmpty();
            assertThat(executor.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
            for (int i = MESSAGES / 2; i < MESSAGES; i++) {
                listening.multicast(Guarantee.AGREED, Duration.ofSeconds(10),
                        java.lang.foreign.MemorySegment.ofArray(new byte[] {(byte) i}));
            }
            awaitAccounted(seen, "executor that discarded the drain task");
            assertThat(seen.messages).isEmpty();
            assertThat(seen.rejections()).isEqualTo(MESSAGES);
            assertThat(listening.statistics().messagesDelivered()).isZero();
        } finally {
            executor.shutdownNow();
        }
    }
}
