package org.jcpg.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.ResourceBundle;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;
import org.jcpg.testsupport.UnitTest;
import org.junit.jupiter.api.Test;

/** How a dispatch reports many failing callbacks without losing them or filling the heap. */
@UnitTest
class CallbackFailuresTest {
    record Logged(System.Logger.Level level, String message, Throwable thrown) {
    }

    /** A System.Logger that keeps what it is given. */
    static final class Capture implements System.Logger {
        final List<Logged> records = new CopyOnWriteArrayList<>();

        @Override
        public String getName() {
            return "capture";
        }

        @Override
        public boolean isLoggable(Level level) {
            return true;
        }

        @Override
        public void log(Level level, ResourceBundle bundle, String message, Throwable thrown) {
            records.add(new Logged(level, message, thrown));
        }

        @Override
        public void log(Level level, ResourceBundle bundle, String format, Object... params) {
            records.add(new Logged(level, format, null));
        }

        @Override
        public void log(Level level, Supplier<String> message) {
            records.add(new Logged(level, message.get(), null));
        }
    }

    private final Capture log = new Capture();
    private final CallbackFailures failures = new CallbackFailures(log, "conn");

    @Test
    void theFirstIsKeptAndLaterOnesAreAttachedUpToTheBoundThenCounted() {
        RuntimeException first = new RuntimeException("0");
        failures.record(first);
        failures.record(first); // the same one twice is one failure
        for (int i = 1; i <= 150; i++) {
            failures.record(new RuntimeException(String.valueOf(i)));
        }
        assertThat(failures.any()).isTrue();
        assertThat(failures.take()).isSameAs(first);
        assertThat(first.getSuppressed()).hasSize(CallbackFailures.MAX_REPORTED)
                .extracting(Throwable::getMessage).startsWith("1", "2").endsWith("100");
        assertThat(log.records).singleElement().satisfies(r -> {
            assertThat(r.level()).isEqualTo(System.Logger.Level.WARNING);
            assertThat(r.message()).startsWith("50 more callback failures of conn");
        });
        assertThat(failures.any()).isFalse();
        assertThat(failures.take()).isNull();
    }

    @Test
    void laterFailuresAreLoggedWhenTheFirstTakesNoSuppressedOnes() {
        Error first = new Error("first", null, false, false) { };
        failures.record(first);
        RuntimeException second = new RuntimeException("second");
        failures.record(second);
        assertThat(failures.take()).isSameAs(first);
        assertThat(log.records).singleElement().satisfies(r -> {
            assertThat(r.level()).isEqualTo(System.Logger.Level.WARNING);
            assertThat(r.thrown()).isSameAs(second);
        });
    }

    @Test
    void clearForgetsWithoutReporting() {
        failures.record(new RuntimeException("a"));
        failures.clear();
        assertThat(failures.take()).isNull();
        assertThat(log.records).isEmpty();
    }
}
