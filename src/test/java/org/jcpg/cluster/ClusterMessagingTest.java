package org.jcpg.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import org.jcpg.GroupName;
import org.jcpg.testsupport.Cluster;
import org.jcpg.testsupport.ClusterTest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Messages sent on every node of a 3-node cluster at once arrive on every
 * node in the same order, byte for byte (SHA-256 of each, and the bytes of
 * the small ones), each sender's in send order; among them a 4 MiB message
 * that libcpg fragments.
 */
@ClusterTest
class ClusterMessagingTest {
    private static Cluster cluster;

    @BeforeAll
    static void up() {
        cluster = Cluster.up(3);
    }

    @AfterAll
    static void down() {
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    @Timeout(180)
    void sameOrderEverywhereByteForByteWithA4MiBMessage() throws Exception {
        GroupName group = Clients.uniqueGroup("order");
        List<NodeClient> clients = Clients.joinAll(cluster, group);
        try {
            long t0 = System.nanoTime();
            int n = Clients.exchange(clients, 300, 4 * 1024 * 1024);
            System.out.printf("%d messages (one of 4 MiB) delivered in the same order on 3 nodes in %d ms%n",
                    n, (System.nanoTime() - t0) / 1_000_000);
        } finally {
            Clients.closeAll(clients);
        }
    }
}
