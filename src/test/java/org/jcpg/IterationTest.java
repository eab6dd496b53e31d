package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.Recorder;
import org.jcpg.testsupport.SuiteDaemon;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * groups(), members(group) and members() (cpg_iteration_*), checked against
 * each other and against corosync-cpgtool, which reads the same daemon.
 * Group A has two members (this JVM and a child JVM: corosync refuses a
 * second join of one group by the same pid), B and C one each.
 */
@NodeTest
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class IterationTest {
    private static final int PID = (int) SuiteDaemon.OWN_PID;

    private static final GroupName A = SuiteDaemon.uniqueGroup("iter-A");
    /** A space in the name, to check that it survives both tools. */
    private static final GroupName B = SuiteDaemon.uniqueGroup("iter B");
    private static final GroupName C = SuiteDaemon.uniqueGroup("iter-C");

    private static CpgConnection inA;
    private static CpgConnection inB;
    private static CpgConnection inC;
    private static PeerProcess peerInA;
    private static long node;

    @BeforeAll
    static void joinGroups() throws InterruptedException {
        Recorder recorder = new Recorder();
        inA = CpgConnection.open(recorder);
        inB = CpgConnection.open(new Recorder());
        inC = CpgConnection.openLegacy(new Recorder());
        node = inA.localNodeId();
        inA.join(A);
        inB.join(B);
        inC.join(C);
        peerInA = PeerProcess.joined(A);
        SuiteDaemon.dispatchUntil(() -> recorder.membershipChanges.stream().anyMatch(c -> c.members().size() == 2),
                inA, inB, inC);
    }

    @AfterAll
    static void leaveGroups() throws InterruptedException {
        if (peerInA != null) {
            peerInA.close();
        }
        for (CpgConnection connection : new CpgConnection[] {inA, inB, inC}) {
            if (connection != null) {
                connection.close();
            }
        }
    }

    private static Set<GroupMember> expected() {
        return Set.of(new GroupMember(A, node, PID), new GroupMember(A, node, peerInA.pid()),
                new GroupMember(B, node, PID), new GroupMember(C, node, PID));
    }

    private static boolean ours(GroupName group) {
        return group.equals(A) || group.equals(B) || group.equals(C);
    }

    private static Set<GroupMember> ours(List<GroupMember> members) {
        Set<GroupMember> result = new HashSet<>();
        for (GroupMember member : members) {
            if (ours(member.group())) {
                assertThat(result.add(member)).as("listed twice: %s", member).isTrue();
            }
        }
        return result;
    }

    @Test
    void groupsListsEachJoinedGroupOnce() {
        List<GroupName> groups = inB.groups();
        assertThat(groups).containsOnlyOnce(A, B, C);
        assertThat(groups).doesNotHaveDuplicates();
        // Any connection sees the same, also one in no group.
        try (CpgConnection outsider = CpgConnection.open(new Recorder())) {
            assertThat(outsider.groups()).filteredOn(IterationTest::ours).containsExactlyInAnyOrder(A, B, C);
        }
    }

    @Test
    void membersOfOneGroup() {
        assertThat(inB.members(A)).containsExactlyInAnyOrder(
                new GroupMember(A, node, PID), new GroupMember(A, node, peerInA.pid()));
        assertThat(inA.members(B)).containsExactly(new GroupMember(B, node, PID));
        assertThat(inA.members(C)).containsExactly(new GroupMember(C, node, PID));
        assertThat(inA.members(SuiteDaemon.uniqueGroup("iter-unknown"))).isEmpty();
        // Consistent with cpg_membership_get.
        assertThat(inC.membership(A)).extracting(Member::pid).containsExactlyInAnyOrder(PID, peerInA.pid());
    }

    @Test
    void membersOfAllGroups() {
        assertThat(ours(inC.members())).isEqualTo(expected());
        // Every group in members() is in groups(), and the other way round.
        assertThat(new HashSet<>(inA.members().stream().map(GroupMember::group).toList()))
                .isEqualTo(new HashSet<>(inA.groups()));
    }

    @Test
    void cpgtoolListsTheSameMembers() throws Exception {
        List<String> lines = cpgtool();
        assertThat(lines.get(0)).matches("Group Name\\s+PID\\s+Node ID");
        Set<GroupMember> listed = new HashSet<>();
        GroupName current = null;
        for (String line : lines.subList(1, lines.size())) {
            if (line.isBlank()) {
                continue;
            }
            if (!Character.isWhitespace(line.charAt(0))) {
                current = GroupName.of(line);
                continue;
            }
            // "\t\t     10433\t         1 (127.0.0.1)"
            String[] fields = line.trim().split("\\s+");
            assertThat(fields).as(line).hasSizeGreaterThanOrEqualTo(2);
            assertThat(current).as("member line before any group: %s", line).isNotNull();
            GroupMember member = new GroupMember(current, Long.parseLong(fields[1]), Integer.parseInt(fields[0]));
            if (ours(current)) {
                assertThat(listed.add(member)).as("listed twice: %s", member).isTrue();
            }
        }
        assertThat(listed).isEqualTo(expected()).isEqualTo(ours(inA.members()));
    }

    @Test
    void cpgtoolWithDelimiterListsTheSameMembers() throws Exception {
        List<String> lines = cpgtool("-d", ",");
        assertThat(lines.get(0)).isEqualTo("GRP_NAME,PID,NODEID");
        Set<GroupMember> listed = new HashSet<>();
        for (String line : lines.subList(1, lines.size())) {
            if (line.isEmpty()) {
                continue;
            }
            int last = line.lastIndexOf(',');
            int middle = line.lastIndexOf(',', last - 1);
            GroupName group = GroupName.of(line.substring(0, middle));
            if (ours(group)) {
                listed.add(new GroupMember(group, Long.parseLong(line.substring(last + 1)),
                        Integer.parseInt(line.substring(middle + 1, last))));
            }
        }
        assertThat(listed).isEqualTo(ours(inB.members()));
    }

    @Test
    void cpgtoolNamesAreTheSameGroups() throws Exception {
        List<GroupName> listed = cpgtool("-n").stream().filter(line -> !line.isEmpty()).map(GroupName::of).toList();
        assertThat(listed).filteredOn(IterationTest::ours).containsExactlyInAnyOrder(A, B, C);
        assertThat(inA.groups()).filteredOn(IterationTest::ours)
                .containsExactlyInAnyOrderElementsOf(listed.stream().filter(IterationTest::ours).toList());
    }

    @Test
    void repeatedIterationLeaksNothing() throws Exception {
        int daemonPid = Integer.parseInt(System.getenv("JCPG_COROSYNC_PID"));
        for (int i = 0; i < 10; i++) { // warm up: classes, JIT
            inA.groups();
            inA.members();
            inA.members(A);
        }
        int ourFds = fdCount("self");
        int daemonFds = fdCount(Integer.toString(daemonPid));
        Set<GroupMember> expected = expected();
        for (int i = 0; i < 200; i++) {
            assertThat(inA.groups()).contains(A, B, C);
            assertThat(ours(inA.members())).isEqualTo(expected);
            assertThat(inA.members(A)).hasSize(2);
        }
        assertThat(fdCount("self")).isLessThanOrEqualTo(ourFds + 2);
        assertThat(fdCount(Integer.toString(daemonPid))).isLessThanOrEqualTo(daemonFds + 2);
        // The daemon still serves a new connection's iterations.
        try (CpgConnection fresh = CpgConnection.open(new Recorder())) {
            assertThat(ours(fresh.members())).isEqualTo(expected);
        }
    }

    private static int fdCount(String process) {
        String[] fds = new File("/proc/" + process + "/fd").list();
        assertThat(fds).as("/proc/%s/fd", process).isNotNull();
        return fds.length;
    }

    private static List<String> cpgtool(String... options) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("corosync-cpgtool"));
        command.addAll(List.of(options));
        Process process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(process.exitValue()).as("corosync-cpgtool %s exit status; output:%n%s", command, out).isZero();
        return out.lines().toList();
    }
}
