package org.jcpg.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** scripts/cluster.sh up then down leaves the machine as it was. */
@Tag("cluster")
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
        try (ClusterFixture cluster = ClusterFixture.up(3)) {
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
}
