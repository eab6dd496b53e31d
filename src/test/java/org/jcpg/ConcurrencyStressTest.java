package org.jcpg;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.jcpg.testsupport.TryAgain.retrying;
import static org.jcpg.testsupport.TryAgain.sleep;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.Supplier;
import java.util.zip.CRC32;
import org.jcpg.testsupport.Await;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.SuiteDaemon;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Many threads calling one connection at once while another thread
 * dispatches it: every message arrives exactly once, intact, in per-sender
 * order; the queries answer sanely; the daemon survives; and close() racing
 * the senders only ever shows them IllegalStateException.
 */
@NodeTest
class ConcurrencyStressTest {
    /** sender id, sequence number, total length, CRC32 of the body: four big-endian ints. */
    private static final int HEADER = 16;
    private static final ValueLayout.OfInt BIG_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private static final int SMALL_SENDERS = 8;
    private static final int SMALL_COUNT = 1_500;
    private static final int BIG_SENDERS = 2;
    private static final int BIG_COUNT = 2;
    private static final int BIG_SIZE = 3_000_000;
    private static final int SENDERS = SMALL_SENDERS + BIG_SENDERS;
    private static final int ZERO_COPY_SIZE = 4096;

    /** How each small sender hands its messages to jcpg (two threads each). */
    private enum Kind { BYTES, SEGMENT, GATHER, ZERO_COPY }

    private static Kind kindOf(int sender) {
        return Kind.values()[sender / 2];
    }

    private static int smallLength(int sender, int seq) {
        return HEADER + (seq * 131 + sender * 17) % 700;
    }

    private static int bigLength(int sender, int seq) {
        return BIG_SIZE + sender * 1000 + seq;
    }

    private static byte body(int sender, int seq, int i) {
        return (byte) (sender * 31 + seq * 17 + i * 7 + (i >>> 9));
    }

    /** The message {@code seq} of {@code sender}: header, then a pattern of (sender, seq, offset). */
    static byte[] message(int sender, int seq, int length) {
        byte[] m = new byte[length];
        for (int i = HEADER; i < length; i++) {
            m[i] = body(sender, seq, i);
        }
        CRC32 crc = new CRC32();
        crc.update(m, HEADER, length - HEADER);
        ByteBuffer.wrap(m).putInt(0, sender).putInt(4, seq).putInt(8, length).putInt(12, (int) crc.getValue());
        return m;
    }

    static String describe(Throwable t) {
        StringWriter out = new StringWriter();
        t.printStackTrace(new PrintWriter(out));
        return out.toString();
    }

    /** Checks every delivery as it comes, on the dispatching thread. */
    static final class Checker implements CpgListener {
        final GroupName group;
        final AtomicIntegerArray next = new AtomicIntegerArray(SENDERS);
        final AtomicInteger delivered = new AtomicInteger();
        final Queue<String> problems = new ConcurrentLinkedQueue<>();
        volatile boolean joined;

        Checker(GroupName group) {
            this.group = group;
        }

        void problem(String what) {
            if (problems.size() < 50) {
                problems.add(what);
            }
        }

        @Override
        public void onMembershipChange(CpgConnection connection, MembershipChange change) {
            if (change.joined().stream().anyMatch(m -> m.pid() == (int) SuiteDaemon.OWN_PID)) {
                joined = true;
            }
        }

        @Override
        public void onMessage(CpgConnection connection, Message message) {
            delivered.incrementAndGet();
            MemorySegment p = message.payload();
            if (!message.group().equals(group) || message.pid() != (int) SuiteDaemon.OWN_PID) {
                problem("message from " + message.pid() + " in " + message.group());
                return;
            }
            if (p.byteSize() < HEADER) {
                problem("message of " + p.byteSize() + " bytes");
                return;
            }
            int sender = p.get(BIG_INT, 0);
            int seq = p.get(BIG_INT, 4);
            int length = p.get(BIG_INT, 8);
            int crc = p.get(BIG_INT, 12);
            if (sender < 0 || sender >= SENDERS) {
                problem("garbled header: sender " + sender + " seq " + seq + " length " + length + " size " + p.byteSize());
                return;
            }
            if (length != p.byteSize()) {
                problem("sender " + sender + " seq " + seq + ": " + p.byteSize() + " bytes, header says " + length);
                return;
            }
            CRC32 actual = new CRC32();
            actual.update(p.asSlice(HEADER).asByteBuffer());
            byte[] expected = message(sender, seq, length);
            if ((int) actual.getValue() != crc
                    || MemorySegment.mismatch(p, 0, length, MemorySegment.ofArray(expected), 0, length) >= 0) {
                problem("sender " + sender + " seq " + seq + ": body corrupted (" + length + " bytes)");
            }
            int wanted = next.getAndSet(sender, seq + 1);
            if (seq != wanted) {
                problem("sender " + sender + ": seq " + seq + " delivered when " + wanted + " was next"
                        + (seq < wanted ? " (duplicate or reordered)" : " (lost or reordered)"));
            }
        }
    }

