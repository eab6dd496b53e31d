import java.nio.charset.StandardCharsets;
import org.jcpg.CpgConnection;
import org.jcpg.CpgListener;
import org.jcpg.DispatchMode;
import org.jcpg.GroupName;
import org.jcpg.Guarantee;
import org.jcpg.Message;
import org.jcpg.MembershipChange;
import org.jcpg.ModelFlag;
import org.jcpg.TotemChange;

/** Joins group "hello", sends three messages and prints every event it gets back. */
public class Hello {
    public static void main(String[] args) {
        CpgListener printer = new CpgListener() {
            @Override
            public void onMessage(CpgConnection cpg, Message message) {
                System.out.printf("message from node %d pid %d: %s%n", message.nodeId(), message.pid(),
                        new String(message.toByteArray(), StandardCharsets.UTF_8));
            }

            @Override
            public void onMembershipChange(CpgConnection cpg, MembershipChange change) {
                System.out.printf("group %s: members %s, joined %s, left %s%n",
                        change.group(), change.members(), change.joined(), change.left());
            }

            @Override
            public void onTotemChange(CpgConnection cpg, TotemChange change) {
                System.out.printf("ring %s with nodes %s%n", change.ringId(), change.nodeIds());
            }
        };
        try (CpgConnection cpg = CpgConnection.open(printer, ModelFlag.DELIVER_INITIAL_TOTEM_CONF)) {
            System.out.printf("connected to node %d%n", cpg.localNodeId());
            cpg.join(GroupName.of("hello"));
            for (int i = 1; i <= 3; i++) {
                cpg.multicast(Guarantee.AGREED, ("hello #" + i).getBytes(StandardCharsets.UTF_8));
            }
            int events = 0;
            while (events < 5) { // our JOIN, the initial ring, three messages
                events += cpg.dispatch(DispatchMode.ONE);
            }
            System.out.printf("groups in the cluster: %s%n", cpg.groups());
        }
    }
}
