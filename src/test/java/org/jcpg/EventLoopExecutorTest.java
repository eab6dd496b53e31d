package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jcpg.testsupport.EventLoops.builder;
import static org.jcpg.testsupport.EventLoops.executor;
import static org.jcpg.testsupport.EventLoops.parkMillis;
import static org.jcpg.testsupport.EventLoops.send;
import static org.jcpg.testsupport.EventLoops.shutdown;
import static org.jcpg.testsupport.EventLoops.sizeOf;
import static org.jcpg.testsupport.EventLoops.sleep;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.jcpg.internal.EventLoop;
import org.jcpg.testsupport.Await;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.Payloads;
import org.jcpg.testsupport.SuiteDaemon;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link CpgEventLoop} with an executor: each connection's callbacks one at a time and in order,
 * with copies that outlive them, and a slow executor holding the loop (and the daemon) back
 * without losing or reordering anything; against the real daemon.
 */
@NodeTest
class EventLoopExecutorTest {
    // ---- executors: order, exclusion, heap copies -----------------------------

    @ParameterizedTest
    @ValueSource(strings = {"virtual", "fixed4"})
    @Timeout(120)
    void anExecutorRunsEachConnectionsCallbacksOneAtATimeInOrderWithLastingCopies(String kind) throws Exception {
        int connections = 3;
        int n = 4000;
        ExecutorService executor = executor(kind);
        List<String> problems = new CopyOnWriteArrayList<>();
        AtomicInteger overlaps = new AtomicInteger();
        List<AtomicInteger> next = new ArrayList<>();
        List<Message> keptMessages = new CopyOnWriteArrayList<>();
        AtomicInteger onLoopThread = new AtomicInteger();
        AtomicInteger parallelAcrossConnections = new AtomicInteger();
        AtomicInteger runningAnywhere = new AtomicInteger();
        List<CpgConnection> open = new ArrayList<>();
        try (CpgEventLoop loop = builder("evl-exec-" + kind, executor).start()) {
            for (int i = 0; i < connections; i++) {
                AtomicInteger expected = new AtomicInteger();
                next.add(expected);
                AtomicInteger inFlight = new AtomicInteger();
                int index = i;
                CpgConnection cpg = loop.open(new CpgListener() {
                    @Override
                    public void onMessage(CpgConnection connection, Message message) {
                        if (inFlight.incrementAndGet() != 1) {
                            overlaps.incrementAndGet();
                        }
                        if (runningAnywhere.incrementAndGet() > 1) {
                            parallelAcrossConnections.incrementAndGet();
                        }
                        try {
                            if (Thread.currentThread().getName().startsWith("evl-exec-")) {
                                onLoopThread.incrementAndGet();
                            }
                            MemorySegment payload = message.payload();
                            if (payload.isNative() || !payload.isReadOnly()) {
                                problems.add(index + ": payload native=" + payload.isNative()
                                        + " readOnly=" + payload.isReadOnly());
                            }
                            int k = Payloads.index(payload);
                            int want = expected.getAndIncrement();
                            if (k != want) {
                                problems.add(index + ": got " + k + " expected " + want);
                            }
                            if (k % 97 == 0) {
                                keptMessages.add(message);
                            }
                            // Widen the window in which a second callback of this connection would overlap.
                            for (int spin = 0; spin < 20; spin++) {
                                Thread.onSpinWait();
                            }
                            if (k % 500 == 0) {
                                Thread.yield();
                            }
                        } finally {
                            runningAnywhere.decrementAndGet();
                            inFlight.decrementAndGet();
                        }
                    }
                });
                open.add(cpg);
                cpg.join(SuiteDaemon.uniqueGroup("evl-exec-" + i));
            }
            for (int k = 0; k < n; k++) {
                for (CpgConnection cpg : open) {
                    send(cpg, k, sizeOf(k));
                }
            }
            Await.until(() -> next.stream().allMatch(e -> e.get() >= n), Duration.ofSeconds(90),
                    () -> "delivered " + next.stream().map(AtomicInteger::get).toList() + ", problems " + problems.stream().limit(5).toList());
            sleep(100);
            for (CpgConnection cpg : open) {
                assertThat(cpg.statistics().messagesDelivered()).isEqualTo(n);
            }
        } finally {
            shutdown(executor);
        }
        System.out.printf("executor %s: %d callbacks ran while another connection's ran%n",
                kind, parallelAcrossConnections.get());
        assertThat(problems).isEmpty();
        assertThat(overlaps.get()).as("callbacks of one connection at once").isZero();
        assertThat(onLoopThread.get()).as("callbacks on the loop thread").isZero();
        // Loop closed, executor gone: the copies are still intact.
        assertThat(keptMessages).hasSize(connections * ((n + 96) / 97));
        for (Message m : keptMessages) {
            MemorySegment payload = m.payload();
            assertThat(payload.isNative()).isFalse();
            assertThat(payload.isReadOnly()).isTrue();
            int k = Payloads.index(payload);
            assertThat(Payloads.matches(payload, k, sizeOf(k))).as("kept payload " + k).isTrue();
            assertThat(m.toByteArray()).isEqualTo(Payloads.pattern(k, sizeOf(k)));
        }
    }

