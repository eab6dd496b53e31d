package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import org.jcpg.testsupport.Await;
import org.jcpg.testsupport.EventLoops;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.Payloads;
import org.jcpg.testsupport.Recorder;
import org.jcpg.testsupport.SuiteDaemon;
import org.jcpg.testsupport.ThreadAllocation;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Sending while the daemon refuses (TRY_AGAIN): {@code tryMulticast}
 * returns false without throwing or allocating, the timed
 * {@code multicast} waits and then throws a retryable TRY_AGAIN, and the
 * statistics count what was sent, refused and delivered.
 *
 * <p>The daemon refuses once a connection that nobody dispatches has a lot
 * waiting: a plain connection sends 64 KiB messages to its own group and
 * never dispatches.
 */
@NodeTest
class SendUnderLoadTest {
    private static final int BIG = 64 * 1024;

    /** Sends until the daemon refuses; fails if it never does. Returns how many were accepted. */
    static long sendUntilRefused(CpgConnection cpg, MemorySegment message) {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        long accepted = 0;
        while (cpg.tryMulticast(Guarantee.AGREED, message)) {
            accepted++;
            if (System.nanoTime() > deadline) {
                fail("the daemon accepted " + accepted + " messages of " + message.byteSize()
                        + " bytes from a connection nobody dispatches, and never refused");
            }
        }
        return accepted;
    }

    @Test
    @Timeout(120)
    void tryMulticastOfASegmentReturnsFalseWithoutAllocatingWhileTheDaemonRefuses() throws Exception {
        refusedCallsAllocateLittle(false);
    }

    @Test
    @Timeout(120)
    void tryMulticastOfAByteArrayReturnsFalseWithoutAllocatingWhileTheDaemonRefuses() throws Exception {
        refusedCallsAllocateLittle(true);
    }

    /**
     * Drives a connection nobody dispatches into refusal, then calls
     * tryMulticast 100,000 times per round: each false counts in
     * sendsRefused, and after warm-up rounds the calling thread allocates
     * less than a byte per call (nothing, but for the JIT's own doings).
     */
    private void refusedCallsAllocateLittle(boolean byteArray) throws Exception {
        ThreadAllocation allocation = new ThreadAllocation();
        try (Arena arena = Arena.ofConfined();
             CpgConnection cpg = CpgConnection.open(new CpgListener() {
             })) {
            cpg.join(SuiteDaemon.uniqueGroup("refused"));
            MemorySegment big = arena.allocate(BIG);
            big.fill((byte) 7);
            byte[] bigArray = new byte[BIG];
            long accepted = sendUntilRefused(cpg, big);
            System.out.printf("the daemon refused after %d messages of %d bytes (%d MiB) undispatched%n",
                    accepted, BIG, accepted * BIG >> 20);
            assertThat(cpg.statistics().messagesSent()).isEqualTo(accepted);
            assertThat(cpg.statistics().bytesSent()).isEqualTo(accepted * BIG);

            int calls = 100_000;
            int rounds = 6;
            long overhead = allocation.overhead();
            for (int round = 0; round < rounds; round++) { // warm-up rounds, then the measured one
                sendUntilRefused(cpg, big);
                long refusedBefore = cpg.statistics().sendsRefused();
                long sentBefore = cpg.statistics().messagesSent();
                long falses = 0;
                long start = allocation.now();
                if (byteArray) {
                    for (int i = 0; i < calls; i++) {
                        if (!cpg.tryMulticast(Guarantee.AGREED, bigArray)) {
                            falses++;
                        }
                    }
                } else {
                    for (int i = 0; i < calls; i++) {
                        if (!cpg.tryMulticast(Guarantee.AGREED, big)) {
                            falses++;
                        }
                    }
                }
                long bytes = allocation.now() - start - overhead;
                long refused = cpg.statistics().sendsRefused() - refusedBefore;
                long sent = cpg.statistics().messagesSent() - sentBefore;
                double perCall = (double) bytes / calls;
                System.out.printf("tryMulticast(%s) round %d: %d calls, %d refused, %d bytes allocated (%.2f per call)%n",
                        byteArray ? "byte[]" : "MemorySegment", round, calls, falses, bytes, perCall);
                assertThat(refused).as("sendsRefused counts each false").isEqualTo(falses);
                assertThat(sent).as("messagesSent counts each true").isEqualTo(calls - falses);
                if (round == rounds - 1) {
                    assertThat(falses).as("still refused (nobody dispatches)").isGreaterThan(calls / 2);
                    assertThat(perCall).as("bytes allocated per refused tryMulticast("
                            + (byteArray ? "byte[]" : "MemorySegment") + ") after warm-up").isLessThan(1.0);
                }
            }
        }
    }

