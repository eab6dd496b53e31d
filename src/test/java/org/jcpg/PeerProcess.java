package org.jcpg;

import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import java.util.stream.LongStream;
import org.jcpg.testsupport.ChildJvm;

/**
 * A {@link PeerMain} (or a {@link BundlePeerMain}) in a {@link ChildJvm}: another process, so it
 * may join the groups this one joins. Public for the cluster tests ({@code org.jcpg.cluster}),
 * which start it through a node with {@link #start(List)}.
 */
public final class PeerProcess implements AutoCloseable {
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
    private final ChildJvm child;

    private PeerProcess(Program program, List<String> launcher) throws InterruptedException {
        this.child = ChildJvm.of(program.main).launcher(launcher).jvmOptions(program.jvmOptions)
                .replyTimeout(program.replyTimeout)
                .events(event -> events.add(event))
                .start();
        this.process = child.process();
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
        return new PeerProcess(program, launcher);
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
        return child.call(command);
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
        return child.awaitEvent(condition, timeout);
    }

    /** The peer halts without closing its connection; waits until it is gone. */
    public void exit() throws InterruptedException {
        child.send("exit");
        child.awaitExit(Duration.ofSeconds(20));
    }

    /** SIGKILL to the child; waits until it is gone. */
    public void kill() throws InterruptedException {
        child.kill();
    }

    @Override
    public void close() throws InterruptedException {
        child.close();
    }
}
