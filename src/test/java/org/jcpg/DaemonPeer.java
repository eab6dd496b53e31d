package org.jcpg;

import static org.assertj.core.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.jcpg.testsupport.KillableDaemon;

/**
 * A {@link DaemonPeerMain} in a child JVM inside a {@link KillableDaemon}'s
 * network namespace. Its message events are checked as they arrive (there
 * may be tens of thousands): per sender, sequence numbers must rise
 * strictly, and no message may arrive between a connection loss and the
 * reconnection. Every other event line is kept, in order.
 */
final class DaemonPeer implements AutoCloseable {
    private static final String EOF = "\u0000EOF";

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
    private final List<String> events = new ArrayList<>();
    private final Map<Long, Sender> senders = new LinkedHashMap<>();
    private long messagesWhileLost;
    private boolean lost;
    private boolean reconnected;
    private final BlockingQueue<String> replies = new LinkedBlockingQueue<>();
    private final PrintWriter commands;

    private DaemonPeer(Process process, String label) {
        this.process = process;
        this.label = label;
        this.commands = new PrintWriter(process.getOutputStream(), true, StandardCharsets.UTF_8);
        Thread.ofPlatform().daemon().name("daemon-peer-reader").start(() -> {
            try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = out.readLine()) != null) {
                    if (line.startsWith("EV ")) {
                        event(line.substring(3));
                    } else {
                        replies.add(line);
                    }
                }
            } catch (IOException ignored) {
                // the peer is gone
            }
            replies.add(EOF);
        });
    }

    private synchronized void event(String event) {
        if (event.startsWith("MSG ")) {
            String[] words = event.split(" ");
            long pid = Long.parseLong(words[1]);
            Sender s = senders.computeIfAbsent(pid, p -> new Sender());
            if (words[2].equals("?")) {
                s.violations.add("unrecognized message from " + pid);
                return;
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
            return;
        }
        if (event.startsWith("LOST ")) {
            lost = true;
        } else if (event.startsWith("RECONNECTED ")) {
            reconnected = true;
        }
        events.add(event);
        notifyAll();
    }

    /**
     * Starts the peer JVM in {@code node}'s network namespace.
     *
     * @param label names the peer in failure messages
     */
    static DaemonPeer start(KillableDaemon node, String label) throws InterruptedException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process process;
        try {
            process = new ProcessBuilder(node.enter(List.of(java, "--enable-native-access=ALL-UNNAMED", "-Xshare:auto",
                    "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"), DaemonPeerMain.class.getName())))
                    .redirectError(ProcessBuilder.Redirect.INHERIT)
                    .start();
        } catch (IOException e) {
            throw new AssertionError("cannot start a peer JVM", e);
        }
        DaemonPeer peer = new DaemonPeer(process, label);
        String ready = peer.replies.poll(30, TimeUnit.SECONDS);
        // nsenter execs the JVM in place: the process is the JVM.
        if (ready == null || !ready.equals("READY " + process.pid())) {
            process.destroyForcibly();
            fail("peer " + label + " did not start: " + ready);
        }
        return peer;
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
        commands.println(command);
        String reply = replies.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
        String ok = "OK " + command.split(" ")[0];
        if (reply == null || !(reply.equals(ok) || reply.startsWith(ok + " "))) {
            String exit = process.isAlive() ? "" : " (exited with " + process.exitValue() + ")";
            return fail("peer " + label + " (" + pid() + ") answered " + reply + exit + " to " + command
                    + " within " + timeout + "; events: " + events());
        }
        return reply.substring(ok.length()).trim();
    }

    /** The event lines other than messages, in order. */
    synchronized List<String> events() {
        return List.copyOf(events);
    }

    synchronized List<String> events(String prefix) {
        return events.stream().filter(e -> e.startsWith(prefix)).toList();
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
    synchronized String awaitEvent(Predicate<String> condition, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            for (String event : events) {
                if (condition.test(event)) {
                    return event;
                }
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return fail("peer " + label + ": no event matched within " + timeout + "; events: " + events);
            }
            wait(Math.max(1, Math.min(100, left / 1_000_000)));
        }
    }

    /** Waits until the condition on this peer's view holds. */
    void await(String what, Predicate<DaemonPeer> condition, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.test(this)) {
            if (System.nanoTime() > deadline) {
                fail("peer " + label + ": not within " + timeout + ": " + what + "; events: " + events());
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
        commands.println("quit");
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            return fail("peer " + label + " (" + pid() + ") did not exit within 30 s of quit; events: " + events());
        }
        return process.exitValue();
    }

    @Override
    public void close() throws InterruptedException {
        if (!process.isAlive()) {
            return;
        }
        commands.println("exit");
        if (!process.waitFor(5, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Override
    public String toString() {
        return "peer " + label + " (" + pid() + ")";
    }
}
