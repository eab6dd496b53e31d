package org.jcpg.testsupport;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.jcpg.CpgConnection;
import org.jcpg.CpgEvent;
import org.jcpg.CpgListener;
import org.jcpg.Member;
import org.jcpg.MembershipChange;
import org.jcpg.Message;
import org.jcpg.bundling.BundleFrames;
import org.jcpg.bundling.Bundling;
import org.jcpg.bundling.BundlingReceiver;

/**
 * Records what a member of a bundled group delivers, for {@link BundlingTest}
 * and {@link BundlePeerMain}: numbered test messages ({@link #payload}) per
 * sender pid and thread, checking that each sender thread's arrive gap-free
 * and in order and intact, and a running hash of the whole delivery order
 * (equal hashes: the same messages in the same order). Used as the
 * application listener behind a {@link BundlingReceiver}; {@link #raw} wraps
 * the receiver to count the CPG messages (bundles) and their sizes.
 */
public final class BundleRecorder implements CpgListener {
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final int MIN_SIZE = 12;

    /** Per sender pid. */
    public static final class Sender {
        public long count;
        public long hash = 0xcbf29ce484222325L;
        public long bundles;
        public long bundledMessages;
        public final Map<Integer, Integer> next = new HashMap<>();

        @Override
        public String toString() {
            return count + " " + Long.toHexString(hash) + " " + next;
        }
    }

    private final Map<Integer, Sender> senders = new HashMap<>();
    private final Set<Integer> left = new HashSet<>();
    private long total;
    private long hash = 0xcbf29ce484222325L;
    private long fifoErrors;
    private long corrupt;
    private String firstProblem;

    /** A test message: thread, seq, then bytes derived from both, {@code size} bytes in all. */
    public static MemorySegment payload(int thread, int seq, int size) {
        MemorySegment m = MemorySegment.ofArray(new byte[Math.max(size, MIN_SIZE)]);
        m.set(INT, 0, thread);
        m.set(INT, 4, seq);
        m.set(INT, 8, (int) m.byteSize());
        for (int i = MIN_SIZE; i < m.byteSize(); i++) {
            m.set(ValueLayout.JAVA_BYTE, i, (byte) (seq * 7 + thread + i));
        }
        return m;
    }

    private static long mix(long hash, long value) {
        for (int i = 0; i < 8; i++) {
            hash ^= (value >>> (8 * i)) & 0xff;
            hash *= 0x100000001b3L;
        }
        return hash;
    }

    @Override
    public synchronized void onMessage(CpgConnection connection, Message message) {
        MemorySegment p = message.payload();
        if (p.byteSize() < MIN_SIZE || p.get(INT, 8) != p.byteSize()) {
            problem("corrupt message of " + message.pid() + ", " + p.byteSize() + " bytes");
            corrupt++;
            return;
        }
        int thread = p.get(INT, 0);
        int seq = p.get(INT, 4);
        for (int i = MIN_SIZE; i < p.byteSize(); i++) {
            if (p.get(ValueLayout.JAVA_BYTE, i) != (byte) (seq * 7 + thread + i)) {
                problem("corrupt byte " + i + " of " + message.pid() + "/" + thread + "/" + seq);
                corrupt++;
                return;
            }
        }
        Sender s = senders.computeIfAbsent(message.pid(), pid -> new Sender());
        int expected = s.next.getOrDefault(thread, 0);
        if (seq != expected) {
            problem("from " + message.pid() + " thread " + thread + ": seq " + seq + " after " + (expected - 1));
            fifoErrors++;
        }
        s.next.put(thread, seq + 1);
        long id = ((long) message.pid() << 40) ^ ((long) thread << 32) ^ (seq & 0xffffffffL);
        s.count++;
        s.hash = mix(s.hash, id);
        total++;
        hash = mix(hash, id);
        notifyAll();
    }

    @Override
    public synchronized void onMembershipChange(CpgConnection connection, MembershipChange change) {
        for (Member m : change.left()) {
            left.add(m.pid());
        }
        notifyAll();
    }

    private void problem(String what) {
        if (firstProblem == null) {
            firstProblem = what;
        }
    }

    /** Wraps a bundling receiver: counts each sender's bundles and the messages in them, then unpacks. */
    public CpgListener raw(BundlingReceiver receiver) {
        return new CpgListener() {
            @Override
            public void onEvent(CpgConnection connection, CpgEvent event) {
                if (event instanceof Message m && Bundling.isBundle(m.payload())) {
                    int count = BundleFrames.messageCount(m.payload());
                    synchronized (BundleRecorder.this) {
                        Sender s = senders.computeIfAbsent(m.pid(), pid -> new Sender());
                        s.bundles++;
                        s.bundledMessages += count;
                    }
                }
                receiver.onEvent(connection, event);
            }
        };
    }

    public synchronized boolean awaitTotal(long expected, long timeoutMillis) throws InterruptedException {
        long deadline = System.currentTimeMillis() + timeoutMillis;
        while (total < expected && System.currentTimeMillis() < deadline) {
            wait(100);
        }
        return total >= expected;
    }

    public synchronized boolean awaitLeft(int pid, long timeoutMillis) throws InterruptedException {
        long deadline = System.currentTimeMillis() + timeoutMillis;
        while (!left.contains(pid) && System.currentTimeMillis() < deadline) {
            wait(100);
        }
        return left.contains(pid);
    }

    /** "count hash fifoErrors corrupt problem" of everything delivered. */
    public synchronized String report() {
        return total + " " + Long.toHexString(hash) + " " + fifoErrors + " " + corrupt + " " + firstProblem;
    }

    /** "count hash bundles bundledMessages" of one sender's messages. */
    public synchronized String reportFrom(int pid) {
        Sender s = senders.getOrDefault(pid, new Sender());
        return s.count + " " + Long.toHexString(s.hash) + " " + s.bundles + " " + s.bundledMessages;
    }

    public synchronized long total() {
        return total;
    }

    public synchronized long fifoErrors() {
        return fifoErrors;
    }

    public synchronized long corrupt() {
        return corrupt;
    }

    public synchronized String firstProblem() {
        return firstProblem;
    }

    public synchronized Sender sender(int pid) {
        return senders.get(pid);
    }
}
