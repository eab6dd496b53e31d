package org.jcpg.examples.kv;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jcpg.GroupName;
import org.jcpg.examples.demo.LogAgreement;
import org.jcpg.testsupport.NodeTest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * The replicated map with several member processes on the private corosync:
 * at the end every replica must hold byte for byte the same state (the
 * SHA-256 of its canonical serialization, taken at the same fence update),
 * every update must be applied exactly once (the replicated counter "total"
 * equals the number of keys written; no gaps in any writer's keys; no
 * sequence anomaly) and the logs of applied updates must agree position by
 * position.
 */
@NodeTest
class ReplicatedMapTest {
    private static final Duration LONG = Duration.ofSeconds(60);
    private final List<MemberProcess> members = new ArrayList<>();
    private GroupName group;

    private MemberProcess member(String name, int chunk) throws InterruptedException {
        MemberProcess member = MemberProcess.start(name, List.of());
        members.add(member);
        member.join(group, chunk);
        return member;
    }

    private void init(TestInfo test) {
        group = GroupName.of("kv-" + test.getTestMethod().orElseThrow().getName() + "-" + ProcessHandle.current().pid());
    }

    @AfterEach
    void stop() throws InterruptedException {
        for (MemberProcess member : members) {
            member.close();
        }
    }

    @Test
    void updatesFromAllMembersAgree(TestInfo test) throws Exception {
        init(test);
        MemberProcess a = member("a", 0);
        a.command("synced");
        MemberProcess b = member("b", 0);
        MemberProcess c = member("c", 0);
        b.command("synced");
        c.command("synced");
        for (MemberProcess m : List.of(a, b, c)) {
            m.command("load w 400 0");
        }
        for (MemberProcess m : List.of(a, b, c)) {
            m.await(line -> line.startsWith("LOADDONE w "), LONG);
        }
        Map<String, String> keys = verifyAgreement("end", List.of(a, b, c), 1200);
        assertThat(keys.values()).containsOnly("400:400");
    }

    @Test
    void memberKilledMidStream(TestInfo test) throws Exception {
        init(test);
        MemberProcess a = member("a", 0);
        a.command("synced");
        MemberProcess b = member("b", 0);
        MemberProcess victim = member("victim", 0);
        b.command("synced");
        victim.command("synced");
        for (MemberProcess m : List.of(a, b, victim)) {
            m.command("load w 1500 1");
        }
        String victimId = victim.id();
        a.await(line -> line.startsWith("APPLY ") && line.split(" ")[2].equals(victimId)
                && Long.parseLong(line.split(" ")[3]) >= 200, LONG);
        victim.kill();
        for (MemberProcess m : List.of(a, b)) {
            m.await(line -> line.startsWith("VIEW ") && line.contains("left=" + victimId + "/PROCDOWN"), LONG);
            m.await(line -> line.startsWith("LOADDONE w "), LONG);
        }
        Map<String, String> keys = verifyAgreement("end", List.of(a, b), -1);
        assertThat(keys.get(String.valueOf(a.pid()))).isEqualTo("1500:1500");
        assertThat(keys.get(String.valueOf(b.pid()))).isEqualTo("1500:1500");
        // The victim's updates: a prefix of what it sent (FIFO), no gap, and not all of it.
        String[] victims = keys.get(String.valueOf(victim.pid())).split(":");
        assertThat(victims[0]).isEqualTo(victims[1]);
        assertThat(Long.parseLong(victims[0])).isBetween(200L, 1499L);
        checkLogs(List.of(a, b, victim));
    }

    @Test
    void joinersArriveUnderLoad(TestInfo test) throws Exception {
        init(test);
        // Small chunks: the state crosses in many messages, interleaved with the load.
        MemberProcess a = member("a", 4096);
        a.command("synced");
        MemberProcess b = member("b", 4096);
        b.command("synced");
        a.command("load w 2000 1");
        b.command("load w 2000 1");
        a.await(line -> line.startsWith("APPLY 600 "), LONG);
        MemberProcess c = member("c", 4096);
        MemberProcess d = member("d", 4096); // joins while c may still wait for its state
        c.command("synced", LONG);
        d.command("synced", LONG);
        c.command("load w 300 1");
        for (MemberProcess m : List.of(a, b, c)) {
            m.await(line -> line.startsWith("LOADDONE w "), LONG);
        }
        MemberProcess.Event synced = c.await(line -> line.startsWith("SYNCED "), LONG);
        assertThat(synced.words()[2]).isEqualTo("snapshot");
        assertThat(Long.parseLong(synced.words()[3])).as("entries in the transferred state").isGreaterThan(100);
        assertThat(a.events().stream().anyMatch(e -> e.line().startsWith("SNAPSENT ") && Long.parseLong(e.words()[3]) > 1)
                || b.events().stream().anyMatch(e -> e.line().startsWith("SNAPSENT ") && Long.parseLong(e.words()[3]) > 1))
                .as("a snapshot in several chunks").isTrue();
        Map<String, String> keys = verifyAgreement("end", List.of(a, b, c, d), 4300);
        assertThat(keys.get(String.valueOf(c.pid()))).isEqualTo("300:300");
    }

