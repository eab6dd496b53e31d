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
    private static ClusterFixture cluster;

    @BeforeAll
    static void up() {
        cluster = ClusterFixture.up(3);
    }

    @AfterAll
    static void down() {
        if (cluster != null) {
            cluster.close();
        }
    }

    /** Message {@code seq} of sender node {@code node}: node and seq, then bytes from a seeded generator. */
    static byte[] payload(int node, int seq, int size) {
        byte[] bytes = new byte[Math.max(size, 8)];
        new SplittableRandom(node * 1_000_003L + seq).nextBytes(bytes);
        ByteBuffer.wrap(bytes).putInt(0, node).putInt(4, seq);
        return bytes;
    }

    /**
     * Every client sends {@code perSender} messages (sizes 8 B .. 60 KiB) from a thread of its own,
     * all at once; the client on node 1 sends a {@code bigBytes} message in the middle (none if 0).
     * Then every client must deliver the same sequence, each sender's messages in send order and
     * intact. Returns the number of messages delivered per client.
     */
    static int exchange(List<NodeClient> clients, int perSender, int bigBytes) throws InterruptedException {
        Map<String, String> sent = new ConcurrentHashMap<>(); // sha256 -> "node:seq"
        List<Thread> senders = new ArrayList<>();
        int before = clients.get(0).messages().size();
        for (NodeClient client : clients) {
            senders.add(Thread.ofPlatform().name("sender-" + client.node()).start(() -> {
                SplittableRandom sizes = new SplittableRandom(client.node());
                for (int seq = 0; seq < perSender; seq++) {
                    int size = seq == perSender / 2 && client.node() == 1 && bigBytes > 0
                            ? bigBytes : sizes.nextInt(8, 60 * 1024);
                    byte[] message = payload(client.node(), seq, size);
                    sent.put(NodeClient.sha256(message), client.node() + ":" + seq);
                    client.send(message);
                }
            }));
        }
        for (Thread sender : senders) {
            sender.join(120_000);
            assertThat(sender.isAlive()).as(sender.getName() + " finished").isFalse();
        }
        int total = perSender * clients.size();
        for (NodeClient client : clients) {
            client.await(total + " messages", events -> events.stream()
                    .filter(e -> e instanceof NodeClient.Delivered).count() >= before + total, Clients.AWAIT);
        }
        List<NodeClient.Delivered> reference = clients.get(0).messages();
        reference = reference.subList(before, reference.size());
        assertThat(reference).hasSize(total);
        for (NodeClient client : clients) {
            List<NodeClient.Delivered> got = client.messages();
            got = got.subList(before, got.size());
            assertThat(got).as("node %d delivers what node 1 delivers, in the same order", client.node())
                    .extracting(NodeClient.Delivered::toString)
                    .containsExactlyElementsOf(reference.stream().map(NodeClient.Delivered::toString).toList());
            Map<Long, Integer> nextSeq = new LinkedHashMap<>();
            for (NodeClient.Delivered d : got) {
                String origin = sent.get(d.sha256());
                assertThat(origin).as("a delivered payload is one that was sent, byte for byte").isNotNull();
                int node = Integer.parseInt(origin.split(":")[0]);
                int seq = Integer.parseInt(origin.split(":")[1]);
                assertThat(d.nodeId()).as("sender node").isEqualTo(node);
                assertThat(d.pid()).isEqualTo(Clients.PID);
                assertThat(seq).as("sender %d's messages in send order", node).isEqualTo(nextSeq.getOrDefault(d.nodeId(), 0));
                nextSeq.put(d.nodeId(), seq + 1);
                if (d.payload() != null) {
                    assertThat(d.payload()).isEqualTo(payload(node, seq, (int) d.length()));
                }
            }
        }
        if (bigBytes > 0) {
            assertThat(reference).anySatisfy(d -> assertThat(d.length()).isEqualTo(bigBytes));
        }
        return reference.size();
    }

    @Test
    @Timeout(180)
    void sameOrderEverywhereByteForByteWithA4MiBMessage() throws Exception {
        GroupName group = Clients.uniqueGroup("order");
        List<NodeClient> clients = Clients.joinAll(cluster, group);
        try {
            long t0 = System.nanoTime();
            int n = exchange(clients, 300, 4 * 1024 * 1024);
            System.out.printf("%d messages (one of 4 MiB) delivered in the same order on 3 nodes in %d ms%n",
                    n, (System.nanoTime() - t0) / 1_000_000);
        } finally {
            Clients.closeAll(clients);
        }
    }
}
