package org.jcpg.testsupport;

import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jcpg.GroupName;

/**
 * A second private corosync (scripts/corosync-node) that a test may kill and
 * start again: the suite's shared daemon ({@link SuiteDaemon}) must never
 * be killed. It lives in a network namespace of its own, so a process
 * reaches it only through {@link #enter(List)}.
 *
 * <p>Everything it creates goes away in {@link #close()} (idempotent); if
 * the test JVM dies first, a JVM shutdown hook and then the script's own
 * watchdog (which watches this JVM's pid) stop it.
 */
public final class KillableDaemon implements AutoCloseable {
    private static final AtomicInteger SERIAL = new AtomicInteger();
    private static final long JVM_PID = ProcessHandle.current().pid();

    private final String name;
    private final Thread hook;
    private volatile boolean closed;
    private long pid;

    private KillableDaemon(String name) {
        this.name = name;
        this.hook = new Thread(() -> {
            if (!closed) {
                script("stop");
            }
        }, "corosync-node-stop-" + name);
    }

    /** Starts a node; returns once corosync-cpgtool answers in its namespace. */
    public static KillableDaemon start() {
        KillableDaemon node = new KillableDaemon("jcpgn-" + JVM_PID + "-" + SERIAL.incrementAndGet());
        Runtime.getRuntime().addShutdownHook(node.hook);
        try {
            node.pid = Long.parseLong(node.script("start", "--owner", String.valueOf(JVM_PID)).strip());
        } catch (RuntimeException | AssertionError e) {
            node.close();
            throw e;
        }
        return node;
    }

    public String name() {
        return name;
    }

    /** The running (or last) daemon's pid. */
    public long pid() {
        return pid;
    }

    /** SIGKILL; returns once the daemon is gone. Returns its pid. */
    public long kill() {
        return Long.parseLong(script("kill").strip());
    }

    /** SIGTERM (corosync's clean shutdown); returns once it has exited. Returns its pid. */
    public long term() {
        return Long.parseLong(script("term").strip());
    }

    /** Starts the daemon again in the same namespace (after kill or term); returns the new pid. */
    public long startAgain() {
        pid = Long.parseLong(script("start").strip());
        return pid;
    }

    /** {@code command} prefixed so that it runs in this node's network namespace. */
    public List<String> enter(List<String> command) {
        List<String> all = new ArrayList<>(List.of("nsenter", "--net=/run/netns/" + name, "--"));
        all.addAll(command);
        return all;
    }

    /**
     * The pids that corosync-cpgtool lists in {@code group} on this node
     * (empty if the group is not there).
     */
    public List<Long> cpgtoolMembers(GroupName group) {
        String out = exec(enter(List.of("corosync-cpgtool", "-e")), 20);
        String wanted = group.toString();
        List<Long> pids = new ArrayList<>();
        boolean inGroup = false;
        for (String line : out.split("\n")) {
            if (line.isBlank() || line.startsWith("Group Name")) {
                continue;
            }
            if (!Character.isWhitespace(line.charAt(0))) {
                inGroup = line.strip().equals(wanted);
                continue;
            }
            if (inGroup) {
                pids.add(Long.parseLong(line.strip().split("\\s+")[0]));
            }
        }
        return pids;
    }

    /** The daemon's log so far (for failure messages). */
    public String log() {
        try {
            return Files.readString(Path.of("/tmp", "jcpg-node." + name, "corosync.log"));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    /** Stops the daemon and removes the namespace, its directory and /dev/shm leftovers. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // the hook runs anyway, and sees closed
        }
        script("stop");
    }

    private String script(String verb, String... extra) {
        List<String> command = new ArrayList<>(List.of(scriptPath(), verb, name));
        command.addAll(List.of(extra));
        return exec(command, 60);
    }

    private static String scriptPath() {
        Path script = Path.of(System.getProperty("user.dir"), "scripts", "corosync-node");
        if (!Files.isExecutable(script)) {
            return fail("no executable " + script + " (run the tests from the project root with scripts/test.sh)");
        }
        return script.toString();
    }

    /** Runs a command to its end (stderr into the output); fails on a non-zero status or after the timeout. */
    private static String exec(List<String> command, int seconds) {
        try {
            Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            process.getOutputStream().close();
            byte[][] out = new byte[1][];
            Thread reader = Thread.ofPlatform().daemon().start(() -> {
                try {
                    out[0] = process.getInputStream().readAllBytes();
                } catch (IOException e) {
                    out[0] = ("(unreadable: " + e + ")").getBytes(StandardCharsets.UTF_8);
                }
            });
            if (!process.waitFor(seconds, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                return fail(command + " did not end within " + seconds + " s");
            }
            reader.join(TimeUnit.SECONDS.toMillis(10));
            String text = out[0] == null ? "" : new String(out[0], StandardCharsets.UTF_8);
            if (process.exitValue() != 0) {
                return fail(command + " failed with status " + process.exitValue() + ": " + text);
            }
            return text;
        } catch (IOException e) {
            throw new AssertionError("cannot run " + command, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while running " + command, e);
        }
    }

    @Override
    public String toString() {
        return "corosync node " + name + " (pid " + pid + ")";
    }
}
