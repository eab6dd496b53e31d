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
 * A hand-off worker that dies before it serves its session (as one that runs
 * out of heap between taking the task and starting it) does not wedge the
 * dispatch that handed off, nor later ones: the caller notices that no
 * worker took the session and runs the work on a thread of its own. The
 * death is injected (test-only property {@code jcpg.test.loseHandoffTasks})
 * in a child JVM: a real OutOfMemoryError at exactly that point cannot be
 * provoked at will (see {@link DispatchAfterOutOfMemoryTest} for the real one).
 */
@NodeTest
class LostHandoffTest {
    @Test
    @Timeout(150)
    void aDispatchWhoseWorkerDiesBeforeServingStillDeliversAndReturns() throws Exception {
        GroupName group = SuiteDaemon.uniqueGroup("lost");
        try (MisuseChild child = MisuseChild.start(List.of(), List.of("-Djcpg.test.loseHandoffTasks=2"),
                "lost-handoff", HexFormat.of().formatHex(group.toBytes()))) {
            for (int round = 0; round < 3; round++) {
                String line = child.await("ROUND", Duration.ofSeconds(40));
                System.out.println("round " + round + ": " + line);
                assertThat(line).as("round %d", round).contains("returned=true").contains("outcome=delivered");
            }
        }
    }
}
