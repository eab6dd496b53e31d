package org.jcpg.tool;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.jcpg.CpgConnection;
import org.jcpg.CpgListener;
import org.jcpg.GroupName;
import org.jcpg.testsupport.ChildJvm;
import org.jcpg.testsupport.NodeTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A command whose output cannot be written (disk full, a closed pipe) fails
 * with exit code 6 and one line on stderr, instead of reporting success for
 * output that was lost: in process through {@link Main#run} with a stream
 * that fails, and as {@code jcpg COMMAND > /dev/full} in a child JVM.
 */
@NodeTest
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ToolOutputErrorTest {
    private static final String SUFFIX = UUID.randomUUID().toString().substring(0, 8);

    /** Refuses every write, as /dev/full does. */
    private static final class FullStream extends OutputStream {
        @Override
        public void write(int b) throws IOException {
            throw new IOException("No space left on device");
        }
    }

    private static List<String> everyCommand(GroupName group) {
        return List.of("groups", "groups --json", "members " + group, "members --json " + group,
                // listen prints its own join first; in a group of its own (this process is in the other).
                "listen --count 1 --timeout 20s " + group + "-listen", "--help", "help", "help listen", "groups --help",
                "send --help");
    }

    @Test
    void everyCommandFailsWith6WhenItsOutputCannotBeWritten() {
        GroupName group = GroupName.of("tool-full-" + SUFFIX);
        try (CpgConnection member = CpgConnection.open(new CpgListener() { })) {
            member.join(group);
            for (String command : everyCommand(group)) {
                ByteArrayOutputStream err = new ByteArrayOutputStream();
                int exit = Main.run(command.split(" "), new ByteArrayInputStream(new byte[0]),
                        new PrintStream(new FullStream(), true, StandardCharsets.UTF_8),
                        new PrintStream(err, true, StandardCharsets.UTF_8));
                String stderr = err.toString(StandardCharsets.UTF_8);
                assertThat(exit).as("jcpg %s: %s", command, stderr).isEqualTo(Exit.OUTPUT);
                assertThat(stderr).as(command).isEqualTo("jcpg: cannot write the output: standard output failed\n");
            }
        }
    }

    @Test
    void redirectedToDevFullAChildJvmExits6WithTheReason() throws Exception {
        GroupName group = GroupName.of("tool-devfull-" + SUFFIX);
        try (CpgConnection member = CpgConnection.open(new CpgListener() { })) {
            member.join(group);
            for (String command : List.of("listen --timeout 20s " + group, "groups", "members " + group, "--help")) {
                ChildJvm.Finished tool = ChildJvm.of(Main.class).label("jcpg " + command)
                        .jvmOptions("-XX:TieredStopAtLevel=1").args(command.split(" "))
                        .stdoutTo(new File("/dev/full")).run(Duration.ofSeconds(60));
                String err = tool.err();
                assertThat(tool.exit()).as("jcpg %s > /dev/full: %s", command, err).isEqualTo(6);
                assertThat(err).as(command).isEqualTo("jcpg: cannot write the output: No space left on device\n");
            }
        }
    }
}
