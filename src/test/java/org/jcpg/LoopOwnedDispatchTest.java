package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.concurrent.CopyOnWriteArrayList;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.SuiteDaemon;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A connection opened on a CpgEventLoop is the loop's to dispatch: the application's dispatch is refused. */
@NodeTest
class LoopOwnedDispatchTest {
    @Test
    @Timeout(60)
    void dispatchOnALoopsConnectionIsRefusedAndTheLoopGoesOn() throws InterruptedException {
        CopyOnWriteArrayList<String> received = new CopyOnWriteArrayList<>();
        try (CpgEventLoop loop = CpgEventLoop.builder().name("owned-loop").start();
             CpgConnection cpg = loop.open(new CpgListener() {
                 @Override
                 public void onMessage(CpgConnection c, Message m) {
                     received.add(new String(m.toByteArray()));
                 }
             })) {
            cpg.join(SuiteDaemon.uniqueGroup("owned"));
            for (DispatchMode mode : DispatchMode.values()) {
                assertThatThrownBy(() -> cpg.dispatch(mode))
                        .isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("CpgEventLoop");
            }
            cpg.multicast(Guarantee.AGREED, "after".getBytes());
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (received.isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertThat(received).containsExactly("after");
        }
    }
}
