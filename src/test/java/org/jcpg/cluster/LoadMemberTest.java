package org.jcpg.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import org.jcpg.GroupName;
import org.jcpg.Message;
import org.jcpg.cluster.VsHistory.Delivery;
import org.jcpg.cluster.VsHistory.MsgId;
import org.jcpg.cluster.VsHistory.Undecodable;
import org.jcpg.testsupport.UnitTest;
import org.junit.jupiter.api.Test;

/**
 * {@link LoadMember#decode}: a load message gives its id (intact or not); anything else gives
 * an {@link Undecodable} with its sender, length and first bytes, never nothing, so that the
 * history holds a garbled message instead of losing it.
 */
@UnitTest
class LoadMemberTest {
    private static final GroupName GROUP = GroupName.of("vs-decode");

    private static Message message(long node, int pid, byte[] payload) {
        return new Message(GROUP, node, pid, MemorySegment.ofArray(payload));
    }

    @Test
    void aLoadMessageDecodesToItsId() {
        byte[] payload = LoadMember.payload(2, 77, 1, 5, 100);
        assertThat(LoadMember.decode(message(2, 77, payload))).isEqualTo(new Delivery(new MsgId(2, 77, 1, 5), true));
        payload[60] ^= 1;
        assertThat(LoadMember.decode(message(2, 77, payload))).isEqualTo(new Delivery(new MsgId(2, 77, 1, 5), false));
    }

    @Test
    void aShortMessageIsRecordedAsUndecodable() {
        byte[] whole = LoadMember.payload(2, 77, 1, 5, 100);
        byte[] cut = java.util.Arrays.copyOf(whole, LoadMember.HEADER - 1);
        assertThat(LoadMember.decode(message(2, 77, cut))).isInstanceOfSatisfying(Undecodable.class, u -> {
            assertThat(u.node()).isEqualTo(2);
            assertThat(u.pid()).isEqualTo(77);
            assertThat(u.length()).isEqualTo(31);
            assertThat(u.head()).startsWith("56534c44").hasSize(2 * Undecodable.HEAD_BYTES);
            assertThat(u.why()).isEqualTo("shorter than the 32-byte header");
        });
        assertThat(LoadMember.decode(message(2, 77, new byte[0])))
                .isEqualTo(new Undecodable(2, 77, 0, "-", "shorter than the 32-byte header"));
    }

    @Test
    void aMessageWithoutTheMagicIsRecordedAsUndecodable() {
        byte[] payload = LoadMember.payload(3, 9, 0, 0, 64);
        payload[0] = 0;
        assertThat(LoadMember.decode(message(3, 9, payload))).isInstanceOfSatisfying(Undecodable.class, u -> {
            assertThat(u.length()).isEqualTo(64);
            assertThat(u.head()).startsWith("00534c44");
            assertThat(u.why()).isEqualTo("without the magic");
        });
    }
}
