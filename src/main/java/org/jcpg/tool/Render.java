package org.jcpg.tool;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Collectors;
import org.jcpg.GroupMember;
import org.jcpg.GroupName;
import org.jcpg.Member;
import org.jcpg.RingId;

/** How the tool prints things: timestamps, payloads, members, JSON strings. */
final class Render {
    private static final DateTimeFormatter TIMESTAMP =
            DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

    private Render() {
    }

    /** e.g. 2026-11-23T05:50:01.123Z: always milliseconds, always UTC. */
    static String timestamp(Instant instant) {
        return TIMESTAMP.format(instant);
    }

    /** The payload as UTF-8 text, or null if it is not valid UTF-8. */
    static String utf8OrNull(byte[] payload) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(payload)).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    /**
     * Text on one line: a backslash as {@code \\}, newline, tab and carriage
     * return as {@code \n}, {@code \t}, {@code \r}, other control characters
     * as {@code \xNN}.
     */
    static String escapeText(String text) {
        StringBuilder out = new StringBuilder(text.length());
        text.codePoints().forEach(c -> {
            switch (c) {
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\t' -> out.append("\\t");
                case '\r' -> out.append("\\r");
                default -> {
                    if (Character.isISOControl(c)) {
                        out.append(String.format("\\x%02x", c));
                    } else {
                        out.appendCodePoint(c);
                    }
                }
            }
        });
        return out.toString();
    }

    static String hex(byte[] bytes) {
        return HexFormat.of().formatHex(bytes);
    }

    /** node/pid/REASON, comma-separated; empty for none. */
    static String withReasons(List<Member> members) {
        return members.stream().map(m -> m.nodeId() + "/" + m.pid() + "/" + m.reason()).collect(Collectors.joining(","));
    }

    /** node/pid, comma-separated; empty for none. */
    static String nodePids(List<Member> members) {
        return members.stream().map(m -> m.nodeId() + "/" + m.pid()).collect(Collectors.joining(","));
    }

    /** As corosync's log prints a ring: hex node id "." hex sequence, e.g. 1.d. */
    static String ring(RingId ring) {
        return Long.toHexString(ring.nodeId()) + "." + Long.toHexString(ring.seq());
    }

    /** One member in the text listing of groups and members. */
    static String member(GroupMember member) {
        return "node=" + member.nodeId() + " pid=" + member.pid();
    }

    /** {"name":"..","hex":"..","members":[{"node":1,"pid":2},..]} */
    static String groupJson(GroupName group, List<GroupMember> members) {
        return "{\"name\":" + jsonString(group.toString()) + ",\"hex\":\"" + GroupArgument.hex(group)
                + "\",\"members\":[" + members.stream()
                        .map(m -> "{\"node\":" + m.nodeId() + ",\"pid\":" + m.pid() + "}")
                        .collect(Collectors.joining(",")) + "]}";
    }

    static String jsonString(String s) {
        StringBuilder out = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        return out.append('"').toString();
    }
}
