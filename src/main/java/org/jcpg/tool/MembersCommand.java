package org.jcpg.tool;

import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.jcpg.CpgConnection;
import org.jcpg.CpgListener;
import org.jcpg.GroupMember;
import org.jcpg.GroupName;

/** {@code jcpg members GROUP}: one group's members. */
final class MembersCommand {
    static final String HELP = """
            Usage: jcpg members [--json] [--nul | --hex] GROUP

            Lists the members of GROUP, cluster-wide, one line each: node=1 pid=4242.
            A group without members (corosync knows no such group) prints nothing and
            exits with 4.

              --json   one line of JSON: {"name":"chat","hex":"63686174","members":[{"node":1,"pid":4242}]}
              --nul    append a NUL byte to the name (as testcpg and other C tools count it)
              --hex    GROUP is the hex of the name's bytes

            """ + GroupArgument.HELP + "\n" + Exit.TABLE;

    private MembersCommand() {
    }

    static int run(List<String> args, Main.Io io) {
        CommandLine line = CommandLine.parse("members", args,
                Stream.concat(Stream.of("--json"), GroupArgument.FLAGS.stream()).collect(Collectors.toSet()), Set.of());
        if (line.has("--help")) {
            io.out().print(HELP);
            return Exit.OK;
        }
        if (line.positional().size() != 1) {
            throw line.usage(line.positional().isEmpty() ? "GROUP is missing" : "one GROUP only");
        }
        GroupName group = GroupArgument.parse(line, line.positional().get(0));
        List<GroupMember> members;
        try (CpgConnection cpg = CpgConnection.open(new CpgListener() { })) {
            members = cpg.members(group);
        }
        if (line.has("--json")) {
            io.out().println(Render.groupJson(group, members));
        } else {
            members.forEach(member -> io.out().println(Render.member(member)));
        }
        if (members.isEmpty()) {
            throw new Failure(Exit.NO_SUCH_GROUP, "group " + GroupArgument.quoted(group) + " has no members");
        }
        return Exit.OK;
    }
}
