package org.jcpg.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.jcpg.testsupport.UnitTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The promises of {@link Handoff} that do not need libcpg: a session no
 * worker claims still runs (once), and a runner that is gone without ending
 * the session fails the caller's wait instead of wedging it. (The wait
 * ignores interrupts: the timeouts run each test on a thread of its own so
 * that a wedged wait fails the test.)
 */
@UnitTest
class HandoffTest {
    private static final Runnable NO_WAKE = () -> { };

    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aSessionNoWorkerClaimsRunsOnceOnABigStackThreadOfItsOwn() {
        AtomicInteger runs = new AtomicInteger();
        List<String> threads = new CopyOnWriteArrayList<>();
        List<String> callbackThreads = new CopyOnWriteArrayList<>();
        Handoff session = Handoff.unsubmitted(s -> {
            runs.incrementAndGet();
            threads.add(Thread.currentThread().getName());
            s.runOnCaller(() -> callbackThreads.add(Thread.currentThread().getName()));
            return 7;
        }, NO_WAKE);
        long start = System.nanoTime();
        assertThat(session.await()).isEqualTo(7);
        long waitedMs = (System.nanoTime() - start) / 1_000_000;
        assertThat(waitedMs).isGreaterThanOrEqualTo(Handoff.UNCLAIMED_NANOS / 1_000_000);
        assertThat(threads).singleElement().asString().startsWith("jcpg-dispatch-unclaimed-");
        assertThat(callbackThreads).containsExactly(Thread.currentThread().getName());
        // The pooled task, turning up late, finds the session claimed and runs nothing.
        session.serve();
        assertThat(session.claim()).isFalse();
        assertThat(runs).hasValue(1);
    }

    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aRunnerThatIsGoneWithoutEndingTheSessionFailsTheWait() throws InterruptedException {
        AtomicInteger runs = new AtomicInteger();
        Handoff session = Handoff.unsubmitted(s -> runs.incrementAndGet(), NO_WAKE);
        // A thread claims the session and ends without serving it: what a runner that died
        // inside its final bookkeeping would leave.
        Thread runner = new Thread(() -> assertThat(session.claim()).isTrue(), "claims-and-dies");
        runner.start();
        runner.join();
        long start = System.nanoTime();
        assertThatIllegalStateException().isThrownBy(session::await).withMessageContaining("claims-and-dies");
        assertThat((System.nanoTime() - start) / 1_000_000).isLessThan(10_000);
        assertThat(runs).hasValue(0);
    }
}
