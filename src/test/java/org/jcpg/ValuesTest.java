package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import java.util.Random;
import org.jcpg.testsupport.UnitTest;
import org.junit.jupiter.api.Test;

/** Value classes, without corosync. */
@UnitTest
class ValuesTest {
    private static String render(int... bytes) {
        byte[] b = new byte[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            b[i] = (byte) bytes[i];
        }
        return GroupName.ofBytes(b).toString();
    }

    private static String render(String utf8) {
        return GroupName.ofBytes(utf8.getBytes(StandardCharsets.UTF_8)).toString();
    }

    @Test
    void aLoneSurrogateIsRefused() {
        assertThatThrownBy(() -> GroupName.of("x\uD800")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> GroupName.of("\uDC00y")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> GroupName.of("a\uDBFF\uDBFFb")).isInstanceOf(IllegalArgumentException.class);
        // A proper pair is fine.
        assertThat(GroupName.of("x\uD83D\uDE00").toBytes()).isEqualTo("x\uD83D\uDE00".getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void nulAndBackslashRenderUnambiguously() {
        assertThat(render("GROUP\0")).isEqualTo("GROUP\\0");
        assertThat(render("GROUP\\0")).isEqualTo("GROUP\\\\0");
        assertThat(render("\\")).isEqualTo("\\\\");
        assertThat(render("a\\x41")).isEqualTo("a\\\\x41");
        assertThat(render(0)).isEqualTo("\\0");
    }

    @Test
    void invalidUtf8RendersAsHexBytes() {
        assertThat(render(0x66, 0xff)).isEqualTo("f\\xff");
        assertThat(render(0x80)).isEqualTo("\\x80");
        // Overlong NUL, an encoded surrogate, a truncated sequence.
        assertThat(render(0xc0, 0x80)).isEqualTo("\\xc0\\x80");
        assertThat(render(0xed, 0xa0, 0x80)).isEqualTo("\\xed\\xa0\\x80");
        assertThat(render(0x61, 0xe6, 0x97)).isEqualTo("a\\xe6\\x97");
        assertThat(render(0xe6, 0x97, 0x61)).isEqualTo("\\xe6\\x97a");
    }

    @Test
    void controlCharactersRenderAsHex() {
        assertThat(render("a\tb")).isEqualTo("a\\x09b");
        assertThat(render("line\n")).isEqualTo("line\\x0a");
        assertThat(render(0x01, 0x1f, 0x7f)).isEqualTo("\\x01\\x1f\\x7f");
        assertThat(render("\u001b[31m")).isEqualTo("\\x1b[31m");
        // U+0085 (NEL, bytes C2 85): each byte as hex, so that it cannot look like the lone byte 0x85.
        assertThat(render("\u0085")).isEqualTo("\\xc2\\x85");
        assertThat(render("\u0085")).isNotEqualTo(render(0x85));
        assertThat(render("\u0085")).doesNotContain("\u0085");
    }

    @Test
    void printableTextIsUnchanged() {
        for (String name : new String[] {"grüße", "demo", "日本語", "x\uD83D\uDE00y", "a b-c_d.e", "Ωμέγα", "100%"}) {
            assertThat(render(name)).isEqualTo(name);
        }
    }

    @Test
    void distinctNamesRenderDistinctly() {
        // Bytes that make trouble: escapes' own characters, NUL, controls, UTF-8 lead and continuation bytes.
        int[] alphabet = {'\\', '0', 'x', 'f', 'a', 0, 0x01, 0x0a, 0x7f, 0x80, 0x85, 0xbf, 0xc2, 0xc3, 0xa9, 0xe6,
            0x97, 0xa5, 0xed, 0xa0, 0xf0, 0x9f, 0x98, 0x80, 0xff, 0xfe};
        Random random = new Random(20240501L);
        Map<String, byte[]> seen = new HashMap<>();
        HexFormat hex = HexFormat.of();
        for (int i = 0; i < 200_000; i++) {
            byte[] name = new byte[1 + random.nextInt(random.nextBoolean() ? 4 : 12)];
            for (int j = 0; j < name.length; j++) {
                name[j] = (byte) (random.nextInt(8) == 0 ? random.nextInt(256) : alphabet[random.nextInt(alphabet.length)]);
            }
            String rendered = GroupName.ofBytes(name).toString();
            byte[] earlier = seen.putIfAbsent(rendered, name);
            if (earlier != null && !java.util.Arrays.equals(earlier, name)) {
                throw new AssertionError("names " + hex.formatHex(earlier) + " and " + hex.formatHex(name)
                        + " both render as \"" + rendered + "\"");
            }
        }
    }

    @Test
    void cpgExceptionKeepsAnUnknownCode() {
        CpgException e = new CpgException("cpg_join", 42);
        assertThat(e.code()).isEqualTo(42);
        assertThat(e.error()).isEqualTo(CpgError.UNKNOWN);
        assertThat(e.operation()).isEqualTo("cpg_join");
        assertThat(e.isRetryable()).isFalse();
        assertThat(e.getMessage()).contains("cpg_join").contains("42");
    }

    @Test
    void cpgExceptionForAKnownCodeHasAnExactMessage() {
        CpgException e = new CpgException("cpg_join", 14);
        assertThat(e.error()).isEqualTo(CpgError.EXIST);
        assertThat(e.code()).isEqualTo(14);
        assertThat(e.getMessage()).isEqualTo("cpg_join failed: CS_ERR_EXIST (14)");
        CpgException library = new CpgException("cpg_dispatch", 2);
        assertThat(library.error()).isEqualTo(CpgError.LIBRARY);
        assertThat(library.getMessage()).isEqualTo("cpg_dispatch failed: CS_ERR_LIBRARY (2)");
        CpgException again = new CpgException("cpg_mcast_joined", 6);
        assertThat(again.isRetryable()).isTrue();
        assertThat(again.error()).isEqualTo(CpgError.TRY_AGAIN);
    }
}
