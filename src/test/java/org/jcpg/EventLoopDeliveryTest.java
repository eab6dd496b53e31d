package org.jcpg;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.jcpg.testsupport.EventLoops.builder;
import static org.jcpg.testsupport.EventLoops.range;
import static org.jcpg.testsupport.EventLoops.send;
import static org.jcpg.testsupport.EventLoops.sizeOf;
import static org.jcpg.testsupport.EventLoops.sleep;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.jcpg.testsupport.Await;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.Payloads;
import org.jcpg.testsupport.SuiteDaemon;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Where {@link CpgEventLoop} runs callbacks when it has no executor (its own named thread),
 * payload views that die after their callback, several connections on one loop each delivered in
 * order, and {@code onEvent} against the per-kind methods; against the real daemon.
 */
@NodeTest
class EventLoopDeliveryTest {
    // ---- the default loop: callbacks on its thread, views ---------------------

    @Test
    @Timeout(60)
    void defaultLoopRunsCallbacksOnItsNamedThreadWithViewsThatDieAfterTheCallback() {
        int n = 500;
        List<String> threads = new CopyOnWriteArrayList<>();
        List<Integer> order = new CopyOnWriteArrayList<>();
        List<String> problems = new CopyOnWriteArrayList<>();
        List<MemorySegment> kept = new CopyOnWriteArrayList<>();
        AtomicInteger previousDead = new AtomicInteger();
        AtomicInteger writesRefused = new AtomicInteger();
        CpgListener listener = new CpgListener() {
            @Override
            public void onMessage(CpgConnection connection, Message message) {
                threads.add(Thread.currentThread().getName());
                MemorySegment payload = message.payload();
                int k = Payloads.index(payload);
                order.add(k);
                if (!payload.isReadOnly()) {
                    problems.add("payload " + k + " is writable");
                }
                try {
                    payload.set(JAVA_BYTE, 5, (byte) 0x55);
                    problems.add("a write to payload " + k + " succeeded");
                } catch (UnsupportedOperationException | IllegalArgumentException refused) {
                    writesRefused.incrementAndGet();
                }
                if (!Payloads.matches(payload, k, sizeOf(k))) {
                    problems.add("payload " + k + " garbled");
                }
                // The previous message's view, kept past its callback, on the same thread: closed.
                if (!kept.isEmpty()) {
                    try {
                        kept.getLast().get(JAVA_BYTE, 0);
                        problems.add("the view of the message before " + k + " was still readable");
                    } catch (IllegalStateException dead) {
                        previousDead.incrementAndGet();
                    }
                }
                kept.add(payload);
            }
        };
        try (CpgEventLoop loop = CpgEventLoop.builder().name("evl-named-thread").start();
             CpgConnection cpg = loop.open(listener)) {
            cpg.join(SuiteDaemon.uniqueGroup("evl-default"));
            for (int k = 0; k < n; k++) {
                send(cpg, k, sizeOf(k));
            }
            Await.until(() -> order.size() >= n, Duration.ofSeconds(30), () -> order.size() + " of " + n + " delivered");
            sleep(100);
            assertThat(problems).isEmpty();
            assertThat(order).as("one connection's events arrive in order, once").isEqualTo(range(n));
            assertThat(threads).containsOnly("evl-named-thread");
            assertThat(writesRefused.get()).isEqualTo(n);
            assertThat(previousDead.get()).isEqualTo(n - 1);
            // From this thread, every kept view fails cleanly.
            for (MemorySegment view : kept) {
                assertThatThrownBy(() -> view.get(JAVA_BYTE, 0))
                        .isInstanceOfAny(IllegalStateException.class, WrongThreadException.class);
            }
        }
    }