    @Test
    void snapshotSenderDiesBeforeSending(TestInfo test) throws Exception {
        init(test);
        // Each waits 2 s before sending a snapshot: what the survivor itself sends after the
        // change comes before its snapshot in the stream (FIFO), and must reach the joiner
        // through its buffer.
        MemberProcess a = MemberProcess.start("a", List.of());
        members.add(a);
        a.join(group, 0, 2000);
        a.command("synced");
        MemberProcess b = MemberProcess.start("b", List.of());
        members.add(b);
        b.join(group, 0, 2000);
        b.command("synced");
        for (int i = 0; i < 20; i++) {
            a.command("put k" + i + " v" + i);
        }
        // The lowest synced member sends the state: freeze it, so it never sees the join.
        MemberProcess sender = a.pid() < b.pid() ? a : b;
        MemberProcess other = sender == a ? b : a;
        signal("STOP", sender.pid());
        MemberProcess joiner = member("joiner", 0);
        String joinerId = joiner.id();
        other.await(line -> line.startsWith("VIEW ") && line.contains("joined=" + joinerId + "/JOIN"), LONG);
        for (int i = 0; i < 20; i++) {
            other.command("put late" + i + " x" + i);
        }
        assertThat(joiner.events()).noneMatch(e -> e.line().startsWith("SYNCED "));
        String senderId = sender.id();
        sender.kill();
        members.remove(sender);
        other.await(line -> line.startsWith("VIEW ") && line.contains("left=" + senderId + "/PROCDOWN"), LONG);
        other.command("put after-change yes");
        MemberProcess.Event synced = joiner.await(line -> line.startsWith("SYNCED "), LONG);
        assertThat(synced.words()[2]).isEqualTo("snapshot");
        // The 20 updates before the survivor's change are in the snapshot (tagged with that
        // change); the one after it was buffered, then applied.
        assertThat(Long.parseLong(synced.words()[4])).as("updates replayed").isEqualTo(1);
        assertThat(other.events()).anyMatch(e -> e.line().startsWith("SNAPSENT "));
        verifyAgreement("end", List.of(other, joiner), -1);
        assertThat(joiner.command("get late19")).isEqualTo("x19");
        assertThat(joiner.command("get k0")).isEqualTo("v0");
        assertThat(joiner.command("get after-change")).isEqualTo("yes");
    }

    private static void signal(String signal, int pid) throws IOException, InterruptedException {
        assertThat(new ProcessBuilder("kill", "-" + signal, String.valueOf(pid)).start().waitFor()).isZero();
    }

    /**
     * Sends a fence through the first member, waits until every member applied it, compares the
     * digests taken there and the counters; returns the keys report of load "w" (pid to
     * "count:highest+1"). {@code expectedTotal} < 0: do not check the number.
     */
    private Map<String, String> verifyAgreement(String fence, List<MemberProcess> replicas, long expectedTotal)
            throws InterruptedException {
        replicas.getFirst().command("fence " + fence);
        Map<String, String> digests = new LinkedHashMap<>();
        for (MemberProcess m : replicas) {
            String[] at = m.await(line -> line.startsWith("FENCE " + fence + " "), LONG).words();
            digests.put(m.name(), at[3] + " @" + at[2] + " entries=" + at[4] + " anomalies=" + at[5]);
            assertThat(at[3]).as("a SHA-256 in hex").matches("[0-9a-f]{64}");
            assertThat(at[5]).as("sequence anomalies at " + m.name()).isEqualTo("0");
        }
        assertThat(digests.values().stream().distinct()).as("replicas: " + digests).hasSize(1);
        Map<String, String> keys = new HashMap<>();
        long written = 0;
        for (String writer : replicas.getFirst().command("keys w").split(",")) {
            if (writer.isEmpty()) {
                continue;
            }
            String[] parts = writer.split(":");
            keys.put(parts[0], parts[1] + ":" + parts[2]);
            assertThat(parts[1]).as("writer " + parts[0] + ": keys without a gap").isEqualTo(parts[2]);
            written += Long.parseLong(parts[1]);
        }
        String total = replicas.getFirst().command("get total");
        assertThat(total.equals("null") ? 0 : Long.parseLong(total)).as("every update applied once").isEqualTo(written);
        if (expectedTotal >= 0) {
            assertThat(written).isEqualTo(expectedTotal);
        }
        checkLogs(replicas);
        return keys;
    }

    private void checkLogs(List<MemberProcess> replicas) {
        Map<String, List<LogAgreement.Entry>> logs = new LinkedHashMap<>();
        for (MemberProcess m : replicas) {
            List<LogAgreement.Entry> log = new ArrayList<>();
            for (MemberProcess.Event e : m.events()) {
                LogAgreement.Entry entry = LogAgreement.parse(e.line());
                if (entry != null) {
                    log.add(entry);
                }
            }
            logs.put(m.name(), log);
        }
        assertThat(LogAgreement.check(logs)).isEmpty();
    }
}
