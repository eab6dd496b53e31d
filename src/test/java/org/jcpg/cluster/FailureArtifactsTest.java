package org.jcpg.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import org.jcpg.cluster.VsHistory.End;
import org.jcpg.cluster.VsHistory.MsgId;
import org.jcpg.testsupport.UnitTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a failing cluster test keeps: the daemons' logs (a missing one named), the histories
 * in their text form, and the checker's report with the views around each violation.
 */
@UnitTest
class FailureArtifactsTest {
    @Test
    void keepsLogsHistoriesAndTheReport(@TempDir Path tmp) throws Exception {
        Path log1 = Files.writeString(tmp.resolve("log1"), "node 1 log\n");
        Path log3 = Files.writeString(tmp.resolve("log3"), "node 3 log\n");
        Path gone = tmp.resolve("n2/corosync.log");
        VsHistory h = new VsHistory(1, 100, 0);
        h.totem(1, 8, List.of(1L));
        h.view(List.of("1/100"));
        h.delivered(new MsgId(1, 100, 0, 0), true);
        h.delivered(new MsgId(1, 100, 0, 0), true);
        h.sent(1);
        h.end(End.CLEAN);

        Path dir = FailureArtifacts.directory(tmp, FailureArtifactsTest.class, Instant.parse("2026-12-08T02:40:05Z"));
        assertThat(dir).isEqualTo(tmp.resolve("target/cluster-failures/FailureArtifactsTest-20261208-024005"));
        FailureArtifacts.keep(dir, List.of(log1, gone, log3), List.of(h), "seed jcpg.vs.seed=5");

        assertThat(dir.resolve("n1-corosync.log")).hasContent("node 1 log");
        assertThat(dir.resolve("n3-corosync.log")).hasContent("node 3 log");
        assertThat(dir.resolve("missing-logs.txt")).hasContent(gone.toString());
        assertThat(VsHistory.parse(Files.readAllLines(dir.resolve("histories.txt")))).singleElement()
                .hasToString(h.toString());
        assertThat(Files.readString(dir.resolve("report.txt"))).contains("1 violations", "twice",
                "1/100#0, entry 4 of 4 (ends CLEAN); the views it installed:", "entry 2: ring 1.8 [1/100]");
        assertThat(dir.resolve("failure.txt")).hasContent("seed jcpg.vs.seed=5");

        Files.createDirectories(dir);
        assertThat(FailureArtifacts.directory(tmp, FailureArtifactsTest.class, Instant.parse("2026-12-08T02:40:05Z")))
                .hasFileName("FailureArtifactsTest-20261208-024005-2");
    }
}
