package org.jcpg;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.jcpg.internal.EventLoop;
import org.jcpg.testsupport.LogCapture;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.Payloads;
import org.jcpg.testsupport.SuiteDaemon;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * What {@link CpgEventLoop}'s Javadoc promises, against the real daemon:
 * where callbacks run, payload lifetimes, per-connection order and
 * exclusion with an executor, the error handler, close, resource use over
 * many connections, and backpressure.
 */
@NodeTest
class EventLoopTest {
    private static final Duration SEND_TIMEOUT = Duration.ofSeconds(30);

    // ---- helpers ------------------------------------------------------------

    /** Polls the condition every few milliseconds; fails with the description after the timeout. */
    static void await(BooleanSupplier condition, Duration timeout, Supplier<String> what) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("not within " + timeout + ": " + what.get());
            }
            sleep(5);
        }
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Sends pattern(k, size), waiting out TRY_AGAIN (something else dispatches). */
    static void send(CpgConnection cpg, int k, int size) {
        cpg.multicast(Guarantee.AGREED, SEND_TIMEOUT, MemorySegment.ofArray(Payloads.pattern(k, size)));
    }

    /** A size that varies with k, at least 4 (the index). */
    static int sizeOf(int k) {
        return 8 + (k * 37) % 300;
    }

    /** An executor of the named kind, or null for callbacks on the loop thread. */
    static ExecutorService executor(String kind) {
        return switch (kind) {
            case "loop" -> null;
            case "virtual" -> Executors.newVirtualThreadPerTaskExecutor();
            case "fixed4" -> Executors.newFixedThreadPool(4, r -> {
                Thread t = new Thread(r);
                t.setDaemon(true);
                return t;
            });
            default -> throw new IllegalArgumentException(kind);
        };
    }

    static CpgEventLoop.Builder builder(String name, ExecutorService executor) {
        CpgEventLoop.Builder b = CpgEventLoop.builder().name(name);
        if (executor != null) {
            b.executor(executor);
        }
        return b;
    }

    static void shutdown(ExecutorService executor) throws InterruptedException {
        if (executor != null) {
            executor.shutdownNow();
            assertThat(executor.awaitTermination(20, TimeUnit.SECONDS)).as("executor ends").isTrue();
        }
    }

    static List<Integer> range(int n) {
        return IntStream.range(0, n).boxed().toList();
    }

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
            await(() -> order.size() >= n, Duration.ofSeconds(30), () -> order.size() + " of " + n + " delivered");
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
            await(() -> received.stream().allMatch(l -> l.size() >= n), Duration.ofSeconds(60),
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
            await(done, Duration.ofSeconds(20), () -> "switch " + viaSwitch + ", methods " + viaMethods);
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
            await(() -> next.stream().allMatch(e -> e.get() >= n), Duration.ofSeconds(90),
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

    // ---- failures -----------------------------------------------------------

    record Reported(CpgConnection connection, Throwable failure) {
    }

    @ParameterizedTest
    @ValueSource(strings = {"loop", "virtual", "fixed4"})
    @Timeout(90)
    void theErrorHandlerGetsEveryFailureWithItsConnectionAndTheLoopGoesOn(String kind) throws Exception {
        int n = 300;
        ExecutorService executor = executor(kind);
        List<Reported> reported = new CopyOnWriteArrayList<>();
        List<List<Integer>> seen = List.of(new CopyOnWriteArrayList<>(), new CopyOnWriteArrayList<>());
        List<CpgConnection> open = new ArrayList<>();
        try (CpgEventLoop loop = builder("evl-errors-" + kind, executor)
                .errorHandler((connection, failure) -> reported.add(new Reported(connection, failure)))
                .start()) {
            for (int i = 0; i < 2; i++) {
                List<Integer> mine = seen.get(i);
                int index = i;
                CpgConnection cpg = loop.open(new CpgListener() {
                    @Override
                    public void onMessage(CpgConnection connection, Message message) {
                        int k = Payloads.index(message.payload());
                        mine.add(k);
                        if (k % 3 == 2) {
                            throw new IllegalStateException(index + ":" + k);
                        }
                    }
                });
                open.add(cpg);
                cpg.join(SuiteDaemon.uniqueGroup("evl-errors-" + i));
            }
            for (int k = 0; k < n; k++) {
                for (CpgConnection cpg : open) {
                    send(cpg, k, 16);
                }
            }
            await(() -> seen.stream().allMatch(l -> l.size() >= n), Duration.ofSeconds(60),
                    () -> "seen " + seen.stream().map(List::size).toList());
            await(() -> reported.size() >= 2 * (n / 3), Duration.ofSeconds(5),
                    () -> "the error handler got " + reported.size() + " calls for " + 2 * (n / 3) + " failures");
            sleep(100);
            for (int i = 0; i < 2; i++) {
                int index = i;
                assertThat(seen.get(i)).as("everything after the failures is delivered").isEqualTo(range(n));
                List<String> mine = reported.stream().filter(r -> r.connection() == open.get(index))
                        .map(r -> r.failure().getMessage()).toList();
                List<String> expected = IntStream.range(0, n).filter(k -> k % 3 == 2)
                        .mapToObj(k -> index + ":" + k).toList();
                assertThat(mine).as("failures reported with connection " + i).isEqualTo(expected);
                assertThat(open.get(i).statistics().callbackFailures()).isEqualTo(n / 3);
            }
            assertThat(reported).hasSize(2 * (n / 3));
            assertThat(reported).allMatch(r -> r.failure() instanceof IllegalStateException);
        } finally {
            shutdown(executor);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"loop", "virtual"})
    @Timeout(60)
    void withoutAHandlerFailuresAreLoggedAndTheLoopGoesOn(String kind) throws Exception {
        int n = 90;
        ExecutorService executor = executor(kind);
        List<Integer> seen = new CopyOnWriteArrayList<>();
        try (LogCapture log = new LogCapture("org.jcpg.CpgEventLoop");
             CpgEventLoop loop = builder("evl-default-handler-" + kind, executor).start();
             CpgConnection cpg = loop.open(new CpgListener() {
                 @Override
                 public void onMessage(CpgConnection connection, Message message) {
                     int k = Payloads.index(message.payload());
                     seen.add(k);
                     if (k % 3 == 2) {
                         throw new IllegalStateException("logged " + k);
                     }
                 }
             })) {
            cpg.join(SuiteDaemon.uniqueGroup("evl-default-handler"));
            for (int k = 0; k < n; k++) {
                send(cpg, k, 16);
            }
            await(() -> seen.size() >= n && failures(log).size() >= n / 3, Duration.ofSeconds(30),
                    () -> "seen " + seen.size() + ", logged " + failures(log).size());
            sleep(100);
            assertThat(seen).isEqualTo(range(n));
            // Each failure is logged (on its own, or attached to another as suppressed), none twice.
            assertThat(failures(log).stream().map(Throwable::getMessage))
                    .containsExactlyInAnyOrderElementsOf(IntStream.range(0, n).filter(k -> k % 3 == 2)
                            .mapToObj(k -> "logged " + k).toList());
            assertThat(log.entries).filteredOn(e -> e.thrown() != null)
                    .allMatch(e -> e.level().equals("SEVERE") && e.logger().equals("org.jcpg.CpgEventLoop"));
        } finally {
            shutdown(executor);
        }
    }

    /** The callback failures in the log: each record's throwable and what it carries as suppressed. */
    private static List<Throwable> failures(LogCapture log) {
        return log.entries.stream().filter(e -> e.thrown() != null)
                .flatMap(e -> Stream.concat(Stream.of(e.thrown()), Stream.of(e.thrown().getSuppressed())))
                .filter(t -> t instanceof IllegalStateException && String.valueOf(t.getMessage()).startsWith("logged "))
                .toList();
    }

    // ---- close --------------------------------------------------------------

    @Test
    @Timeout(60)
    void closingTheLoopClosesItsConnectionsAndTheDaemonForgetsThem() {
        int connections = 3;
        Member me = null;
        List<GroupName> groups = new ArrayList<>();
        List<CpgConnection> open = new ArrayList<>();
        try (CpgConnection observer = CpgConnection.open(new CpgListener() {
        })) {
            CpgEventLoop loop = CpgEventLoop.start();
            for (int i = 0; i < connections; i++) {
                CpgConnection cpg = loop.open(new CpgListener() {
                });
                GroupName group = SuiteDaemon.uniqueGroup("evl-close-" + i);
                cpg.join(group);
                groups.add(group);
                open.add(cpg);
            }
            long node = observer.localNodeId();
            for (GroupName group : groups) {
                await(() -> observer.membership(group).stream().anyMatch(m -> m.pid() == (int) SuiteDaemon.OWN_PID && m.nodeId() == node),
                        Duration.ofSeconds(10), () -> "this process in " + group);
            }
            loop.close();
            assertThat(loop.isClosed()).isTrue();
            assertThat(open).allMatch(CpgConnection::isClosed);
            for (GroupName group : groups) {
                await(() -> observer.membership(group).stream().noneMatch(m -> m.pid() == (int) SuiteDaemon.OWN_PID),
                        Duration.ofSeconds(20), () -> group + " still lists this process: " + observer.membership(group));
            }
            loop.close(); // idempotent
            assertThatThrownBy(() -> open.get(0).join(SuiteDaemon.uniqueGroup("evl-after-close")))
                    .isInstanceOf(IllegalStateException.class);
        }
    }

    @Test
    @Timeout(30)
    void openingOnAClosedLoopThrows() {
        CpgEventLoop loop = CpgEventLoop.start();
        loop.close();
        assertThatThrownBy(() -> loop.open(new CpgListener() {
        })).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> loop.openLegacy(new CpgListener() {
        })).isInstanceOf(IllegalStateException.class);
    }

    @ParameterizedTest
    @ValueSource(strings = {"virtual", "fixed4"})
    @Timeout(180)
    void noCallbackRunsOrStartsAfterCloseReturns(String kind) throws Exception {
        int rounds = 8;
        int connections = 6;
        int n = 150;
        List<String> violations = new ArrayList<>();
        for (int round = 0; round < rounds; round++) {
            ExecutorService executor = executor(kind);
            AtomicInteger inFlight = new AtomicInteger();
            AtomicInteger started = new AtomicInteger();
            AtomicInteger lateStarts = new AtomicInteger();
            AtomicBoolean closeReturned = new AtomicBoolean();
            AtomicLong lastEnd = new AtomicLong();
            CpgListener slow = new CpgListener() {
                @Override
                public void onMessage(CpgConnection connection, Message message) {
                    if (closeReturned.get()) {
                        lateStarts.incrementAndGet();
                    }
                    inFlight.incrementAndGet();
                    started.incrementAndGet();
                    try {
                        sleep(3);
                    } finally {
                        lastEnd.set(System.nanoTime());
                        inFlight.decrementAndGet();
                    }
                }
            };
            try {
                CpgEventLoop loop = builder("evl-close-race-" + kind, executor).start();
                List<CpgConnection> open = new ArrayList<>();
                for (int i = 0; i < connections; i++) {
                    CpgConnection cpg = loop.open(slow);
                    cpg.join(SuiteDaemon.uniqueGroup("evl-close-race-" + i));
                    open.add(cpg);
                }
                for (int k = 0; k < n; k++) {
                    for (CpgConnection cpg : open) {
                        send(cpg, k, 16);
                    }
                }
                await(() -> started.get() >= 20, Duration.ofSeconds(20), () -> "callbacks started: " + started.get());
                loop.close();
                long returned = System.nanoTime();
                int runningAtReturn = inFlight.get();
                closeReturned.set(true);
                int startedAtReturn = started.get();
                sleep(300);
                int startedLater = started.get() - startedAtReturn;
                long endedAfterReturnMicros = (lastEnd.get() - returned) / 1000;
                if (runningAtReturn != 0 || lateStarts.get() != 0 || startedLater != 0) {
                    violations.add("round " + round + ": running at return " + runningAtReturn + ", started after "
                            + lateStarts.get() + "/" + startedLater + ", last callback ended "
                            + endedAfterReturnMicros + " us after close returned (of " + connections * n + " queued, "
                            + startedAtReturn + " started)");
                }
                assertThat(open).allMatch(CpgConnection::isClosed);
            } finally {
                shutdown(executor);
            }
        }
        assertThat(violations).as("callbacks after CpgEventLoop.close() returned").isEmpty();
    }

    /**
     * The same promise, made deterministic: a connection of the loop is
     * closed on its own while its (slow) callback runs on the executor, and
     * the loop is closed a moment later, while that callback still runs.
     * The connection was opened on the loop, so close() must wait for it.
     */
    @ParameterizedTest
    @ValueSource(strings = {"virtual", "fixed4"})
    @Timeout(60)
    void closeWaitsForTheCallbackOfAConnectionThatWasClosedJustBefore(String kind) throws Exception {
        ExecutorService executor = executor(kind);
        CountDownLatch running = new CountDownLatch(1);
        AtomicBoolean callbackDone = new AtomicBoolean();
        try {
            CpgEventLoop loop = builder("evl-close-after-one-" + kind, executor).start();
            CpgConnection slow = loop.open(new CpgListener() {
                @Override
                public void onMessage(CpgConnection connection, Message message) {
                    running.countDown();
                    sleep(1500);
                    callbackDone.set(true);
                }
            });
            slow.join(SuiteDaemon.uniqueGroup("evl-close-after-one"));
            send(slow, 0, 16);
            assertThat(running.await(20, TimeUnit.SECONDS)).as("the slow callback started").isTrue();
            slow.close();
            sleep(200); // the loop thread sees the closed connection meanwhile
            assertThat(callbackDone.get()).isFalse();
            loop.close();
            assertThat(callbackDone.get()).as("the callback had ended when CpgEventLoop.close() returned").isTrue();
        } finally {
            shutdown(executor);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"loop", "virtual", "fixed4"})
    @Timeout(60)
    void closeFromInsideACallbackReturnsWithoutDeadlock(String kind) throws Exception {
        ExecutorService executor = executor(kind);
        CountDownLatch returned = new CountDownLatch(1);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        AtomicInteger otherInFlight = new AtomicInteger();
        AtomicInteger otherRunningWhenCloseReturned = new AtomicInteger(-1);
        AtomicInteger otherStarted = new AtomicInteger();
        try {
            CpgEventLoop loop = builder("evl-close-inside-" + kind, executor).start();
            AtomicReference<CpgEventLoop> loopRef = new AtomicReference<>(loop);
            CpgConnection busy = loop.open(new CpgListener() {
                @Override
                public void onMessage(CpgConnection connection, Message message) {
                    otherInFlight.incrementAndGet();
                    otherStarted.incrementAndGet();
                    sleep(2);
                    otherInFlight.decrementAndGet();
                }
            });
            busy.join(SuiteDaemon.uniqueGroup("evl-close-inside-busy"));
            CpgConnection closer = loop.open(new CpgListener() {
                @Override
                public void onMessage(CpgConnection connection, Message message) {
                    if (Payloads.index(message.payload()) == 1) {
                        try {
                            loopRef.get().close();
                            otherRunningWhenCloseReturned.set(otherInFlight.get());
                        } catch (Throwable t) {
                            failure.set(t);
                        } finally {
                            returned.countDown();
                        }
                    }
                }
            });
            closer.join(SuiteDaemon.uniqueGroup("evl-close-inside"));
            for (int k = 0; k < 200; k++) {
                send(busy, k, 16);
            }
            await(() -> otherStarted.get() >= 5, Duration.ofSeconds(20), () -> "busy callbacks: " + otherStarted.get());
            send(closer, 0, 16);
            send(closer, 1, 16);
            assertThat(returned.await(20, TimeUnit.SECONDS)).as("close() inside a callback returned").isTrue();
            assertThat(failure.get()).isNull();
            assertThat(loop.isClosed()).isTrue();
            assertThat(busy.isClosed()).isTrue();
            assertThat(closer.isClosed()).isTrue();
            assertThat(otherRunningWhenCloseReturned.get()).as("other callbacks running when close returned").isZero();
            loop.close(); // from outside, afterwards: idempotent, returns
        } finally {
            shutdown(executor);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"loop", "fixed4"})
    @Timeout(90)
    void closingOneConnectionStopsItsCallbacksWhileTheOthersGoOn(String kind) throws Exception {
        int n = 2000;
        ExecutorService executor = executor(kind);
        AtomicInteger aStarted = new AtomicInteger();
        AtomicInteger aInFlight = new AtomicInteger();
        List<Integer> bSeen = new CopyOnWriteArrayList<>();
        try (CpgEventLoop loop = builder("evl-close-one-" + kind, executor).start()) {
            CpgConnection a = loop.open(new CpgListener() {
                @Override
                public void onMessage(CpgConnection connection, Message message) {
                    aInFlight.incrementAndGet();
                    aStarted.incrementAndGet();
                    sleep(2);
                    aInFlight.decrementAndGet();
                }
            });
            CpgConnection b = loop.open(new CpgListener() {
                @Override
                public void onMessage(CpgConnection connection, Message message) {
                    bSeen.add(Payloads.index(message.payload()));
                }
            });
            a.join(SuiteDaemon.uniqueGroup("evl-close-one-a"));
            b.join(SuiteDaemon.uniqueGroup("evl-close-one-b"));
            // Sent from another thread: on the loop thread, A's slow callbacks make sends wait.
            Thread sender = Thread.ofPlatform().start(() -> {
                for (int k = 0; k < n && !a.isClosed(); k++) {
                    try {
                        send(a, k, 16);
                    } catch (IllegalStateException closed) {
                        return;
                    }
                }
            });
            await(() -> aStarted.get() >= 50, Duration.ofSeconds(20), () -> "A's callbacks: " + aStarted.get());
            a.close();
            int afterClose = aStarted.get();
            await(() -> aInFlight.get() == 0, Duration.ofSeconds(5), () -> "A's callback still running");
            sender.join(Duration.ofSeconds(30));
            for (int k = 0; k < 200; k++) {
                send(b, k, 16);
            }
            await(() -> bSeen.size() >= 200, Duration.ofSeconds(30), () -> "B got " + bSeen.size());
            sleep(200);
            assertThat(bSeen).isEqualTo(range(200));
            assertThat(aStarted.get()).as("A's callbacks started after its close() returned")
                    .isEqualTo(afterClose).isLessThan(n);
            assertThat(a.isClosed()).isTrue();
            assertThat(b.isClosed()).isFalse();
        } finally {
            shutdown(executor);
        }
    }

    // ---- resources over many connections --------------------------------------

    record Usage(long fds, long threads, long rssKiB) {
        static Usage now() throws IOException {
            System.gc();
            long fds;
            try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
                fds = s.count();
            }
            long threads = 0;
            long rss = 0;
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("Threads:")) {
                    threads = Long.parseLong(line.substring(8).trim());
                } else if (line.startsWith("VmRSS:")) {
                    rss = Long.parseLong(line.substring(6).replace("kB", "").trim());
                }
            }
            return new Usage(fds, threads, rss);
        }
    }

    @Test
    @Timeout(240)
    void tenThousandOpenJoinCloseCyclesThroughOneLoopLeakNothing() throws Exception {
        int target = 10_000;
        int warmUp = 1_000;
        long budgetNanos = Duration.ofSeconds(90).toNanos();
        List<GroupName> groups = IntStream.range(0, 4).mapToObj(i -> SuiteDaemon.uniqueGroup("evl-cycle-" + i)).toList();
        CpgListener listener = new CpgListener() {
        };
        Usage baseline = null;
        int cycles = 0;
        AtomicInteger joinRefused = new AtomicInteger();
        long start = System.nanoTime();
        long warmStart = 0;
        try (CpgEventLoop loop = CpgEventLoop.builder().name("evl-cycles").start()) {
            for (; cycles < target; cycles++) {
                if (cycles == warmUp) {
                    baseline = Usage.now();
                    warmStart = System.nanoTime();
                }
                if (cycles > warmUp && System.nanoTime() - start > budgetNanos) {
                    break;
                }
                CpgConnection cpg = loop.open(listener);
                try {
                    joinRetrying(cpg, groups.get(cycles % groups.size()), joinRefused);
                } finally {
                    cpg.close();
                }
                if ((cycles + 1) % 1000 == 0) {
                    System.out.printf("cycles: %d after %.1f s, %s%n", cycles + 1, (System.nanoTime() - start) / 1e9, Usage.now());
                }
            }
            long elapsed = System.nanoTime() - start;
            double rate = (cycles - warmUp) / ((System.nanoTime() - warmStart) / 1e9);
            // Closing finalizes on a jcpg thread: give the last ones a moment.
            Usage base = baseline;
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            Usage end = Usage.now();
            while (end.fds() > base.fds() + 50 && System.nanoTime() < deadline) {
                sleep(100);
                end = Usage.now();
            }
            System.out.printf("open/join/close cycles: %d in %.1f s (%.0f/s after warm-up, %d joins answered TRY_AGAIN"
                            + " and retried); after %d: %s; at the end: %s%n",
                    cycles, elapsed / 1e9, rate, joinRefused.get(), warmUp, base, end);
            assertThat(cycles).as("cycles done in the time budget").isGreaterThanOrEqualTo(2 * warmUp);
            assertThat(end.fds()).as("open fds").isLessThanOrEqualTo(base.fds() + 50);
            assertThat(end.threads()).as("threads").isLessThanOrEqualTo(base.threads() + 20);
            assertThat(end.rssKiB()).as("RSS KiB").isLessThanOrEqualTo(base.rssKiB() + 64 * 1024);
            // The loop still works after all that.
            List<Integer> seen = new CopyOnWriteArrayList<>();
            try (CpgConnection cpg = loop.open(new CpgListener() {
                @Override
                public void onMessage(CpgConnection connection, Message message) {
                    seen.add(Payloads.index(message.payload()));
                }
            })) {
                cpg.join(SuiteDaemon.uniqueGroup("evl-cycle-after"));
                send(cpg, 7, 16);
                await(() -> seen.size() == 1, Duration.ofSeconds(10), () -> "a message after the cycles");
                assertThat(seen).containsExactly(7);
            }
        }
    }

    /** Joins, retrying while the daemon answers TRY_AGAIN (it may, while it processes a departure). */
    static void joinRetrying(CpgConnection cpg, GroupName group, AtomicInteger refused) {
        long deadline = System.nanoTime() + SEND_TIMEOUT.toNanos();
        while (true) {
            try {
                cpg.join(group);
                return;
            } catch (CpgException e) {
                if (!e.isRetryable() || System.nanoTime() > deadline) {
                    throw e;
                }
                refused.incrementAndGet();
                parkMillis(1);
            }
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
            await(() -> ran.get() >= n, Duration.ofSeconds(120), () -> "ran " + ran.get() + " of " + n);
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

    private static void parkMillis(long millis) {
        java.util.concurrent.locks.LockSupport.parkNanos(millis * 1_000_000);
    }
}
