package org.jcpg.tool;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.jcpg.CpgConnection;
import org.jcpg.CpgListener;
import org.jcpg.GroupMember;
import org.jcpg.GroupName;

/** {@code jcpg groups}: every group with its members, as corosync-cpgtool lists them. */
final class GroupsCommand {
    static final String HELP = """
            Usage: jcpg groups [--json]

            Lists every group of the cluster with its members (node id, pid): the data
            that corosync-cpgtool shows, in the daemon's order. Text: each group's name on
            a line of its own, then one line per member, indented:
              chat
                node=1 pid=4242
            Names are shown unambiguously: a NUL byte as \\0, a backslash as \\\\, other
            control characters and bytes that are not UTF-8 as \\xNN.

              --json   one line of JSON, names also as hex:
                       {"groups":[{"name":"chat","hex":"63686174","members":[{"node":1,"pid":4242}]}]}

            """ + Exit.TABLE;

    private GroupsCommand() {
    }

    static int run(List<String> args, Main.Io io) {
        CommandLine line = CommandLine.parse("groups", args, Set.of("--json"), Set.of());
        if (line.has("--help")) {
            io.out().print(HELP);
            return Exit.OK;
        }
        if (!line.positional().isEmpty()) {
            throw line.usage("takes no arguments, got \"" + line.positional().get(0) + "\"");
        }
        Map<GroupName, List<GroupMember>> groups = new LinkedHashMap<>();
        try (CpgConnection cpg = CpgConnection.open(new CpgListener() { })) {
            for (GroupMember member : cpg.members()) {
                groups.computeIfAbsent(member.group(), g -> new ArrayList<>()).add(member);
            }
        }
        if (line.has("--json")) {
            io.out().println("{\"groups\":[" + groups.entrySet().stream()
                    .map(e -> Render.groupJson(e.getKey(), e.getValue()))
                    .collect(Collectors.joining(",")) + "]}");
        } else {
            groups.forEach((group, members) -> {
                io.out().println(group);
                members.forEach(member -> io.out().println("    " + Render.member(member)));
            });
        }
        return Exit.OK;
    }
}
