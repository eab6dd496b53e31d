package org.jcpg.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.jcpg.testsupport.UnitTest;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The lease logic behind "close never waits, and the handle is freed once, after its last call". */
@UnitTest
class LeasesTest {
    private final AtomicInteger woken = new AtomicInteger();
    private final AtomicInteger released = new AtomicInteger();
    private final Leases lifecycle = new Leases("thing", woken::incrementAndGet, released::incrementAndGet);

    @Test
    void closeWithoutCallsReleasesAtOnceAndOnlyOnce() {
        lifecycle.close();
        lifecycle.close();
        assertThat(woken).hasValue(1);
        assertThat(released).hasValue(1);
        assertThat(lifecycle.isClosed()).isTrue();
        assertThatIllegalStateException().isThrownBy(lifecycle::acquire).withMessage("thing is closed");
        assertThatIllegalStateException().isThrownBy(lifecycle::check);
    }

    @Test
    void closeDuringACallWakesAtOnceAndReleasesWhenTheLastCallEnds() {
        lifecycle.acquire();
        lifecycle.acquire();
        lifecycle.close();
        assertThat(woken).hasValue(1);
        assertThat(released).hasValue(0);
        lifecycle.release();
        assertThat(released).hasValue(0);
        lifecycle.release();
        assertThat(released).hasValue(1);
    }

    @RepeatedTest(20)
    @Timeout(20)
    void racingCallsAndCloseReleaseExactlyOnceAfterEveryCall() throws Exception {
        AtomicInteger inCall = new AtomicInteger();
        AtomicInteger releasedDuringCall = new AtomicInteger();
        Leases raced = new Leases("raced", () -> { }, () -> {
            if (inCall.get() != 0) {
                releasedDuringCall.incrementAndGet();
            }
            released.incrementAndGet();
        });
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            threads.add(Thread.ofPlatform().start(() -> {
                try {
                    start.await();
                    while (true) {
                        raced.acquire();
                        inCall.incrementAndGet();
                        Thread.onSpinWait();
                        inCall.decrementAndGet();
                        raced.release();
                    }
                } catch (IllegalStateException closed) {
                    // the end
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }));
        }
        start.countDown();
        Thread.sleep(2);
        raced.close();
        for (Thread thread : threads) {
            thread.join();
        }
        assertThat(released).hasValue(1);
        assertThat(releasedDuringCall).hasValue(0);
    }
}
