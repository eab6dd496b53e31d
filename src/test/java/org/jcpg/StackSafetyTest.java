package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.IntStream;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.Payloads;
import org.jcpg.testsupport.Recorder;
import org.jcpg.testsupport.SuiteDaemon;
import org.jcpg.testsupport.Where;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * libcpg's cpg_dispatch keeps a 1 MiB receive buffer on its stack. Dispatching
 * from a thread with a default (1 MiB) stack, or a virtual thread, must neither
 * crash the JVM nor corrupt memory: every event arrives intact, on the thread
 * that called dispatch.
 */
@NodeTest
class StackSafetyTest {
    private static final int FLOOD_COUNT = 200;
    private static final int FLOOD_SIZE = 64 * 1024;

    /** Checks every event as it comes: right thread, right bytes. */
    static final class Checker implements CpgListener {
        final Thread owner;
        final GroupName group;
        final Map<Integer, Integer> expectedSize = new ConcurrentHashMap<>();
        final List<Integer> received = new CopyOnWriteArrayList<>();
        final List<String> problems = new CopyOnWriteArrayList<>();
        final List<MembershipChange> changes = new CopyOnWriteArrayList<>();
        final List<TotemChange> totems = new CopyOnWriteArrayList<>();
        volatile int closeOn = Integer.MIN_VALUE;

        Checker(Thread owner, GroupName group) {
            this.owner = owner;
            this.group = group;
        }

        private void checkThread(String what) {
            if (Thread.currentThread() != owner) {
                problems.add(what + " ran on " + Thread.currentThread() + ", dispatch was called on " + owner);
            }
        }

        @Override
        public void onMessage(CpgConnection connection, Message message) {
            checkThread("onMessage");
            if (!message.group().equals(group)) {
                problems.add("message for group " + message.group());
            }
            if (message.pid() != (int) SuiteDaemon.OWN_PID) {
                problems.add("message from pid " + message.pid());
            }
            int k = message.length() >= 4 ? Payloads.index(message.payload()) : -1;
            Integer size = expectedSize.get(k);
            if (size == null) {
                problems.add("unexpected message, " + message.length() + " bytes, index " + k);
            } else if (!Payloads.matches(message.payload(), k, size)) {
                problems.add("message " + k + " corrupted: " + message.length() + " bytes, expected " + size);
            }
            received.add(k);
            if (k == closeOn) {
                connection.close();
            }
        }

        @Override
        public void onMembershipChange(CpgConnection connection, MembershipChange change) {
            checkThread("onMembershipChange");
            if (!change.group().equals(group)) {
                problems.add("membership change for group " + change.group());
            }
            changes.add(change);
        }

        @Override
        public void onTotemChange(CpgConnection connection, TotemChange change) {
            checkThread("onTotemChange");
            totems.add(change);
        }

        long joins() {
            return changes.stream().mapToLong(c -> c.joined().size()).sum();
        }

        long leaves() {
            return changes.stream().mapToLong(c -> c.left().size()).sum();
        }

        byte[] expect(int k, int size) {
            expectedSize.put(k, size);
            return Payloads.pattern(k, size);
        }
    }

    record Outcome(List<String> problems, String connectionName, long workersWhileOpen, int blockingReturned) {
    }

    @ParameterizedTest
    @EnumSource(Where.class)
    @Timeout(45)
    void dispatchOnAnyThreadDeliversEverythingIntactOnTheCallingThread(Where where) throws Exception {
        GroupName group = SuiteDaemon.uniqueGroup("stack-" + where);
        Outcome outcome = where.call(Duration.ofSeconds(40), () -> scenario(where, group));

        assertThat(outcome.problems()).isEmpty();
        if (where.pathKnown() && !where.inline()) {
            assertThat(outcome.workersWhileOpen()).as("dispatch worker threads while open").isPositive();
        }
        assertThat(outcome.blockingReturned()).as("callbacks run by dispatch(BLOCKING)").isEqualTo(6);

        // The JVM is still sane: a fresh round trip on the JUnit thread.
        Recorder after = new Recorder();
        try (CpgConnection cpg = CpgConnection.open(after)) {
            cpg.join(SuiteDaemon.uniqueGroup("stack-after"));
            byte[] message = Payloads.pattern(4242, 100_000);
            cpg.multicast(Guarantee.AGREED, message);
            SuiteDaemon.dispatchUntil(() -> after.messages.size() == 1, cpg);
            assertThat(after.messages.get(0).payload()).isEqualTo(message);
        }
    }

