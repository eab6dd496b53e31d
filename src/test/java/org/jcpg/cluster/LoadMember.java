package org.jcpg.cluster;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.jcpg.CpgConnection;
import org.jcpg.CpgError;
import org.jcpg.CpgEvent;
import org.jcpg.CpgException;
import org.jcpg.CpgListener;
import org.jcpg.DispatchMode;
import org.jcpg.GroupName;
import org.jcpg.Guarantee;
import org.jcpg.MembershipChange;
import org.jcpg.Message;
import org.jcpg.ModelFlag;
import org.jcpg.TotemChange;
import org.jcpg.bundling.Bundling;
import org.jcpg.bundling.BundlingReceiver;
import org.jcpg.bundling.BundlingSender;
import org.jcpg.bundling.BundlingStatistics;
import org.jcpg.testsupport.Where;

/**
 * A group member under load through one node, recording a {@link VsHistory}
 * per incarnation for the {@link VsChecker}: a thread (4 MiB stack) enters the
 * node's network namespace, connects, joins and dispatches; sender threads
 * send numbered, self-checking messages ({@link #payload}) at a steady rate.
 * When the daemon goes away (node killed or restarted) the incarnation ends
 * as CRASHED and the member connects again (the daemon may be back later) as
 * the next incarnation. Usable by the benchmark and the demo too.
 *
 * <p>{@link Sending} says how: plain multicasts from one thread, or a bundled
 * group ({@link Bundling#defaults()}): several threads send bursts through one
 * {@link BundlingSender}, taking the sequence numbers in the order in which
 * {@code send} takes their messages, and a {@link BundlingReceiver} unpacks;
 * in front of it the member records each bundle's arrival ({@link VsHistory.Bundle})
 * with the message count read from the frame's bytes, so that the checker can
 * tell whether the application saw every bundle whole.
 */
public final class LoadMember {
    static final int MAGIC = 0x56534C44; // "VSLD"
    static final int HEADER = 32;
    private static final ValueLayout.OfInt FRAME_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Where a bundle's message count is, in the documented framing ({@link Bundling}). */
    private static final long FRAME_COUNT_OFFSET = 8;

    /** How a member sends. */
    public sealed interface Sending {
        /** {@link CpgConnection#multicast} from one thread. */
        record Plain() implements Sending {
        }

        /**
         * Through a {@link BundlingSender}, from {@code threads} threads that each send
         * {@code burst} messages at a time: a burst arrives faster than bundles come back, so
         * most of it shares bundles.
         */
        record Bundled(int threads, int burst) implements Sending {
            public Bundled {
                if (threads < 1 || burst < 1) {
                    throw new IllegalArgumentException("threads " + threads + ", burst " + burst);
                }
            }
        }

        /** "plain" or "bundled:THREADS:BURST", for a child process's command line. */
        static Sending parse(String text) {
            String[] w = text.split(":");
            return switch (w[0]) {
                case "plain" -> new Plain();
                case "bundled" -> new Bundled(Integer.parseInt(w[1]), Integer.parseInt(w[2]));
                default -> throw new IllegalArgumentException("no sending mode " + text);
            };
        }

        default String text() {
            return switch (this) {
                case Plain p -> "plain";
                case Bundled b -> "bundled:" + b.threads() + ":" + b.burst();
            };
        }
    }

    private final Path netns;
    private final long node;
    private final GroupName group;
    private final int perSecond;
    private final int maxSize;
    private final Sending sending;
    private final int pid = (int) ProcessHandle.current().pid();
    private final List<VsHistory> histories = new CopyOnWriteArrayList<>();
    /** Statistics of the closed bundling senders, one per incarnation. */
    private final List<BundlingStatistics> closedBundlers = new CopyOnWriteArrayList<>();
    private final AtomicReference<BundlingSender> bundler = new AtomicReference<>();
    private volatile boolean sendingOn = true;
    private volatile boolean stopped;
    private volatile CpgConnection current;
    private volatile List<Thread> senders = List.of();
    private volatile VsHistory live;
    private Thread control;

    /** A plain member: see {@link #LoadMember(Path, long, GroupName, int, int, Sending)}. */
    public LoadMember(Path netns, long node, GroupName group, int perSecond, int maxSize) {
        this(netns, node, group, perSecond, maxSize, new Sending.Plain());
    }

