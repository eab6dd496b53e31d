package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;
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
import java.util.concurrent.ExecutorService;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.jcpg.testsupport.Await;
import org.jcpg.testsupport.LogCapture;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.Payloads;
import org.jcpg.testsupport.SuiteDaemon;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Failures in {@link CpgEventLoop}'s callbacks: the error handler gets each with its connection,
 * without one they are logged, and in both cases the loop goes on; against the real daemon.
 */
@NodeTest
class EventLoopFailureTest {
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
            Await.until(() -> seen.stream().allMatch(l -> l.size() >= n), Duration.ofSeconds(60),
                    () -> "seen " + seen.stream().map(List::size).toList());
            Await.until(() -> reported.size() >= 2 * (n / 3), Duration.ofSeconds(5),
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
            Await.until(() -> seen.size() >= n && failures(log).size() >= n / 3, Duration.ofSeconds(30),
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
}
