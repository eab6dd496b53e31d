package org.jcpg.cluster;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.stream.Collectors;
import org.jcpg.GroupName;
import org.jcpg.Member;
import org.jcpg.MembershipChange;
import org.jcpg.Reason;
import org.jcpg.TotemChange;

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
    static List<NodeClient> joinAll(ClusterFixture cluster, GroupName group) {
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
}
