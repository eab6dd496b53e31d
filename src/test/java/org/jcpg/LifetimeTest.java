package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.lang.foreign.MemorySegment;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.Payloads;
import org.jcpg.testsupport.Recorder;
import org.jcpg.testsupport.SuiteDaemon;
import org.jcpg.testsupport.Where;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/** close() at any time, from any thread, also from a callback or during a blocked dispatch. */
@NodeTest
class LifetimeTest {
    private static final Set<String> ALLOWED_AFTER_CLOSE = Set.of("close", "isClosed", "isLost", "statistics",
            "toString", "equals", "hashCode");

    private static Object dummy(Class<?> type, GroupName group) {
        if (type == GroupName.class) {
            return group;
        }
        if (type == Guarantee.class) {
            return Guarantee.AGREED;
        }
        if (type == byte[].class) {
            return new byte[] {1, 2, 3};
        }
        if (type == ByteBuffer[].class) {
            return new ByteBuffer[] {ByteBuffer.wrap(new byte[] {1})};
        }
        if (type == MemorySegment[].class) {
            return new MemorySegment[] {MemorySegment.ofArray(new byte[] {1})};
        }
        if (type == DispatchMode.class) {
            return DispatchMode.ALL;
        }
        if (type == long.class) {
            return 64L;
        }
        if (type == Object.class) {
            return "context";
        }
        if (type == java.time.Duration.class) {
            return java.time.Duration.ofSeconds(1);
        }
        if (type == MemorySegment.class) {
            return MemorySegment.ofArray(new byte[] {1});
        }
        throw new AssertionError("no dummy for " + type);
    }

