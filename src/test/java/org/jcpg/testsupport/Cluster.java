package org.jcpg.testsupport;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A private multi-node corosync cluster for one test class or test, run by
 * {@code scripts/cluster.sh} with an id of its own ({@code j<pid>x<n>}), so
 * that clusters of different JVMs and tests never meet. {@link #close()}
 * (and, should the JVM end first, a shutdown hook) takes it down.
 *
 * <p>Nothing is skipped: if the machine cannot run the cluster (not root,
 * no corosync, a kernel without network namespaces, bridges or veth pairs),
 * {@link #up} throws an {@link AssertionError} with cluster.sh's reason.
 */
public final class Cluster implements AutoCloseable {
    private static final AtomicInteger SERIAL = new AtomicInteger();
    private static final long COMMAND_TIMEOUT_S = 90;

    private final Path root;
    private final Path script;
    private final String id;
    private final int nodes;
    private final boolean crypto;
    private final Thread hook;
    private volatile boolean down;

    private Cluster(Path root, int nodes, boolean crypto) {
        this.root = root;
        this.script = root.resolve("scripts/cluster.sh");
        this.id = "j" + ProcessHandle.current().pid() + "x" + SERIAL.incrementAndGet();
        this.nodes = nodes;
        this.crypto = crypto;
        this.hook = new Thread(this::downQuietly, "cluster-down-" + id);
    }

    /** The repository: system property jcpg.root, else the working directory (surefire's is the project). */
    public static Path repositoryRoot() {
        Path root = Path.of(System.getProperty("jcpg.root", System.getProperty("user.dir"))).toAbsolutePath();
        if (!Files.isExecutable(root.resolve("scripts/cluster.sh"))) {
            throw new AssertionError("scripts/cluster.sh not found under " + root
                    + ": run the tests from the repository (or set -Djcpg.root)");
        }
        return root;
    }

    /** Starts {@code nodes} nodes and waits until every one sees all of them. */
    public static Cluster up(int nodes) {
        return up(nodes, false);
    }

    /** As {@link #up(int)}; with {@code crypto}: aes256/sha256 and a fresh authkey. */
    public static Cluster up(int nodes, boolean crypto) {
        Cluster cluster = new Cluster(repositoryRoot(), nodes, crypto);
        Runtime.getRuntime().addShutdownHook(cluster.hook);
        boolean ok = false;
        try {
            List<String> args = new ArrayList<>(List.of("up", "-n", String.valueOf(nodes)));
            if (crypto) {
                args.add("--crypto");
            }
            cluster.run(args.toArray(String[]::new));
            ok = true;
            return cluster;
        } finally {
            if (!ok) {
                cluster.close();
            }
        }
    }

    public String id() {
        return id;
    }

    public int nodes() {
        return nodes;
    }

    public boolean crypto() {
        return crypto;
    }

    /** SIGKILL to the node's daemon; returns once it is dead (not waiting for the others to notice). */
    public void kill(int node) {
        run("kill", String.valueOf(node));
    }

    /** SIGSTOP / SIGCONT to the node's daemon. */
    public void signal(int node, String signal) {
        run("kill", String.valueOf(node), "--signal", signal);
    }

    /** Starts the node's daemon again (stopping it first if it runs); waits until the membership settled. */
    public void restart(int node) {
        run("restart", String.valueOf(node));
    }

    /** Restarts the node with a key of its own: it must not join (crypto clusters). */
    public void restartWithWrongKey(int node) {
        run("restart", String.valueOf(node), "--wrong-key");
    }

    /** Cuts the node off the bridge; returns at once. */
    public void partition(int node) {
        run("partition", String.valueOf(node));
    }

    /** Reattaches the node; waits until the membership settled. */
    public void heal(int node) {
        run("heal", String.valueOf(node));
    }

    /** Waits until every node sees what its flags say it should (cluster.sh wait). */
    public void awaitSettled() {
        run("wait");
    }

    /** The node ids that the node's daemon sees as joined. */
    public List<Long> members(int node) {
        String out = run("members", String.valueOf(node)).trim();
        return out.isEmpty() ? List.of() : Arrays.stream(out.split(" ")).map(Long::valueOf).toList();
    }

    /** cluster.sh status, for messages. */
    public String status() {
        try {
            return run("status");
        } catch (AssertionError e) {
            return e.getMessage();
        }
    }

    /** The node's network namespace, for {@code org.jcpg.cluster.Netns#enter}. */
    public Path netnsPath(int node) {
        if (node < 1 || node > nodes) {
            throw new IllegalArgumentException("no node " + node);
        }
        return Path.of("/run/netns/jcpgc-" + id + "-n" + node);
    }

    /**
     * Each node's daemon log (node 1 first), where cluster.sh keeps it (its documented state
     * layout: /tmp/jcpg-cluster-ID/nI/corosync.log, appended at every start). Taking the
     * cluster down removes them: copy them before.
     */
    public List<Path> daemonLogs() {
        Path state = Path.of("/tmp/jcpg-cluster-" + id);
        return java.util.stream.IntStream.rangeClosed(1, nodes).mapToObj(i -> state.resolve("n" + i).resolve("corosync.log"))
                .toList();
    }

    /** The command line that runs {@code program} inside the node's network namespace (cluster.sh exec). */
    public List<String> execCommand(int node, List<String> program) {
        List<String> command = new ArrayList<>(List.of(script.toString(), "--id", id, "exec", String.valueOf(node)));
        command.addAll(program);
        return command;
    }

    /** Runs cluster.sh with this cluster's id; returns stdout, or throws with stdout+stderr. */
    public String run(String... args) {
        List<String> command = new ArrayList<>(List.of(script.toString(), "--id", id));
        command.addAll(List.of(args));
        Path err = null;
        try {
            err = Files.createTempFile("jcpg-cluster-", ".err");
            ProcessBuilder builder = new ProcessBuilder(command).directory(root.toFile())
                    .redirectError(err.toFile()).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            builder.environment().remove("JCPG_CLUSTER");
            Process process = builder.start();
            byte[] out = process.getInputStream().readAllBytes();
            if (!process.waitFor(COMMAND_TIMEOUT_S, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new AssertionError("cluster.sh " + String.join(" ", args) + " did not end within "
                        + COMMAND_TIMEOUT_S + " s; stderr:\n" + Files.readString(err));
            }
            String stdout = new String(out, StandardCharsets.UTF_8);
            if (process.exitValue() != 0) {
                throw new AssertionError("cluster.sh --id " + id + " " + String.join(" ", args) + " failed (exit "
                        + process.exitValue() + "):\n" + Files.readString(err) + stdout);
            }
            return stdout;
        } catch (IOException e) {
            throw new AssertionError("cannot run " + command, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted running " + command, e);
        } finally {
            if (err != null) {
                try {
                    Files.deleteIfExists(err);
                } catch (IOException ignored) {
                    // a temp file
                }
            }
        }
    }

    private void downQuietly() {
        if (down) {
            return;
        }
        down = true;
        try {
            run("down");
        } catch (AssertionError e) {
            System.err.println("jcpg: taking cluster " + id + " down failed: " + e.getMessage());
        }
    }

    /** Takes the cluster down (idempotent); fails if cluster.sh could not remove everything. */
    @Override
    public void close() {
        if (down) {
            return;
        }
        down = true;
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // the hook runs anyway
        }
        run("down");
    }
}
