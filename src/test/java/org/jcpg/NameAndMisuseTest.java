package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.Payloads;
import org.jcpg.testsupport.Recorder;
import org.jcpg.testsupport.SuiteDaemon;
import org.jcpg.testsupport.Where;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Group names as length-delimited bytes, and the misuses corosync would answer with silence. */
@NodeTest
class NameAndMisuseTest {
    @Test
    @Timeout(10)
    void invalidNamesAreRefused() {
        assertThatThrownBy(() -> GroupName.of(null)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> GroupName.of("")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> GroupName.ofBytes(new byte[0])).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> GroupName.ofBytes(null)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> GroupName.of("x".repeat(129))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("129");
        assertThatThrownBy(() -> GroupName.ofBytes(new byte[129])).isInstanceOf(IllegalArgumentException.class);
        // Counted in UTF-8 bytes, not chars: 43 x U+20AC is 43 chars but 129 bytes.
        assertThat("€".repeat(43).getBytes(StandardCharsets.UTF_8)).hasSize(129);
        assertThatThrownBy(() -> GroupName.of("€".repeat(43))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("129");
        assertThat(GroupName.of("€".repeat(42) + "ab").length()).isEqualTo(128);
        assertThat(GroupName.of("x".repeat(128)).length()).isEqualTo(128);
        assertThat(GroupName.of("€").length()).isEqualTo(3);
        // ofBytes copies: changing the array afterwards changes nothing.
        byte[] bytes = "abc".getBytes(StandardCharsets.US_ASCII);
        GroupName abc = GroupName.ofBytes(bytes);
        bytes[0] = 'z';
        assertThat(abc).isEqualTo(GroupName.of("abc"));
        abc.toBytes()[0] = 'z';
        assertThat(abc).isEqualTo(GroupName.of("abc"));
    }

    @Test
    @Timeout(30)
    void aNameOf128BytesCanBeJoinedAndComesBackIntact() {
        String prefix = SuiteDaemon.uniqueGroup("max").toString() + "-";
        String longest = prefix + "€".repeat((128 - prefix.length()) / 3);
        longest = longest + "y".repeat(128 - longest.getBytes(StandardCharsets.UTF_8).length);
        GroupName group = GroupName.of(longest);
        assertThat(group.length()).isEqualTo(128);
        Recorder recorder = new Recorder();
        try (CpgConnection cpg = CpgConnection.open(recorder)) {
            cpg.join(group);
            cpg.multicast(Guarantee.AGREED, "max".getBytes());
            SuiteDaemon.dispatchUntil(() -> recorder.messages.size() == 1, cpg);
            assertThat(recorder.messages.get(0).group()).isEqualTo(group);
            assertThat(recorder.messages.get(0).group().toString()).isEqualTo(longest);
            assertThat(recorder.membershipChanges.get(0).group()).isEqualTo(group);
            assertThat(cpg.group()).isEqualTo(group);
            assertThat(cpg.membership(group)).extracting(Member::pid).containsExactly((int) SuiteDaemon.OWN_PID);
            assertThat(cpg.groups()).contains(group);
            assertThat(cpg.members(group)).extracting(GroupMember::pid).containsExactly((int) SuiteDaemon.OWN_PID);
        }
    }

    @Test
    @Timeout(30)
    void aTrailingNulMakesADifferentGroup() throws Exception {
        String base = SuiteDaemon.uniqueGroup("GROUP").toString();
        GroupName withNul = GroupName.ofBytes((base + "\0").getBytes(StandardCharsets.US_ASCII));
        GroupName without = GroupName.of(base);
        assertThat(withNul.length()).isEqualTo(without.length() + 1);
        assertThat(withNul).isNotEqualTo(without);
        assertThat(withNul.toString()).isEqualTo(base + "\\0");
        assertThat(without.toString()).isEqualTo(base);

        Recorder nulRecorder = new Recorder();
        Recorder plainRecorder = new Recorder();
        try (CpgConnection nul = CpgConnection.open(nulRecorder);
             CpgConnection plain = CpgConnection.open(plainRecorder)) {
            // Same process, two groups: allowed only because they differ.
            nul.join(withNul);
            plain.join(without);
            nul.multicast(Guarantee.AGREED, "to the NUL group".getBytes());
            plain.multicast(Guarantee.AGREED, "to the plain group".getBytes());
            SuiteDaemon.dispatchUntil(() -> nulRecorder.messages.size() >= 1 && plainRecorder.messages.size() >= 1, nul, plain);
            Thread.sleep(200);
            nul.dispatch(DispatchMode.ALL);
            plain.dispatch(DispatchMode.ALL);
            assertThat(nulRecorder.messages).singleElement().satisfies(m -> {
                assertThat(m.group()).isEqualTo(withNul);
                assertThat(new String(m.payload())).isEqualTo("to the NUL group");
            });
            assertThat(plainRecorder.messages).singleElement().satisfies(m -> {
                assertThat(m.group()).isEqualTo(without);
                assertThat(new String(m.payload())).isEqualTo("to the plain group");
            });
            assertThat(nulRecorder.membershipChanges).singleElement().extracting(MembershipChange::group).isEqualTo(withNul);
            assertThat(plainRecorder.membershipChanges).singleElement().extracting(MembershipChange::group).isEqualTo(without);
            assertThat(nul.membership(withNul)).hasSize(1);
            assertThat(nul.membership(without)).hasSize(1);
            assertThat(nul.groups()).contains(withNul, without);

            // corosync's own tool sees two groups.
            Process tool = new ProcessBuilder("corosync-cpgtool", "-n").redirectErrorStream(true).start();
            String output = new String(tool.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(tool.waitFor(10, TimeUnit.SECONDS)).isTrue();
            assertThat(tool.exitValue()).as(output).isZero();
            List<String> lines = output.lines().map(String::strip).filter(l -> l.startsWith(base)).toList();
            System.out.println("corosync-cpgtool -n: " + lines);
            // cpgtool escapes the unprintable NUL as \x00.
            assertThat(lines).containsExactlyInAnyOrder(base, base + "\\x00");
        }
    }

    @Test
    @Timeout(30)
    void sendingOutsideAGroupIsRefusedInsteadOfSilentlyDropped() {
        Recorder recorder = new Recorder();
        try (CpgConnection cpg = CpgConnection.open(recorder);
             ZeroCopyBuffer buffer = cpg.allocateZeroCopy(16)) {
            assertSendsRefused(cpg, buffer);
            cpg.join(SuiteDaemon.uniqueGroup("drops"));
            cpg.multicast(Guarantee.AGREED, "in".getBytes());
            buffer.segment().copyFrom(MemorySegment.ofArray("zero-copy".getBytes()));
            buffer.multicast(Guarantee.AGREED, 9);
            SuiteDaemon.dispatchUntil(() -> recorder.messages.size() == 2, cpg);
            assertThat(recorder.messages).extracting(m -> new String(m.payload())).containsExactly("in", "zero-copy");
            cpg.leave();
            assertThat(cpg.group()).isNull();
            assertSendsRefused(cpg, buffer);
            assertThatThrownBy(cpg::leave).isInstanceOf(IllegalStateException.class);
        }
    }

    private static void assertSendsRefused(CpgConnection cpg, ZeroCopyBuffer buffer) {
        assertThatThrownBy(() -> cpg.multicast(Guarantee.AGREED, "x".getBytes()))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("not in a group");
        assertThatThrownBy(() -> cpg.multicast(Guarantee.AGREED, ByteBuffer.wrap("x".getBytes())))
                .isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> cpg.multicast(Guarantee.AGREED, MemorySegment.ofArray("x".getBytes())))
                .isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> buffer.multicast(Guarantee.AGREED, 1))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("not in a group");
    }

