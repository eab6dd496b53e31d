package org.jcpg;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Collectors;

/**
 * A second process in the group (corosync refuses a second join of the same
 * group by the same pid: CS_ERR_EXIST). Run by {@link PeerProcess}; reads
 * commands on stdin, answers "OK verb" or "ERR verb ...", and reports events
 * as "EV ..." lines.
 */
public final class PeerMain {
    private static CpgConnection current;

    private PeerMain() {
    }

    private static synchronized void print(String line) {
        System.out.println(line);
        System.out.flush();
    }

    private static String members(List<Member> members) {
        return members.stream().map(m -> m.pid() + "/" + m.reason()).collect(Collectors.joining(","));
    }

    private static final CpgListener LISTENER = new CpgListener() {
        @Override
        public void onMessage(CpgConnection connection, Message message) {
            int k = message.length() >= 4 ? Payloads.index(message.payload()) : -1;
            print("EV MSG " + message.pid() + " " + k + " " + message.length() + " "
                    + Payloads.matches(message.payload(), k, (int) message.length()));
        }

        @Override
        public void onMembershipChange(CpgConnection connection, MembershipChange change) {
            print("EV CONFCHG " + HexFormat.of().formatHex(change.group().toBytes()) + " joined=" + members(change.joined())
                    + " left=" + members(change.left()) + " members=" + change.members().size());
        }
    };

    private static CpgConnection openAndJoin(GroupName group) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (true) {
            CpgConnection cpg = CpgConnection.open(LISTENER);
            try {
                cpg.join(group);
                Thread.ofPlatform().stackSize(CpgConnection.DISPATCH_STACK_SIZE).daemon().start(() -> {
                    try {
                        cpg.dispatch(DispatchMode.BLOCKING);
                    } catch (Throwable t) {
                        print("EV DISPATCHERROR " + t);
                    }
                });
                return cpg;
            } catch (CpgException e) {
                cpg.close();
                // Our previous connection's leave may not be through yet.
                if (e.error() != CpgError.EXIST && !e.isRetryable() || System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(5);
            }
        }
    }

    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        print("READY " + ProcessHandle.current().pid());
        String line;
        while ((line = in.readLine()) != null) {
            String[] words = line.trim().split(" ");
            try {
                switch (words[0]) {
                    case "join" -> current = openAndJoin(GroupName.ofBytes(HexFormat.of().parseHex(words[1])));
                    case "send" -> current.multicast(Guarantee.AGREED,
                            Payloads.pattern(Integer.parseInt(words[1]), Integer.parseInt(words[2])));
                    case "leave" -> current.leave();
                    case "close" -> current.close();
                    case "churn" -> {
                        GroupName group = GroupName.ofBytes(HexFormat.of().parseHex(words[1]));
                        for (int i = 0; i < Integer.parseInt(words[2]); i++) {
                            openAndJoin(group).close();
                        }
                    }
                    case "quit" -> {
                        print("OK quit");
                        System.exit(0);
                    }
                    default -> throw new IllegalArgumentException("unknown command " + line);
                }
                print("OK " + words[0]);
            } catch (Throwable t) {
                print("ERR " + words[0] + " " + t);
            }
        }
    }
}