    @Test
    @Timeout(90)
    void severalConnectionsOnOneLoopAreAllDeliveredEachInOrder() {
        int connections = 4;
        int n = 1000;
        List<List<Integer>> received = new ArrayList<>();
        List<String> problems = new CopyOnWriteArrayList<>();
        List<CpgConnection> open = new ArrayList<>();
        try (CpgEventLoop loop = CpgEventLoop.builder().name("evl-several").start()) {
            List<GroupName> groups = new ArrayList<>();
            for (int i = 0; i < connections; i++) {
                List<Integer> mine = new CopyOnWriteArrayList<>();
                received.add(mine);
                GroupName group = SuiteDaemon.uniqueGroup("evl-several-" + i);
                groups.add(group);
                int index = i;
                AtomicReference<CpgConnection> self = new AtomicReference<>();
                CpgConnection cpg = loop.open(new CpgListener() {
                    @Override
                    public void onMessage(CpgConnection connection, Message message) {
                        if (connection != self.get() || !message.group().equals(group)) {
                            problems.add("connection " + index + " got " + message + " on " + connection);
                        }
                        if (!Thread.currentThread().getName().equals("evl-several")) {
                            problems.add("callback on " + Thread.currentThread());
                        }
                        mine.add(Payloads.index(message.payload()));
                    }
                });
                self.set(cpg);
                open.add(cpg);
                cpg.join(group);
            }
            for (int k = 0; k < n; k++) {
                for (CpgConnection cpg : open) {
                    send(cpg, k, sizeOf(k));
                }
            }
            Await.until(() -> received.stream().allMatch(l -> l.size() >= n), Duration.ofSeconds(60),
                    () -> "delivered " + received.stream().map(List::size).toList());
            sleep(100);
            assertThat(problems).isEmpty();
            for (List<Integer> mine : received) {
                assertThat(mine).isEqualTo(range(n));
            }
            for (CpgConnection cpg : open) {
                assertThat(cpg.statistics().messagesDelivered()).isEqualTo(n);
                assertThat(cpg.statistics().messagesSent()).isEqualTo(n);
            }
        }
        assertThat(open).allMatch(CpgConnection::isClosed);
    }

    @Test
    @Timeout(60)
    void onEventSeesEveryKindAndThePerKindMethodsRunWhenItIsNotOverridden() {
        Map<String, AtomicInteger> viaSwitch = new ConcurrentHashMap<>();
        AtomicInteger bypassed = new AtomicInteger();
        CpgListener switching = new CpgListener() {
            @Override
            public void onEvent(CpgConnection connection, CpgEvent event) {
                String kind = switch (event) {
                    case Message m -> "message";
                    case MembershipChange c -> "membership";
                    case TotemChange t -> "totem";
                    case ConnectionLost lost -> "lost";
                    case Reconnected r -> "reconnected";
                };
                viaSwitch.computeIfAbsent(kind, x -> new AtomicInteger()).incrementAndGet();
            }

            // Overridden onEvent does not delegate: these must never run.
            @Override
            public void onMessage(CpgConnection connection, Message message) {
                bypassed.incrementAndGet();
            }

            @Override
            public void onMembershipChange(CpgConnection connection, MembershipChange change) {
                bypassed.incrementAndGet();
            }

            @Override
            public void onTotemChange(CpgConnection connection, TotemChange change) {
                bypassed.incrementAndGet();
            }
        };
        Map<String, AtomicInteger> viaMethods = new ConcurrentHashMap<>();
        CpgListener perKind = new CpgListener() {
            @Override
            public void onMessage(CpgConnection connection, Message message) {
                viaMethods.computeIfAbsent("message", x -> new AtomicInteger()).incrementAndGet();
            }

            @Override
            public void onMembershipChange(CpgConnection connection, MembershipChange change) {
                viaMethods.computeIfAbsent("membership", x -> new AtomicInteger()).incrementAndGet();
            }

            @Override
            public void onTotemChange(CpgConnection connection, TotemChange change) {
                viaMethods.computeIfAbsent("totem", x -> new AtomicInteger()).incrementAndGet();
            }
        };
        try (CpgEventLoop loop = CpgEventLoop.start();
             CpgConnection a = loop.open(switching, ModelFlag.DELIVER_INITIAL_TOTEM_CONF);
             CpgConnection b = loop.open(perKind, ModelFlag.DELIVER_INITIAL_TOTEM_CONF)) {
            a.join(SuiteDaemon.uniqueGroup("evl-switch"));
            b.join(SuiteDaemon.uniqueGroup("evl-perkind"));
            for (int k = 0; k < 3; k++) {
                send(a, k, 16);
                send(b, k, 16);
            }
            BooleanSupplier done = () -> count(viaSwitch, "message") == 3 && count(viaMethods, "message") == 3
                    && count(viaSwitch, "totem") >= 1 && count(viaMethods, "totem") >= 1
                    && count(viaSwitch, "membership") >= 1 && count(viaMethods, "membership") >= 1;
            Await.until(done::getAsBoolean, Duration.ofSeconds(20), () -> "switch " + viaSwitch + ", methods " + viaMethods);
            sleep(100);
            assertThat(bypassed.get()).as("per-kind methods behind an overridden onEvent").isZero();
            assertThat(viaSwitch.keySet()).containsExactlyInAnyOrder("message", "membership", "totem");
            assertThat(viaMethods.keySet()).containsExactlyInAnyOrder("message", "membership", "totem");
            assertThat(a.statistics().otherEvents()).isEqualTo(count(viaSwitch, "membership") + count(viaSwitch, "totem"));
        }
    }

    private static int count(Map<String, AtomicInteger> counts, String kind) {
        AtomicInteger c = counts.get(kind);
        return c == null ? 0 : c.get();
    }
}
