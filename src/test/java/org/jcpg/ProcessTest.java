package org.jcpg;

import static java.nio.charset.StandardCharsets.UTF_8;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.IntStream;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.Recorder;
import org.jcpg.testsupport.SuiteDaemon;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Group members in other processes ({@link PeerMain}): joins, messages, echoes, and how they go away. */
// SEPARATE_THREAD: a test stuck in a native call or a child still fails after 30 s.
@NodeTest
@Timeout(value = 30, unit = SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ProcessTest {
    private static final int PID = (int) SuiteDaemon.OWN_PID;

    private final List<PeerProcess> children = new CopyOnWriteArrayList<>();
    private final List<CpgConnection> opened = new CopyOnWriteArrayList<>();

    @AfterEach
    void cleanUp() throws InterruptedException {
        for (PeerProcess child : children) {
            child.close();
        }
        opened.forEach(CpgConnection::close);
    }

    /** Opens a connection, joins the group and waits for its own join. */
    private CpgConnection joinAsParent(GroupName group, Recorder recorder) {
        CpgConnection cpg = CpgConnection.open(recorder);
        opened.add(cpg);
        cpg.join(group);
        SuiteDaemon.dispatchUntil(() -> recorder.membershipChanges.size() == 1, cpg);
        return cpg;
    }

    private static boolean hasMessage(Recorder recorder, int pid, String payload) {
        return recorder.messages.stream().anyMatch(m -> m.pid() == pid && new String(m.payload(), UTF_8).equals(payload));
    }

    /**
     * Starts a child, gives it the commands, lets it join and say hello:PID, and waits until the
     * parent has seen the hello.
     */
    private PeerProcess startAndAwaitHello(GroupName group, CpgConnection parent, Recorder recorder, String... commands)
            throws InterruptedException {
        PeerProcess child = PeerProcess.start();
        children.add(child);
        for (String command : commands) {
            child.command(command);
        }
        child.join(group);
        child.command("text hello:" + child.pid());
        SuiteDaemon.dispatchUntil(() -> hasMessage(recorder, child.pid(), "hello:" + child.pid()), parent);
        return child;
    }

    @Test
    void parentSeesChildJoinAndMessageAndGetsAnEcho() throws Exception {
        GroupName group = SuiteDaemon.uniqueGroup("proc-echo");
        Recorder recorder = new Recorder();
        CpgConnection parent = joinAsParent(group, recorder);
        long node = parent.localNodeId();
        PeerProcess child = startAndAwaitHello(group, parent, recorder, "echo");

        assertThat(child.pid()).isNotEqualTo(PID);
        MembershipChange join = recorder.membershipChanges.get(1);
        assertThat(join.group()).isEqualTo(group);
        assertThat(join.joined()).containsExactly(new Member(node, child.pid(), Reason.JOIN));
        assertThat(join.left()).isEmpty();
        assertThat(join.members()).containsExactlyInAnyOrder(
                new Member(node, PID, Reason.UNDEFINED), new Member(node, child.pid(), Reason.UNDEFINED));
        // The hello came after the join, from the child's node and pid.
        Recorder.Received hello = recorder.messages.get(0);
        assertThat(hello.nodeId()).isEqualTo(node);
        assertThat(hello.group()).isEqualTo(group);
        assertThat(parent.membership(group)).extracting(Member::pid).containsExactlyInAnyOrder(PID, child.pid());
        // The child's own first membership change: it joined, and the parent was already there.
        String hex = HexFormat.of().formatHex(group.toBytes());
        assertThat(child.awaitEvent(e -> e.startsWith("CONFCHG "), Duration.ofSeconds(20))).isEqualTo("CONFCHG " + hex
                + " joined=" + child.pid() + "/JOIN left= members=" + PeerProcess.pidList(PID, child.pid()));

        String ping = "ping-" + System.nanoTime();
        parent.multicast(Guarantee.AGREED, ping.getBytes(UTF_8));
        SuiteDaemon.dispatchUntil(() -> hasMessage(recorder, child.pid(), "echo:" + ping), parent);
        // Total order: the parent delivers its own ping before the child's answer to it.
        List<String> payloads = recorder.messages.stream().map(m -> new String(m.payload(), UTF_8)).toList();
        assertThat(payloads).containsExactly("hello:" + child.pid(), ping, "echo:" + ping);
    }

    @Test
    void killedChildLeavesWithReasonProcdown() throws Exception {
        GroupName group = SuiteDaemon.uniqueGroup("proc-kill");
        Recorder recorder = new Recorder();
        CpgConnection parent = joinAsParent(group, recorder);
        PeerProcess child = startAndAwaitHello(group, parent, recorder, "echo");

        child.process.destroyForcibly(); // SIGKILL: the child's connection is never finalized
        assertThat(child.process.waitFor(10, SECONDS)).isTrue();
        SuiteDaemon.dispatchUntil(() -> !recorder.leaves().isEmpty(), parent);

        assertThat(recorder.leaves()).containsExactly(new Member(parent.localNodeId(), child.pid(), Reason.PROCDOWN));
        assertThat(recorder.membershipChanges.getLast().members()).extracting(Member::pid).containsExactly(PID);
    }

    /**
     * Three members (this JVM and two children) send concurrently, each from
     * its own thread; every member must deliver the identical sequence, and
     * each sender's messages in the order it sent them.
     */
    @Test
    void agreedOrderIsIdenticalAtThreeProcessesUnderConcurrentSenders() throws Exception {
        int perSender = 300;
        int total = 3 * perSender;
        GroupName group = SuiteDaemon.uniqueGroup("proc-order");
        Recorder recorder = new Recorder();
        CpgConnection parent = joinAsParent(group, recorder);
        PeerProcess first = startAndAwaitHello(group, parent, recorder, "burst " + perSender);
        PeerProcess second = startAndAwaitHello(group, parent, recorder, "burst " + perSender);
        assertThat(parent.membership(group)).hasSize(3);

        // "go" is ordered after both joins, so every member starts from the same membership.
        parent.multicast(Guarantee.AGREED, "go".getBytes(UTF_8));
        Thread sender = Thread.ofPlatform().name("parent-sender").start(() -> PeerMain.sendNumbered(parent, perSender, PID));
        SuiteDaemon.dispatchUntil(() -> numbered(recorder).size() >= total, parent);
        sender.join(5_000);

        List<String> order = numbered(recorder);
        assertThat(order).hasSize(total).doesNotHaveDuplicates();
        // Sent one after another, the senders would switch only twice: more shows they really overlapped.
        long switches = IntStream.range(1, total)
                .filter(i -> !sender(order.get(i)).equals(sender(order.get(i - 1)))).count();
        assertThat(switches).as("sender switches in the delivered order").isGreaterThan(2);
        for (int pid : new int[] {PID, first.pid(), second.pid()}) {
            List<Integer> sequence = order.stream().filter(p -> p.startsWith(pid + ":"))
                    .map(p -> Integer.parseInt(p.substring(p.indexOf(':') + 1))).toList();
            assertThat(sequence).as("FIFO of sender %d", pid).isEqualTo(IntStream.range(0, perSender).boxed().toList());
        }
        String expected = String.join(",", order);
        assertThat(first.command("order " + total)).as("order at child %d", first.pid()).isEqualTo(expected);
        assertThat(second.command("order " + total)).as("order at child %d", second.pid()).isEqualTo(expected);
    }

    private static String sender(String numbered) {
        return numbered.substring(0, numbered.indexOf(':'));
    }

    private static List<String> numbered(Recorder recorder) {
        return recorder.messages.stream().map(m -> new String(m.payload(), UTF_8))
                .filter(p -> p.matches("\\d+:\\d+")).toList();
    }
}
