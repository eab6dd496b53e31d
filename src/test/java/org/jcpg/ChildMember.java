package org.jcpg;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * A second group member in its own JVM, started by {@link ProcessTest}
 * (corosync allows one member per process and group, so a second member
 * must be a second process).
 *
 * <p>{@code ChildMember GROUP MODE [ARG...]}: opens a connection, joins
 * GROUP, sends {@code hello:PID}, prints {@code READY}, then by MODE:
 * <ul>
 * <li>{@code echo}: answers every message of another process with {@code echo:PAYLOAD},
 *     and prints each membership change as {@code CHANGE joined=.. left=.. members=..};
 * <li>{@code leave}: leaves the group, prints {@code LEFT};
 * <li>{@code close}: closes the connection without leaving, prints {@code CLOSED};
 * <li>{@code burst N TOTAL}: on the message {@code go}, sends {@code PID:SEQ} for
 *     SEQ = 0..N-1 from a second thread, and once it has delivered TOTAL such
 *     messages prints {@code ORDER} and their comma-separated list.
 * </ul>
 * It lives until its stdin is closed (so a dying test run takes it along)
 * or it is killed.
 */
public final class ChildMember {
    private static final Pattern NUMBERED = Pattern.compile("\\d+:\\d+");

    private ChildMember() {
    }

    public static void main(String[] args) throws Exception {
        GroupName group = GroupName.of(args[0]);
        String mode = args[1];
        int pid = (int) ProcessHandle.current().pid();
        Thread.ofPlatform().daemon().start(ChildMember::exitOnStdinEof);

        CpgListener listener = switch (mode) {
            case "echo" -> new CpgListener() {
                @Override
                public void onMessage(CpgConnection connection, Message message) {
                    String payload = new String(message.toByteArray(), UTF_8);
                    if (message.pid() != pid && !payload.startsWith("echo:")) {
                        connection.multicast(Guarantee.AGREED, ("echo:" + payload).getBytes(UTF_8));
                    }
                }

                @Override
                public void onMembershipChange(CpgConnection connection, MembershipChange change) {
                    say("CHANGE joined=" + describe(change.joined(), true) + " left=" + describe(change.left(), true)
                            + " members=" + describe(change.members(), false));
                }
            };
            case "burst" -> burst(Integer.parseInt(args[2]), Integer.parseInt(args[3]), pid);
            default -> new CpgListener() {
            };
        };

        CpgConnection cpg = CpgConnection.open(listener);
        cpg.join(group);
        cpg.multicast(Guarantee.AGREED, ("hello:" + pid).getBytes(UTF_8));
        say("READY");
        switch (mode) {
            case "leave" -> {
                cpg.leave();
                say("LEFT");
                cpg.dispatch(DispatchMode.BLOCKING);
            }
            case "close" -> {
                cpg.close();
                say("CLOSED");
            }
            default -> cpg.dispatch(DispatchMode.BLOCKING);
        }
        Thread.sleep(Long.MAX_VALUE);
    }

    private static CpgListener burst(int count, int total, int pid) {
        return new CpgListener() {
            private final List<String> delivered = new ArrayList<>();

            @Override
            public void onMessage(CpgConnection connection, Message message) {
                String payload = new String(message.toByteArray(), UTF_8);
                if (payload.equals("go")) {
                    Thread.ofPlatform().name("burst").start(() -> send(connection, count, pid));
                } else if (NUMBERED.matcher(payload).matches()) {
                    delivered.add(payload);
                    if (delivered.size() == total) {
                        say("ORDER " + String.join(",", delivered));
                    }
                }
            }
        };
    }

    /** Sends PID:0 .. PID:count-1, retrying while the daemon says TRY_AGAIN. */
    static void send(CpgConnection connection, int count, int pid) {
        for (int seq = 0; seq < count; seq++) {
            byte[] payload = (pid + ":" + seq).getBytes(UTF_8);
            while (true) {
                try {
                    connection.multicast(Guarantee.AGREED, payload);
                    break;
                } catch (CpgException e) {
                    if (!e.isRetryable()) {
                        throw e;
                    }
                    try {
                        Thread.sleep(1);
                    } catch (InterruptedException interrupted) {
                        Thread.currentThread().interrupt();
                        return;
                    }
                }
            }
        }
    }

    /** "pid:REASON,..." (or just sorted pids), for the parent to compare as text. */
    private static String describe(List<Member> members, boolean withReason) {
        return members.stream().sorted(java.util.Comparator.comparingInt(Member::pid))
                .map(m -> withReason ? m.pid() + ":" + m.reason() : String.valueOf(m.pid()))
                .collect(java.util.stream.Collectors.joining(","));
    }

    private static void say(String line) {
        System.out.println(line);
        System.out.flush();
    }

    private static void exitOnStdinEof() {
        try {
            while (System.in.read() >= 0) {
                // discard
            }
        } catch (IOException ignored) {
            // treat like EOF
        }
        System.exit(0);
    }
}
