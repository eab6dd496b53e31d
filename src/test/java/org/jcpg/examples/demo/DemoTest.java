package org.jcpg.examples.demo;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.jcpg.testsupport.NodeTest;
import org.junit.jupiter.api.Test;

/**
 * The demo of scripts/demo.sh, run against the private corosync of the test
 * suite: it tells the whole story, finds that the logs agree and returns 0;
 * plain text when not told to colour.
 */
@NodeTest
class DemoTest {
    @Test
    void theStoryRunsAndTheLogsAgree() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        int status = Demo.run(new String[] {"--color", "never"}, new PrintStream(bytes, true, StandardCharsets.UTF_8));
        String out = bytes.toString(StandardCharsets.UTF_8);
        assertThat(status).as(out).isZero();
        assertThat(out).doesNotContain("\u001b[").doesNotContain("DIFFERENT").doesNotContain("failed")
                .contains("<- joined: m2 JOIN", "<- left: m3 LEAVE", "<- left: m2 PROCDOWN", "<- joined: m4 JOIN")
                .contains("m4  holds the state: a snapshot taken at view")
                .contains("put:m4.blob=zzzzzzzz..(262144B)")
                .contains("totem ring ")
                .containsPattern("9\\. Do all logs agree\\?\\n.* yes: 4 logs, \\d+ updates");
    }
}
