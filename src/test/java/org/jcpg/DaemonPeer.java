package org.jcpg;

import static org.assertj.core.api.Assertions.fail;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.jcpg.testsupport.ChildJvm;
import org.jcpg.testsupport.KillableDaemon;

/**
 * A {@link DaemonPeerMain} in a {@link ChildJvm} inside a {@link KillableDaemon}'s
 * network namespace. Its message events are checked as they arrive (there
 * may be tens of thousands): per sender, sequence numbers must rise
 * strictly, and no message may arrive between a connection loss and the
 * reconnection. Every other event line is kept, in order.
 */
final class DaemonPeer implements AutoCloseable {
    /** What one receiver saw of one sender's messages. */
    static final class Sender {
        long last = -1;
        long count;
        long afterReconnect;
        long firstAfterReconnect = -1;
        final List<String> violations = new ArrayList<>();
    }

    final Process process;
    private final String label;
    private final ChildJvm child;
    private final Map<Long, Sender> senders = new LinkedHashMap<>();
    private long messagesWhileLost;
    private boolean lost;
    private boolean reconnected;

    private DaemonPeer(KillableDaemon node, String label) throws InterruptedException {
        this.label = label;
        this.child = ChildJvm.of(DaemonPeerMain.class).launcher(node.enter(List.of()))
                .jvmOptions("-XX:TieredStopAtLevel=1").label("peer " + label).events(this::event).start();
        this.process = child.process();
    }

    /** Checks and counts a message event (not kept); keeps every other event. */
    private synchronized boolean event(String event) {
        if (event.startsWith("MSG ")) {
            String[] words = event.split(" ");
            long pid = Long.parseLong(words[1]);
            Sender s = senders.computeIfAbsent(pid, p -> new Sender());
            if (words[2].equals("?")) {
                s.violations.add("unrecognized message from " + pid);
                return false;
            }
            long seq = Long.parseLong(words[2]);
            if (seq <= s.last && s.violations.size() < 20) {
                s.violations.add("from " + pid + ": seq " + seq + " after " + s.last);
            }
            s.last = Math.max(s.last, seq);
            s.count++;
            if (lost && !reconnected) {
                messagesWhileLost++;
            }
            if (reconnected) {
                s.afterReconnect++;
                if (s.firstAfterReconnect < 0) {
                    s.firstAfterReconnect = seq;
                }
            }
            return false;
        }
        if (event.startsWith("LOST ")) {
            lost = true;
        } else if (event.startsWith("RECONNECTED ")) {
            reconnected = true;
        }
        return true;
    }

    /**
     * Starts the peer JVM in {@code node}'s network namespace (nsenter execs the JVM in place).
     *
     * @param label names the peer in failure messages
     */
    static DaemonPeer start(KillableDaemon node, String label) throws InterruptedException {
        return new DaemonPeer(node, label);
    }

    /** A peer with an event loop joined to {@code group}. */
    static DaemonPeer joined(KillableDaemon node, String label, GroupName group, boolean executor, String reconnect)
            throws InterruptedException {
        DaemonPeer peer = start(node, label);
        peer.command("loop " + (executor ? "virtual" : "none") + " " + reconnect);
        peer.command("join " + hex(group));
        return peer;
    }

    static String hex(GroupName group) {
        return HexFormat.of().formatHex(group.toBytes());
    }

    long pid() {
        return process.pid();
    }

    /** Sends a command, waits for its "OK" and returns what follows "OK verb " (or ""). */
    String command(String command) throws InterruptedException {
        return command(command, Duration.ofSeconds(30));
    }

    String command(String command, Duration timeout) throws InterruptedException {
        return child.call(command, timeout);
    }

    /** The event lines other than messages, in order. */
    List<String> events() {
        return child.events();
    }

    List<String> events(String prefix) {
        return events().stream().filter(e -> e.startsWith(prefix)).toList();
    }

    /** What this peer received from {@code senderPid} so far (a copy). */
    synchronized Sender sender(long senderPid) {
        Sender s = senders.get(senderPid);
        Sender copy = new Sender();
        if (s != null) {
            copy.last = s.last;
            copy.count = s.count;
            copy.afterReconnect = s.afterReconnect;
            copy.firstAfterReconnect = s.firstAfterReconnect;
            copy.violations.addAll(s.violations);
        }
        return copy;
    }

    synchronized List<String> violations() {
        List<String> all = new ArrayList<>();
        senders.values().forEach(s -> all.addAll(s.violations));
        return all;
    }

    synchronized long messagesWhileLost() {
        return messagesWhileLost;
    }

    /** Waits until some event line matches, and returns the first that does. */
    String awaitEvent(Predicate<String> condition, Duration timeout) throws InterruptedException {
        return child.awaitEvent(condition, timeout);
    }

    /** Waits until the condition on this peer's view holds. */
    void await(String what, Predicate<DaemonPeer> condition, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.test(this)) {
            if (System.nanoTime() > deadline) {
                fail("peer " + label + ": not within " + timeout + ": " + what + child.diagnosis());
            }
            Thread.sleep(20);
        }
    }

    /** This process's /dev/shm entries that libqb made for daemon {@code daemonPid}. */
    List<String> shmOf(long daemonPid) throws InterruptedException {
        String all = command("shm");
        return all.isEmpty() ? List.of()
                : List.of(all.split(",")).stream().filter(n -> n.startsWith("qb-" + daemonPid + "-")).toList();
    }

    /** Tells the peer to close everything and exit; returns its exit status. */
    int quit() throws InterruptedException {
        child.send("quit");
        return child.awaitExit(Duration.ofSeconds(30));
    }

    @Override
    public void close() throws InterruptedException {
        child.close();
    }

    @Override
    public String toString() {
        return "peer " + label + " (" + pid() + ")";
    }
}
