package org.jcpg.cluster;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.jcpg.testsupport.Cluster;

/**
 * What a failing virtual-synchrony cluster test leaves behind, so that the failure can be
 * studied after its cluster is gone (taking the cluster down removes the daemons' logs):
 * a directory {@code target/cluster-failures/TEST-yyyyMMdd-HHmmss/} with each daemon's log
 * ({@code nI-corosync.log}), every member incarnation's history ({@code histories.txt}, the
 * {@link VsHistory} text form), the checker's report on them with the views around every
 * violation ({@code report.txt}), the seed with the command that replays the run and the
 * failure ({@code failure.txt}), and this JVM's threads as at the failure ({@code threads.txt}). The failure message names the directory and the seed.
 */
final class FailureArtifacts {
    private static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss").withZone(ZoneOffset.UTC);
    private static final long HISTORIES_TIMEOUT_S = 60;

    /** The body of a cluster test. */
    interface Body {
        void run() throws Exception;
    }

    private FailureArtifacts() {
    }

    /**
     * Runs {@code body}; if it fails, keeps the artifacts (while the cluster is still up) and
     * throws an AssertionError that names the seed, the replay command and the directory, with
     * the failure as its cause.
     */
    static void keepOnFailure(Class<?> test, RunSeed seed, Cluster cluster, LoadRun run, Body body)
            throws Exception {
        try {
            body.run();
        } catch (Exception | AssertionError failure) {
            throw kept(failure, test, seed, cluster, run);
        }
    }

    private static AssertionError kept(Throwable failure, Class<?> test, RunSeed seed, Cluster cluster,
                                       LoadRun run) {
        String replay = "seed " + seed + "; replay: " + seed.replay(test);
        try {
            // Before the members are closed: a member that stopped delivering shows where it waits.
            String threads = threadDump();
            List<VsHistory> histories = histories(run);
            Path dir = directory(Cluster.repositoryRoot(), test, Instant.now());
            keep(dir, cluster.daemonLogs(), histories, replay + "\n\n" + stackTrace(failure) + "\ncluster status:\n"
                    + cluster.status());
            Files.writeString(dir.resolve("threads.txt"), threads);
            AssertionError e = new AssertionError(failure.getMessage() + "\n" + replay
                    + "\ndaemons' logs, histories and the checker's report kept in " + dir, failure);
            System.out.println(test.getSimpleName() + " failed; " + replay + "; artifacts in " + dir);
            return e;
        } catch (Exception | AssertionError keeping) {
            AssertionError e = new AssertionError(failure.getMessage() + "\n" + replay
                    + "\n(keeping the logs and histories failed: " + keeping + ")", failure);
            e.addSuppressed(keeping);
            return e;
        }
    }

    /** target/cluster-failures/TEST-yyyyMMdd-HHmmss (UTC), with -2, -3... if it exists. */
    static Path directory(Path root, Class<?> test, Instant when) {
        Path base = root.resolve("target/cluster-failures");
        String name = test.getSimpleName() + "-" + STAMP.format(when);
        Path dir = base.resolve(name);
        for (int i = 2; Files.exists(dir); i++) {
            dir = base.resolve(name + "-" + i);
        }
        return dir;
    }

    /**
     * Writes the artifacts into {@code dir}: copies of the logs (node I's as nI-corosync.log; a
     * missing one is named in missing-logs.txt), the histories and the checker's report (none if
     * {@code histories} is null: they could not be had) and {@code failure} as failure.txt.
     */
    static void keep(Path dir, List<Path> logs, List<VsHistory> histories, String failure) throws IOException {
        Files.createDirectories(dir);
        StringBuilder missing = new StringBuilder();
        for (int i = 0; i < logs.size(); i++) {
            Path log = logs.get(i);
            if (Files.isRegularFile(log)) {
                Files.copy(log, dir.resolve("n" + (i + 1) + "-corosync.log"), StandardCopyOption.REPLACE_EXISTING);
            } else {
                missing.append(log).append('\n');
            }
        }
        if (!missing.isEmpty()) {
            Files.writeString(dir.resolve("missing-logs.txt"), missing);
        }
        if (histories != null) {
            Files.writeString(dir.resolve("histories.txt"), VsHistory.write(histories));
            Files.writeString(dir.resolve("report.txt"), VsChecker.check(histories).describe());
        }
        Files.writeString(dir.resolve("failure.txt"), failure + "\n");
    }

    /** The histories: those {@link LoadRun#finish} gave, else it is called now (bounded: a child may hang). */
    private static List<VsHistory> histories(LoadRun run) {
        try {
            return CompletableFuture.supplyAsync(() -> {
                try {
                    return run.finish();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }).get(HISTORIES_TIMEOUT_S, TimeUnit.SECONDS);
        } catch (Exception e) {
            System.out.println("no histories for the failure artifacts: " + e);
            return null;
        }
    }

    /** This JVM's threads with their stacks, as at the failure (the child JVM's are not included). */
    private static String threadDump() {
        StringBuilder out = new StringBuilder();
        Thread.getAllStackTraces().forEach((thread, stack) -> {
            out.append('"').append(thread.getName()).append("\" ").append(thread.getState()).append('\n');
            for (StackTraceElement frame : stack) {
                out.append("    at ").append(frame).append('\n');
            }
            out.append('\n');
        });
        return out.toString();
    }

    private static String stackTrace(Throwable t) {
        var out = new java.io.StringWriter();
        t.printStackTrace(new java.io.PrintWriter(out));
        return out.toString();
    }
}
