package org.jcpg.examples.kv;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Predicate;
import org.jcpg.GroupName;

/**
 * A {@link KvMember} in a child JVM. corosync knows a member by node id and
 * pid, so every replica of a group is a process of its own.
 */
public final class MemberProcess implements AutoCloseable {
    /** An event line (without "EV ") and when it arrived here ({@link System#nanoTime()}). */
    public record Event(long nanos, String line) {
        public String[] words() {
            return line.split(" ");
        }
    }

    private static final String EOF = "\u0000EOF";

    private final String name;
    private final Process process;
    private final List<Event> events = new CopyOnWriteArrayList<>();
    private final BlockingQueue<String> replies = new LinkedBlockingQueue<>();
    private final PrintWriter commands;
    private volatile Consumer<Event> observer = e -> { };
    private long nodeId;

    private MemberProcess(String name, Process process) {
        this.name = name;
        this.process = process;
        this.commands = new PrintWriter(process.getOutputStream(), true, StandardCharsets.UTF_8);
        Thread.ofPlatform().daemon().name("member-" + name).start(() -> {
            try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = out.readLine()) != null) {
                    if (line.startsWith("EV ")) {
                        Event event = new Event(System.nanoTime(), line.substring(3));
                        events.add(event);
                        observer.accept(event);
                    } else {
                        replies.add(line);
                    }
                }
            } catch (IOException ignored) {
                // the member is gone
            }
            replies.add(EOF);
        });
    }

    /**
     * Starts a member JVM, through {@code launcher} if not empty: a command that ends by exec'ing
     * its arguments (e.g. {@code scripts/cluster.sh exec 2}), so that the JVM keeps its pid.
     */
    public static MemberProcess start(String name, List<String> launcher) throws InterruptedException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>(launcher);
        command.addAll(List.of(java, "--enable-native-access=ALL-UNNAMED", "-Xshare:auto", "-XX:TieredStopAtLevel=1",
                "-Xss1m", "-cp", System.getProperty("java.class.path"), KvMember.class.getName()));
        Process process;
        try {
            process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        } catch (IOException e) {
            throw new IllegalStateException("cannot start a member JVM: " + e.getMessage(), e);
        }
        MemberProcess member = new MemberProcess(name, process);
        String ready = member.replies.poll(30, TimeUnit.SECONDS);
        if (ready == null || !ready.equals("READY " + process.pid())) {
            process.destroyForcibly();
            throw new IllegalStateException("member " + name + " did not start: " + ready);
        }
        return member;
    }

    public String name() {
        return name;
    }

    public int pid() {
        return (int) process.pid();
    }

    public long nodeId() {
        return nodeId;
    }

    /** "node/pid", as the events name members. */
    public String id() {
        return nodeId + "/" + pid();
    }

    public List<Event> events() {
        return events;
    }

    /** Called on the reader thread for every event from now on. */
    public void observe(Consumer<Event> observer) {
        this.observer = observer;
    }

    /** Sends a command and returns what follows "OK verb", or throws with the member's answer. */
    public String command(String command) throws InterruptedException {
        return command(command, Duration.ofSeconds(30));
    }

    public String command(String command, Duration timeout) throws InterruptedException {
        commands.println(command);
        String reply = replies.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
        String verb = command.split(" ")[0];
        String ok = "OK " + verb;
        if (reply == null || !(reply.equals(ok) || reply.startsWith(ok + " "))) {
            String exit = process.isAlive() ? "" : " (exited with " + process.exitValue() + ")";
            throw new IllegalStateException("member " + name + " answered " + (EOF.equals(reply) ? "nothing" : reply)
                    + exit + " to " + command);
        }
        return reply.substring(ok.length()).trim();
    }

    /** Joins {@code group}; {@code chunk}: snapshot bytes per message (0: the default). */
    public void join(GroupName group, int chunk) throws InterruptedException {
        join(group, chunk, 0);
    }

    /** As {@link #join(GroupName, int)}; a snapshot this member sends waits {@code snapshotDelayMillis} first. */
    public void join(GroupName group, int chunk, long snapshotDelayMillis) throws InterruptedException {
        String[] ids = command("join " + HexFormat.of().formatHex(group.toBytes()) + " " + chunk + " " + snapshotDelayMillis)
                .split(" ");
        nodeId = Long.parseLong(ids[0]);
    }

    /** Waits until an event matches; returns the first that does. */
    public Event await(Predicate<String> condition, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        do {
            for (Event event : events) {
                if (condition.test(event.line())) {
                    return event;
                }
            }
            Thread.sleep(5);
        } while (System.nanoTime() < deadline);
        throw new IllegalStateException("member " + name + ": no event matched within " + timeout + "; last events: "
                + events.subList(Math.max(0, events.size() - 10), events.size()));
    }

    /** SIGKILL; waits until the process is gone. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(20, TimeUnit.SECONDS);
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    @Override
    public void close() throws InterruptedException {
        commands.println("exit");
        commands.close();
        if (!process.waitFor(5, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