    /** A big-stack thread that dispatches ONE at a time until the connection is closed. */
    static Thread dispatcher(CpgConnection cpg, Queue<String> failures) {
        return Thread.ofPlatform().name("stress-dispatch").stackSize(CpgConnection.DISPATCH_STACK_SIZE).start(() -> {
            try {
                while (!cpg.isClosed()) {
                    cpg.dispatch(DispatchMode.ONE);
                }
            } catch (IllegalStateException e) {
                if (!cpg.isClosed()) {
                    failures.add("dispatch: " + describe(e));
                }
            } catch (Throwable t) {
                failures.add("dispatch: " + describe(t));
            }
        });
    }

    /** One message of a small sender, handed over the way its kind does it. */
    private static void sendSmall(CpgConnection cpg, int sender, int seq, MemorySegment scratch, ZeroCopyBuffer zcb) {
        int length = smallLength(sender, seq);
        byte[] m = message(sender, seq, length);
        switch (kindOf(sender)) {
            case BYTES -> retrying(() -> cpg.multicast(Guarantee.AGREED, m));
            case SEGMENT -> {
                MemorySegment.copy(m, 0, scratch, JAVA_BYTE, 0, length);
                retrying(() -> cpg.multicast(Guarantee.AGREED, scratch.asSlice(0, length)));
            }
            case GATHER -> retrying(() -> cpg.multicast(Guarantee.AGREED, gather(m, 2 + seq % 4, sender % 2 == 1)));
            case ZERO_COPY -> {
                MemorySegment.copy(m, 0, zcb.segment(), JAVA_BYTE, 0, length);
                retrying(() -> zcb.multicast(Guarantee.AGREED, length));
            }
        }
    }

    /** The message cut into {@code parts} buffers; with {@code direct}, every other one is a direct buffer. */
    private static ByteBuffer[] gather(byte[] m, int parts, boolean direct) {
        ByteBuffer[] buffers = new ByteBuffer[parts];
        for (int j = 0; j < parts; j++) {
            int from = m.length * j / parts;
            int to = m.length * (j + 1) / parts;
            if (direct && j % 2 == 1) {
                ByteBuffer d = ByteBuffer.allocateDirect(to - from);
                d.put(m, from, to - from).flip();
                buffers[j] = d;
            } else {
                buffers[j] = ByteBuffer.wrap(m, from, to - from);
            }
        }
        return buffers;
    }

