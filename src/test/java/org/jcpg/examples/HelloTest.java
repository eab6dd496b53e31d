package org.jcpg.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.jcpg.testsupport.ChildJvm;
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
        ChildJvm.Plain hello = ChildJvm.ofSource(source).startPlain();
        // Fails (and kills it) if Hello has not ended within 60 s.
        ChildJvm.Finished finished = hello.finish(Duration.ofSeconds(60));
        String out = finished.out() + finished.err();
        assertThat(finished.exit()).as(out).isZero();
        long pid = hello.pid();
        assertThat(out).as(out)
                .containsPattern("connected to node \\d+")
                .containsPattern("ring .* with nodes \\[\\d+\\]")
                .containsPattern("group hello: members \\[.*" + pid + ".*\\], joined \\[.*" + pid + ".*\\], left \\[\\]")
                .containsPattern("message from node \\d+ pid " + pid + ": hello #1")
                .containsPattern("message from node \\d+ pid " + pid + ": hello #2")
                .containsPattern("message from node \\d+ pid " + pid + ": hello #3")
                .containsPattern("groups in the cluster: \\[.*hello.*\\]");
    }
}
