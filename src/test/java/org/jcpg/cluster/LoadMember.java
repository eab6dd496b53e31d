package org.jcpg.cluster;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.locks.LockSupport;
import org.jcpg.CpgConnection;
import org.jcpg.CpgError;
import org.jcpg.CpgException;
import org.jcpg.CpgListener;
import org.jcpg.DispatchMode;
import org.jcpg.GroupName;
import org.jcpg.Guarantee;
import org.jcpg.MembershipChange;
import org.jcpg.Message;
import org.jcpg.ModelFlag;
import org.jcpg.TotemChange;

/**
 * A group member under load through one node, recording a {@link VsHistory}
 * per incarnation for the {@link VsChecker}: a thread (4 MiB stack) enters the
 * node's network namespace, connects, joins and dispatches; a sender thread
 * multicasts numbered, self-checking messages ({@link #payload}) at a steady
 * rate. When the daemon goes away (node killed or restarted) the incarnation
 * ends as CRASHED and the member connects again (the daemon may be back
 * later) as the next incarnation. Usable by the benchmark and the demo too.
 */
public final class LoadMember {
    static final int MAGIC = 0x56534C44; // "VSLD"
    static final int HEADER = 32;

    private final Path netns;
    private final long node;
    private final GroupName group;
    private final int perSecond;
    private final int maxSize;
    private final int pid = (int) ProcessHandle.current().pid();
    private final List<VsHistory> histories = new CopyOnWriteArrayList<>();
    private volatile boolean sending = true;
    private volatile boolean stopped;
    private volatile CpgConnection current;
    private volatile Thread sender;
    private volatile VsHistory live;
    private Thread control;

    /**
     * @param netns     the node's network namespace
     * @param node      its node id (for the histories; checked against the daemon's)
     * @param perSecond messages per second to send
     * @param maxSize   largest payload (at least {@link #HEADER} bytes; sizes are random in between)
     */
    public LoadMember(Path netns, long node, GroupName group, int perSecond, int maxSize) {
        this.netns = netns;
        this.node = node;
        this.group = group;
        this.perSecond = perSecond;
        this.maxSize = Math.max(maxSize, HEADER);
    }

    public LoadMember start() {
        control = Thread.ofPlatform().name("load-n" + node).daemon().stackSize(CpgConnection.DISPATCH_STACK_SIZE)
                .start(this::run);
        return this;
    }

    /** Message {@code seq} of a sender incarnation: a header naming it, then seeded bytes. */
    public static byte[] payload(long node, int pid, int incarnation, long seq, int size) {
        byte[] bytes = new byte[Math.max(size, HEADER)];
        new SplittableRandom(seed(node, pid, incarnation, seq)).nextBytes(bytes);
        ByteBuffer.wrap(bytes).putInt(0, MAGIC).putInt(4, (int) node).putInt(8, pid).putInt(12, incarnation)
                .putLong(16, seq).putInt(24, bytes.length).putInt(28, 0);
        return bytes;
    }

    private static long seed(long node, int pid, int incarnation, long seq) {
        return ((node * 1_000_003L + pid) * 1_000_033L + incarnation) * 1_000_037L + seq;
    }

