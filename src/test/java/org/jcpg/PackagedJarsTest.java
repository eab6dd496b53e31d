package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.module.ModuleDescriptor;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.jar.Attributes;
import java.util.jar.JarFile;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import org.jcpg.testsupport.PackagingTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What {@code mvn verify} packages, checked after the package phase (Maven
 * Failsafe, phase integration-test): the library jar, its sources and javadoc
 * jars, and the jar run as users run it. The runs use the tool in a network
 * namespace of their own, where no corosync runs: the tool then connects
 * (a restricted FFM call), fails with exit 2 and one line, and anything
 * else on stderr is the JVM's native-access warning. Needs root, for
 * {@code unshare --net}, as the rest of the suite does.
 */
@PackagingTest
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class PackagedJarsTest {
    private static final Path JAR = artifact("jcpg.jar");
    private static final Path SOURCES = artifact("jcpg.sourcesJar");
    private static final Path JAVADOC = artifact("jcpg.javadocJar");
    private static final String NOT_RUNNING =
            "jcpg: corosync is not running here (CS_ERR_LIBRARY): start it, or run inside its network namespace\n";
    /** The class-file major version of Java 22, the oldest that jcpg runs on. */
    private static final int JAVA_22 = 66;

    @Test
    void verifyMakesTheJarItsSourcesAndItsJavadoc() {
        assertThat(JAR).isRegularFile();
        assertThat(SOURCES).isRegularFile();
        assertThat(JAVADOC).isRegularFile();
    }

    @Test
    void theJarIsTheModuleWithTheToolAsMainClassAndNativeAccessForTheClassPath() throws IOException {
        try (JarFile jar = new JarFile(JAR.toFile())) {
            Attributes main = jar.getManifest().getMainAttributes();
            assertThat(main.getValue("Main-Class")).isEqualTo("org.jcpg.tool.Main");
            assertThat(main.getValue("Enable-Native-Access")).isEqualTo("ALL-UNNAMED");

            ModuleDescriptor module;
            try (InputStream in = jar.getInputStream(jar.getEntry("module-info.class"))) {
                module = ModuleDescriptor.read(in);
            }
            assertThat(module.name()).isEqualTo("org.jcpg");
            assertThat(module.exports().stream().map(ModuleDescriptor.Exports::source)).containsExactlyInAnyOrder("org.jcpg", "org.jcpg.bundling");
            assertThat(module.requires().stream().map(ModuleDescriptor.Requires::name)).containsExactly("java.base");

            // No dependency shaded in: only jcpg's own classes, its licence and Maven's metadata.
            List<String> names = jar.stream().map(ZipEntry::getName).toList();
            assertThat(names).allSatisfy(name -> assertThat(name).matches(
                    "META-INF/.*|module-info\\.class|org/|org/jcpg/.*"));
            assertThat(names).contains("META-INF/LICENSE", "org/jcpg/CpgConnection.class", "org/jcpg/tool/Main.class");
            assertThat(new String(jar.getInputStream(jar.getEntry("META-INF/LICENSE")).readAllBytes(),
                    StandardCharsets.UTF_8)).isEqualTo(Files.readString(Path.of("LICENSE")));

            // Older JDKs refuse the classes (UnsupportedClassVersionError), as the README says.
            for (String name : List.of("org/jcpg/CpgConnection.class", "org/jcpg/tool/Main.class")) {
                try (DataInputStream in = new DataInputStream(jar.getInputStream(jar.getEntry(name)))) {
                    assertThat(in.readInt()).isEqualTo(0xCAFEBABE);
                    in.readUnsignedShort();
                    assertThat(in.readUnsignedShort()).as(name).isEqualTo(JAVA_22);
                }
            }
        }
    }

    @Test
    void theReadmesDependencyIsTheJarsCoordinates() throws IOException {
        Properties coordinates = new Properties();
        try (JarFile jar = new JarFile(JAR.toFile());
                InputStream in = jar.getInputStream(jar.getEntry("META-INF/maven/org.jcpg/jcpg/pom.properties"))) {
            coordinates.load(in);
        }
        assertThat(coordinates.getProperty("groupId")).isEqualTo("org.jcpg");
        assertThat(coordinates.getProperty("artifactId")).isEqualTo("jcpg");
        assertThat(coordinates.getProperty("version")).isEqualTo(System.getProperty("jcpg.version"));
        assertThat(JAR.getFileName().toString()).isEqualTo("jcpg-" + System.getProperty("jcpg.version") + ".jar");

        String readme = Files.readString(Path.of("README.md"));
        Matcher dependency = Pattern.compile("<dependency>\\s*<groupId>([^<]+)</groupId>\\s*"
                + "<artifactId>([^<]+)</artifactId>\\s*<version>([^<]+)</version>\\s*</dependency>").matcher(readme);
        assertThat(dependency.find()).as("a <dependency> in README.md").isTrue();
        assertThat(List.of(dependency.group(1), dependency.group(2), dependency.group(3))).containsExactly(
                "org.jcpg", "jcpg", coordinates.getProperty("version"));
    }

    @Test
    void theSourcesJarHasEverySourceAndTheJavadocOnlyTheExportedPackage() throws IOException {
        try (JarFile sources = new JarFile(SOURCES.toFile())) {
            assertThat(sources.stream().map(ZipEntry::getName)).contains("module-info.java",
                    "org/jcpg/CpgConnection.java", "org/jcpg/internal/CpgHandle.java", "org/jcpg/tool/Main.java");
        }
        try (JarFile javadoc = new JarFile(JAVADOC.toFile())) {
            List<String> pages = javadoc.stream().map(ZipEntry::getName).filter(n -> n.endsWith(".html")).toList();
            assertThat(pages).contains("index.html", "org.jcpg/module-summary.html",
                    "org.jcpg/org/jcpg/package-summary.html", "org.jcpg/org/jcpg/CpgConnection.html",
                    "org.jcpg/org/jcpg/CpgEventLoop.Builder.html");
            assertThat(pages).noneMatch(page -> page.contains("/internal/") || page.contains("/tool/"));
        }
    }

    @Test
    void javaDashJarNeedsNoFlag() throws Exception {
        Run run = run(List.of("-jar", JAR.toString(), "groups"));
        assertThat(run.exit()).as(run.err()).isEqualTo(2);
        assertThat(run.err()).isEqualTo(NOT_RUNNING);
    }

    @Test
    void onTheModulePathTheFlagNamesTheModule() throws Exception {
        List<String> tool = List.of("-p", JAR.toString(), "-m", "org.jcpg/org.jcpg.tool.Main", "groups");

        Run granted = run(concat(List.of("--enable-native-access=org.jcpg"), tool));
        assertThat(granted.err()).isEqualTo(NOT_RUNNING);
        assertThat(granted.exit()).isEqualTo(2);

        Run warned = run(tool);
        assertThat(warned.err()).startsWith("WARNING: A restricted method in java.lang.foreign")
                .contains("WARNING: Use --enable-native-access=org.jcpg to avoid a warning").endsWith(NOT_RUNNING);

        // What a JDK that denies native access by default (or --illegal-native-access=deny) says.
        Run denied = run(concat(List.of("--illegal-native-access=deny"), tool));
        assertThat(denied.exit()).isEqualTo(1);
        assertThat(denied.err()).isEqualTo("jcpg: java denies jcpg native access: run it with"
                + " --enable-native-access=org.jcpg (module path) or --enable-native-access=ALL-UNNAMED"
                + " (class path); java -jar needs neither\n");
        Run debug = run(concat(List.of("--illegal-native-access=deny"), concat(tool, List.of("--debug"))));
        assertThat(debug.err()).contains("java.lang.IllegalCallerException: Illegal native access from module org.jcpg");
    }

    @Test
    void onTheClassPathTheFlagNamesAllUnnamed() throws Exception {
        List<String> tool = List.of("-cp", JAR.toString(), "org.jcpg.tool.Main", "groups");

        Run granted = run(concat(List.of("--enable-native-access=ALL-UNNAMED"), tool));
        assertThat(granted.err()).isEqualTo(NOT_RUNNING);
        assertThat(granted.exit()).isEqualTo(2);

        assertThat(run(tool).err()).contains("WARNING: Use --enable-native-access=ALL-UNNAMED to avoid a warning")
                .endsWith(NOT_RUNNING);

        // The module's name grants nothing on the class path, where jcpg is in the unnamed module.
        assertThat(run(concat(List.of("--enable-native-access=org.jcpg"), tool)).err())
                .startsWith("WARNING: Unknown module: org.jcpg specified to --enable-native-access")
                .contains("WARNING: Use --enable-native-access=ALL-UNNAMED to avoid a warning").endsWith(NOT_RUNNING);
    }

    @Test
    void aJdkOlderThan22RefusesTheJarClearly() throws Exception {
        Path old = olderJdk();
        assumeTrue(old != null, "no JDK older than 22 under /usr/lib/jvm (the class-file version is checked anyway)");
        Process process = new ProcessBuilder(old.toString(), "-jar", JAR.toString(), "groups").start();
        process.getOutputStream().close();
        assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
        String err = new String(process.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.exitValue()).isNotZero();
        assertThat(err).contains("UnsupportedClassVersionError").contains("class file version 66.0");
    }

    // ---- helpers ------------------------------------------------------------------

    record Run(int exit, String err) {
    }

    /** java with these arguments, in a network namespace without corosync. */
    private static Run run(List<String> javaArgs) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("unshare", "--net",
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xshare:auto"));
        command.addAll(javaArgs);
        Process process = new ProcessBuilder(command).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        process.getOutputStream().close();
        String err = new String(process.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(60, TimeUnit.SECONDS)).as("%s exits", command).isTrue();
        return new Run(process.exitValue(), err);
    }

    private static List<String> concat(List<String> a, List<String> b) {
        return Stream.concat(a.stream(), b.stream()).toList();
    }

    private static Path artifact(String property) {
        String path = System.getProperty(property);
        assertThat(path).as("system property %s (set by the pom's failsafe configuration)", property).isNotNull();
        return Path.of(path);
    }

    /** The java of a JDK 8 to 21 under /usr/lib/jvm, or null. */
    private static Path olderJdk() throws IOException {
        Path jvms = Path.of("/usr/lib/jvm");
        if (!Files.isDirectory(jvms)) {
            return null;
        }
        try (Stream<Path> homes = Files.list(jvms)) {
            for (Path home : homes.sorted().collect(Collectors.toList())) {
                Path release = home.resolve("release");
                Path java = home.resolve("bin/java");
                if (!Files.isRegularFile(release) || !Files.isExecutable(java)) {
                    continue;
                }
                Matcher version = Pattern.compile("JAVA_VERSION=\"(?:1\\.)?(\\d+)").matcher(Files.readString(release));
                if (version.find() && Integer.parseInt(version.group(1)) < 22) {
                    return java;
                }
            }
        }
        return null;
    }
}
