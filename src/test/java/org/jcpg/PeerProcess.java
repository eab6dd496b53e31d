package org.jcpg;

import static org.assertj.core.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import java.util.stream.LongStream;

/**
 * A {@link PeerMain} (or a {@link BundlePeerMain}) in a child JVM: another process, so it may
 * join the groups this one joins. Both speak the same protocol: {@code READY pid}, a command a
 * line answered by {@code OK verb ...}, and event lines {@code EV ...}. Public for the cluster
 * tests ({@code org.jcpg.cluster}), which start it through a node with {@link #start(List)}.
 */
public final class PeerProcess implements AutoCloseable {
    private static final String EOF = "\u0000EOF";

    /** What the child JVM runs. */
    public enum Program {
        /** {@link PeerMain}: little to compile, so C1 only (the child starts sooner). */
        PEER(PeerMain.class, Duration.ofSeconds(20), List.of("-XX:TieredStopAtLevel=1")),
        /** {@link BundlePeerMain}: sends and unpacks at full speed; a reply may wait for a whole run. */
        BUNDLE_PEER(BundlePeerMain.class, Duration.ofSeconds(90), List.of());

        final Class<?> main;
        final Duration replyTimeout;
        final List<String> jvmOptions;

        Program(Class<?> main, Duration replyTimeout, List<String> jvmOptions) {
            this.main = main;
            this.replyTimeout = replyTimeout;
            this.jvmOptions = jvmOptions;
        }
    }

    public final Process process;
    /** The child's event lines, without "EV ", in the order it printed them. */
    public final List<String> events = new CopyOnWriteArrayList<>();
    private final BlockingQueue<String> replies = new LinkedBlockingQueue<>();
    private final PrintWriter commands;
    private final Duration replyTimeout;

    private PeerProcess(Process process, Duration replyTimeout) {
        this.process = process;
        this.replyTimeout = replyTimeout;
        this.commands = new PrintWriter(process.getOutputStream(), true, StandardCharsets.UTF_8);
        Thread.ofPlatform().daemon().name("peer-reader").start(() -> {
            try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = out.readLine()) != null) {
                    if (line.startsWith("EV ")) {
                        events.add(line.substring(3));
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

    static PeerProcess start() throws InterruptedException {
        return start(List.of());
    }

    /**
     * Starts a {@link PeerMain} through {@code launcher}, a command that ends by exec'ing its
     * arguments in place (so the JVM keeps the launcher's pid), e.g. {@code cluster.sh exec N}.
     */
    public static PeerProcess start(List<String> launcher) throws InterruptedException {
        return start(Program.PEER, launcher);
    }

    /** Starts {@code program} in a child JVM through {@code launcher} (see {@link #start(List)}). */
    public static PeerProcess start(Program program, List<String> launcher) throws InterruptedException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process process;
        try {
            List<String> command = new java.util.ArrayList<>(launcher);
            // The CDS archive: the child starts sooner.
            command.addAll(List.of(java, "--enable-native-access=ALL-UNNAMED", "-Xshare:auto"));
            command.addAll(program.jvmOptions);
            command.addAll(List.of("-cp", System.getProperty("java.class.path"), program.main.getName()));
            process = new ProcessBuilder(command)
                    .redirectError(ProcessBuilder.Redirect.INHERIT)
                    .start();
        } catch (IOException e) {
            throw new AssertionError("cannot start a peer JVM", e);
        }
        PeerProcess peer = new PeerProcess(process, program.replyTimeout);
        String ready = peer.replies.poll(30, TimeUnit.SECONDS);
        if (ready == null || !ready.equals("READY " + process.pid())) {
            process.destroyForcibly();
            fail("peer did not start: " + ready);
        }
        return peer;
    }

    /** Starts a peer that joins {@code group}; returns once it has joined. */
    static PeerProcess joined(GroupName group) throws InterruptedException {
        return joined(Program.PEER, group);
    }

    /** Starts {@code program} in a child JVM that joins {@code group}; returns once it has joined. */
    static PeerProcess joined(Program program, GroupName group) throws InterruptedException {
        PeerProcess peer = start(program, List.of());
        try {
            peer.join(group);
        } catch (Throwable t) {
            peer.process.destroyForcibly();
            throw t;
        }
        return peer;
    }

    public int pid() {
        return (int) process.pid();
    }

    /** Sends a command, waits for its "OK" and returns what follows "OK verb " (or ""). */
    public String command(String command) throws InterruptedException {
        commands.println(command);
        String reply = replies.poll(replyTimeout.toMillis(), TimeUnit.MILLISECONDS);
        String ok = "OK " + command.split(" ")[0];
        if (reply == null || !(reply.equals(ok) || reply.startsWith(ok + " "))) {
            String exit = process.isAlive() ? "" : " (exited with " + process.exitValue() + ")";
            return fail("peer " + pid() + " answered " + reply + exit + " to " + command);
        }
        return reply.substring(ok.length()).trim();
    }

    /** Pids as the peer lists members in its events: sorted, comma-separated. */
    static String pidList(long... pids) {
        return LongStream.of(pids).sorted().mapToObj(String::valueOf).collect(Collectors.joining(","));
    }

    public void join(GroupName group) throws InterruptedException {
        command("join " + HexFormat.of().formatHex(group.toBytes()));
    }

    /** Waits until some event line matches, and returns the first that does. */
    public String awaitEvent(Predicate<String> condition, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            for (String event : events) {
                if (condition.test(event)) {
                    return event;
                }
            }
            Thread.sleep(5);
        }
        return fail("no peer event matched within " + timeout + "; events: " + events);
    }

    /** The peer halts without closing its connection; waits until it is gone. */
    public void exit() throws InterruptedException {
        commands.println("exit");
        if (!process.waitFor(20, TimeUnit.SECONDS)) {
            fail("peer " + pid() + " did not exit");
        }
    }

    /** SIGKILL to the child; waits until it is gone. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        if (!process.waitFor(20, TimeUnit.SECONDS)) {
            fail("peer " + pid() + " did not die of SIGKILL");
        }
    }

    @Override
    public void close() throws InterruptedException {
        commands.println("exit");
        if (!process.waitFor(5, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