    // ---- backpressure ---------------------------------------------------------

    @Test
    @Timeout(180)
    void aSlowExecutorHoldsBackTheLoopAndEverythingArrivesInOrder() throws Exception {
        int n = 30_000;
        int slow = 5_000;
        ExecutorService executor = executor("fixed4");
        AtomicInteger ran = new AtomicInteger();
        AtomicInteger next = new AtomicInteger();
        List<String> problems = new CopyOnWriteArrayList<>();
        AtomicLong maxQueued = new AtomicLong();
        AtomicBoolean sampling = new AtomicBoolean(true);
        try (CpgEventLoop loop = builder("evl-backpressure", executor).start();
             CpgConnection cpg = loop.open(new CpgListener() {
                 @Override
                 public void onMessage(CpgConnection connection, Message message) {
                     int k = Payloads.index(message.payload());
                     int want = next.getAndIncrement();
                     if (k != want && problems.size() < 10) {
                         problems.add("got " + k + " expected " + want);
                     }
                     if (k < slow) {
                         sleep(1);
                     }
                     ran.incrementAndGet();
                 }
             })) {
            cpg.join(SuiteDaemon.uniqueGroup("evl-backpressure"));
            Thread sampler = Thread.ofPlatform().daemon().start(() -> {
                while (sampling.get()) {
                    long queued = cpg.statistics().eventsWaiting();
                    maxQueued.accumulateAndGet(queued, Math::max);
                    parkMillis(2);
                }
            });
            long t0 = System.nanoTime();
            for (int k = 0; k < n; k++) {
                send(cpg, k, 8);
            }
            long sentNanos = System.nanoTime() - t0;
            Await.until(() -> ran.get() >= n, Duration.ofSeconds(120), () -> "ran " + ran.get() + " of " + n);
            sampling.set(false);
            sampler.join();
            CpgStatistics stats = cpg.statistics();
            System.out.printf("backpressure: %d messages sent in %.1f s, %d sends refused (TRY_AGAIN), "
                            + "at most %d delivered but not yet run (loop limit %d)%n",
                    n, sentNanos / 1e9, stats.sendsRefused(), maxQueued.get(), EventLoop.MAX_WAITING);
            assertThat(problems).isEmpty();
            assertThat(next.get()).isEqualTo(n);
            assertThat(stats.messagesDelivered()).isEqualTo(n);
            // Without backpressure nearly all 30,000 would wait. The loop stops reading at 10,000;
            // "not far beyond" is taken as at most twice that.
            assertThat(maxQueued.get()).as("events queued for the executor at most")
                    .isGreaterThanOrEqualTo(EventLoop.MAX_WAITING / 2)
                    .isLessThanOrEqualTo(2L * EventLoop.MAX_WAITING);
        } finally {
            sampling.set(false);
            shutdown(executor);
        }
    }
}
