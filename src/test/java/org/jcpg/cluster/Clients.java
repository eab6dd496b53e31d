package org.jcpg.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;
import org.jcpg.GroupName;
import org.jcpg.Member;
import org.jcpg.MembershipChange;
import org.jcpg.Reason;
import org.jcpg.TotemChange;
import org.jcpg.testsupport.Cluster;

/** Helpers shared by the cluster tests. */
final class Clients {
    static final Duration AWAIT = Duration.ofSeconds(30);
    static final int PID = NodeClient.pid();

    private Clients() {
    }

    static GroupName uniqueGroup(String prefix) {
        return GroupName.of(prefix + "-" + UUID.randomUUID().toString().substring(0, 8));
    }

    /** One in-process client per node, all in {@code group}; returns once each sees all of them. */
    static List<NodeClient> joinAll(Cluster cluster, GroupName group) {
        List<NodeClient> clients = new ArrayList<>();
        for (int node = 1; node <= cluster.nodes(); node++) {
            clients.add(NodeClient.join(cluster, node, group));
        }
        List<Member> all = new ArrayList<>();
        for (int node = 1; node <= cluster.nodes(); node++) {
            all.add(member(node, PID, Reason.UNDEFINED));
        }
        for (NodeClient client : clients) {
            client.awaitChange("a view of all " + cluster.nodes() + " clients",
                    c -> sameMembers(c.members(), all), AWAIT);
            client.await("a totem change of all nodes", events -> events.stream()
                    .anyMatch(e -> e instanceof TotemChange t && t.nodeIds().size() == cluster.nodes()), AWAIT);
        }
        return clients;
    }

    static Member member(long node, int pid, Reason reason) {
        return new Member(node, pid, reason);
    }

    static boolean sameMembers(List<Member> a, List<Member> b) {
        return a.size() == b.size() && a.containsAll(b);
    }

    static void closeAll(List<NodeClient> clients) {
        for (NodeClient client : clients) {
            client.close();
        }
    }

    /** The index of the first event at or after {@code from} that is this object (identity). */
    static int indexOf(List<Object> events, Object event) {
        for (int i = 0; i < events.size(); i++) {
            if (events.get(i) == event) {
                return i;
            }
        }
        return -1;
    }

    /** The first totem change after event index {@code from} whose nodes are exactly {@code nodes}. */
    static TotemChange totemAfter(NodeClient client, Object after, List<Long> nodes) {
        client.await("a totem change to " + nodes + " after " + after, events -> {
            int from = indexOf(events, after);
            return from >= 0 && events.subList(from, events.size()).stream()
                    .anyMatch(e -> e instanceof TotemChange t && sorted(t.nodeIds()).equals(nodes));
        }, AWAIT);
        List<Object> events = client.events();
        return events.subList(indexOf(events, after), events.size()).stream()
                .filter(e -> e instanceof TotemChange t && sorted(t.nodeIds()).equals(nodes))
                .map(TotemChange.class::cast).findFirst().orElseThrow();
    }

    static List<Long> sorted(List<Long> nodes) {
        return nodes.stream().sorted().toList();
    }

    static String describe(MembershipChange c) {
        return "joined=" + c.joined().stream().map(m -> m.nodeId() + "/" + m.pid() + "/" + m.reason())
                .collect(Collectors.joining(",")) + " left=" + c.left().stream()
                .map(m -> m.nodeId() + "/" + m.pid() + "/" + m.reason()).collect(Collectors.joining(","))
                + " members=" + c.members().stream().map(m -> m.nodeId() + "/" + m.pid())
                .collect(Collectors.joining(","));
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
}
