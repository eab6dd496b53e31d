package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * The private corosync that scripts/test.sh started for this JVM
 * ($JCPG_COROSYNC_PID): whether it still lives, and signals to it.
 */
final class DaemonProcess {
    private DaemonProcess() {
    }

    static long pid() {
        String pid = System.getenv("JCPG_COROSYNC_PID");
        if (pid == null || pid.isBlank()) {
            return fail("JCPG_COROSYNC_PID is not set: run the tests with scripts/test.sh");
        }
        return Long.parseLong(pid.trim());
    }

    /** Alive and not a zombie (a zombie still answers kill -0). */
    static boolean isAlive() {
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

    static void assertAlive() {
        assertThat(isAlive()).as("corosync (pid " + pid() + ") is still alive").isTrue();
    }

    /** Sends a signal by name (STOP, CONT) with kill(1). */
    static void signal(String name) {
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
    static void resume() {
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
