package org.jcpg.tool;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.jcpg.CpgConnection;
import org.jcpg.CpgListener;
import org.jcpg.GroupName;
import org.jcpg.Guarantee;
import org.jcpg.Message;

/**
 * {@code jcpg send GROUP MESSAGE}: joins the group (corosync delivers only
 * what members send), sends, and waits until its own messages come back, so
 * that they are in the group's order before it leaves.
 */
final class SendCommand {
    static final String HELP = """
            Usage: jcpg send [--timeout D] [--nul | --hex] GROUP MESSAGE
                   jcpg send [--timeout D] [--nul | --hex] GROUP --file F
                   jcpg send [--timeout D] [--nul | --hex] GROUP -

            Joins GROUP, sends (agreed order), waits until every message it sent has been
            delivered back to it, then leaves. MESSAGE is sent as its UTF-8 bytes; --file
            sends a file's bytes as one message (larger than 1 MiB is fine); - sends each
            line of stdin as one message, without its newline, as lines come. Prints nothing
            on success. The other members see this sender join and leave.

              --file F       the message is the content of file F
              --timeout D    how long to wait for corosync to accept a message and for the
                             messages to come back (default 10s); then exit 3
              --nul, --hex   how to read GROUP (below)

            """ + GroupArgument.HELP + "\n" + Exit.TABLE;

    private static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);

    private SendCommand() {
    }

    /** Counts this process's own messages as they come back. */
    private static final class Echoes implements CpgListener {
        private final int pid = (int) ProcessHandle.current().pid();
        private volatile long node = -1;
        private long delivered;

        @Override
        public synchronized void onMessage(CpgConnection connection, Message message) {
            if (message.nodeId() == node && message.pid() == pid) {
                delivered++;
                notifyAll();
            }
        }

        /** Waits until {@code sent} have come back; false at the timeout. */
        synchronized boolean await(long sent, Duration timeout) throws InterruptedException {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (delivered < sent) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                wait(Math.max(1, left / 1_000_000));
            }
            return true;
        }

        synchronized long delivered() {
            return delivered;
        }
    }

    static int run(List<String> args, Main.Io io) throws InterruptedException {
        CommandLine line = CommandLine.parse("send", args, GroupArgument.FLAGS, Set.of("--file", "--timeout"));
        if (line.has("--help")) {
            io.out().print(HELP);
            return Exit.OK;
        }
        List<String> positional = line.positional();
        if (positional.isEmpty()) {
            throw line.usage("GROUP is missing");
        }
        String file = line.value("--file");
        int sources = positional.size() - 1 + (file != null ? 1 : 0);
        if (sources == 0) {
            throw line.usage("nothing to send: give MESSAGE, --file F, or - for stdin");
        }
        if (sources > 1) {
            throw line.usage(positional.size() > 2
                    ? "one MESSAGE only (quote a message with spaces)" : "MESSAGE, --file and - exclude each other");
        }
        GroupName group = GroupArgument.parse(line, positional.get(0));
        Duration timeout = line.duration("--timeout") != null ? line.duration("--timeout") : DEFAULT_TIMEOUT;
        boolean fromStdin = file == null && positional.get(1).equals("-");
        byte[] single = null;
        if (file != null) {
            try {
                single = Files.readAllBytes(Path.of(file));
            } catch (IOException | RuntimeException e) {
                throw line.usage("cannot read " + file + ": " + e);
            }
        } else if (!fromStdin) {
            single = positional.get(1).getBytes(StandardCharsets.UTF_8);
        }

        Echoes echoes = new Echoes();
        try (Session session = new Session(echoes)) {
            CpgConnection cpg = session.connection();
            echoes.node = cpg.localNodeId();
            session.join(group);
            long sent = 0;
            if (single != null) {
                send(cpg, single, timeout);
                sent++;
            } else {
                byte[] next;
                while ((next = readLine(io.in())) != null) {
                    send(cpg, next, timeout);
                    sent++;
                }
            }
            if (!echoes.await(sent, timeout)) {
                throw new Failure(Exit.TIMEOUT, "send: only " + echoes.delivered() + " of " + sent
                        + " messages came back within " + timeout.toMillis() + " ms");
            }
        }
        return Exit.OK;
    }

    private static void send(CpgConnection cpg, byte[] message, Duration timeout) {
        cpg.multicast(Guarantee.AGREED, timeout, MemorySegment.ofArray(message));
    }

    /** The next line's bytes without its '\n', or null at the end; a last line without '\n' counts. */
    static byte[] readLine(InputStream in) {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        try {
            int b;
            while ((b = in.read()) != -1 && b != '\n') {
                line.write(b);
            }
            if (b == -1 && line.size() == 0) {
                return null;
            }
        } catch (IOException e) {
            throw Failure.usage("send: cannot read stdin: " + e.getMessage());
        }
        return line.toByteArray();
    }
}