    @Test
    @Timeout(30)
    void anAbsurdlyLongTimeoutSendsLikeAnyOther() {
        Recorder recorder = new Recorder();
        try (CpgConnection cpg = CpgConnection.open(recorder)) {
            cpg.join(SuiteDaemon.uniqueGroup("long-timeout"));
            cpg.multicast(Guarantee.AGREED, Duration.ofDays(1_000_000_000L), MemorySegment.ofArray(new byte[] {7}));
            cpg.multicast(Guarantee.AGREED, Duration.ofSeconds(-1), MemorySegment.ofArray(new byte[] {8}));
            SuiteDaemon.dispatchUntil(() -> recorder.messages.size() == 2, cpg);
            assertThat(recorder.messages).extracting(m -> m.payload()[0]).containsExactly((byte) 7, (byte) 8);
        }
    }

    @Test
    @Timeout(120)
    void multicastWithATinyTimeoutThrowsRetryableTryAgainWhileTheDaemonRefuses() {
        try (Arena arena = Arena.ofConfined();
             CpgConnection cpg = CpgConnection.open(new CpgListener() {
             })) {
            cpg.join(SuiteDaemon.uniqueGroup("refused-timeout"));
            MemorySegment big = arena.allocate(BIG);
            CpgException timedOut = null;
            CpgException plain = null;
            for (int attempt = 0; attempt < 100 && (timedOut == null || plain == null); attempt++) {
                sendUntilRefused(cpg, big);
                long refusedBefore = cpg.statistics().sendsRefused();
                try {
                    cpg.multicast(Guarantee.AGREED, Duration.ofNanos(1_000), big);
                    continue; // the daemon had room again within the microsecond: refuse again and retry
                } catch (CpgException e) {
                    if (e.error() != CpgError.TRY_AGAIN) {
                        throw e;
                    }
                    timedOut = e;
                }
                assertThat(cpg.statistics().sendsRefused() - refusedBefore)
                        .as("each refused try within the timeout counts").isGreaterThanOrEqualTo(1);
                sendUntilRefused(cpg, big);
                try {
                    cpg.multicast(Guarantee.AGREED, big);
                } catch (CpgException e) {
                    if (e.error() != CpgError.TRY_AGAIN) {
                        throw e;
                    }
                    plain = e;
                }
            }
            assertThat(timedOut).as("multicast(AGREED, 1 us, ...) while refused").isNotNull();
            assertThat(timedOut.isRetryable()).isTrue();
            assertThat(timedOut.code()).isEqualTo(6);
            assertThat(plain).as("multicast(AGREED, ...) while refused").isNotNull();
            assertThat(plain.isRetryable()).isTrue();
        }
    }

    @Test
    @Timeout(120)
    void zeroCopyTryMulticastNeverThrowsTryAgainAndCounts() throws Exception {
        ExecutorService helper = Executors.newSingleThreadExecutor();
        try (Arena arena = Arena.ofConfined();
             CpgConnection cpg = CpgConnection.open(new CpgListener() {
             })) {
            cpg.join(SuiteDaemon.uniqueGroup("refused-zcb"));
            MemorySegment big = arena.allocate(BIG);
            sendUntilRefused(cpg, big);
            try (ZeroCopyBuffer zcb = cpg.allocateZeroCopy(BIG)) {
                zcb.segment().fill((byte) 3);
                int outcomes = 0;
                for (int i = 0; i < 50; i++) {
                    CpgStatistics before = cpg.statistics();
                    // The zero-copy send waits for the daemon's answer: off this thread, with a bound.
                    Future<Boolean> sent = helper.submit(() -> zcb.tryMulticast(Guarantee.AGREED, BIG));
                    boolean ok = sent.get(30, TimeUnit.SECONDS);
                    CpgStatistics after = cpg.statistics();
                    if (ok) {
                        assertThat(after.messagesSent() - before.messagesSent()).isEqualTo(1);
                        assertThat(after.bytesSent() - before.bytesSent()).isEqualTo(BIG);
                    } else {
                        assertThat(after.sendsRefused() - before.sendsRefused()).isEqualTo(1);
                        outcomes++;
                    }
                }
                System.out.printf("zero-copy sends while plain sends are refused: %d of 50 refused (TRY_AGAIN)%n", outcomes);
            }
        } finally {
            helper.shutdownNow();
        }
        // And on a dispatched connection they are delivered and counted.
        List<Integer> seen = new CopyOnWriteArrayList<>();
        try (CpgEventLoop loop = CpgEventLoop.start();
             CpgConnection cpg = loop.open(new CpgListener() {
                 @Override
                 public void onMessage(CpgConnection connection, Message message) {
                     if (Payloads.matches(message.payload(), Payloads.index(message.payload()), 1000)) {
                         seen.add(Payloads.index(message.payload()));
                     }
                 }
             });
             ZeroCopyBuffer zcb = cpg.allocateZeroCopy(1000)) {
            cpg.join(SuiteDaemon.uniqueGroup("zcb-counted"));
            int n = 200;
            for (int k = 0; k < n; k++) {
                MemorySegment.copy(MemorySegment.ofArray(Payloads.pattern(k, 1000)), 0, zcb.segment(), 0, 1000);
                long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
                while (!zcb.tryMulticast(Guarantee.AGREED, 1000)) {
                    assertThat(System.nanoTime()).as("zero-copy send refused for 20 s").isLessThan(deadline);
                    Thread.sleep(1);
                }
            }
            Await.until(() -> seen.size() >= n, Duration.ofSeconds(30), () -> "delivered " + seen.size());
            assertThat(seen).isEqualTo(EventLoops.range(n));
            CpgStatistics stats = cpg.statistics();
            assertThat(stats.messagesSent()).isEqualTo(n);
            assertThat(stats.bytesSent()).isEqualTo(1000L * n);
            assertThat(stats.messagesDelivered()).isEqualTo(n);
            assertThat(stats.bytesDelivered()).isEqualTo(1000L * n);
        }
    }

