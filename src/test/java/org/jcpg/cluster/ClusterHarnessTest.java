package org.jcpg.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.jcpg.testsupport.Cluster;
import org.jcpg.testsupport.ClusterTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * scripts/cluster.sh up then down leaves the machine as it was; without an id, its subcommands
 * act on the one cluster there is.
 */
@ClusterTest
class ClusterHarnessTest {
    private static String run(String... command) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(60, TimeUnit.SECONDS)).as(String.join(" ", command)).isTrue();
        return out;
    }

    /** What the harness could leave behind, as text to compare. */
    private static List<String> machine(String id, List<Long> daemons) throws Exception {
        List<String> state = new ArrayList<>();
        // Namespaces are named by the root netns's /run/netns; the test JVM sees it through the mount namespace it shares.
        run("ip", "netns", "list").lines().filter(line -> line.contains(id)).forEach(line -> state.add("netns " + line));
        // The root network namespace's links (this JVM runs in the private corosync's).
        run("nsenter", "--net=/proc/1/ns/net", "ip", "-br", "link").lines()
                .forEach(line -> state.add("link " + line.split("\\s+")[0]));
        if (Files.exists(Path.of("/tmp/jcpg-cluster-" + id))) {
            state.add("state dir /tmp/jcpg-cluster-" + id);
        }
        for (long pid : daemons) {
            ProcessHandle.of(pid).filter(ProcessHandle::isAlive).ifPresent(p -> state.add("process " + pid));
            try (Stream<Path> shm = Files.list(Path.of("/dev/shm"))) {
                shm.filter(p -> p.getFileName().toString().startsWith("qb-" + pid + "-")).forEach(p -> state.add("shm " + p));
            }
        }
        return state;
    }

    @Test
    @Timeout(120)
    void upThenDownLeavesNothingBehind() throws Exception {
        List<String> before;
        List<Long> daemons = new ArrayList<>();
        String id;
        try (Cluster cluster = Cluster.up(3)) {
            id = cluster.id();
            before = machine(id, List.of());
            Path state = Path.of("/tmp/jcpg-cluster-" + id);
            for (int node = 1; node <= cluster.nodes(); node++) {
                daemons.add(Long.parseLong(Files.readString(state.resolve("n" + node).resolve("pid")).trim()));
                assertThat(cluster.members(node)).as("members seen by node " + node).containsExactly(1L, 2L, 3L);
            }
            // One daemon dies hard: down must cope with it.
            cluster.kill(2);
            assertThat(machine(id, daemons)).as("while up").contains("state dir /tmp/jcpg-cluster-" + id);
        }
        List<String> after = machine(id, daemons);
        System.out.println("ClusterHarnessTest: daemons " + daemons + "; left after down: "
                + after.stream().filter(s -> !s.startsWith("link ")).toList());
        assertThat(after.stream().filter(s -> !s.startsWith("link "))).as("namespaces, state, processes, /dev/shm").isEmpty();
        // Root-namespace links: the same set as while the cluster was up (it added none).
        assertThat(after.stream().filter(s -> s.startsWith("link "))).containsExactlyInAnyOrderElementsOf(
                before.stream().filter(s -> s.startsWith("link ")).toList());
    }

    /** What one cluster.sh run printed (stdout and stderr together) and its exit status. */
    private record Outcome(int status, String output) { }

    /**
     * Runs cluster.sh as a newcomer types it: no id, no JCPG_CLUSTER, each command in a process
     * of its own (as each sudo is), so the parent's pid differs from one command to the next.
     * The state directories go to {@code stateRoot} (JCPG_CLUSTER_STATE), so that the clusters
     * of other test runs on this machine are not "the one cluster there is".
     */
    private static Outcome newcomer(Path stateRoot, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("sh", "-c", "\"$0\" \"$@\"; exit $?",
                Path.of("scripts", "cluster.sh").toAbsolutePath().toString()));
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        builder.environment().remove("JCPG_CLUSTER");
        builder.environment().put("JCPG_CLUSTER_STATE", stateRoot.toString());
        Process process = builder.start();
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(90, TimeUnit.SECONDS)).as("cluster.sh " + String.join(" ", args)).isTrue();
        return new Outcome(process.exitValue(), out);
    }

    private static String idOf(Outcome up) {
        assertThat(up.status()).as(up.output()).isZero();
        Matcher id = Pattern.compile("export JCPG_CLUSTER=(\\w+)").matcher(up.output());
        assertThat(id.find()).as(up.output()).isTrue();
        return id.group(1);
    }

    private static List<String> namespacesOf(String id) throws IOException, InterruptedException {
        return run("ip", "netns", "list").lines().map(line -> line.split("\\s+")[0])
                .filter(name -> name.startsWith("jcpgc-" + id + "-")).toList();
    }

    @Test
    @Timeout(240)
    void withoutAnIdTheSubcommandsActOnTheOneClusterThereIs() throws Exception {
        Path stateRoot = Files.createTempDirectory("jcpg-cluster-state");
        List<String> ids = new ArrayList<>();
        try {
            String first = idOf(newcomer(stateRoot, "up"));
            ids.add(first);
            assertThat(namespacesOf(first)).as("namespaces of " + first).hasSize(4);

            Outcome status = newcomer(stateRoot, "status");
            assertThat(status.status()).as(status.output()).isZero();
            assertThat(status.output()).contains(first);

            // Two clusters: a subcommand without an id must not guess.
            String second = idOf(newcomer(stateRoot, "up", "-n", "1"));
            ids.add(second);
            assertThat(second).isNotEqualTo(first);
            Outcome ambiguous = newcomer(stateRoot, "down");
            assertThat(ambiguous.status()).as(ambiguous.output()).isNotZero();
            assertThat(ambiguous.output()).contains("2 clusters are up", first, second);
            assertThat(namespacesOf(first)).hasSize(4);
            assertThat(namespacesOf(second)).hasSize(2);
            Outcome downSecond = newcomer(stateRoot, "--id", second, "down");
            assertThat(downSecond.status()).as(downSecond.output()).isZero();

            // One cluster: down takes that one down (once it named a made-up id and left it running).
            Outcome down = newcomer(stateRoot, "down");
            assertThat(down.status()).as(down.output()).isZero();
            assertThat(down.output()).contains("cluster '" + first + "' is down");
            assertThat(namespacesOf(first)).as("namespaces of " + first + " after down").isEmpty();
            assertThat(stateRoot.resolve("jcpg-cluster-" + first)).doesNotExist();

            // None: fail loudly, never "is down".
            for (List<String> subcommand : List.of(List.of("down"), List.of("status"), List.of("members", "1"))) {
                Outcome none = newcomer(stateRoot, subcommand.toArray(String[]::new));
                assertThat(none.status()).as(none.output()).isNotZero();
                assertThat(none.output()).contains("no cluster is up").doesNotContain("is down");
            }
        } finally {
            for (String id : ids) {
                newcomer(stateRoot, "--id", id, "down");
            }
            try (Stream<Path> left = Files.walk(stateRoot)) {
                left.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
            }
        }
    }
}