    private static PeerProcess peer;

    @BeforeAll
    static void startPeer() throws Exception {
        peer = PeerProcess.start();
    }

    @AfterAll
    static void stopPeer() throws Exception {
        if (peer != null) {
            peer.close();
        }
    }

    private static Outcome scenario(Where where, GroupName group) throws InterruptedException {
        where.assertPath();
        Checker checker = new Checker(Thread.currentThread(), group);
        CpgConnection cpg = CpgConnection.open(checker, ModelFlag.DELIVER_INITIAL_TOTEM_CONF);
        String name = Where.nameOf(cpg);
        long workers;
        int blockingReturned;
        try {
            cpg.join(group);
            SuiteDaemon.dispatchUntil(() -> checker.joins() == 1 && !checker.totems.isEmpty(), cpg);
            assertThat(checker.totems.get(0).nodeIds()).contains(cpg.localNodeId());

            // Membership changes: another process joins and leaves five times, all before we dispatch.
            peer.command("churn " + HexFormat.of().formatHex(group.toBytes()) + " 5");
            SuiteDaemon.dispatchUntil(() -> checker.joins() == 6 && checker.leaves() == 5, cpg);
            assertThat(checker.changes).hasSize(11);
            assertThat(checker.changes.subList(1, 11)).allSatisfy(change -> assertThat(
                    change.joined().size() + change.left().size() == 1
                    && (change.joined().isEmpty() ? change.left() : change.joined()).get(0).pid() == peer.pid())
                    .as("one change of the peer: %s", change).isTrue());
            assertThat(checker.changes.getLast().members()).hasSize(1);

            // The flood: 200 x 64 KiB, queued up before dispatching as far as flow control allows.
            for (int k = 0; k < FLOOD_COUNT; k++) {
                Payloads.send(cpg, checker.expect(k, FLOOD_SIZE), cpg);
            }
            SuiteDaemon.dispatchUntil(() -> checker.received.size() == FLOOD_COUNT, cpg);
            assertThat(checker.received).containsExactlyElementsOf(IntStream.range(0, FLOOD_COUNT).boxed().toList());
            workers = Where.dispatchWorkers();

            // After the flood, more work must still come out right: varied sizes, one fragmented
            // (above maxAtomicMessageSize), dispatched with ONE and ONE_NONBLOCKING.
            int max = cpg.maxAtomicMessageSize();
            List<Integer> second = new ArrayList<>();
            for (int j = 0; j < 10; j++) {
                int k = 1000 + j;
                int size = j == 9 ? max + 50_000 : 4 + j * 20_011;
                Payloads.send(cpg, checker.expect(k, size), cpg);
                second.add(k);
            }
            int before = checker.received.size();
            while (checker.received.size() < before + 5) {
                cpg.dispatch(DispatchMode.ONE);
            }
            long spin = System.nanoTime() + 20_000_000_000L;
            while (checker.received.size() < before + 10 && System.nanoTime() < spin) {
                cpg.dispatch(DispatchMode.ONE_NONBLOCKING);
            }
            assertThat(checker.received.subList(before, checker.received.size())).containsExactlyElementsOf(second);

            // dispatch(BLOCKING) until a callback closes the connection.
            for (int k = 2000; k < 2006; k++) {
                Payloads.send(cpg, checker.expect(k, 30_000), cpg);
            }
            checker.closeOn = 2005;
            int beforeBlocking = checker.received.size();
            blockingReturned = cpg.dispatch(DispatchMode.BLOCKING);
            assertThat(cpg.isClosed()).isTrue();
            assertThat(checker.received.subList(beforeBlocking, checker.received.size()))
                    .containsExactly(2000, 2001, 2002, 2003, 2004, 2005);
        } finally {
            cpg.close();
        }
        return new Outcome(List.copyOf(checker.problems), name, workers, blockingReturned);
    }
}