    @Test
    @Timeout(180)
    void timedMulticastFromFourThreadsDeliversEverythingOnceInOrderAndTheStatisticsAgree() throws Exception {
        int threads = 4;
        int perThread = 5_000;
        AtomicIntegerArray next = new AtomicIntegerArray(threads);
        List<String> problems = new CopyOnWriteArrayList<>();
        AtomicLong receivedBytes = new AtomicLong();
        AtomicLong received = new AtomicLong();
        long[] sentBytes = new long[threads];
        try (CpgEventLoop loop = CpgEventLoop.builder().name("load-loop").start();
             CpgConnection cpg = loop.open(new CpgListener() {
                 @Override
                 public void onMessage(CpgConnection connection, Message message) {
                     ByteBuffer b = ByteBuffer.wrap(message.toByteArray());
                     int sender = b.get(0);
                     int seq = b.getInt(1);
                     int want = next.getAndIncrement(sender);
                     if (seq != want && problems.size() < 20) {
                         problems.add("sender " + sender + ": got " + seq + " expected " + want);
                     }
                     if (b.limit() != sizeOf(sender, seq) || b.get(b.limit() - 1) != (byte) (seq * 31 + sender)) {
                         problems.add("sender " + sender + " message " + seq + " garbled");
                     }
                     received.incrementAndGet();
                     receivedBytes.addAndGet(message.length());
                 }
             })) {
            cpg.join(SuiteDaemon.uniqueGroup("load"));
            List<Thread> senders = new ArrayList<>();
            List<Throwable> failures = new CopyOnWriteArrayList<>();
            for (int t = 0; t < threads; t++) {
                int sender = t;
                senders.add(Thread.ofPlatform().name("sender-" + t).start(() -> {
                    try (Arena arena = Arena.ofConfined()) {
                        for (int seq = 0; seq < perThread; seq++) {
                            int size = sizeOf(sender, seq);
                            MemorySegment m = arena.allocate(size);
                            m.set(java.lang.foreign.ValueLayout.JAVA_BYTE, 0, (byte) sender);
                            m.set(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.BIG_ENDIAN), 1, seq);
                            m.set(java.lang.foreign.ValueLayout.JAVA_BYTE, size - 1, (byte) (seq * 31 + sender));
                            cpg.multicast(Guarantee.AGREED, Duration.ofSeconds(30), m);
                            sentBytes[sender] += size;
                        }
                    } catch (Throwable e) {
                        failures.add(e);
                    }
                }));
            }
            for (Thread s : senders) {
                s.join(Duration.ofSeconds(120));
                assertThat(s.isAlive()).as(s.getName() + " still sending").isFalse();
            }
            assertThat(failures).isEmpty();
            long total = (long) threads * perThread;
            Await.until(() -> received.get() >= total, Duration.ofSeconds(60),
                    () -> "received " + received.get() + " of " + total);
            Thread.sleep(100);
            assertThat(problems).isEmpty();
            for (int t = 0; t < threads; t++) {
                assertThat(next.get(t)).as("messages of sender " + t).isEqualTo(perThread);
            }
            long bytes = 0;
            for (long b : sentBytes) {
                bytes += b;
            }
            CpgStatistics stats = cpg.statistics();
            System.out.printf("4 threads x %d timed multicasts: %s%n", perThread, stats);
            assertThat(stats.messagesSent()).isEqualTo(total);
            assertThat(stats.bytesSent()).isEqualTo(bytes);
            assertThat(stats.messagesDelivered()).isEqualTo(total);
            assertThat(stats.bytesDelivered()).isEqualTo(bytes).isEqualTo(receivedBytes.get());
            assertThat(stats.sendsRefused()).isGreaterThanOrEqualTo(0);
            assertThat(stats.callbackFailures()).isZero();
        }
    }

    /** 5 to about 8 KiB, varying per message. */
    static int sizeOf(int sender, int seq) {
        return 6 + (seq * 997 + sender * 131) % 8000;
    }
}