    @Test
    @Timeout(30)
    void everyPublicMethodThrowsIllegalStateExceptionAfterClose() throws Exception {
        GroupName group = SuiteDaemon.uniqueGroup("life-closed");
        Recorder recorder = new Recorder();
        CpgConnection cpg = CpgConnection.open(recorder);
        cpg.join(group);
        cpg.setContext("before");
        ZeroCopyBuffer buffer = cpg.allocateZeroCopy(64);
        SuiteDaemon.dispatchUntil(() -> recorder.membershipChanges.size() == 1, cpg);
        cpg.close();
        cpg.close(); // idempotent
        assertThat(cpg.isClosed()).isTrue();
        assertThat(cpg.toString()).contains("closed");

        // Every public instance method, found by reflection so that none is forgotten.
        List<String> checked = new ArrayList<>();
        for (Method method : CpgConnection.class.getMethods()) {
            if (Modifier.isStatic(method.getModifiers()) || method.getDeclaringClass() != CpgConnection.class
                    || ALLOWED_AFTER_CLOSE.contains(method.getName())) {
                continue;
            }
            Object[] args = Arrays.stream(method.getParameterTypes()).map(t -> dummy(t, group)).toArray();
            Throwable thrown = catchThrowable(() -> method.invoke(cpg, args));
            assertThat(thrown).as(method.toString()).isInstanceOf(InvocationTargetException.class);
            assertThat(thrown.getCause()).as(method.toString()).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("closed");
            checked.add(method.getName());
        }
        assertThat(checked).contains("join", "leave", "multicast", "dispatch", "membership", "groups", "members",
                "localNodeId", "flowControlState", "maxAtomicMessageSize", "fd", "context", "setContext",
                "allocateZeroCopy", "group", "tryMulticast");
        assertThat(checked.stream().filter("multicast"::equals)).hasSize(4);
        assertThat(checked.stream().filter("tryMulticast"::equals)).hasSize(3);
        assertThat(checked.stream().filter("members"::equals)).hasSize(2);

        // Explicitly, each dispatch mode and each multicast overload.
        for (DispatchMode mode : DispatchMode.values()) {
            assertThatThrownBy(() -> cpg.dispatch(mode)).as(mode.toString()).isInstanceOf(IllegalStateException.class);
        }
        assertThatThrownBy(() -> cpg.multicast(Guarantee.AGREED, new byte[1])).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> cpg.multicast(Guarantee.SAFE, ByteBuffer.allocate(1), ByteBuffer.allocateDirect(2)))
                .isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> cpg.multicast(Guarantee.FIFO, MemorySegment.ofArray(new byte[1])))
                .isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> cpg.multicast(Guarantee.AGREED, new MemorySegment[0])).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> cpg.members()).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> cpg.members(group)).isInstanceOf(IllegalStateException.class);

        // The zero-copy buffer went with the connection.
        assertThatThrownBy(() -> buffer.multicast(Guarantee.AGREED, 1)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> buffer.segment().get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0))
                .isInstanceOf(IllegalStateException.class);
        buffer.close(); // does nothing now
        cpg.close();
        assertThat(cpg.isClosed()).isTrue();
    }

    @Test
    @Timeout(30)
    void concurrentClosesAreHarmless() throws Exception {
        for (int round = 0; round < 20; round++) {
            CpgConnection cpg = CpgConnection.open(new CpgListener() { });
            cpg.join(SuiteDaemon.uniqueGroup("life-cc"));
            ZeroCopyBuffer buffer = cpg.allocateZeroCopy(128);
            CountDownLatch go = new CountDownLatch(1);
            List<Throwable> failures = new CopyOnWriteArrayList<>();
            List<Thread> closers = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                boolean closeBuffer = i % 2 == 0;
                closers.add(Thread.ofPlatform().start(() -> {
                    try {
                        go.await();
                        if (closeBuffer) {
                            buffer.close();
                        }
                        cpg.close();
                    } catch (Throwable t) {
                        failures.add(t);
                    }
                }));
            }
            go.countDown();
            for (Thread closer : closers) {
                assertThat(closer.join(Duration.ofSeconds(5))).isTrue();
            }
            assertThat(failures).isEmpty();
            assertThat(cpg.isClosed()).isTrue();
        }
    }

    static Stream<Arguments> blockedDispatches() {
        List<Arguments> all = new ArrayList<>();
        for (Where where : List.of(Where.JUNIT_THREAD, Where.SMALL_STACK_THREAD, Where.VIRTUAL_THREAD, Where.BIG_STACK_THREAD)) {
            for (DispatchMode mode : List.of(DispatchMode.BLOCKING, DispatchMode.ONE)) {
                all.add(Arguments.of(where, mode));
            }
        }
        return all.stream();
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("blockedDispatches")
    @Timeout(30)
    void closeFromAnotherThreadEndsABlockedDispatch(Where where, DispatchMode mode) throws Exception {
        String name = where.call(Duration.ofSeconds(25), () -> {
            where.assertPath();
            Recorder recorder = new Recorder();
            CpgConnection cpg = CpgConnection.open(recorder);
            String connectionName = Where.nameOf(cpg);
            try {
                cpg.join(SuiteDaemon.uniqueGroup("life-blocked"));
                SuiteDaemon.dispatchUntil(() -> recorder.membershipChanges.size() == 1, cpg);
                AtomicLong closeStarted = new AtomicLong();
                AtomicLong closeTook = new AtomicLong(-1);
                AtomicInteger returnedBeforeClose = new AtomicInteger();
                AtomicInteger dispatchDone = new AtomicInteger();
                Thread closer = Thread.ofPlatform().name("closer").start(() -> {
                    try {
                        Thread.sleep(300);
                    } catch (InterruptedException e) {
                        return;
                    }
                    returnedBeforeClose.set(dispatchDone.get());
                    closeStarted.set(System.nanoTime());
                    cpg.close();
                    closeTook.set(System.nanoTime() - closeStarted.get());
                });
                int callbacks = cpg.dispatch(mode);
                long returned = System.nanoTime();
                dispatchDone.set(1);
                assertThat(closer.join(Duration.ofSeconds(5))).isTrue();
                assertThat(returnedBeforeClose.get()).as("dispatch returned before close").isZero();
                assertThat(closeTook.get()).as("close took (ns)").isBetween(0L, 1_000_000_000L);
                assertThat(returned - closeStarted.get()).as("dispatch returned after close (ns)").isLessThan(2_000_000_000L);
                assertThat(callbacks).isZero();
                assertThat(cpg.isClosed()).isTrue();
                assertThatThrownBy(() -> cpg.dispatch(mode)).isInstanceOf(IllegalStateException.class);
            } finally {
                cpg.close();
            }
            return connectionName;
        });
    }

    @ParameterizedTest
    @EnumSource(value = Where.class, names = {"JUNIT_THREAD", "VIRTUAL_THREAD", "BIG_STACK_THREAD"})
    @Timeout(30)
    void closeFromACallbackDropsTheRestOfTheDispatchAndTheGroupSeesUsLeave(Where where) throws Exception {
        GroupName group = SuiteDaemon.uniqueGroup("life-cb");
        String hex = HexFormat.of().formatHex(group.toBytes());
        try (PeerProcess peer = PeerProcess.joined(group)) {
            where.run(() -> {
                List<Integer> seen = new CopyOnWriteArrayList<>();
                List<MembershipChange> changes = new CopyOnWriteArrayList<>();
                CpgConnection cpg = CpgConnection.open(new CpgListener() {
                    @Override
                    public void onMessage(CpgConnection connection, Message message) {
                        seen.add(Payloads.index(message.payload()));
                        connection.close();
                        assertThat(connection.isClosed()).isTrue();
                    }

                    @Override
                    public void onMembershipChange(CpgConnection connection, MembershipChange change) {
                        changes.add(change);
                    }
                });
                try {
                    cpg.join(group);
                    SuiteDaemon.dispatchUntil(() -> !changes.isEmpty() && changes.getLast().members().size() == 2, cpg);
                    for (int k = 0; k < 5; k++) {
                        cpg.multicast(Guarantee.AGREED, Payloads.pattern(k, 1000));
                    }
                    // Wait until the peer has all five: by then they wait for us too.
                    peer.awaitEvent(e -> e.startsWith("MSG " + SuiteDaemon.OWN_PID + " 4 "), Duration.ofSeconds(10));
                    Thread.sleep(100);
                    int callbacks = cpg.dispatch(DispatchMode.ALL);
                    assertThat(callbacks).isEqualTo(1);
                    assertThat(seen).containsExactly(0);
                    assertThat(cpg.isClosed()).isTrue();
                    assertThatThrownBy(() -> cpg.dispatch(DispatchMode.ALL)).isInstanceOf(IllegalStateException.class);
                } finally {
                    cpg.close();
                }
            });
            String left = peer.awaitEvent(e -> e.startsWith("CONFCHG " + hex + " joined= left=" + SuiteDaemon.OWN_PID + "/"),
                    Duration.ofSeconds(10));
            assertThat(left).matches(".* left=" + SuiteDaemon.OWN_PID + "/(LEAVE|PROCDOWN) members=" + peer.pid());
            System.out.println("peer saw: " + left);
        }
    }

    @Test
    @Timeout(60)
    void manyOpenCloseCyclesRacingMulticastAndDispatch() throws Exception {
        List<Throwable> unexpected = new CopyOnWriteArrayList<>();
        AtomicInteger sends = new AtomicInteger();
        AtomicInteger dispatches = new AtomicInteger();
        List<String> names = new ArrayList<>();
        for (int cycle = 0; cycle < 200; cycle++) {
            CpgConnection cpg = CpgConnection.open(new Recorder());
            names.add(Where.nameOf(cpg));
            cpg.join(SuiteDaemon.uniqueGroup("life-race"));
            Runnable sender = () -> {
                byte[] message = Payloads.pattern(1, 512);
                try {
                    while (true) {
                        try {
                            cpg.multicast(Guarantee.AGREED, message);
                            sends.incrementAndGet();
                        } catch (CpgException e) {
                            // Only a full queue; a close racing the send must show as IllegalStateException.
                            if (!e.isRetryable()) {
                                throw e;
                            }
                            Thread.onSpinWait();
                        }
                    }
                } catch (IllegalStateException closed) {
                    // the end
                } catch (Throwable t) {
                    unexpected.add(t);
                }
            };
            Runnable dispatcher = () -> {
                try {
                    while (true) {
                        cpg.dispatch(DispatchMode.ALL);
                        dispatches.incrementAndGet();
                    }
                } catch (IllegalStateException closed) {
                    // the end
                } catch (Throwable t) {
                    unexpected.add(t);
                }
            };
            Thread t1 = cycle % 2 == 0 ? Thread.ofVirtual().start(sender) : Thread.ofPlatform().start(sender);
            Thread t2 = switch (cycle % 3) {
                case 0 -> Thread.ofVirtual().start(dispatcher);
                case 1 -> Thread.ofPlatform().start(dispatcher);
                default -> Thread.ofPlatform().stackSize(CpgConnection.DISPATCH_STACK_SIZE).start(dispatcher);
            };
            TimeUnit.MICROSECONDS.sleep(ThreadLocalRandom.current().nextInt(3000));
            cpg.close();
            assertThat(t1.join(Duration.ofSeconds(5))).as("sender ends").isTrue();
            assertThat(t2.join(Duration.ofSeconds(5))).as("dispatcher ends").isTrue();
        }
        assertThat(unexpected).isEmpty();
        assertThat(sends.get()).isPositive();
        assertThat(dispatches.get()).isPositive();
        // The shared dispatch workers end once idle.
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (Where.dispatchWorkers() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertThat(Where.dispatchWorkers()).as("idle dispatch workers").isZero();

        // Still healthy.
        Recorder recorder = new Recorder();
        try (CpgConnection cpg = CpgConnection.open(recorder)) {
            cpg.join(SuiteDaemon.uniqueGroup("life-after"));
            byte[] message = Payloads.pattern(9, 70_000);
            cpg.multicast(Guarantee.AGREED, message);
            SuiteDaemon.dispatchUntil(() -> recorder.messages.size() == 1, cpg);
            assertThat(recorder.messages.get(0).payload()).isEqualTo(message);
        }
    }
}
