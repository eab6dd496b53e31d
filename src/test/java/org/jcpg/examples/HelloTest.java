package org.jcpg.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.jcpg.testsupport.NodeTest;
import org.junit.jupiter.api.Test;

/**
 * examples/Hello.java, the README's first program, run as a newcomer runs it: the single
 * source file with the library on the class path (the JDK's source launcher compiles it), in a
 * JVM of its own against the suite's corosync. It is in the default package, so it cannot be
 * compiled into the test tree's module; this test is what compiles it in the build.
 */
@NodeTest
class HelloTest {
    @Test
    void helloJoinsSendsThreeMessagesAndGetsThemBack() throws IOException, InterruptedException {
        Path source = Path.of("examples", "Hello.java");
        assertThat(source).exists();
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Path output = Files.createTempFile("hello", ".out");
        try {
            Process hello = new ProcessBuilder(List.of(java, "--enable-native-access=ALL-UNNAMED",
                    "-cp", System.getProperty("java.class.path"), source.toString()))
                    .redirectErrorStream(true).redirectOutput(output.toFile()).start();
            boolean exited = hello.waitFor(60, TimeUnit.SECONDS);
            if (!exited) {
                hello.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
            String out = Files.readString(output, StandardCharsets.UTF_8);
            assertThat(exited).as("Hello ended within 60 s; printed:%n%s", out).isTrue();
            assertThat(hello.exitValue()).as(out).isZero();
            long pid = hello.pid();
            assertThat(out).as(out)
                    .containsPattern("connected to node \\d+")
                    .containsPattern("ring .* with nodes \\[\\d+\\]")
                    .containsPattern("group hello: members \\[.*" + pid + ".*\\], joined \\[.*" + pid + ".*\\], left \\[\\]")
                    .containsPattern("message from node \\d+ pid " + pid + ": hello #1")
                    .containsPattern("message from node \\d+ pid " + pid + ": hello #2")
                    .containsPattern("message from node \\d+ pid " + pid + ": hello #3")
                    .containsPattern("groups in the cluster: \\[.*hello.*\\]");
        } finally {
            Files.deleteIfExists(output);
        }
    }
}
