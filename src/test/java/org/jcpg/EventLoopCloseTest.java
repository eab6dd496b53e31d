package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.jcpg.testsupport.EventLoops.builder;
import static org.jcpg.testsupport.EventLoops.executor;
import static org.jcpg.testsupport.EventLoops.range;
import static org.jcpg.testsupport.EventLoops.send;
import static org.jcpg.testsupport.EventLoops.shutdown;
import static org.jcpg.testsupport.EventLoops.sleep;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.jcpg.testsupport.Await;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.Payloads;
import org.jcpg.testsupport.SuiteDaemon;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Closing {@link CpgEventLoop} and its connections: the loop closes its connections (the daemon
 * forgets them), no callback runs or starts after close returns, close from inside a callback,
 * one connection closed while the others go on; against the real daemon.
 */
@NodeTest
class EventLoopCloseTest {
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
                Await.until(() -> observer.membership(group).stream().anyMatch(m -> m.pid() == (int) SuiteDaemon.OWN_PID && m.nodeId() == node),
                        Duration.ofSeconds(10), () -> "this process in " + group);
            }
            loop.close();
            assertThat(loop.isClosed()).isTrue();
            assertThat(open).allMatch(CpgConnection::isClosed);
            for (GroupName group : groups) {
                Await.until(() -> observer.membership(group).stream().noneMatch(m -> m.pid() == (int) SuiteDaemon.OWN_PID),
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
                Await.until(() -> started.get() >= 20, Duration.ofSeconds(20), () -> "callbacks started: " + started.get());
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
            Await.until(() -> otherStarted.get() >= 5, Duration.ofSeconds(20), () -> "busy callbacks: " + otherStarted.get());
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
            Await.until(() -> aStarted.get() >= 50, Duration.ofSeconds(20), () -> "A's callbacks: " + aStarted.get());
            a.close();
            int afterClose = aStarted.get();
            Await.until(() -> aInFlight.get() == 0, Duration.ofSeconds(5), () -> "A's callback still running");
            sender.join(Duration.ofSeconds(30));
            for (int k = 0; k < 200; k++) {
                send(b, k, 16);
            }
            Await.until(() -> bSeen.size() >= 200, Duration.ofSeconds(30), () -> "B got " + bSeen.size());
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
}
