package org.jcpg;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The name of a closed process group: 1 to {@value #MAX_LENGTH} bytes,
 * compared byte for byte.
 *
 * <p>CPG names are length-delimited bytes, not C strings. Peers written in
 * C often count the terminating NUL: corosync's {@code testcpg} joins
 * "GROUP" as the 6 bytes {@code GROUP\0}, which is a different group from
 * {@code GroupName.of("GROUP")} (5 bytes). To meet such a peer, name the
 * group by its exact bytes with {@link #ofBytes(byte[])}.
 */
public final class GroupName {
    /** The longest name corosync accepts, in bytes ({@code CPG_MAX_NAME_LENGTH}). */
    public static final int MAX_LENGTH = 128;

    private final byte[] bytes;

    private GroupName(byte[] bytes) {
        this.bytes = bytes;
    }

    /** For the internal layer (its GroupNameAccess): a name that owns {@code owned}, which may be empty. */
    static GroupName wrapOwned(byte[] owned) {
        return new GroupName(owned);
    }

    /** For the internal layer (its GroupNameAccess): the bytes, not a copy. */
    static byte[] bytesOf(GroupName name) {
        return name.bytes;
    }

    /**
     * The group named by the UTF-8 bytes of {@code name}, with no trailing NUL.
     *
     * @param name the name
     * @return the group name
     * @throws IllegalArgumentException if {@code name} is null, empty, longer
     *                                  than {@value #MAX_LENGTH} bytes in UTF-8, or
     *                                  not encodable (a lone surrogate)
     */
    public static GroupName of(String name) {
        if (name == null) {
            throw new IllegalArgumentException("group name is null");
        }
        ByteBuffer encoded;
        try {
            // Strict: the lenient String.getBytes would turn a lone surrogate into '?'.
            encoded = StandardCharsets.UTF_8.newEncoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .encode(CharBuffer.wrap(name));
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException("group name " + escapeJava(name) + " is not valid Unicode (a lone surrogate)", e);
        }
        byte[] bytes = new byte[encoded.remaining()];
        encoded.get(bytes);
        return ofBytes(bytes);
    }

    /**
     * The group named by exactly these bytes (copied).
     *
     * @param name the name's bytes
     * @return the group name
     * @throws IllegalArgumentException if {@code name} is null, empty or longer
     *                                  than {@value #MAX_LENGTH} bytes
     */
    public static GroupName ofBytes(byte[] name) {
        if (name == null) {
            throw new IllegalArgumentException("group name is null");
        }
        if (name.length == 0) {
            throw new IllegalArgumentException("group name is empty");
        }
        if (name.length > MAX_LENGTH) {
            throw new IllegalArgumentException(
                    "group name is " + name.length + " bytes; corosync allows at most " + MAX_LENGTH);
        }
        return new GroupName(name.clone());
    }

    /** {@return the name's bytes (a copy)} */
    public byte[] toBytes() {
        return bytes.clone();
    }

    /** {@return the length in bytes, as corosync counts it} */
    public int length() {
        return bytes.length;
    }

    /**
     * The name, readable and unambiguous: different names never look the
     * same. Valid UTF-8 shows as its characters, except that a backslash
     * shows as {@code \\}, a NUL byte as {@code \0} (so {@code "GROUP\0"}
     * and {@code "GROUP"} look as different as they are), and any other
     * control character, and every byte that is not part of valid UTF-8, as
     * {@code \xNN} (lower-case hex) for each of its bytes.
     */
    @Override
    public String toString() {
        StringBuilder out = new StringBuilder(bytes.length + 8);
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        int i = 0;
        while (i < bytes.length) {
            int length = utf8Length(bytes[i]);
            String decoded = null;
            if (length > 0 && i + length <= bytes.length) {
                try {
                    decoded = decoder.decode(ByteBuffer.wrap(bytes, i, length)).toString();
                } catch (CharacterCodingException notUtf8) {
                    decoded = null;
                }
            }
            if (decoded == null) {
                hexByte(out, bytes[i]);
                i++;
                continue;
            }
            int codePoint = decoded.codePointAt(0);
            if (codePoint == '\\') {
                out.append("\\\\");
            } else if (codePoint == 0) {
                out.append("\\0");
            } else if (Character.isISOControl(codePoint)) {
                for (int k = i; k < i + length; k++) {
                    hexByte(out, bytes[k]);
                }
            } else {
                out.append(decoded);
            }
            i += length;
        }
        return out.toString();
    }

    /** The length of the UTF-8 sequence that starts with {@code lead}, or 0 if it cannot start one. */
    private static int utf8Length(byte lead) {
        int b = lead & 0xFF;
        if (b < 0x80) {
            return 1;
        }
        if (b >= 0xC2 && b <= 0xDF) {
            return 2;
        }
        if (b >= 0xE0 && b <= 0xEF) {
            return 3;
        }
        if (b >= 0xF0 && b <= 0xF4) {
            return 4;
        }
        return 0;
    }

    private static void hexByte(StringBuilder out, byte b) {
        out.append("\\x").append(Character.forDigit((b >> 4) & 0xF, 16)).append(Character.forDigit(b & 0xF, 16));
    }

    private static String escapeJava(String s) {
        StringBuilder out = new StringBuilder("\"");
        s.chars().forEach(c -> {
            if (c >= 0x20 && c < 0x7F) {
                out.append((char) c);
            } else {
                out.append(String.format("\\u%04x", c));
            }
        });
        return out.append('"').toString();
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof GroupName that && Arrays.equals(bytes, that.bytes);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(bytes);
    }
}