    /** The id of a delivered load message and whether its bytes are intact; null if not one. */
    static VsHistory.Delivery decode(Message m) {
        MemorySegment p = m.payload();
        if (p.byteSize() < HEADER || p.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.BIG_ENDIAN), 0) != MAGIC) {
            return null;
        }
        ByteBuffer b = ByteBuffer.wrap(m.toByteArray());
        VsHistory.MsgId id = new VsHistory.MsgId(b.getInt(4) & 0xffffffffL, b.getInt(8), b.getInt(12), b.getLong(16));
        boolean intact = b.getInt(24) == b.capacity() && id.node() == m.nodeId() && id.pid() == m.pid()
                && java.util.Arrays.equals(b.array(), payload(id.node(), id.pid(), id.incarnation(), id.seq(), b.capacity()));
        return new VsHistory.Delivery(id, intact);
    }

    private CpgListener recorder(VsHistory h) {
        return new CpgListener() {
            @Override
            public void onMessage(CpgConnection connection, Message message) {
                VsHistory.Delivery d = decode(message);
                if (d != null) {
                    h.delivered(d.id(), d.intact());
                }
            }

            @Override
            public void onMembershipChange(CpgConnection connection, MembershipChange change) {
                h.view(change);
            }

            @Override
            public void onTotemChange(CpgConnection connection, TotemChange change) {
                h.totem(change);
            }
        };
    }

    private void run() {
        Netns.enter(netns);
        while (!stopped) {
            VsHistory h = new VsHistory(node, pid, histories.size());
            CpgConnection c = connect(h);
            if (c == null) {
                return;
            }
            histories.add(h);
            current = c;
            live = h;
            Thread s = Thread.ofPlatform().name("load-n" + node + "-send" + h.incarnation()).daemon()
                    .start(() -> send(c, h));
            sender = s;
            boolean lost = false;
            try {
                while (!stopped) {
                    c.dispatch(DispatchMode.BLOCKING);
                }
            } catch (Throwable t) {
                lost = !stopped;
            }
            if (lost) {
                live = null;
                h.end(VsHistory.End.CRASHED);
                c.close();
                joinQuietly(s);
                pause(100);
            }
        }
    }

    /** Opens and joins, retrying while the daemon is away; null once stopped. */
    private CpgConnection connect(VsHistory h) {
        while (!stopped) {
            CpgConnection c = null;
            try {
                c = CpgConnection.open(recorder(h), ModelFlag.DELIVER_INITIAL_TOTEM_CONF);
                if (c.localNodeId() != node) {
                    throw new IllegalStateException("node " + node + "'s daemon says it is node " + c.localNodeId());
                }
                while (true) {
                    try {
                        c.join(group);
                        return c;
                    } catch (CpgException e) {
                        if (!e.isRetryable() && e.error() != CpgError.EXIST || stopped) {
                            throw e;
                        }
                        pause(20);
                    }
                }
            } catch (CpgException e) {
                if (c != null) {
                    c.close();
                }
                pause(100);
            }
        }
        return null;
    }

    private void send(CpgConnection c, VsHistory h) {
        SplittableRandom sizes = new SplittableRandom(node * 31 + h.incarnation());
        long period = 1_000_000_000L / perSecond;
        long next = System.nanoTime();
        long seq = 0;
        while (sending && h.end() == VsHistory.End.OPEN) {
            byte[] message = payload(node, pid, h.incarnation(), seq, sizes.nextInt(HEADER, maxSize + 1));
            try {
                c.multicast(Guarantee.AGREED, message);
                seq++;
                h.sent(seq);
            } catch (CpgException e) {
                if (!e.isRetryable()) {
                    return; // the daemon went away: this incarnation ends
                }
                pause(2);
                continue;
            } catch (IllegalStateException closed) {
                return;
            }
            next += period;
            long wait = next - System.nanoTime();
            if (wait > 0) {
                LockSupport.parkNanos(wait);
            } else if (wait < -1_000_000_000L) {
                next = System.nanoTime(); // do not burst to catch up after a long stall
            }
        }
    }

    private static void pause(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void joinQuietly(Thread t) {
        if (t != null) {
            try {
                t.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Whether an incarnation is connected and joined now. */
    public boolean connected() {
        return live != null;
    }

    /** The member count of the live incarnation's latest view (0 if none). */
    public int viewSize() {
        VsHistory h = live;
        if (h == null) {
            return 0;
        }
        List<VsHistory.Entry> entries = h.entries();
        for (int i = entries.size() - 1; i >= 0; i--) {
            if (entries.get(i) instanceof VsHistory.View v) {
                return v.members().size();
            }
        }
        return 0;
    }

    /** Stops sending and waits for the sender thread: from now on the sent counts are final. */
    public void stopSending() {
        sending = false;
        joinQuietly(sender);
    }

    /** Whether the live incarnation delivered all it sent. */
    public boolean selfDelivered() {
        VsHistory h = live;
        return h != null && h.ownDelivered() == h.sent();
    }

    public long deliveries() {
        return histories.stream().mapToLong(VsHistory::deliveries).sum();
    }

    /** Closes the live connection (its history ends CLEAN) and returns every incarnation's history. */
    public List<VsHistory> finish() {
        stopSending();
        stopped = true;
        VsHistory h = live;
        if (h != null) {
            h.end(VsHistory.End.CLEAN);
        }
        CpgConnection c = current;
        if (c != null) {
            c.close();
        }
        joinQuietly(control);
        return List.copyOf(histories);
    }

    public List<VsHistory> histories() {
        return List.copyOf(histories);
    }
}
