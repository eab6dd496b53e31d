package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.UUID;
import org.jcpg.testsupport.NodeTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A CpgEventLoop dropped without close() is reclaimed; the connections it
 * dispatched, still held by the application, are closed with it (its
 * Javadoc, "Closing"), rather than silently getting no more events.
 */
@NodeTest
class LoopReclaimClosesConnectionsTest {
    /** Opens a joined connection on a loop and forgets the loop. In a method of its own: no local keeps it. */
    private static CpgConnection openOnDroppedLoop(GroupName group) {
        CpgEventLoop loop = CpgEventLoop.start();
        CpgConnection connection = loop.open(new CpgListener() { });
        connection.join(group);
        return connection;
    }

    @Test
    @Timeout(120)
    void heldConnectionsOfAReclaimedLoopAreClosed() throws InterruptedException {
        GroupName group = GroupName.of("loop-reclaim-" + UUID.randomUUID().toString().substring(0, 8));
        CpgConnection held = openOnDroppedLoop(group);
        assertThat(held.isClosed()).isFalse();
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!held.isClosed() && System.nanoTime() < deadline) {
            System.gc();
            Thread.sleep(200);
        }
        assertThat(held.isClosed()).as("closed with its reclaimed loop").isTrue();
        assertThatThrownBy(() -> held.multicast(Guarantee.AGREED, new byte[] {1}))
                .isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(held::localNodeId).isInstanceOf(IllegalStateException.class);
        // Its handle is finalized: the group loses the member.
        try (CpgConnection query = CpgConnection.open(new CpgListener() { })) {
            while (!query.membership(group).isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            assertThat(query.membership(group)).as("members of the reclaimed loop's group").isEmpty();
        }
    }
}