    @Test
    @Timeout(40)
    void rejoinNeedsANewConnection() throws Exception {
        GroupName group = SuiteDaemon.uniqueGroup("rejoin");
        String hex = HexFormat.of().formatHex(group.toBytes());
        String pid = Long.toString(SuiteDaemon.OWN_PID);
        try (PeerProcess peer = PeerProcess.joined(group)) {
            String both = PeerProcess.pidList(SuiteDaemon.OWN_PID, peer.pid());
            String alone = PeerProcess.pidList(peer.pid());
            try (CpgConnection old = CpgConnection.open(new Recorder())) {
                old.join(group);
                assertThatThrownBy(() -> old.join(group)).isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("already in group");
                assertThatThrownBy(() -> old.join(SuiteDaemon.uniqueGroup("other"))).isInstanceOf(IllegalStateException.class);
                peer.awaitEvent(e -> e.equals("CONFCHG " + hex + " joined=" + pid + "/JOIN left= members=" + both), Duration.ofSeconds(10));
                old.leave();
                peer.awaitEvent(e -> e.equals("CONFCHG " + hex + " joined= left=" + pid + "/LEAVE members=" + alone), Duration.ofSeconds(10));
                assertThatThrownBy(() -> old.join(group)).isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("new connection");
            }
            int joinsBefore = (int) peer.events.stream().filter(e -> e.contains("joined=" + pid + "/JOIN")).count();
            Recorder recorder = new Recorder();
            try (CpgConnection fresh = CpgConnection.open(recorder)) {
                fresh.join(group);
                peer.awaitEvent(e -> e.equals("CONFCHG " + hex + " joined=" + pid + "/JOIN left= members=" + both)
                        && peer.events.stream().filter(x -> x.contains("joined=" + pid + "/JOIN")).count() > joinsBefore,
                        Duration.ofSeconds(10));
                peer.command("send 5 300");
                SuiteDaemon.dispatchUntil(() -> recorder.messages.size() == 1, fresh);
                assertThat(recorder.messages.get(0).pid()).isEqualTo(peer.pid());
                assertThat(recorder.messages.get(0).payload()).isEqualTo(Payloads.pattern(5, 300));
            }
            peer.awaitEvent(e -> e.startsWith("CONFCHG " + hex + " joined= left=" + pid + "/")
                    && peer.events.stream().filter(x -> x.contains(" left=" + pid + "/")).count() == 2, Duration.ofSeconds(10));
        }
    }

