package org.jcpg;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Collectors;
import org.jcpg.testsupport.ChildProtocol;
import org.jcpg.testsupport.Payloads;

/**
 * Another group member, in a child JVM run by {@link PeerProcess}: corosync
 * refuses a second join of the same group by the same pid (CS_ERR_EXIST),
 * so a second member must be a second process. The child inherits the test
 * JVM's network namespace, so it reaches the same private daemon.
 *
 * <p>It speaks {@link ChildProtocol}; its commands:
 * <ul>
 * <li>{@code join HEX}: opens a connection, joins the group (name in hex) and dispatches it on a thread;
 * <li>{@code leave}, {@code close}: that connection's leave() or close();
 * <li>{@code send K SIZE}: multicasts {@link Payloads#pattern}(K, SIZE);
 * <li>{@code text WORDS}: multicasts WORDS as UTF-8;
 * <li>{@code echo}: from now on answers every text from another process with {@code echo:TEXT};
 * <li>{@code burst N}: on delivery of the text {@code go}, sends {@code PID:0} .. {@code PID:N-1}
 *     from a thread of its own, so that it competes with the other senders;
 * <li>{@code order TOTAL}: waits until TOTAL texts {@code PID:SEQ} are delivered, answers their list;
 * <li>{@code churn HEX N}: N times joins the group on a new connection and closes it;
 * <li>{@code exit} (the protocol's): halts the JVM without closing anything.
 * </ul>
 * Events come as lines {@code EV MSG pid k length matches} (k and matches as for pattern messages)
 * and {@code EV CONFCHG hex joined=pid/REASON,.. left=pid/REASON,.. members=pid,..}, pids sorted.
 */
public final class PeerMain {
    private static final int PID = (int) ProcessHandle.current().pid();
    private static final List<String> numbered = new ArrayList<>();
    private static CpgConnection current;
    private static volatile boolean echo;
    private static volatile int burst;

    private PeerMain() {
    }

    /** Members sorted by pid, as "pid" or "pid/REASON", comma-separated. */
    static String members(List<Member> members, boolean withReason) {
        return members.stream().sorted(Comparator.comparingInt(Member::pid))
                .map(m -> withReason ? m.pid() + "/" + m.reason() : String.valueOf(m.pid()))
                .collect(Collectors.joining(","));
    }

    private static final CpgListener LISTENER = new CpgListener() {
        @Override
        public void onMessage(CpgConnection connection, Message message) {
            int k = message.length() >= 4 ? Payloads.index(message.payload()) : -1;
            ChildProtocol.event("MSG " + message.pid() + " " + k + " " + message.length() + " "
                    + Payloads.matches(message.payload(), k, (int) message.length()));
            String text = new String(message.toByteArray(), UTF_8);
            if (echo && message.pid() != PID && !text.startsWith("echo:")) {
                connection.multicast(Guarantee.AGREED, ("echo:" + text).getBytes(UTF_8));
            }
            if (text.equals("go") && burst > 0) {
                int count = burst;
                Thread.ofPlatform().name("burst").start(() -> sendNumbered(connection, count, PID));
            }
            if (text.matches("\\d+:\\d+")) {
                synchronized (numbered) {
                    numbered.add(text);
                    numbered.notifyAll();
                }
            }
        }

        @Override
        public void onMembershipChange(CpgConnection connection, MembershipChange change) {
            ChildProtocol.event("CONFCHG " + HexFormat.of().formatHex(change.group().toBytes())
                    + " joined=" + members(change.joined(), true) + " left=" + members(change.left(), true)
                    + " members=" + members(change.members(), false));
        }
    };

    /**
     * Sends the texts PID:0 .. PID:count-1, riding out flow control. Paced
     * (a pause every few messages) so that senders in different processes,
     * which start a few milliseconds apart, really overlap.
     */
    static void sendNumbered(CpgConnection connection, int count, int pid) {
        for (int seq = 0; seq < count; seq++) {
            Payloads.send(connection, (pid + ":" + seq).getBytes(UTF_8));
            if (seq % 5 == 4) {
                try {
                    Thread.sleep(1);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

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
                        ChildProtocol.event("DISPATCHERROR " + t);
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

    private static String awaitNumbered(int total) throws InterruptedException {
        long deadline = System.nanoTime() + 15_000_000_000L;
        synchronized (numbered) {
            while (numbered.size() < total && System.nanoTime() < deadline) {
                numbered.wait(100);
            }
            if (numbered.size() < total) {
                throw new IllegalStateException("only " + numbered.size() + " of " + total + " delivered");
            }
            return String.join(",", numbered);
        }
    }

    private static GroupName group(String hex) {
        return GroupName.ofBytes(HexFormat.of().parseHex(hex));
    }

    public static void main(String[] args) {
        new ChildProtocol()
                .on("join", c -> current = openAndJoin(group(c.word(1))))
                .on("leave", c -> current.leave())
                .on("close", c -> current.close())
                .on("send", c -> current.multicast(Guarantee.AGREED, Payloads.pattern(c.intWord(1), c.intWord(2))))
                .on("text", c -> current.multicast(Guarantee.AGREED, c.rest().getBytes(UTF_8)))
                .on("echo", c -> echo = true)
                .on("burst", c -> burst = c.intWord(1))
                .answer("order", c -> awaitNumbered(c.intWord(1)))
                .on("churn", c -> {
                    for (int i = 0; i < c.intWord(2); i++) {
                        openAndJoin(group(c.word(1))).close();
                    }
                })
                .serve();
    }
}
