package org.jcpg.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.jcpg.GroupName;
import org.jcpg.MembershipChange;
import org.jcpg.TotemChange;
import org.jcpg.testsupport.Cluster;
import org.jcpg.testsupport.ClusterTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A cluster with crypto_cipher aes256, crypto_hash sha256 and a generated
 * authkey forms and carries messages (same order everywhere, byte for
 * byte); a node restarted with a key of its own never joins: its daemon
 * sees only itself, the others never see it, and its client stays alone.
 * With the right key again it joins.
 */
@ClusterTest
class ClusterCryptoTest {
    @Test
    @Timeout(180)
    void cryptoClusterFormsCarriesMessagesAndKeepsAWrongKeyOut() throws Exception {
        try (Cluster cluster = Cluster.up(3, true)) {
            assertThat(cluster.status()).contains("crypto on");
            GroupName group = Clients.uniqueGroup("crypto");
            List<NodeClient> clients = new ArrayList<>(Clients.joinAll(cluster, group));
            try {
                int n = Clients.exchange(clients, 100, 0);
                System.out.println("crypto cluster: " + n + " messages in the same order on 3 nodes");

                cluster.restartWithWrongKey(3);   // waits until node 3 sees only itself, 1 and 2 each other
                NodeClient c1 = clients.get(0), c2 = clients.get(1);
                assertThat(clients.get(2).awaitLost(Clients.AWAIT)).isNotNull();
                for (NodeClient c : List.of(c1, c2)) {
                    c.awaitChange("node 3's client gone", x -> x.left().stream().anyMatch(m -> m.nodeId() == 3), Clients.AWAIT);
                }
                NodeClient wrong = NodeClient.join(cluster, 3, group);
                clients.add(wrong);
                wrong.awaitChange("its own JOIN", x -> x.joined().stream().anyMatch(m -> m.nodeId() == 3), Clients.AWAIT);
                int[] seen = {c1.events().size(), c2.events().size()};
                // Give it time to (wrongly) merge: several token timeouts and merge intervals.
                Thread.sleep(5_000);
                assertThat(cluster.members(3)).containsExactly(3L);
                assertThat(cluster.members(1)).containsExactly(1L, 2L);
                for (NodeClient c : List.of(c1, c2)) {
                    List<Object> later = c.events();
                    later = later.subList(seen[c.node() - 1], later.size());
                    assertThat(later).as("node %d: nothing of node 3 after its restart with the wrong key", c.node())
                            .noneMatch(e -> e instanceof MembershipChange m && m.joined().stream().anyMatch(j -> j.nodeId() == 3))
                            .noneMatch(e -> e instanceof TotemChange t && t.nodeIds().contains(3L));
                    assertThat(c.membershipChanges().get(c.membershipChanges().size() - 1).members())
                            .allSatisfy(m -> assertThat(m.nodeId()).isNotEqualTo(3L));
                }
                assertThat(wrong.membershipChanges()).allSatisfy(m -> assertThat(m.members())
                        .allSatisfy(x -> assertThat(x.nodeId()).isEqualTo(3L)));
                assertThat(wrong.totemChanges()).allSatisfy(t -> assertThat(t.nodeIds()).containsExactly(3L));
                wrong.send("alone".getBytes());
                wrong.await("its own message", e -> e.stream().anyMatch(x -> x instanceof NodeClient.Delivered), Clients.AWAIT);
                Thread.sleep(500);
                assertThat(c1.messages().stream().filter(d -> d.nodeId() == 3).count())
                        .as("node 1 got no message from the wrong-key node").isEqualTo(100);

                // The right key again: it joins.
                wrong.close();
                cluster.restart(3);
                NodeClient back = NodeClient.join(cluster, 3, group);
                clients.add(back);
                for (NodeClient c : List.of(c1, c2, back)) {
                    c.awaitChange("all three clients again", x -> x.members().size() == 3, Clients.AWAIT);
                    c.await("the full ring", e -> e.stream().anyMatch(x -> x instanceof TotemChange t && t.nodeIds().size() == 3), Clients.AWAIT);
                }
            } finally {
                Clients.closeAll(clients);
            }
        }
    }
}
