package org.jcpg.tool;

import java.util.Arrays;
import java.util.HexFormat;
import java.util.Set;
import org.jcpg.GroupName;

/**
 * A GROUP argument: UTF-8 by default; {@code --hex} reads it as the name's
 * raw bytes in hex; {@code --nul} appends the NUL byte that C tools such as
 * {@code testcpg} count as part of the name.
 */
final class GroupArgument {
    static final Set<String> FLAGS = Set.of("--nul", "--hex");

    static final String HELP = """
            Group names are UTF-8 by default. --nul appends a NUL byte, as C tools such as
            testcpg count it ("GROUP" there is the 6 bytes GROUP\\0); --hex takes the name as
            the hex of its raw bytes (e.g. 475200 is "GR\\0"). A name is 1 to 128 bytes.
            """;

    private GroupArgument() {
    }

    /** @throws Failure (usage) for invalid hex, an empty name or one longer than corosync allows */
    static GroupName parse(CommandLine line, String argument) {
        byte[] bytes;
        if (line.has("--hex")) {
            try {
                bytes = HexFormat.of().parseHex(argument);
            } catch (IllegalArgumentException e) {
                throw line.usage("invalid hex group name \"" + argument + "\": " + e.getMessage());
            }
        } else {
            try {
                bytes = GroupName.of(argument).toBytes();
            } catch (IllegalArgumentException e) {
                if (argument.isEmpty()) {
                    throw line.usage("group name is empty");
                }
                throw line.usage(e.getMessage());
            }
        }
        if (line.has("--nul")) {
            bytes = Arrays.copyOf(bytes, bytes.length + 1);
        }
        try {
            return GroupName.ofBytes(bytes);
        } catch (IllegalArgumentException e) {
            throw line.usage(e.getMessage() + (line.has("--nul") ? " (with the NUL of --nul)" : ""));
        }
    }

    /** For messages: how the name reads, e.g. {@code "chat\0"}. */
    static String quoted(GroupName group) {
        return "\"" + group + "\"";
    }

    static String hex(GroupName group) {
        return HexFormat.of().formatHex(group.toBytes());
    }
}
