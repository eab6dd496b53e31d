package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.SuiteDaemon;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Callbacks that exhaust the heap may throw OutOfMemoryError from dispatch,
 * and jcpg's hand-off workers may die of it; once the heap is free again, a
 * dispatch from a default platform thread (which needs a worker) delivers
 * and returns. In a child JVM with a 48 MiB heap; the workers do die there
 * (OutOfMemoryError in the pool's SynchronousQueue.poll, between two
 * dispatches), 40 times over, before the heap is freed.
 *
 * <p>Note: the hang reported in issue 18 item 9 did not reproduce with this
 * scenario on the code of that time; the test guards the promise.
 */
@NodeTest
class DispatchAfterOutOfMemoryTest {
    @Test
    @Timeout(180)
    void aDispatchAfterHeapExhaustionDeliversAndReturns() throws Exception {
        GroupName group = SuiteDaemon.uniqueGroup("oom");
        try (MisuseChild child = MisuseChild.start(List.of(), List.of("-Xmx48m", "-XX:TieredStopAtLevel=1"),
                "heap-exhaustion", HexFormat.of().formatHex(group.toBytes()))) {
            System.out.println("heap filled: " + child.await("FREED", Duration.ofSeconds(120)));
            String after = child.await("AFTER", Duration.ofSeconds(60));
            System.out.println("after: " + after);
            assertThat(after).contains("returned=true").contains("outcome=delivered");
        }
    }
}
