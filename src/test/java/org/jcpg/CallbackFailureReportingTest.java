package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.lang.reflect.Proxy;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.Payloads;
import org.jcpg.testsupport.SuiteDaemon;
import org.jcpg.testsupport.Where;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * When several callbacks of one dispatch throw, the first is thrown from
 * dispatch and none of the others is lost: each is attached as suppressed
 * (at most 100) or, when it cannot be (suppression disabled, or too many),
 * reported through System.Logger at WARNING on an "org.jcpg" logger.
 *
 * <p>System.Logger's default backend is java.util.logging. The module
 * org.jcpg (into which the tests are compiled) does not read java.logging,
 * so its classes are reached by reflection: a handler on the "org.jcpg"
 * logger whose filter (an interface, so a proxy) keeps every record.
 */
@NodeTest
class CallbackFailureReportingTest {
    /** What the tests need of a java.util.logging.LogRecord. */
    record LogRecord(String level, String loggerName, Throwable thrown, String message) {
    }

    /** Held strongly: java.util.logging keeps loggers only weakly. */
    private static Object jcpgLogger;

    private final List<LogRecord> records = new CopyOnWriteArrayList<>();
    private Object handler;

    private static Class<?> jul(String name) throws ClassNotFoundException {
        return Class.forName("java.util.logging." + name);
    }

