package org.jcpg.tool;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.spi.ToolProvider;
import org.jcpg.CpgConnection;
import org.jcpg.CpgListener;
import org.jcpg.GroupName;
import org.jcpg.PeerProcess;
import org.jcpg.testsupport.Await;
import org.jcpg.testsupport.ChildJvm;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.Payloads;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The jcpg tool against the private corosync: each subcommand's output and
 * exit code, in-process through {@link Main#run}, and in child JVMs: as
 * {@code java -cp ... org.jcpg.tool.Main}, as {@code java -jar} of a jar made
 * with the pom's manifest entries, and in a network namespace without
 * corosync. Group A has this JVM and a child JVM as members; B (with a space)
 * this JVM; NUL is "name\0" as testcpg would name it.
 */
@NodeTest
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ToolTest {
    private static final int PID = (int) ProcessHandle.current().pid();
    private static final String SUFFIX = UUID.randomUUID().toString().substring(0, 8);
    private static final GroupName A = GroupName.of("tool-A-" + SUFFIX);
    private static final GroupName B = GroupName.of("tool B-" + SUFFIX);
    private static final String NUL_TEXT = "tool-nul-" + SUFFIX;
    private static final GroupName NUL = GroupName.ofBytes((NUL_TEXT + "\0").getBytes(StandardCharsets.US_ASCII));
    private static final String NOT_RUNNING =
            "jcpg: corosync is not running here (CS_ERR_LIBRARY): start it, or run inside its network namespace";

    private static CpgConnection inA;
    private static CpgConnection inB;
    private static CpgConnection inNul;
    private static PeerProcess peerInA;
    private static long node;

    /** What one run printed, and its exit code. */
    record Run(int exit, String out, String err) {
        List<String> lines() {
            return out.lines().toList();
        }

        /** The error is one line starting with "jcpg: ", no stack trace. */
        Run oneErrorLine() {
            assertThat(err).as("stderr").startsWith("jcpg: ").endsWith("\n").doesNotContain("\tat ");
            assertThat(err.lines().count()).as("stderr lines: %s", err).isEqualTo(1);
            return this;
        }
    }

    static Run run(String... args) {
        return run(new ByteArrayInputStream(new byte[0]), args);
    }

    static Run run(InputStream in, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exit = Main.run(args, in, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @BeforeAll
    static void joinGroups() throws InterruptedException {
        inA = CpgConnection.open(new CpgListener() { });
        inB = CpgConnection.open(new CpgListener() { });
        inNul = CpgConnection.open(new CpgListener() { });
        node = inA.localNodeId();
        inA.join(A);
        inB.join(B);
        inNul.join(NUL);
        peerInA = PeerProcess.start(List.of());
        peerInA.join(A);
        awaitMembers(A, 2);
        awaitMembers(B, 1);
        awaitMembers(NUL, 1);
    }

    @AfterAll
    static void leaveGroups() throws InterruptedException {
        if (peerInA != null) {
            peerInA.close();
        }
        for (CpgConnection connection : new CpgConnection[] {inA, inB, inNul}) {
            if (connection != null) {
                connection.close();
            }
        }
    }

    static void awaitMembers(GroupName group, int count) {
        Await.until(() -> inA.members(group).size() == count, Duration.ofSeconds(20), Duration.ofMillis(10),
                () -> group + " to have " + count + " members");
    }

    // ---- groups and members ---------------------------------------------------

    /** "group pid node" triples of our groups, from the tool's text output. */
    private static Set<String> ours(List<String> groupsOutput) {
        Set<String> result = new HashSet<>();
        String group = null;
        for (String line : groupsOutput) {
            if (!line.startsWith(" ")) {
                group = line;
            } else if (group.endsWith(SUFFIX) || group.endsWith(SUFFIX + "\\0")) {
                String[] fields = line.trim().split(" ");
                assertThat(fields[0]).startsWith("node=");
                assertThat(fields[1]).startsWith("pid=");
                assertThat(result.add(group + " " + fields[1].substring(4) + " " + fields[0].substring(5)))
                        .as("listed twice: %s", line).isTrue();
            }
        }
        return result;
    }

    @Test
    void groupsListsWhatCorosyncCpgtoolLists() throws Exception {
        Run groups = run("groups");
        assertThat(groups.exit()).as(groups.err()).isZero();
        assertThat(groups.err()).isEmpty();
        Set<String> expected = Set.of(A + " " + PID + " " + node, A + " " + peerInA.pid() + " " + node,
                B + " " + PID + " " + node, NUL_TEXT + "\\0 " + PID + " " + node);
        assertThat(ours(groups.lines())).isEqualTo(expected);

        // corosync-cpgtool shows a NUL byte as \x00 (raw with -e), the tool as \0.
        Set<String> listed = new HashSet<>();
        String current = null;
        for (String line : cpgtool()) {
            if (line.isBlank() || line.startsWith("Group Name")) {
                continue;
            }
            if (!Character.isWhitespace(line.charAt(0))) {
                current = line.replace("\\x00", "\\0");
            } else if (current.endsWith(SUFFIX) || current.endsWith(SUFFIX + "\\0")) {
                String[] fields = line.trim().split("\\s+"); // "pid node (ip)"
                listed.add(current + " " + fields[0] + " " + fields[1]);
            }
        }
        assertThat(listed).isEqualTo(expected);
    }

    @Test
    void groupsAsJson() {
        Run json = run("groups", "--json");
        assertThat(json.exit()).isZero();
        assertThat(json.lines()).hasSize(1);
        assertThat(json.out()).startsWith("{\"groups\":[{").endsWith("]}\n");
        String member = "{\"node\":" + node + ",\"pid\":" + PID + "}";
        assertThat(json.out()).contains("{\"name\":\"" + B + "\",\"hex\":\"" + hex(B) + "\",\"members\":[" + member + "]}");
        assertThat(json.out()).contains("{\"name\":\"" + NUL_TEXT + "\\\\0\",\"hex\":\"" + hex(NUL) + "\",\"members\":[" + member + "]}");
        assertThat(json.out()).contains("{\"name\":\"" + A + "\",\"hex\":\"" + hex(A) + "\",\"members\":[")
                .contains(member).contains("{\"node\":" + node + ",\"pid\":" + peerInA.pid() + "}");
    }

    @Test
    void membersOfAGroup() {
        Run members = run("members", A.toString());
        assertThat(members.exit()).isZero();
        assertThat(members.lines()).containsExactlyInAnyOrder("node=" + node + " pid=" + PID,
                "node=" + node + " pid=" + peerInA.pid());
        Run json = run("members", "--json", B.toString());
        assertThat(json.exit()).isZero();
        assertThat(json.out()).isEqualTo("{\"name\":\"" + B + "\",\"hex\":\"" + hex(B)
                + "\",\"members\":[{\"node\":" + node + ",\"pid\":" + PID + "}]}\n");
    }

    @Test
    void membersOfAnUnknownGroupExitWith4() {
        Run unknown = run("members", "tool-unknown-" + SUFFIX).oneErrorLine();
        assertThat(unknown.exit()).isEqualTo(4);
        assertThat(unknown.out()).isEmpty();
        assertThat(unknown.err()).isEqualTo("jcpg: group \"tool-unknown-" + SUFFIX + "\" has no members\n");
        assertThat(run("members", "--json", "tool-unknown-" + SUFFIX).exit()).isEqualTo(4);
    }

    @Test
    void namesWithNulOrInHex() {
        // testcpg's way of naming: the NUL counts.
        assertThat(run("members", NUL_TEXT).exit()).isEqualTo(4);
        Run nul = run("members", "--nul", NUL_TEXT);
        assertThat(nul.exit()).isZero();
        assertThat(nul.lines()).containsExactly("node=" + node + " pid=" + PID);
        assertThat(run("members", "--hex", hex(NUL)).lines()).containsExactly("node=" + node + " pid=" + PID);
        assertThat(run("members", "--hex", "--nul", hex(GroupName.of(NUL_TEXT))).exit()).isZero();
        assertThat(run("members", "--hex", hex(A).toUpperCase()).lines()).hasSize(2);
    }

    @Test
    void badGroupNamesAreUsageErrors() {
        String longest = "x".repeat(128);
        Run[] bad = {
            run("members", "--hex", "zz"),
            run("members", "--hex", "abc"),
            run("members", ""),
            run("members", "--hex", ""),
            run("members", "x".repeat(129)),
            run("members", "\u00e9".repeat(65)), // 130 bytes in UTF-8
            run("members", "--nul", longest),
            run("listen", "--hex", "0g"),
            run("send", "", "message"),
        };
        for (Run r : bad) {
            r.oneErrorLine();
            assertThat(r.exit()).as(r.err()).isEqualTo(1);
            assertThat(r.out()).isEmpty();
        }
        assertThat(bad[0].err()).contains("invalid hex group name \"zz\"").contains("jcpg members --help");
        assertThat(bad[2].err()).contains("group name is empty");
        assertThat(bad[4].err()).contains("129 bytes").contains("at most 128");
        assertThat(bad[6].err()).contains("129 bytes").contains("--nul");
        // The longest name is fine: it just has no members.
        assertThat(run("members", longest).exit()).isEqualTo(4);
    }

    // ---- listen -----------------------------------------------------------------

    @Test
    void listenPrintsMessagesMembershipAndRing() throws Exception {
        GroupName group = GroupName.of("tool-listen-" + SUFFIX);
        CompletableFuture<Run> listening = CompletableFuture.supplyAsync(
                () -> run("listen", group.toString(), "--count", "2", "--timeout", "30s"));
        awaitMembers(group, 1);
        try (PeerProcess peer = PeerProcess.start(List.of())) {
            peer.join(group);
            peer.command("text hello world\\x");
            peer.command("send 1 16");
            Run listen = listening.get(30, TimeUnit.SECONDS);
            assertThat(listen.exit()).as(listen.err()).isZero();
            assertThat(listen.err()).isEmpty();
            List<String> lines = listen.lines();
            String time = "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z ";
            String self = node + "/" + PID;
            String other = node + "/" + peer.pid();
            assertThat(lines).allMatch(line -> line.matches(time + "(MSG|CONFCHG|TOTEM) .*"));
            assertThat(lines.get(0)).matches(time + "CONFCHG members=" + self + " joined=" + self + "/JOIN left= group=" + group);
            assertThat(lines).anyMatch(line -> line.matches(time + "TOTEM ring=[0-9a-f]+\\.[0-9a-f]+ nodes=" + node));
            assertThat(lines).anyMatch(line -> line.matches(time + "CONFCHG members=(" + self + "," + other + "|" + other + ","
                    + self + ") joined=" + other + "/JOIN left= group=" + group));
            List<String> messages = lines.stream().filter(line -> line.contains(" MSG ")).map(line -> line.substring(25)).toList();
            assertThat(messages).containsExactly(
                    "MSG node=" + node + " pid=" + peer.pid() + " len=13 text=hello world\\\\x",
                    "MSG node=" + node + " pid=" + peer.pid() + " len=16 hex=" + HexFormat.of().formatHex(pattern(1, 16)));
        }
    }

    @Test
    void listenTimesOutWith3() {
        Run listen = run("listen", "tool-quiet-" + SUFFIX, "--timeout", "300ms").oneErrorLine();
        assertThat(listen.exit()).isEqualTo(3);
        assertThat(listen.err()).isEqualTo("jcpg: listen: nothing arrived within 300ms\n");
        assertThat(listen.lines()).hasSize(2); // its own join and the ring
        Run counted = run("listen", "tool-quiet-" + SUFFIX, "--count", "1", "--timeout", "0.3").oneErrorLine();
        assertThat(counted.exit()).isEqualTo(3);
        assertThat(counted.err()).contains("(0 of 1 messages)");
    }

    @Test
    void listenRefusesBadOptions() {
        for (String[] args : List.of(new String[] {"listen"}, new String[] {"listen", "a", "b"},
                new String[] {"listen", "g", "--count", "0"}, new String[] {"listen", "g", "--count", "x"},
                new String[] {"listen", "g", "--timeout", "soon"}, new String[] {"listen", "g", "--timeout"},
                new String[] {"listen", "g", "--payload", "base64"}, new String[] {"listen", "g", "--json"})) {
            Run r = run(args).oneErrorLine();
            assertThat(r.exit()).as(String.join(" ", args)).isEqualTo(1);
            assertThat(r.err()).contains("(see: jcpg listen --help)");
        }
    }

    // ---- send -------------------------------------------------------------------

    @Test
    void sendDeliversToAListenerInAnotherJvm(@TempDir Path dir) throws Exception {
        GroupName group = GroupName.of("tool-send-" + SUFFIX);
        byte[] binary = new byte[300];
        for (int i = 0; i < binary.length; i++) {
            binary[i] = (byte) (255 - i);
        }
        Path file = Files.write(dir.resolve("payload"), binary);
        ChildJvm.Plain listener = toolJvm("listen", group.toString(), "--count", "4", "--timeout", "60s").startPlain();
        try {
            awaitMembers(group, 1);
            assertThat(run("send", group.toString(), "hello").exit()).isZero();
            Run fromFile = run("send", group.toString(), "--file", file.toString());
            assertThat(fromFile.exit()).as(fromFile.err()).isZero();
            Run fromStdin = run(new ByteArrayInputStream("line one\nline two".getBytes(StandardCharsets.UTF_8)),
                    "send", group.toString(), "-");
            assertThat(fromStdin.exit()).as(fromStdin.err()).isZero();
            assertThat(fromStdin.out() + fromStdin.err()).isEmpty();
            ChildJvm.Finished listened = listener.finish(Duration.ofSeconds(30));
            String out = listened.out();
            String err = listened.err();
            assertThat(listened.exit()).as(out + err).isZero();
            String sender = "node=" + node + " pid=" + PID;
            assertThat(out.lines().filter(line -> line.contains(" MSG ")).map(line -> line.substring(25)).toList())
                    .containsExactly("MSG " + sender + " len=5 text=hello",
                            "MSG " + sender + " len=300 hex=" + HexFormat.of().formatHex(binary),
                            "MSG " + sender + " len=8 text=line one",
                            "MSG " + sender + " len=8 text=line two");
            // Each send left the group (LEAVE, not PROCDOWN); the listener ended at the last message,
            // before the last sender left.
            assertThat(out.lines().filter(line -> line.contains("left=" + node + "/" + PID + "/"))).hasSize(2)
                    .allMatch(line -> line.contains("left=" + node + "/" + PID + "/LEAVE group="));
        } finally {
            listener.close();
        }
    }

    @Test
    void sendRefusesBadInput() {
        for (String[] args : List.of(new String[] {"send"}, new String[] {"send", "g"},
                new String[] {"send", "g", "a", "b"}, new String[] {"send", "g", "a", "--file", "f"},
                new String[] {"send", "g", "--file", "/nonexistent/jcpg-file"},
                new String[] {"send", "g", "a", "--timeout", "-1s"})) {
            Run r = run(args).oneErrorLine();
            assertThat(r.exit()).as(String.join(" ", args)).isEqualTo(1);
        }
    }

    @Test
    void sendToAGroupThisProcessIsInIsACpgError() {
        // corosync knows members by node and pid: the in-process tool is this JVM, already in B.
        Run r = run("send", B.toString(), "hi").oneErrorLine();
        assertThat(r.exit()).isEqualTo(5);
        assertThat(r.err()).contains("CS_ERR_EXIST").contains("already in that group");
    }

    // ---- help, usage, debug -----------------------------------------------------

    @Test
    void helpEverywhere() {
        for (String[] args : List.of(new String[] {"--help"}, new String[] {"-h"}, new String[] {"help"},
                new String[] {"groups", "--help"}, new String[] {"members", "-h"}, new String[] {"listen", "--help"},
                new String[] {"send", "x", "--help"}, new String[] {"help", "send"})) {
            Run r = run(args);
            assertThat(r.exit()).as(String.join(" ", args)).isZero();
            assertThat(r.err()).isEmpty();
            assertThat(r.out()).startsWith("Usage: jcpg").contains("Exit codes:");
        }
        assertThat(run("help", "listen").out()).startsWith("Usage: jcpg listen");
        assertThat(run("--help").out()).contains("130, 143");
    }

    @Test
    void usageErrors() {
        assertThat(run().oneErrorLine().exit()).isEqualTo(1);
        assertThat(run("bogus").oneErrorLine().err()).isEqualTo("jcpg: unknown command \"bogus\" (see: jcpg --help)\n");
        assertThat(run("--bogus").oneErrorLine().exit()).isEqualTo(1);
        assertThat(run("groups", "extra").oneErrorLine().exit()).isEqualTo(1);
        assertThat(run("groups", "--nul").oneErrorLine().exit()).isEqualTo(1);
        assertThat(run("help", "bogus").oneErrorLine().exit()).isEqualTo(1);
    }

    @Test
    void debugAddsTheStackTrace() {
        Run r = run("--debug", "members", "--hex", "zz");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).startsWith("jcpg: members: invalid hex").contains("\tat org.jcpg.tool.");
        assertThat(run("members", "--hex", "zz", "--debug").err()).contains("\tat ");
    }

    // ---- child JVMs: no corosync, java -jar ----------------------------------------

    @Test
    void withoutCorosyncEveryCommandExitsWith2AndOneLine() throws Exception {
        // A network namespace of its own: corosync's socket is per namespace.
        for (List<String> args : List.of(List.of("groups"), List.of("members", "g"), List.of("listen", "g"),
                List.of("send", "g", "hi"))) {
            ChildJvm.Finished tool = toolJvm(args.toArray(String[]::new)).launcher(List.of("unshare", "--net"))
                    .run(Duration.ofSeconds(60));
            String out = tool.out();
            String err = tool.err();
            assertThat(tool.exit()).as("%s: %s", args, err).isEqualTo(2);
            assertThat(out).isEmpty();
            assertThat(err).isEqualTo(NOT_RUNNING + "\n");
        }
    }

    @Test
    void javaDashJarRunsTheToolWithThePomsManifest(@TempDir Path dir) throws Exception {
        // The jar is packaged after the tests run; so make one of the compiled classes with the
        // manifest entries that pom.xml gives maven-jar-plugin, and run it as users will.
        Path classes = Path.of(Main.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        String pom = Files.readString(Path.of("pom.xml"));
        int at = pom.indexOf("<artifactId>maven-jar-plugin</artifactId>");
        assertThat(at).as("maven-jar-plugin in pom.xml").isNotNegative();
        String jarPlugin = pom.substring(at, pom.indexOf("</plugin>", at));
        String mainClass = element(jarPlugin, "mainClass");
        String nativeAccess = element(jarPlugin, "Enable-Native-Access");
        assertThat(mainClass).isEqualTo(Main.class.getName());
        assertThat(nativeAccess).isEqualTo("ALL-UNNAMED");

        Path manifest = Files.writeString(dir.resolve("MANIFEST.MF"),
                "Main-Class: " + mainClass + "\nEnable-Native-Access: " + nativeAccess + "\n");
        Path jar = dir.resolve("jcpg.jar");
        ToolProvider jarTool = ToolProvider.findFirst("jar").orElseThrow();
        assertThat(jarTool.run(System.out, System.err, "--create", "--file", jar.toString(),
                "--manifest", manifest.toString(), "-C", classes.toString(), ".")).isZero();

        Process process = new ProcessBuilder(java(), "-jar", jar.toString(), "members", B.toString()).start();
        process.getOutputStream().close();
        assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(process.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.exitValue()).as(err).isZero();
        assertThat(err).as("no native-access warning, nothing else").isEmpty();
        assertThat(out).isEqualTo("node=" + node + " pid=" + PID + "\n");
    }

    // ---- helpers ------------------------------------------------------------------

    /** The text of the first {@code <name>...</name>} in {@code xml}. */
    private static String element(String xml, String name) {
        Matcher m = Pattern.compile("<" + name + ">\\s*([^<]*?)\\s*</" + name + ">").matcher(xml);
        assertThat(m.find()).as("<%s> in %s", name, xml).isTrue();
        return m.group(1);
    }

    private static String hex(GroupName group) {
        return HexFormat.of().formatHex(group.toBytes());
    }

    /** As PeerMain's "send k size" makes them (Payloads.pattern). */
    private static byte[] pattern(int k, int size) {
        byte[] bytes = new byte[size];
        for (int i = 0; i < size; i++) {
            bytes[i] = (byte) (k * 131 + i * 7 + (i >>> 8));
        }
        java.nio.ByteBuffer.wrap(bytes).putInt(0, k);
        return bytes;
    }

    private static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    /** The tool's main class in a child JVM. */
    private static ChildJvm.Spec toolJvm(String... args) {
        return ChildJvm.of(Main.class).jvmOptions("-XX:TieredStopAtLevel=1").args(args);
    }

    private static List<String> cpgtool() throws IOException, InterruptedException {
        Process process = new ProcessBuilder("corosync-cpgtool").redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(process.exitValue()).as(out).isZero();
        return out.lines().toList();
    }
}
