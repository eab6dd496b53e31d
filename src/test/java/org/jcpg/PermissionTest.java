package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.jcpg.testsupport.ChildJvm;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.tool.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The README's troubleshooting of permissions: corosync serves CPG only to
 * root and to the users and groups its uidgid configuration names. A child
 * JVM running as {@code nobody} gets {@link CpgError#ACCESS} (the tool says
 * so in one line, exit 5) until the private daemon's runtime configuration
 * allows its uid or gid ({@code corosync-cmapctl -s uidgid.uid.UID u8 1}).
 */
@NodeTest
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class PermissionTest {
    private static final String REFUSED = "jcpg: corosync refused: cpg_model_initialize failed: CS_ERR_ACCESS (11): "
            + "corosync's uidgid configuration does not allow this user\n";
    /** nobody and nogroup on Debian. */
    private static final int NOBODY = 65534;

    record Run(int exit, String out, String err) {
    }

    @Test
    void aUserThatUidgidDoesNotNameIsRefusedWithAccessUntilItIsAllowed() throws Exception {
        Run refused = toolAsNobody("--debug", "groups");
        assertThat(refused.exit()).as(refused.err()).isEqualTo(5);
        assertThat(refused.err()).contains("org.jcpg.CpgException: cpg_model_initialize failed: CS_ERR_ACCESS (11)");
        assertThat(toolAsNobody("groups")).isEqualTo(new Run(5, "", REFUSED));

        for (String key : List.of("uidgid.uid." + NOBODY, "uidgid.gid." + NOBODY)) {
            cmapctl("-s", key, "u8", "1");
            try {
                Run allowed = toolAsNobody("groups");
                assertThat(allowed.exit()).as("allowed by %s: %s", key, allowed.err()).isZero();
                assertThat(allowed.err()).isEmpty();
            } finally {
                cmapctl("-d", key);
            }
            assertThat(toolAsNobody("groups").exit()).as("refused again without %s", key).isEqualTo(5);
        }
    }

    /** The tool from the compiled classes (readable by anyone, unlike ~/.m2), as uid and gid nobody. */
    private static Run toolAsNobody(String... args) throws Exception {
        Path classes = Path.of(Main.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        ChildJvm.Finished tool = ChildJvm.of(Main.class)
                .launcher(List.of("setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY, "--clear-groups"))
                .classPath(classes.toString()).jvmOptions("-XX:TieredStopAtLevel=1").args(args)
                .run(Duration.ofSeconds(60));
        return new Run(tool.exit(), tool.out(), tool.err());
    }

    private static void cmapctl(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of("corosync-cmapctl"));
        command.addAll(List.of(args));
        Run run = run(command);
        assertThat(run.exit()).as("%s: %s", command, run.err()).isZero();
    }

    private static Run run(List<String> command) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).start();
        process.getOutputStream().close();
        // Both pipes at once: a child blocked on a full stderr pipe would never end stdout.
        CompletableFuture<String> errText = new CompletableFuture<>();
        Thread.ofVirtual().start(() -> {
            try {
                errText.complete(new String(process.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
            } catch (IOException e) {
                errText.completeExceptionally(e);
            }
        });
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(60, TimeUnit.SECONDS)).as("%s exits", command).isTrue();
        return new Run(process.exitValue(), out, errText.join());
    }
}