    @BeforeEach
    void attach() throws Exception {
        Class<?> loggerClass = jul("Logger");
        Class<?> handlerClass = jul("Handler");
        Class<?> levelClass = jul("Level");
        Class<?> filterClass = jul("Filter");
        Class<?> recordClass = jul("LogRecord");
        Object formatter = jul("SimpleFormatter").getConstructor().newInstance();
        var formatMessage = jul("Formatter").getMethod("formatMessage", recordClass);
        jcpgLogger = loggerClass.getMethod("getLogger", String.class).invoke(null, "org.jcpg");
        Object filter = Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {filterClass},
                (proxy, method, args) -> {
                    if (method.getName().equals("isLoggable")) {
                        Object r = args[0];
                        records.add(new LogRecord(
                                String.valueOf(recordClass.getMethod("getLevel").invoke(r)),
                                (String) recordClass.getMethod("getLoggerName").invoke(r),
                                (Throwable) recordClass.getMethod("getThrown").invoke(r),
                                (String) formatMessage.invoke(formatter, r)));
                        return false;
                    }
                    return switch (method.getName()) {
                        case "hashCode" -> System.identityHashCode(proxy);
                        case "equals" -> proxy == args[0];
                        default -> "capturing filter";
                    };
                });
        // A ConsoleHandler whose filter keeps the record and says no: nothing is printed.
        handler = jul("ConsoleHandler").getConstructor().newInstance();
        Object all = levelClass.getField("ALL").get(null);
        handlerClass.getMethod("setLevel", levelClass).invoke(handler, all);
        handlerClass.getMethod("setFilter", filterClass).invoke(handler, filter);
        loggerClass.getMethod("addHandler", handlerClass).invoke(jcpgLogger, handler);
    }

    @AfterEach
    void detach() throws Exception {
        jul("Logger").getMethod("removeHandler", jul("Handler")).invoke(jcpgLogger, handler);
    }

    /** A RuntimeException with suppression enabled or not, and no stack trace. */
    static final class Failure extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Failure(String message, boolean suppression) {
            super(message, null, suppression, false);
        }
    }

    /** Throws from every message whose index is listed, with or without suppression. */
    static final class Thrower implements CpgListener {
        final boolean suppression;
        final int failures;
        final AtomicInteger seen = new AtomicInteger();
        final AtomicInteger thrownInThisDispatch = new AtomicInteger();
        volatile boolean joinedSelf;

        Thrower(int failures, boolean suppression) {
            this.failures = failures;
            this.suppression = suppression;
        }

        @Override
        public void onMessage(CpgConnection connection, Message message) {
            int k = Payloads.index(message.payload());
            seen.incrementAndGet();
            if (k >= 1 && k <= failures) {
                thrownInThisDispatch.incrementAndGet();
                throw new Failure(String.valueOf(k), suppression);
            }
        }

        @Override
        public void onMembershipChange(CpgConnection connection, MembershipChange change) {
            if (change.joined().stream().anyMatch(m -> m.pid() == (int) SuiteDaemon.OWN_PID)) {
                joinedSelf = true;
            }
        }
    }

    record Round(int failures, RuntimeException thrown, List<LogRecord> logged) {
    }

    /** Sends messages 1..count, then dispatches (ALL, on a big-stack thread) until all were seen. */
    private List<Round> run(Thrower thrower, int count) throws Exception {
        List<Round> rounds = new ArrayList<>();
        try (CpgConnection cpg = CpgConnection.open(thrower)) {
            cpg.join(SuiteDaemon.uniqueGroup("failures"));
            SuiteDaemon.dispatchUntil(() -> thrower.joinedSelf, cpg);
            for (int k = 1; k <= count; k++) {
                Payloads.send(cpg, Payloads.pattern(k, 16));
            }
            Thread.sleep(500); // let the local daemon queue them all, for one batch
            Where.BIG_STACK_THREAD.run(Duration.ofSeconds(60), () -> {
                long deadline = System.nanoTime() + 40_000_000_000L;
                while (thrower.seen.get() < count && System.nanoTime() < deadline) {
                    thrower.thrownInThisDispatch.set(0);
                    int before = records.size();
                    RuntimeException thrown = null;
                    try {
                        cpg.dispatch(DispatchMode.ALL);
                    } catch (RuntimeException e) {
                        if (e instanceof CpgException) {
                            throw e;
                        }
                        thrown = e;
                    }
                    List<LogRecord> logged = List.copyOf(records.subList(before, records.size()));
                    if (thrower.thrownInThisDispatch.get() > 0 || thrown != null || !logged.isEmpty()) {
                        rounds.add(new Round(thrower.thrownInThisDispatch.get(), thrown, logged));
                    }
                    Thread.sleep(1);
                }
            });
        }
        assertThat(thrower.seen.get()).as("messages seen").isEqualTo(count);
        System.out.println("dispatch rounds with failures: " + rounds.stream()
                .map(r -> r.failures() + " failed, thrown " + (r.thrown() == null ? null : r.thrown().getMessage())
                        + " with " + (r.thrown() == null ? 0 : r.thrown().getSuppressed().length) + " suppressed, "
                        + r.logged().size() + " logged")
                .toList());
        return rounds;
    }

    private static boolean fromJcpgAtWarning(LogRecord record) {
        return record.level().equals("WARNING") && record.loggerName() != null
                && record.loggerName().startsWith("org.jcpg");
    }

    @Test
    @Timeout(90)
    void failuresWithoutSuppressionAfterTheFirstAreLoggedAtWarning() throws Exception {
        List<Round> rounds = run(new Thrower(3, false), 3);
        List<String> thrown = new ArrayList<>();
        List<String> logged = new ArrayList<>();
        for (Round round : rounds) {
            assertThat(round.thrown()).as("a dispatch whose callbacks threw throws").isNotNull();
            assertThat(round.thrown().getSuppressed()).isEmpty();
            thrown.add(round.thrown().getMessage());
            for (LogRecord record : round.logged()) {
                if (record.thrown() != null && fromJcpgAtWarning(record)) {
                    logged.add(record.thrown().getMessage());
                }
            }
            assertThat(1 + (int) round.logged().stream().filter(r -> r.thrown() != null && fromJcpgAtWarning(r)).count())
                    .as("thrown + logged in one dispatch = callbacks that threw in it").isEqualTo(round.failures());
        }
        assertThat(thrown).as("thrown from dispatch").isNotEmpty().startsWith("1");
        List<String> all = new ArrayList<>(thrown);
        all.addAll(logged);
        assertThat(all).as("every failure is either thrown or logged, once").containsExactlyInAnyOrder("1", "2", "3");
        if (rounds.size() == 1) {
            assertThat(logged).containsExactly("2", "3");
        }
    }

    @Test
    @Timeout(120)
    void atMostOneHundredAreSuppressedAndTheRestCountedInOneWarning() throws Exception {
        final int failures = 151;
        List<Round> rounds = run(new Thrower(failures, true), failures);
        int accounted = 0;
        for (Round round : rounds) {
            assertThat(round.thrown()).as("a dispatch whose callbacks threw throws").isNotNull();
            int suppressed = round.thrown().getSuppressed().length;
            assertThat(suppressed).as("suppressed attached").isEqualTo(Math.min(round.failures() - 1, 100));
            int omitted = round.failures() - 1 - suppressed;
            accounted += 1 + suppressed;
            if (omitted > 0) {
                List<String> counting = round.logged().stream().filter(CallbackFailureReportingTest::fromJcpgAtWarning)
                        .map(LogRecord::message)
                        .filter(text -> text != null && text.matches("(?s).*\\b" + omitted + "\\b.*"))
                        .toList();
                System.out.println("warnings naming " + omitted + ": " + counting);
                assertThat(counting).as("one WARNING naming the " + omitted + " failures not attached").hasSize(1);
                accounted += omitted;
            }
        }
        assertThat(accounted).as("failures thrown, suppressed or counted").isEqualTo(failures);
        if (rounds.size() == 1) {
            assertThat(rounds.get(0).thrown().getMessage()).isEqualTo("1");
        }
    }
}
