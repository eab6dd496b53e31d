package org.jcpg.tool;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.jcpg.ConnectionLost;
import org.jcpg.CpgConnection;
import org.jcpg.CpgEvent;
import org.jcpg.CpgListener;
import org.jcpg.GroupName;
import org.jcpg.MembershipChange;
import org.jcpg.Message;
import org.jcpg.ModelFlag;
import org.jcpg.Reconnected;
import org.jcpg.TotemChange;

/** {@code jcpg listen GROUP}: joins the group and prints what happens in it, one line per event. */
final class ListenCommand {
    static final String HELP = """
            Usage: jcpg listen [--count N] [--timeout D] [--payload auto|text|hex] [--nul | --hex] GROUP

            Joins GROUP and prints one line per event, each starting with the UTC time it
            arrived; the field that can hold spaces comes last:
              2026-11-23T05:50:01.123Z MSG node=1 pid=4242 len=5 text=hello
              2026-11-23T05:50:01.124Z MSG node=1 pid=4242 len=3 hex=00ff10
              2026-11-23T05:50:01.125Z CONFCHG members=1/4242,1/4343 joined=1/4343/JOIN left= group=chat
              2026-11-23T05:50:01.125Z TOTEM ring=1.5 nodes=1
            Members are node/pid, joined and left ones node/pid/REASON (JOIN, LEAVE,
            NODEDOWN, NODEUP, PROCDOWN), comma-separated; ring is node.sequence in hex, as
            corosync logs it. The first lines are this listener's own join and the current ring.
            Text escapes a backslash as \\\\, newline, tab and CR as \\n \\t \\r, other control
            characters as \\xNN. Ctrl-C or SIGTERM leaves the group and closes the connection.

              --count N      exit (0) after N messages
              --timeout D    exit (3) when no event arrives for D (500ms, 5s, 2m; plain number: seconds)
              --payload M    auto (default): text if the payload is UTF-8, else hex; text; hex
              --nul, --hex   how to read GROUP (below)

            """ + GroupArgument.HELP + "\n" + Exit.TABLE;

    private ListenCommand() {
    }

    /** One printed line; counts toward --count if it is a message. */
    private record Line(String text, boolean message) {
    }

    static int run(List<String> args, Main.Io io) throws InterruptedException {
        CommandLine line = CommandLine.parse("listen", args, GroupArgument.FLAGS,
                Set.of("--count", "--timeout", "--payload"));
        if (line.has("--help")) {
            io.out().print(HELP);
            return Exit.OK;
        }
        if (line.positional().size() != 1) {
            throw line.usage(line.positional().isEmpty() ? "GROUP is missing" : "one GROUP only");
        }
        GroupName group = GroupArgument.parse(line, line.positional().get(0));
        Long count = line.positiveNumber("--count");
        Duration timeout = line.duration("--timeout");
        String payload = line.value("--payload") == null ? "auto" : line.value("--payload");
        if (!List.of("auto", "text", "hex").contains(payload)) {
            throw line.usage("--payload is auto, text or hex, not \"" + payload + "\"");
        }

        BlockingQueue<Object> events = new LinkedBlockingQueue<>();
        CpgListener listener = new CpgListener() {
            @Override
            public void onEvent(CpgConnection connection, CpgEvent event) {
                String now = Render.timestamp(Instant.now());
                switch (event) {
                    case Message m -> events.add(new Line(now + " MSG " + describe(m, payload), true));
                    case MembershipChange c -> events.add(new Line(now + " CONFCHG members=" + Render.nodePids(c.members())
                            + " joined=" + Render.withReasons(c.joined()) + " left=" + Render.withReasons(c.left())
                            + " group=" + c.group(), false));
                    case TotemChange t -> events.add(new Line(now + " TOTEM ring=" + Render.ring(t.ringId()) + " nodes="
                            + t.nodeIds().stream().map(String::valueOf).collect(Collectors.joining(",")), false));
                    case ConnectionLost lost -> events.add(lost);
                    case Reconnected again -> { } // no reconnect policy
                }
            }
        };

        try (Session session = new Session(listener, ModelFlag.DELIVER_INITIAL_TOTEM_CONF)) {
            session.join(group);
            long messages = 0;
            while (true) {
                Object event = timeout == null ? events.take() : events.poll(timeout.toNanos(), TimeUnit.NANOSECONDS);
                if (event == null) {
                    throw new Failure(Exit.TIMEOUT, "listen: nothing arrived within " + line.value("--timeout")
                            + (count == null ? "" : " (" + messages + " of " + count + " messages)"));
                }
                if (event instanceof ConnectionLost lost) {
                    throw lost.cause();
                }
                Line printed = (Line) event;
                io.out().println(printed.text());
                io.out().flush();
                if (io.out().checkError()) {
                    // Disk full, or whoever read the output is gone (| head): either way lines were lost.
                    throw Main.outputFailed(io);
                }
                if (printed.message() && count != null && ++messages >= count) {
                    return Exit.OK;
                }
            }
        }
    }

    /** node=1 pid=4242 len=5 text=hello (or hex=...). */
    static String describe(Message message, String payloadMode) {
        byte[] bytes = message.toByteArray();
        String text = payloadMode.equals("hex") ? null : Render.utf8OrNull(bytes);
        String shown;
        if (text != null) {
            shown = "text=" + Render.escapeText(text);
        } else if (payloadMode.equals("text")) {
            shown = "text=" + Render.escapeText(new String(bytes, java.nio.charset.StandardCharsets.UTF_8));
        } else {
            shown = "hex=" + Render.hex(bytes);
        }
        return "node=" + message.nodeId() + " pid=" + message.pid() + " len=" + bytes.length + " " + shown;
    }
}
