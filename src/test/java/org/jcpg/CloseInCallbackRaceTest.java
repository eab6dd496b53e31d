package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.SuiteDaemon;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * close() from a callback ends a dispatch(BLOCKING) normally, as documented,
 * also when many virtual threads (dispatching through hand-off workers) do
 * it at once, each on a connection of its own. It once threw
 * CS_ERR_BAD_HANDLE now and then.
 */
@NodeTest
class CloseInCallbackRaceTest {
    private static final int THREADS = 50;
    private static final int ROUNDS = Integer.getInteger("jcpg.test.closeRaceRounds", 8);

    @Test
    @Timeout(300)
    void closeFromACallbackEndsABlockingDispatchNormally() throws InterruptedException {
        ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
        for (int round = 0; round < ROUNDS && problems.isEmpty(); round++) {
            CountDownLatch done = new CountDownLatch(THREADS);
            for (int t = 0; t < THREADS; t++) {
                int index = t;
                Thread.ofVirtual().name("close-race-" + round + "-" + t).start(() -> {
                    try {
                        CpgConnection cpg = CpgConnection.open(new CpgListener() {
                            @Override
                            public void onMessage(CpgConnection c, Message m) {
                                c.close();
                            }
                        });
                        // One process joins a group through one connection only: a group each.
                        cpg.join(SuiteDaemon.uniqueGroup("close-race-" + index));
                        cpg.multicast(Guarantee.AGREED, new byte[] {(byte) index});
                        int n = cpg.dispatch(DispatchMode.BLOCKING);
                        if (!cpg.isClosed()) {
                            problems.add("dispatch returned " + n + " before close");
                        }
                    } catch (Throwable e) {
                        problems.add(e.toString());
                    } finally {
                        done.countDown();
                    }
                });
            }
            assertThat(done.await(120, TimeUnit.SECONDS)).as("all dispatches returned").isTrue();
        }
        assertThat(List.copyOf(problems)).isEmpty();
    }
}