    /**
     * @param netns     the node's network namespace
     * @param node      its node id (for the histories; checked against the daemon's)
     * @param perSecond messages per second to send (in all, over the sender threads)
     * @param maxSize   largest payload (at least {@link #HEADER} bytes; sizes are random in between)
     * @param sending   plain or bundled
     */
    public LoadMember(Path netns, long node, GroupName group, int perSecond, int maxSize, Sending sending) {
        this.netns = netns;
        this.node = node;
        this.group = group;
        this.perSecond = perSecond;
        this.maxSize = Math.max(maxSize, HEADER);
        this.sending = sending;
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

    /**
     * A delivered message as the history records it: a load message's id and whether its bytes
     * are intact, or, for anything else, what it was ({@link VsHistory.Undecodable}): never
     * nothing, so that a garbled message is not taken for a missing one.
     */
    static VsHistory.Received decode(Message m) {
        MemorySegment p = m.payload();
        if (p.byteSize() < HEADER) {
            return VsHistory.Undecodable.of(m, "shorter than the " + HEADER + "-byte header");
        }
        if (p.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN), 0) != MAGIC) {
            return VsHistory.Undecodable.of(m, "without the magic");
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
                h.received(decode(message));
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

    /**
     * The connection's listener: the recorder, in bundled mode behind a bundling receiver, with
     * each bundle's arrival recorded before the receiver unpacks it. The count comes from the
     * frame's bytes (the documented framing), not from the receiver, so that a receiver that
     * delivers less or more than the bundle holds shows in the history.
     */
    private CpgListener listener(VsHistory h) {
        CpgListener recorder = recorder(h);
        if (!(sending instanceof Sending.Bundled)) {
            return recorder;
        }
        // A message the receiver refuses (no bundle, a malformed one) is recorded, not only logged.
        BundlingReceiver receiver = Bundling.builder()
                .onRejected((m, why) -> h.received(VsHistory.Undecodable.of(m, "refused by the bundling receiver: " + why)))
                .build().receiver(recorder);
        return new CpgListener() {
            @Override
            public void onEvent(CpgConnection connection, CpgEvent event) {
                if (event instanceof Message m && Bundling.isBundle(m.payload())
                        && m.payload().byteSize() >= FRAME_COUNT_OFFSET + Integer.BYTES) {
                    h.bundle(m.payload().get(FRAME_INT, FRAME_COUNT_OFFSET));
                }
                receiver.onEvent(connection, event);
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
            senders = startSenders(c, h);
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
                senders.forEach(LoadMember::joinQuietly);
                closeBundler();
                pause(100);
            }
        }
    }

    /** Opens and joins, retrying while the daemon is away; null once stopped. */
    private CpgConnection connect(VsHistory h) {
        while (!stopped) {
            CpgConnection c = null;
            try {
                c = CpgConnection.open(listener(h), ModelFlag.DELIVER_INITIAL_TOTEM_CONF);
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

    private List<Thread> startSenders(CpgConnection c, VsHistory h) {
        String name = "load-n" + node + "-send" + h.incarnation();
        return switch (sending) {
            case Sending.Plain plain -> List.of(Thread.ofPlatform().name(name).daemon().start(() -> send(c, h)));
            case Sending.Bundled bundled -> {
                BundlingSender out;
                try {
                    out = Bundling.defaults().sender(c);
                } catch (CpgException | IllegalStateException gone) {
                    yield List.of(); // the daemon went away already: the dispatch loop finds out
                }
                bundler.set(out);
                long[] nextSeq = {0};
                List<Thread> threads = new ArrayList<>();
                for (int t = 0; t < bundled.threads(); t++) {
                    int thread = t;
                    threads.add(Thread.ofPlatform().name(name + "-" + t).daemon()
                            .start(() -> sendBundled(out, h, bundled, thread, nextSeq)));
                }
                yield List.copyOf(threads);
            }
        };
    }

    private void send(CpgConnection c, VsHistory h) {
        SplittableRandom sizes = new SplittableRandom(node * 31 + h.incarnation());
        long period = 1_000_000_000L / perSecond;
        long next = System.nanoTime();
        long seq = 0;
        while (sendingOn && h.end() == VsHistory.End.OPEN) {
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
            next = pace(next, period);
        }
    }

    /** One of a bundled member's sender threads: a burst, then a pause, at its share of the rate. */
    private void sendBundled(BundlingSender out, VsHistory h, Sending.Bundled mode, int thread, long[] nextSeq) {
        SplittableRandom sizes = new SplittableRandom((node * 31 + h.incarnation()) * 31 + thread);
        long period = 1_000_000_000L * mode.burst() * mode.threads() / perSecond;
        long next = System.nanoTime();
        while (sendingOn && h.end() == VsHistory.End.OPEN) {
            for (int i = 0; i < mode.burst() && sendingOn; i++) {
                if (!sendNext(out, h, nextSeq, sizes.nextInt(HEADER, maxSize + 1))) {
                    return;
                }
            }
            next = pace(next, period);
        }
    }

    /**
     * Sends the member's next message; false once the incarnation is over. The sequence number
     * is taken under the same lock as the send, so the numbers follow the order in which the
     * sender took the messages: the order that per-sender FIFO promises across threads.
     */
    private boolean sendNext(BundlingSender out, VsHistory h, long[] nextSeq, int size) {
        synchronized (nextSeq) {
            long seq = nextSeq[0];
            byte[] message = payload(node, pid, h.incarnation(), seq, size);
            while (true) {
                try {
                    out.send(message, Duration.ofSeconds(1));
                    nextSeq[0] = seq + 1;
                    h.sent(seq + 1);
                    return true;
                } catch (CpgException e) {
                    // A queue full for a second: the daemon holds back during a view change. Wait on.
                    if (!e.isRetryable() || !sendingOn || h.end() != VsHistory.End.OPEN) {
                        return false;
                    }
                } catch (IllegalStateException gone) {
                    return false; // the connection broke or was closed: this incarnation ends
                }
            }
        }
    }

    /** Waits until {@code next + period}; returns that time (or now, after a long stall: no catching up in a burst). */
    private static long pace(long next, long period) {
        next += period;
        long wait = next - System.nanoTime();
        if (wait > 0) {
            LockSupport.parkNanos(wait);
        } else if (wait < -1_000_000_000L) {
            next = System.nanoTime();
        }
        return next;
    }

    /** Closes the incarnation's bundling sender, if any, and keeps its statistics. */
    private void closeBundler() {
        BundlingSender out = bundler.getAndSet(null);
        if (out == null) {
            return;
        }
        try {
            out.close();
        } catch (IllegalStateException dropped) {
            // Messages still queued when the connection broke are never sent, as documented:
            // the incarnation ended CRASHED and the checker expects nothing of it.
        }
        closedBundlers.add(out.statistics());
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

    /** Stops sending, waits for the sender threads and for a bundling sender's queue to drain: from now on the sent counts are final. */
    public void stopSending() {
        sendingOn = false;
        senders.forEach(LoadMember::joinQuietly);
        BundlingSender out = bundler.get();
        if (out != null) {
            try {
                out.flush(Duration.ofSeconds(30));
            } catch (IllegalStateException gone) {
                // the connection broke: the incarnation ends CRASHED
            }
        }
    }

    /** Whether the live incarnation delivered all it sent. */
    public boolean selfDelivered() {
        VsHistory h = live;
        return h != null && h.ownDelivered() == h.sent();
    }

    public long deliveries() {
        return histories.stream().mapToLong(VsHistory::deliveries).sum();
    }

    /**
     * What the bundling senders did, summed over the incarnations (the largest bundle: the
     * largest of any); all zero for a plain member.
     */
    public BundlingStatistics bundlingStatistics() {
        List<BundlingStatistics> all = new ArrayList<>(closedBundlers);
        BundlingSender out = bundler.get();
        if (out != null) {
            all.add(out.statistics());
        }
        return sum(all);
    }

    static BundlingStatistics sum(List<BundlingStatistics> all) {
        return new BundlingStatistics(all.stream().mapToLong(BundlingStatistics::accepted).sum(),
                all.stream().mapToLong(BundlingStatistics::sent).sum(),
                all.stream().mapToLong(BundlingStatistics::bundles).sum(),
                all.stream().mapToLong(BundlingStatistics::refused).sum(),
                all.stream().mapToLong(BundlingStatistics::tryAgain).sum(),
                all.stream().mapToLong(BundlingStatistics::largestBundle).max().orElse(0),
                all.stream().mapToLong(BundlingStatistics::queuedBytes).sum());
    }

    /** Closes the live connection (its history ends CLEAN) and returns every incarnation's history. */
    public List<VsHistory> finish() {
        stopSending();
        stopped = true;
        VsHistory h = live;
        if (h != null) {
            h.end(VsHistory.End.CLEAN);
        }
        closeBundler();
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