    @Test
    @Timeout(240)
    void everyKindOfCallAtOnceOnOneConnection() throws Exception {
        SuiteDaemon.assertAlive();
        GroupName group = SuiteDaemon.uniqueGroup("stress");
        Checker checker = new Checker(group);
        Queue<String> failures = new ConcurrentLinkedQueue<>();
        AtomicInteger queryRounds = new AtomicInteger();
        AtomicIntegerArray sent = new AtomicIntegerArray(SENDERS);
        int total = SMALL_SENDERS * SMALL_COUNT + BIG_SENDERS * BIG_COUNT;
        long node;
        long started = System.nanoTime();
        CpgConnection cpg = CpgConnection.open(checker);
        Thread dispatcher = null;
        try {
            cpg.join(group);
            dispatcher = dispatcher(cpg, failures);
            Await.until(() -> checker.joined, Duration.ofSeconds(20), "our own JOIN");
            node = cpg.localNodeId();
            Member me = new Member(node, (int) SuiteDaemon.OWN_PID, Reason.UNDEFINED);
            GroupMember meInGroup = new GroupMember(group, node, (int) SuiteDaemon.OWN_PID);

            CountDownLatch start = new CountDownLatch(1);
            List<Thread> senders = new ArrayList<>();
            for (int s = 0; s < SENDERS; s++) {
                int sender = s;
                senders.add(Thread.ofPlatform().name("sender-" + s).start(() -> {
                    try {
                        start.await();
                        if (sender >= SMALL_SENDERS) {
                            for (int seq = 0; seq < BIG_COUNT; seq++) {
                                byte[] m = message(sender, seq, bigLength(sender, seq));
                                retrying(() -> cpg.multicast(Guarantee.AGREED, m));
                                sent.incrementAndGet(sender);
                            }
                            return;
                        }
                        // Each thread owns its arena (confined for one, shared for the other) and its buffer.
                        try (Arena arena = sender % 2 == 0 ? Arena.ofConfined() : Arena.ofShared();
                             ZeroCopyBuffer zcb = kindOf(sender) == Kind.ZERO_COPY
                                     ? retrying(() -> cpg.allocateZeroCopy(ZERO_COPY_SIZE)) : null) {
                            MemorySegment scratch = arena.allocate(ZERO_COPY_SIZE);
                            for (int seq = 0; seq < SMALL_COUNT; seq++) {
                                sendSmall(cpg, sender, seq, scratch, zcb);
                                sent.incrementAndGet(sender);
                            }
                        }
                    } catch (Throwable t) {
                        failures.add("sender " + sender + " (" + (sender < SMALL_SENDERS ? kindOf(sender) : "3 MB")
                                + ") after " + sent.get(sender) + " messages: " + describe(t));
                    }
                }));
            }
            AtomicInteger sendersLeft = new AtomicInteger(SENDERS);
            Thread querier = Thread.ofPlatform().name("querier").start(() -> {
                try {
                    start.await();
                    while (sendersLeft.get() > 0) {
                        long id = retrying(cpg::localNodeId);
                        if (id != node) {
                            checker.problem("localNodeId " + id + ", first call said " + node);
                        }
                        List<Member> membership = retrying(() -> cpg.membership(group));
                        if (!membership.equals(List.of(me))) {
                            checker.problem("membership(group) = " + membership);
                        }
                        List<GroupName> groups = retrying(cpg::groups);
                        if (groups.stream().filter(group::equals).count() != 1) {
                            checker.problem("groups() lists our group " + groups.stream().filter(group::equals).count()
                                    + " times: " + groups);
                        }
                        List<GroupMember> ours = retrying(() -> cpg.members(group));
                        if (!ours.equals(List.of(meInGroup))) {
                            checker.problem("members(group) = " + ours);
                        }
                        List<GroupMember> all = retrying(() -> cpg.members());
                        if (all.stream().filter(meInGroup::equals).count() != 1) {
                            checker.problem("members() lists us " + all.stream().filter(meInGroup::equals).count()
                                    + " times");
                        }
                        queryRounds.incrementAndGet();
                        sleep(1);
                    }
                } catch (Throwable t) {
                    failures.add("querier after " + queryRounds.get() + " rounds: " + describe(t));
                }
            });

            start.countDown();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(150);
            for (Thread sender : senders) {
                long left = Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()));
                if (!sender.join(Duration.ofMillis(left))) {
                    failures.add(sender.getName() + " still sending after 150 s: "
                            + java.util.Arrays.toString(sender.getStackTrace()));
                }
                sendersLeft.decrementAndGet();
            }
            sendersLeft.set(0);
            if (!querier.join(Duration.ofSeconds(30))) {
                failures.add("querier still running: " + java.util.Arrays.toString(querier.getStackTrace()));
            }
            int expected = 0;
            for (int s = 0; s < SENDERS; s++) {
                expected += sent.get(s);
            }
            int sentTotal = expected;
            long waitUntil = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (checker.delivered.get() < sentTotal && System.nanoTime() < waitUntil && dispatcher.isAlive()) {
                sleep(20);
            }
            // A little longer, so that a duplicate would show.
            sleep(200);
        } finally {
            cpg.close();
            if (dispatcher != null && !dispatcher.join(Duration.ofSeconds(20))) {
                failures.add("dispatcher did not return after close: " + java.util.Arrays.toString(dispatcher.getStackTrace()));
            }
        }
        System.out.printf("ConcurrencyStressTest: %d delivered of %d planned in %.1f s, %d query rounds%n",
                checker.delivered.get(), total, (System.nanoTime() - started) / 1e9, queryRounds.get());

        assertThat(failures).as("exceptions on the threads").isEmpty();
        assertThat(checker.problems).as("delivery / query problems").isEmpty();
        for (int s = 0; s < SENDERS; s++) {
            int count = s < SMALL_SENDERS ? SMALL_COUNT : BIG_COUNT;
            assertThat(sent.get(s)).as("sent by sender " + s).isEqualTo(count);
            assertThat(checker.next.get(s)).as("delivered from sender " + s).isEqualTo(count);
        }
        assertThat(checker.delivered.get()).as("deliveries").isEqualTo(total);
        assertThat(queryRounds.get()).as("query rounds").isPositive();
        SuiteDaemon.assertAlive();
        try (CpgConnection after = CpgConnection.open(new CpgListener() { })) {
            assertThat(after.localNodeId()).as("the daemon still answers").isEqualTo(node);
        }
    }

    @Test
    @Timeout(240)
    void closeRacingSendersOnlyEverGivesIllegalStateException() throws Exception {
        SuiteDaemon.assertAlive();
        for (int round = 0; round < 3; round++) {
            closeRace(round);
        }
        SuiteDaemon.assertAlive();
    }

    private void closeRace(int round) throws Exception {
        GroupName group = SuiteDaemon.uniqueGroup("close-race");
        Checker checker = new Checker(group);
        Queue<String> failures = new ConcurrentLinkedQueue<>();
        int threads = SMALL_SENDERS + 1; // the last one queries
        AtomicIntegerArray calls = new AtomicIntegerArray(threads);
        AtomicReferenceArray<Throwable> ended = new AtomicReferenceArray<>(threads);
        CpgConnection cpg = CpgConnection.open(checker);
        Thread dispatcher = null;
        List<Thread> workers = new ArrayList<>();
        try {
            cpg.join(group);
            dispatcher = dispatcher(cpg, failures);
            Await.until(() -> checker.joined, Duration.ofSeconds(20), "our own JOIN");
            CountDownLatch ready = new CountDownLatch(threads);
            for (int t = 0; t < threads; t++) {
                int index = t;
                workers.add(Thread.ofPlatform().name("racer-" + t).start(() -> {
                    try (Arena arena = Arena.ofConfined();
                         ZeroCopyBuffer zcb = index < SMALL_SENDERS && kindOf(index) == Kind.ZERO_COPY
                                 ? retrying(() -> cpg.allocateZeroCopy(ZERO_COPY_SIZE)) : null) {
                        MemorySegment scratch = arena.allocate(ZERO_COPY_SIZE);
                        ready.countDown();
                        for (int seq = 0; ; seq++) {
                            if (index < SMALL_SENDERS) {
                                sendSmall(cpg, index, seq, scratch, zcb);
                            } else {
                                cpg.membership(group);
                                cpg.localNodeId();
                                cpg.groups();
                            }
                            calls.incrementAndGet(index);
                        }
                    } catch (Throwable t2) {
                        ended.set(index, t2);
                    } finally {
                        ready.countDown();
                    }
                }));
            }
            assertThat(ready.await(30, TimeUnit.SECONDS)).as("racers ready").isTrue();
            // Close once every thread is well under way.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (System.nanoTime() < deadline) {
                boolean all = true;
                for (int t = 0; t < threads; t++) {
                    all &= calls.get(t) >= 20 || ended.get(t) != null;
                }
                if (all) {
                    break;
                }
                sleep(1);
            }
        } finally {
            cpg.close();
            for (Thread worker : workers) {
                if (!worker.join(Duration.ofSeconds(20))) {
                    failures.add(worker.getName() + " still running after close: "
                            + java.util.Arrays.toString(worker.getStackTrace()));
                }
            }
            if (dispatcher != null && !dispatcher.join(Duration.ofSeconds(20))) {
                failures.add("dispatcher did not return after close");
            }
        }
        List<String> wrong = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            Throwable e = ended.get(t);
            if (!(e instanceof IllegalStateException)) {
                wrong.add("racer " + t + " (" + (t < SMALL_SENDERS ? kindOf(t) : "queries") + ") after "
                        + calls.get(t) + " calls ended with " + (e == null ? "nothing" : describe(e)));
            }
        }
        System.out.printf("close race %d: calls before close %s%n", round, calls);
        assertThat(failures).as("round " + round).isEmpty();
        assertThat(wrong).as("round " + round + ": each racer must end with IllegalStateException only").isEmpty();
        assertThat(checker.problems).as("round " + round + ": what was delivered before close").isEmpty();
        SuiteDaemon.assertAlive();
    }
}
