package org.jcpg.tool;

import java.io.BufferedOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.jcpg.CpgError;
import org.jcpg.CpgException;

/**
 * The {@code jcpg} command: {@code java -jar jcpg.jar COMMAND ...} (the
 * jar's Main-Class) or {@code scripts/jcpg COMMAND ...}. Not part of the
 * library's API: this package is not exported.
 */
public final class Main {
    static final String HELP = """
            Usage: jcpg [--debug] COMMAND [ARGS...]

            Talks to the corosync of this network namespace through CPG.

            Commands:
              groups                        every group with its members (node id, pid); --json
              members GROUP                 the members of one group; --json
              listen GROUP                  prints every message, membership change and ring change
              send GROUP MESSAGE|--file F|- sends a message, a file, or stdin line by line
              help [COMMAND]                this text, or a command's

            Options everywhere:
              --help, -h   the command's help
              --debug      a stack trace with an error

            """ + GroupArgument.HELP + "\n" + Exit.TABLE;

    private Main() {
    }

    /**
     * Standard streams and files a command uses.
     *
     * @param watched the stream under {@code out} that remembers why a write failed, or null
     */
    record Io(InputStream in, PrintStream out, PrintStream err, WatchedOutput watched) {
    }

    public static void main(String[] args) {
        // Not System.out itself: its PrintStream swallows why a write failed, and the error line says why.
        WatchedOutput watched = new WatchedOutput(new FileOutputStream(FileDescriptor.out));
        PrintStream out = new PrintStream(new BufferedOutputStream(watched, 8192), true, System.out.charset());
        int status = run(args, new Io(System.in, out, System.err, watched));
        out.flush();
        System.exit(status);
    }

    /** Runs one command with System.in as its input; returns the exit code. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        return run(args, System.in, out, err);
    }

    /** Runs one command; returns the exit code. Never calls System.exit. */
    public static int run(String[] args, InputStream in, PrintStream out, PrintStream err) {
        return run(args, new Io(in, out, err, null));
    }

    /**
     * Runs one command; returns the exit code. A command whose output could
     * not be written (disk full, a closed pipe) fails with {@link Exit#OUTPUT}
     * unless it failed otherwise first: {@code checkError} after every command.
     */
    private static int run(String[] args, Io io) {
        PrintStream out = io.out();
        PrintStream err = io.err();
        List<String> all = Arrays.asList(args);
        int end = all.indexOf("--");
        boolean debug = (end < 0 ? all : all.subList(0, end)).contains("--debug");
        try {
            int first = 0;
            while (first < args.length && args[first].startsWith("-")) {
                switch (args[first]) {
                    case "--help", "-h" -> {
                        out.print(HELP);
                        return checkOutput(Exit.OK, io);
                    }
                    case "--debug" -> first++;
                    default -> throw Failure.usage("unknown option " + args[first] + " (see: jcpg --help)");
                }
            }
            if (first == args.length) {
                throw Failure.usage("no command given (see: jcpg --help)");
            }
            String command = args[first];
            List<String> rest = new ArrayList<>(all.subList(first + 1, all.size()));
            int status = switch (command) {
                case "groups" -> GroupsCommand.run(rest, io);
                case "members" -> MembersCommand.run(rest, io);
                case "listen" -> ListenCommand.run(rest, io);
                case "send" -> SendCommand.run(rest, io);
                case "help" -> help(rest, io);
                default -> throw Failure.usage("unknown command \"" + command + "\" (see: jcpg --help)");
            };
            return checkOutput(status, io);
        } catch (Throwable t) {
            Failure failure = failureOf(t);
            err.println("jcpg: " + failure.getMessage());
            if (debug) {
                t.printStackTrace(err);
            }
            return failure.exitCode;
        } finally {
            out.flush();
            err.flush();
        }
    }

    private static int help(List<String> rest, Io io) {
        if (rest.isEmpty()) {
            io.out().print(HELP);
            return Exit.OK;
        }
        if (rest.size() > 1) {
            throw Failure.usage("help: one COMMAND at most (see: jcpg --help)");
        }
        return switch (rest.get(0)) {
            case "groups", "members", "listen", "send" -> run(new String[] {rest.get(0), "--help"}, io);
            default -> throw Failure.usage("help: unknown command \"" + rest.get(0) + "\" (see: jcpg --help)");
        };
    }

    /** {@code status}, unless something the command printed could not be written: then the failure to report. */
    private static int checkOutput(int status, Io io) {
        io.out().flush();
        // A failed command has said why already (help COMMAND runs the command's --help, which checked).
        if (status == Exit.OK && io.out().checkError()) {
            throw outputFailed(io);
        }
        return status;
    }

    /** The output could not be written: exit code {@link Exit#OUTPUT}, with the reason when it is known. */
    static Failure outputFailed(Io io) {
        java.io.IOException why = io.watched() == null ? null : io.watched().failure();
        return new Failure(Exit.OUTPUT, "cannot write the output: "
                + (why != null && why.getMessage() != null ? why.getMessage() : "standard output failed"), why);
    }

    /** The exit code and the one line to print for what a command threw. */
    static Failure failureOf(Throwable t) {
        if (t instanceof Failure failure) {
            return failure;
        }
        if (t instanceof CpgException e) {
            if (e.error() == CpgError.LIBRARY) {
                return e.operation().endsWith("initialize")
                        ? new Failure(Exit.UNREACHABLE, "corosync is not running here (CS_ERR_LIBRARY): "
                                + "start it, or run inside its network namespace", e)
                        : new Failure(Exit.UNREACHABLE, "lost the connection to corosync (CS_ERR_LIBRARY in "
                                + e.operation() + "): it stopped or restarted", e);
            }
            return new Failure(Exit.CPG_ERROR, "corosync refused: " + e.getMessage() + hint(e.error()), e);
        }
        for (Throwable cause = t; cause != null; cause = cause.getCause()) {
            if (cause instanceof IllegalCallerException) {
                return new Failure(Exit.USAGE, "java denies jcpg native access: run it with"
                        + " --enable-native-access=org.jcpg (module path) or --enable-native-access=ALL-UNNAMED"
                        + " (class path); java -jar needs neither", t);
            }
        }
        if (t instanceof UnsatisfiedLinkError e) {
            String message = String.valueOf(e.getMessage()).lines().findFirst().orElse("");
            return new Failure(Exit.UNREACHABLE, "cannot load libcpg (install the package libcpg4): " + message, e);
        }
        return new Failure(Exit.INTERNAL, "internal error, please report it (--debug shows where): " + t, t);
    }

    private static String hint(CpgError error) {
        return switch (error) {
            case EXIST -> ": this process is already in that group";
            case ACCESS -> ": corosync's uidgid configuration does not allow this user";
            case TRY_AGAIN -> ": corosync is busy; try again";
            default -> "";
        };
    }
}
