package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jcpg.testsupport.ChildJvm;
import org.jcpg.testsupport.NodeTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A JVM where libcpg.so.4 cannot be loaded: open() throws
 * UnsatisfiedLinkError that names the library and the Debian package, every
 * time (not NoClassDefFoundError the second time), and the pure-Java API
 * still works. The child runs in a private mount namespace with /dev/null
 * bind-mounted over the real library file (tests run as root).
 */
@NodeTest
class MissingLibraryTest {
    private static final Pattern LDCONFIG = Pattern.compile("^\\s*libcpg\\.so\\.4 \\(([^)]*)\\) => (\\S+)\\s*$");

    /** The file that libcpg.so.4 resolves to, symlinks followed. */
    static Path realLibcpg() throws IOException, InterruptedException {
        List<Path> candidates = new ArrayList<>();
        Process ldconfig = new ProcessBuilder("ldconfig", "-p").redirectErrorStream(true).start();
        String listing = new String(ldconfig.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        ldconfig.waitFor(20, TimeUnit.SECONDS);
        for (String line : listing.split("\n")) {
            Matcher m = LDCONFIG.matcher(line);
            if (m.matches() && m.group(1).contains("x86-64")) {
                candidates.add(Path.of(m.group(2)));
            }
        }
        candidates.add(Path.of("/usr/lib/x86_64-linux-gnu/libcpg.so.4"));
        for (Path candidate : candidates) {
            if (Files.exists(candidate)) {
                return candidate.toRealPath();
            }
        }
        throw new AssertionError("libcpg.so.4 not found; ldconfig -p says:\n" + listing);
    }

    @Test
    @Timeout(120)
    void openThrowsUnsatisfiedLinkErrorEveryTimeWhenLibcpgCannotBeLoaded() throws Exception {
        Path library = realLibcpg();
        // Fails (and kills the child) if it has not ended within 60 s.
        ChildJvm.Finished child = ChildJvm.of(MissingLibraryMain.class)
                .launcher(List.of("unshare", "--mount", "--propagation", "private",
                        "sh", "-c", "mount --bind /dev/null \"$1\" && shift && exec \"$@\"", "sh", library.toString()))
                .jvmOptions("-XX:TieredStopAtLevel=1")
                .run(Duration.ofSeconds(60));
        String out = child.out() + child.err();
        System.out.println("MissingLibraryTest: library " + library + "; child said:\n" + out);

        assertThat(child.exit()).as("child exit status; output:\n" + out).isZero();
        List<String> lines = out.lines().toList();
        assertThat(lines).as("the pure-Java API works without libcpg").contains("NAME x 1 true", "NAME after 5 true");
        assertThat(lines).contains("DONE");
        for (int i = 1; i <= 2; i++) {
            String prefix = "THROWN " + i + " ";
            String thrown = lines.stream().filter(l -> l.startsWith(prefix)).findFirst()
                    .orElseThrow(() -> new AssertionError("no exception reported; output:\n" + out));
            assertThat(thrown).as("open() #" + i)
                    .startsWith(prefix + "java.lang.UnsatisfiedLinkError ")
                    .contains("libcpg.so.4")
                    .contains("libcpg4");
        }
        // The bind mount stayed in the child's namespace: this JVM still loads and uses libcpg.
        try (CpgConnection cpg = CpgConnection.open(new CpgListener() { })) {
            assertThat(cpg.localNodeId()).isPositive();
        }
        assertThat(Files.size(library)).as("the real library file, seen from here").isPositive();
    }
}
