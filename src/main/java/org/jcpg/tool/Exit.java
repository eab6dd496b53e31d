package org.jcpg.tool;

/** The tool's exit codes; scripts may rely on them (docs/tool.md). */
final class Exit {
    /** Done. */
    static final int OK = 0;
    /** The command line or its input is wrong: unknown option, bad group name, invalid hex, unreadable file, no native access. */
    static final int USAGE = 1;
    /** corosync cannot be reached: not running in this network namespace, gone, or libcpg missing. */
    static final int UNREACHABLE = 2;
    /** listen: nothing arrived in time; send: its messages did not come back in time. */
    static final int TIMEOUT = 3;
    /** members: the group has no members (corosync knows no such group). */
    static final int NO_SUCH_GROUP = 4;
    /** corosync refused a request, e.g. CS_ERR_EXIST for a group this process is already in. */
    static final int CPG_ERROR = 5;
    /**
     * The output could not be written (disk full, {@code > /dev/full}, a reader that closed the pipe
     * such as {@code | head}): what was printed may be incomplete, so success is not reported.
     */
    static final int OUTPUT = 6;
    /** A bug in jcpg: rerun with --debug for the stack trace. */
    static final int INTERNAL = 70;

    static final String TABLE = """
            Exit codes:
              0    done
              1    usage error or bad input (unknown option, bad group name, invalid hex, unreadable file,
                   java run without native access for jcpg)
              2    corosync not reachable (not running in this network namespace, went away, libcpg missing)
              3    timeout (listen: nothing arrived in time; send: not delivered back in time)
              4    members: the group has no members
              5    corosync refused the request (another CPG error, e.g. CS_ERR_EXIST)
              6    the output could not be written (disk full, /dev/full, a closed pipe as with | head);
                   stderr says why
              70   internal error (a bug; --debug shows the stack trace)
              130, 143  listen/send ended by SIGINT (Ctrl-C) / SIGTERM, after closing the connection
            """;

    private Exit() {
    }
}
