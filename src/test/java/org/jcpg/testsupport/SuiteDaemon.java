package org.jcpg.testsupport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.jcpg.CpgConnection;
import org.jcpg.DispatchMode;
import org.jcpg.GroupName;

/**
 * The suite's shared single-node corosync, which scripts/test.sh starts for the test JVM
 * ($JCPG_COROSYNC_PID) and every {@link NodeTest} uses: group names no other test uses,
 * dispatching until something arrives, whether the daemon still lives, and signals to it. It
 * must never be killed (a test that kills a daemon starts a {@link KillableDaemon}).
 */
public final class SuiteDaemon {
    /** This (test) JVM's pid: what the daemon reports as the pid of this JVM's connections. */
    public static final long OWN_PID = ProcessHandle.current().pid();

    private SuiteDaemon() {
    }

    /** A group name no other test uses. */
    public static GroupName uniqueGroup(String prefix) {
        return GroupName.of(prefix + "-" + UUID.randomUUID().toString().substring(0, 8));
    }

    /**
     * Dispatches the connections (mode ALL) until the condition holds; fails
     * after the timeout.
     */
    public static void dispatchUntil(BooleanSupplier condition, Duration timeout, CpgConnection... connections) {
        Await.until(() -> {
            for (CpgConnection connection : connections) {
                connection.dispatch(DispatchMode.ALL);
            }
            return condition.getAsBoolean();
        }, timeout, Duration.ofMillis(2), () -> "the condition, dispatching " + connections.length + " connection(s)");
    }

    /** {@link #dispatchUntil(BooleanSupplier, Duration, CpgConnection...)} with 20 s. */
    public static void dispatchUntil(BooleanSupplier condition, CpgConnection... connections) {
        dispatchUntil(condition, Duration.ofSeconds(20), connections);
    }

    /** The daemon's pid. */
    public static long pid() {
        String pid = System.getenv("JCPG_COROSYNC_PID");
        if (pid == null || pid.isBlank()) {
            return fail("JCPG_COROSYNC_PID is not set: run the tests with scripts/test.sh");
        }
        return Long.parseLong(pid.trim());
    }

    /** Alive and not a zombie (a zombie still answers kill -0). */
    public static boolean isAlive() {
        long pid = pid();
        if (!ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
            return false;
        }
        try {
            String stat = Files.readString(Path.of("/proc", String.valueOf(pid), "stat"));
            // "pid (comm) S ...": the state follows the last ')'.
            return stat.charAt(stat.lastIndexOf(')') + 2) != 'Z';
        } catch (IOException gone) {
            return false;
        }
    }

    /** Fails unless the daemon is alive. */
    public static void assertAlive() {
        assertThat(isAlive()).as("corosync (pid " + pid() + ") is still alive").isTrue();
    }

    /** Sends a signal by name (STOP, CONT) with kill(1). */
    public static void signal(String name) {
        try {
            Process kill = new ProcessBuilder("kill", "-" + name, String.valueOf(pid()))
                    .redirectErrorStream(true).start();
            if (!kill.waitFor(10, TimeUnit.SECONDS) || kill.exitValue() != 0) {
                kill.destroyForcibly();
                throw new AssertionError("kill -" + name + " " + pid() + " failed: "
                        + new String(kill.getInputStream().readAllBytes()));
            }
        } catch (IOException e) {
            throw new AssertionError("cannot run kill", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while sending SIG" + name, e);
        }
    }

    /** Sends SIGCONT, retrying a few times: a test must never leave the daemon stopped. */
    public static void resume() {
        boolean interrupted = Thread.interrupted();
        try {
            AssertionError last = null;
            for (int attempt = 0; attempt < 5; attempt++) {
                try {
                    signal("CONT");
                    return;
                } catch (AssertionError e) {
                    last = e;
                }
            }
            throw last;
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
