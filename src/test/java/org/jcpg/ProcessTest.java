package org.jcpg;

import static java.nio.charset.StandardCharsets.UTF_8;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Group members in other processes ({@link ChildMember}): joins, messages, echoes, and how they go away. */
// SEPARATE_THREAD: a test stuck in a native call or a child still fails after 30 s.
@Timeout(value = 30, unit = SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ProcessTest {
    private static final int PID = (int) Daemon.PID;

    private final List<Child> children = new CopyOnWriteArrayList<>();
    private final List<CpgConnection> opened = new CopyOnWriteArrayList<>();

    @AfterEach
    void cleanUp() throws InterruptedException {
        for (Child child : children) {
            child.process.destroyForcibly();
            child.process.waitFor(10, SECONDS);
        }
        opened.forEach(CpgConnection::close);
    }

    /** A ChildMember process, with its stdout lines queued for the test. */
    private static final class Child {
        final Process process;
        final int pid;
        final BlockingQueue<String> lines = new LinkedBlockingQueue<>();

        Child(Process process) {
            this.process = process;
            this.pid = (int) process.pid();
            Thread.ofVirtual().start(() -> {
                try (BufferedReader reader = new BufferedReader(new InputStreamReader(process.getInputStream(), UTF_8))) {
                    for (String line; (line = reader.readLine()) != null; ) {
                        lines.add(line);
                    }
                } catch (IOException ignored) {
                    // the child is gone
                }
            });
        }

        /** The child's next stdout line starting with {@code prefix}; fails if it exits or 20 s pass first. */
        String awaitLine(String prefix) throws InterruptedException {
            long deadline = System.nanoTime() + SECONDS.toNanos(20);
            while (System.nanoTime() < deadline) {
                String line = lines.poll(50, java.util.concurrent.TimeUnit.MILLISECONDS);
                if (line != null && line.startsWith(prefix)) {
                    return line;
                }
                if (line == null && !process.isAlive() && lines.isEmpty()) {
                    fail("child " + pid + " exited with " + process.exitValue() + " before printing " + prefix);
                }
            }
            return fail("child " + pid + " did not print " + prefix + " within 20 s");
        }
    }

    private Child start(GroupName group, String... modeAndArgs) throws IOException {
        List<String> command = new ArrayList<>(List.of(
                ProcessHandle.current().info().command().orElseThrow(),
                "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"),
                ChildMember.class.getName(), group.toString()));
        command.addAll(Arrays.asList(modeAndArgs));
        // The child inherits this JVM's network namespace, so it reaches the same private corosync.
        Process process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        Child child = new Child(process);
        children.add(child);
        return child;
    }

    /** Opens a connection, joins the group and waits for its own join. */
    private CpgConnection joinAsParent(GroupName group, Recorder recorder) {
        CpgConnection cpg = CpgConnection.open(recorder);
        opened.add(cpg);
        cpg.join(group);
        Daemon.dispatchUntil(() -> recorder.membershipChanges.size() == 1, cpg);
        return cpg;
    }

    private static boolean hasMessage(Recorder recorder, int pid, String payload) {
        return recorder.messages.stream().anyMatch(m -> m.pid() == pid && new String(m.payload(), UTF_8).equals(payload));
    }

    /** Starts a child, and waits until the parent has seen its join and its hello. */
    private Child startAndAwaitHello(GroupName group, CpgConnection parent, Recorder recorder, String... mode)
            throws IOException, InterruptedException {
        Child child = start(group, mode);
        child.awaitLine("READY");
        Daemon.dispatchUntil(() -> hasMessage(recorder, child.pid, "hello:" + child.pid), parent);
        return child;
    }

    @Test
    void parentSeesChildJoinAndMessageAndGetsAnEcho() throws Exception {
        GroupName group = Daemon.uniqueGroup("proc-echo");
        Recorder recorder = new Recorder();
        CpgConnection parent = joinAsParent(group, recorder);
        long node = parent.localNodeId();
        Child child = startAndAwaitHello(group, parent, recorder, "echo");

        assertThat(child.pid).isNotEqualTo(PID);
        MembershipChange join = recorder.membershipChanges.get(1);
        assertThat(join.group()).isEqualTo(group);
        assertThat(join.joined()).containsExactly(new Member(node, child.pid, Reason.JOIN));
        assertThat(join.left()).isEmpty();
        assertThat(join.members()).containsExactlyInAnyOrder(
                new Member(node, PID, Reason.UNDEFINED), new Member(node, child.pid, Reason.UNDEFINED));
        // The hello came after the join, from the child's node and pid.
        Recorder.Received hello = recorder.messages.get(0);
        assertThat(hello.nodeId()).isEqualTo(node);
        assertThat(hello.group()).isEqualTo(group);
        assertThat(parent.membership(group)).extracting(Member::pid).containsExactlyInAnyOrder(PID, child.pid);
        // The child's own first membership change: it joined, and the parent was already there.
        assertThat(child.awaitLine("CHANGE")).isEqualTo("CHANGE joined=" + child.pid + ":JOIN left= members="
                + java.util.stream.Stream.of(PID, child.pid).sorted().map(String::valueOf)
                        .collect(java.util.stream.Collectors.joining(",")));

        String ping = "ping-" + System.nanoTime();
        parent.multicast(Guarantee.AGREED, ping.getBytes(UTF_8));
        Daemon.dispatchUntil(() -> hasMessage(recorder, child.pid, "echo:" + ping), parent);
        // Total order: the parent delivers its own ping before the child's answer to it.
        List<String> payloads = recorder.messages.stream().map(m -> new String(m.payload(), UTF_8)).toList();
        assertThat(payloads).containsExactly("hello:" + child.pid, ping, "echo:" + ping);
    }

    @Test
    void killedChildLeavesWithReasonProcdown() throws Exception {
        GroupName group = Daemon.uniqueGroup("proc-kill");
        Recorder recorder = new Recorder();
        CpgConnection parent = joinAsParent(group, recorder);
        Child child = startAndAwaitHello(group, parent, recorder, "echo");

        child.process.destroyForcibly(); // SIGKILL: the child's connection is never finalized
        assertThat(child.process.waitFor(10, SECONDS)).isTrue();
        Daemon.dispatchUntil(() -> !recorder.leaves().isEmpty(), parent);

        assertThat(recorder.leaves()).containsExactly(new Member(parent.localNodeId(), child.pid, Reason.PROCDOWN));
        assertThat(recorder.membershipChanges.getLast().members()).extracting(Member::pid).containsExactly(PID);
    }

    @Test
    void childThatLeavesIsSeenWithReasonLeave() throws Exception {
        GroupName group = Daemon.uniqueGroup("proc-leave");
        Recorder recorder = new Recorder();
        CpgConnection parent = joinAsParent(group, recorder);
        Child child = startAndAwaitHello(group, parent, recorder, "leave");
        child.awaitLine("LEFT");
        Daemon.dispatchUntil(() -> !recorder.leaves().isEmpty(), parent);

        assertThat(recorder.leaves()).containsExactly(new Member(parent.localNodeId(), child.pid, Reason.LEAVE));
        assertThat(child.process.isAlive()).as("the child still runs; only its membership ended").isTrue();
        assertThat(parent.membership(group)).extracting(Member::pid).containsExactly(PID);
    }

    /**
     * A connection closed without leaving: corosync's cpg service sees the IPC
     * connection end while the process is still joined, which it reports as
     * PROCDOWN, the same as a crash.
     */
    @Test
    void childThatClosesWithoutLeavingIsSeenWithReasonProcdown() throws Exception {
        GroupName group = Daemon.uniqueGroup("proc-close");
        Recorder recorder = new Recorder();
        CpgConnection parent = joinAsParent(group, recorder);
        Child child = startAndAwaitHello(group, parent, recorder, "close");
        child.awaitLine("CLOSED");
        Daemon.dispatchUntil(() -> !recorder.leaves().isEmpty(), parent);

        assertThat(recorder.leaves()).containsExactly(new Member(parent.localNodeId(), child.pid, Reason.PROCDOWN));
        assertThat(child.process.isAlive()).isTrue();
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
        GroupName group = Daemon.uniqueGroup("proc-order");
        Recorder recorder = new Recorder();
        CpgConnection parent = joinAsParent(group, recorder);
        Child first = startAndAwaitHello(group, parent, recorder, "burst", "" + perSender, "" + total);
        Child second = startAndAwaitHello(group, parent, recorder, "burst", "" + perSender, "" + total);
        assertThat(parent.membership(group)).hasSize(3);

        // "go" is ordered after both joins, so every member starts from the same membership.
        parent.multicast(Guarantee.AGREED, "go".getBytes(UTF_8));
        Thread sender = Thread.ofPlatform().name("parent-sender").start(() -> ChildMember.send(parent, perSender, PID));
        Daemon.dispatchUntil(() -> numbered(recorder).size() >= total, parent);
        sender.join(5_000);

        List<String> order = numbered(recorder);
        assertThat(order).hasSize(total).doesNotHaveDuplicates();
        // Sent one after another, the senders would switch only twice: more shows they really overlapped.
        long switches = IntStream.range(1, total)
                .filter(i -> !sender(order.get(i)).equals(sender(order.get(i - 1)))).count();
        assertThat(switches).as("sender switches in the delivered order").isGreaterThan(2);
        for (int pid : new int[] {PID, first.pid, second.pid}) {
            List<Integer> sequence = order.stream().filter(p -> p.startsWith(pid + ":"))
                    .map(p -> Integer.parseInt(p.substring(p.indexOf(':') + 1))).toList();
            assertThat(sequence).as("FIFO of sender %d", pid).isEqualTo(IntStream.range(0, perSender).boxed().toList());
        }
        String expected = "ORDER " + String.join(",", order);
        assertThat(first.awaitLine("ORDER")).as("order at child %d", first.pid).isEqualTo(expected);
        assertThat(second.awaitLine("ORDER")).as("order at child %d", second.pid).isEqualTo(expected);
    }

    private static String sender(String numbered) {
        return numbered.substring(0, numbered.indexOf(':'));
    }

    private static List<String> numbered(Recorder recorder) {
        return recorder.messages.stream().map(m -> new String(m.payload(), UTF_8))
                .filter(p -> p.matches("\\d+:\\d+")).toList();
    }
}