    @ParameterizedTest
    @EnumSource(value = Where.class, names = {"JUNIT_THREAD", "VIRTUAL_THREAD", "BIG_STACK_THREAD"})
    @Timeout(30)
    void dispatchFromItsOwnCallbackIsRefused(Where where) throws Exception {
        where.run(() -> {
            List<Throwable> refusals = new CopyOnWriteArrayList<>();
            List<String> events = new CopyOnWriteArrayList<>();
            CpgListener listener = new CpgListener() {
                private void tryAll(CpgConnection connection) {
                    for (DispatchMode mode : DispatchMode.values()) {
                        try {
                            connection.dispatch(mode);
                            refusals.add(new AssertionError("dispatch(" + mode + ") from a callback returned"));
                        } catch (Throwable t) {
                            refusals.add(t);
                        }
                    }
                }

                @Override
                public void onMessage(CpgConnection connection, Message message) {
                    events.add("message");
                    tryAll(connection);
                }

                @Override
                public void onMembershipChange(CpgConnection connection, MembershipChange change) {
                    events.add("confchg");
                    tryAll(connection);
                }
            };
            try (CpgConnection cpg = CpgConnection.open(listener)) {
                cpg.join(SuiteDaemon.uniqueGroup("reentrant"));
                cpg.multicast(Guarantee.AGREED, "one".getBytes());
                SuiteDaemon.dispatchUntil(() -> events.size() == 2, cpg);
                assertThat(events).containsExactly("confchg", "message");
                assertThat(refusals).hasSize(8).allSatisfy(t -> assertThat(t)
                        .isInstanceOf(IllegalStateException.class).hasMessageContaining("from a callback"));
                // Still works afterwards.
                cpg.multicast(Guarantee.AGREED, "two".getBytes());
                SuiteDaemon.dispatchUntil(() -> events.size() == 3, cpg);
                assertThat(refusals).hasSize(12);
            }
        });
    }
}
