package org.jcpg.bundling;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jcpg.CpgConnection;
import org.jcpg.CpgException;
import org.jcpg.CpgEvent;
import org.jcpg.CpgListener;
import org.jcpg.GroupName;
import org.jcpg.MembershipChange;
import org.jcpg.Message;
import org.jcpg.testsupport.UnitTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The bundle framing (well-formed and malformed frames), the receiver's
 * unpacking and the sender queue's ordering and back-pressure, without
 * corosync: the queue's transport is a function here, the receiver gets
 * messages made by hand. {@code BundlingTest} does the same against the
 * daemon.
 */
@UnitTest
class BundleFrameAndQueueTest {
    private static final GroupName GROUP = GroupName.of("unit");

    /** A frame made by hand, to write malformed ones. */
    static byte[] frame(int version, int flags, int reserved, int count, byte[]... messages) {
        int size = BundleFrame.HEADER_BYTES;
        for (byte[] m : messages) {
            size += 4 + m.length;
        }
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {(byte) 0xFE, 'J', 'B', 'D'}).put((byte) version).put((byte) flags).putShort((short) reserved)
                .putInt(count);
        for (byte[] m : messages) {
            b.putInt(m.length).put(m);
        }
        return b.array();
    }

    static byte[] text(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static byte[] concat(byte[] a, byte[] b) {
        byte[] all = new byte[a.length + b.length];
        System.arraycopy(a, 0, all, 0, a.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }

    @Test
    void aWellFormedFrameIsReadBack() {
        byte[] f = frame(1, 0, 0, 3, text("a"), new byte[0], text("ccc"));
        MemorySegment s = MemorySegment.ofArray(f);
        assertThat(Bundling.isBundle(s)).isTrue();
        assertThat(BundleFrame.validate(s)).isEqualTo(3);
        assertThat(BundleFrame.lengthAt(s, 12)).isEqualTo(1);
    }

    @Test
    void theWriterAndTheReaderAgree() {
        MemorySegment f = MemorySegment.ofArray(new byte[64]);
        long end = BundleFrame.append(f, BundleFrame.HEADER_BYTES, MemorySegment.ofArray(text("hello")));
        end = BundleFrame.append(f, end, MemorySegment.ofArray(text("x")));
        BundleFrame.writeHeader(f, 2);
        assertThat(f.asSlice(0, end).toArray(ValueLayout.JAVA_BYTE)).isEqualTo(frame(1, 0, 0, 2, text("hello"), text("x")));
    }

    @Test
    void malformedFramesAreRefusedWithTheReason() {
        byte[] ok = frame(1, 0, 0, 2, text("ab"), text("c"));
        record Case(String why, byte[] bytes, String reason) {
        }
        byte[] lengthBeyond = ok.clone();
        lengthBeyond[12] = 100;
        byte[] hugeLength = ok.clone();
        hugeLength[15] = (byte) 0xFF;
        List<Case> cases = List.of(
                new Case("empty", new byte[0], "no magic"),
                new Case("plain text", text("hello world"), "no magic"),
                new Case("magic only", new byte[] {(byte) 0xFE, 'J', 'B', 'D'}, "truncated header"),
                new Case("short header", java.util.Arrays.copyOf(ok, 11), "truncated header"),
                new Case("version 2", frame(2, 0, 0, 1, text("a")), "version 2"),
                new Case("version 0", frame(0, 0, 0, 1, text("a")), "version 0"),
                new Case("unknown flag", frame(1, 4, 0, 1, text("a")), "flags 0x4"),
                new Case("reserved", frame(1, 0, 7, 1, text("a")), "reserved"),
                new Case("no messages", frame(1, 0, 0, 0), "no messages"),
                new Case("count above what fits", frame(1, 0, 0, 5, text("a")), "does not fit"),
                new Case("count of 2^32-1", frame(1, 0, 0, -1, text("a")), "does not fit"),
                new Case("count below the messages", frame(1, 0, 0, 1, text("a"), text("b")), "after the last"),
                new Case("length beyond the end", lengthBeyond, "beyond the end"),
                new Case("length of 2^32-1", hugeLength, "beyond the end"),
                new Case("truncated body", java.util.Arrays.copyOf(ok, ok.length - 1), "beyond the end"),
                new Case("truncated length", concat(frame(1, 0, 0, 2, text("abcd")), new byte[] {1, 0}), "truncated length"),
                new Case("trailing bytes", concat(ok, new byte[] {0}), "after the last"));
        for (Case c : cases) {
            assertThatThrownBy(() -> BundleFrame.validate(MemorySegment.ofArray(c.bytes())))
                    .as(c.why()).isInstanceOf(IllegalArgumentException.class).hasMessageContaining(c.reason());
        }
    }

    @Test
    void utf8TextNeverLooksLikeABundle() {
        assertThat(Bundling.isBundle(MemorySegment.ofArray(text("\u00fe\u00ff any text")))).isFalse();
        assertThat(Bundling.isBundle(MemorySegment.ofArray(new byte[] {(byte) 0xFE, 'J', 'B'}))).isFalse();
    }

    // ---- the receiver ------------------------------------------------------

    record Seen(long node, int pid, String text) {
    }

    static final class Collect implements CpgListener {
        final List<Seen> seen = new ArrayList<>();
        final List<CpgEvent> others = new ArrayList<>();

        @Override
        public void onMessage(CpgConnection connection, Message message) {
            seen.add(new Seen(message.nodeId(), message.pid(), new String(message.toByteArray(), StandardCharsets.UTF_8)));
        }

        @Override
        public void onMembershipChange(CpgConnection connection, MembershipChange change) {
            others.add(change);
        }
    }

    static Message delivered(byte[] payload) {
        return new Message(GROUP, 7, 4242, MemorySegment.ofArray(payload).asReadOnly());
    }

    @Test
    void theReceiverDeliversEachMessageWithTheBundlesSenderInOrder() {
        Collect app = new Collect();
        List<String> rejected = new ArrayList<>();
        BundlingReceiver receiver = Bundling.builder().onRejected((m, why) -> rejected.add(why)).build().receiver(app);
        receiver.onEvent(null, delivered(frame(1, 0, 0, 3, text("one"), text(""), text("three"))));
        MembershipChange change = new MembershipChange(GROUP, List.of(), List.of(), List.of());
        receiver.onEvent(null, change);
        assertThat(app.seen).containsExactly(new Seen(7, 4242, "one"), new Seen(7, 4242, ""), new Seen(7, 4242, "three"));
        assertThat(app.others).containsExactly(change);
        assertThat(receiver.bundles()).isEqualTo(1);
        assertThat(receiver.messages()).isEqualTo(3);
        assertThat(rejected).isEmpty();
    }

    @Test
    void aDeliveredMessageIsAReadOnlySliceOfTheBundle() {
        List<MemorySegment> payloads = new ArrayList<>();
        BundlingReceiver receiver = Bundling.defaults().receiver(new CpgListener() {
            @Override
            public void onMessage(CpgConnection connection, Message message) {
                payloads.add(message.payload());
            }
        });
        byte[] bundle = frame(1, 0, 0, 2, text("ab"), text("cde"));
        receiver.onEvent(null, delivered(bundle));
        assertThat(payloads).allMatch(MemorySegment::isReadOnly);
        assertThat(payloads.get(1).byteSize()).isEqualTo(3);
        bundle[12 + 4 + 2 + 4] = 'X';   // the first byte of the second message, in the original buffer
        assertThat(payloads.get(1).get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) 'X');
    }

    @Test
    void plainAndMalformedMessagesAreRejectedWholeNotMisread() {
        Collect app = new Collect();
        List<String> rejected = new ArrayList<>();
        BundlingReceiver receiver = Bundling.builder().onRejected((m, why) -> rejected.add(m.pid() + " " + why)).build()
                .receiver(app);
        receiver.onEvent(null, delivered(text("plain")));
        byte[] cut = frame(1, 0, 0, 2, text("first"), text("second"));
        receiver.onEvent(null, delivered(java.util.Arrays.copyOf(cut, cut.length - 2)));
        receiver.onEvent(null, delivered(frame(2, 0, 0, 1, text("from the future"))));
        assertThat(app.seen).isEmpty();
        assertThat(rejected).hasSize(3);
        assertThat(rejected.get(0)).startsWith("4242 not a bundle");
        assertThat(rejected.get(1)).contains("malformed bundle").contains("beyond the end");
        assertThat(rejected.get(2)).contains("version 2");
        assertThat(receiver.rejected()).isEqualTo(3);
    }

    @Test
    void aMixedGroupDeliversPlainMessagesAsTheyAre() {
        Collect app = new Collect();
        List<String> rejected = new ArrayList<>();
        BundlingReceiver receiver = Bundling.builder().acceptUnbundled(true).onRejected((m, why) -> rejected.add(why))
                .build().receiver(app);
        receiver.onEvent(null, delivered(text("plain")));
        receiver.onEvent(null, delivered(frame(1, 0, 0, 1, text("bundled"))));
        receiver.onEvent(null, delivered(frame(1, 0, 0, 2, text("malformed"))));
        assertThat(app.seen).extracting(Seen::text).containsExactly("plain", "bundled");
        assertThat(rejected).hasSize(1);
    }

    @Test
    void aThrowingListenerStillGetsTheRestOfTheBundleThenTheFirstFailure() {
        List<String> seen = new ArrayList<>();
        BundlingReceiver receiver = Bundling.defaults().receiver(new CpgListener() {
            @Override
            public void onMessage(CpgConnection connection, Message message) {
                String text = new String(message.toByteArray(), StandardCharsets.UTF_8);
                seen.add(text);
                if (text.startsWith("bad")) {
                    throw new IllegalStateException(text);
                }
            }
        });
        assertThatThrownBy(() -> receiver.onEvent(null, delivered(frame(1, 0, 0, 4, text("a"), text("bad1"), text("c"),
                text("bad2")))))
                .isInstanceOf(IllegalStateException.class).hasMessage("bad1")
                .satisfies(t -> assertThat(t.getSuppressed()).extracting(Throwable::getMessage).containsExactly("bad2"));
        assertThat(seen).containsExactly("a", "bad1", "c", "bad2");
    }

    @Test
    void theOptionsAreChecked() {
        assertThatThrownBy(() -> Bundling.builder().maxBundleBytes(63)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Bundling.builder().maxDelay(Duration.ofNanos(9_999))).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Bundling.builder().maxDelay(Duration.ofSeconds(2))).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Bundling.builder().maxBundleBytes(4096).queueBytes(4095).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("whole bundle");
        assertThat(Bundling.defaults().maxBundleBytes()).isEqualTo(65536);
        assertThat(Bundling.defaults().maxDelay()).isEqualTo(Duration.ofMillis(1));
    }

    // ---- the sender's queue ------------------------------------------------

    /** A transport that refuses while {@code refuse} is set and keeps the frames it takes. */
    static final class Gate implements BundleQueue.Transport {
        final AtomicBoolean refuse = new AtomicBoolean();
        final List<byte[]> frames = new CopyOnWriteArrayList<>();

        @Override
        public boolean trySend(MemorySegment frame) {
            if (refuse.get()) {
                return false;
            }
            frames.add(frame.toArray(ValueLayout.JAVA_BYTE));
            return true;
        }

        List<String> messages() {
            List<String> all = new ArrayList<>();
            for (byte[] f : frames) {
                MemorySegment s = MemorySegment.ofArray(f);
                int count = BundleFrame.validate(s);
                long offset = BundleFrame.HEADER_BYTES;
                for (int i = 0; i < count; i++) {
                    int length = BundleFrame.lengthAt(s, offset);
                    all.add(new String(f, (int) offset + 4, length, StandardCharsets.UTF_8));
                    offset += 4 + length;
                }
            }
            return all;
        }
    }

    static MemorySegment seg(String s) {
        return MemorySegment.ofArray(text(s));
    }

    @Test
    @Timeout(30)
    void atLowLoadEachMessageGoesOutAtOnceAlone() throws Exception {
        Gate gate = new Gate();
        BundleQueue queue = new BundleQueue("unit", gate, 1024, 4096, 8192, 1_000_000, 4);
        for (int i = 0; i < 5; i++) {
            assertThat(queue.offer(seg("m" + i), 0)).isTrue();
            // sent on this thread before offer returned: no wait, no other thread
            assertThat(gate.frames).hasSize(i + 1);
        }
        assertThat(gate.messages()).containsExactly("m0", "m1", "m2", "m3", "m4");
        assertThat(queue.close(1_000_000_000L)).isZero();
        assertThat(queue.flusherAlive()).isFalse();
    }

    @Test
    @Timeout(30)
    void whileTheDaemonRefusesMessagesPileIntoBoundedBundlesThenGoInOrder() throws Exception {
        Gate gate = new Gate();
        int bundleBytes = 256;
        int capacity = 1024;
        BundleQueue queue = new BundleQueue("unit", gate, bundleBytes, 4096, capacity, 50_000, 4);
        gate.refuse.set(true);
        List<String> accepted = new ArrayList<>();
        int i = 0;
        while (queue.offer(seg(String.format("msg-%04d", i)), 0)) {
            accepted.add(String.format("msg-%04d", i));
            i++;
            assertThat(queue.counts().queuedBytes()).isLessThanOrEqualTo(capacity);
        }
        assertThat(accepted).hasSizeGreaterThan(50);
        assertThat(queue.counts().refused()).isEqualTo(1);
        assertThat(queue.counts().queuedBytes()).isLessThanOrEqualTo(capacity);
        // a timed offer waits, then gives up; a flush times out
        long start = System.nanoTime();
        assertThat(queue.offer(seg("late"), 20_000_000)).isFalse();
        assertThat(System.nanoTime() - start).isGreaterThanOrEqualTo(20_000_000);
        assertThat(queue.drain(10_000_000)).isFalse();
        assertThat(gate.frames).isEmpty();
        assertThat(queue.counts().tryAgain()).isGreaterThan(0);

        gate.refuse.set(false);
        assertThat(queue.drain(10_000_000_000L)).isTrue();
        assertThat(gate.messages()).isEqualTo(accepted);
        assertThat(gate.frames).allMatch(f -> f.length <= bundleBytes);
        assertThat(gate.frames.size()).isLessThan(accepted.size() / 10);
        BundleQueue.Counts counts = queue.counts();
        assertThat(counts.sent()).isEqualTo(accepted.size());
        assertThat(counts.bundles()).isEqualTo(gate.frames.size());
        assertThat(counts.queuedBytes()).isZero();
        assertThat(queue.close(1_000_000_000L)).isZero();
    }

    @Test
    @Timeout(30)
    void whileTheWindowIsFullMessagesFillTheNextBundleWhichWaitsAtMostTheMaximumDelay() throws Exception {
        Gate gate = new Gate();
        long maxDelay = 300_000_000L;
        BundleQueue queue = new BundleQueue("unit", gate, 1024, 4096, 8192, maxDelay, 1);
        assertThat(queue.offer(seg("m1"), 0)).isTrue();
        queue.selfDelivered();                 // m1 came back: from now on one bundle in flight at most
        assertThat(queue.offer(seg("m2"), 0)).isTrue();
        assertThat(gate.frames).hasSize(2);   // nothing in flight: at once
        for (String m : List.of("m3", "m4", "m5")) {
            assertThat(queue.offer(seg(m), 0)).isTrue();
        }
        Thread.sleep(50);
        assertThat(gate.frames).hasSize(2);   // m2 is in flight: the next bundle fills
        queue.selfDelivered();
        assertThat(queue.drain(5_000_000_000L)).isTrue();
        assertThat(gate.frames).hasSize(3);
        assertThat(BundleFrame.validate(MemorySegment.ofArray(gate.frames.get(2)))).isEqualTo(3);
        // a delivery report that never comes stalls a bundle for the maximum delay, not for ever
        long start = System.nanoTime();
        assertThat(queue.offer(seg("m6"), 0)).isTrue();
        assertThat(queue.drain(5_000_000_000L)).isTrue();
        assertThat(System.nanoTime() - start).isGreaterThanOrEqualTo(maxDelay);
        assertThat(gate.messages()).containsExactly("m1", "m2", "m3", "m4", "m5", "m6");
        queue.close(1_000_000_000L);
    }

    @Test
    @Timeout(30)
    void aFullBundleDoesNotWaitForTheWindowOnlyTheOneStillFilling() throws Exception {
        Gate gate = new Gate();
        long maxDelay = 60_000_000_000L;   // no report comes in this test: only fullness can release a bundle
        BundleQueue queue = new BundleQueue("unit", gate, 64, 4096, 8192, maxDelay, 1);
        assertThat(queue.offer(seg("m1"), 0)).isTrue();
        queue.selfDelivered();                 // from now on one bundle in flight at most, unless full
        assertThat(queue.offer(seg("m2"), 0)).isTrue();
        assertThat(gate.frames).hasSize(2);   // m2 is in flight
        // 12 bytes of header + 3 x (4 + 10) fit in 64 bytes; the fourth starts the next bundle
        for (String m : List.of("aaaaaaaaa1", "aaaaaaaaa2", "aaaaaaaaa3", "bbbbbbbbb1")) {
            assertThat(queue.offer(seg(m), 0)).isTrue();
        }
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (gate.frames.size() < 3) {
            assertThat(System.nanoTime()).as("the full bundle went without a delivery report").isLessThan(deadline);
            Thread.sleep(1);
        }
        Thread.sleep(50);
        assertThat(gate.frames).as("the bundle still filling waits").hasSize(3);
        assertThat(gate.messages()).containsExactly("m1", "m2", "aaaaaaaaa1", "aaaaaaaaa2", "aaaaaaaaa3");
        queue.selfDelivered();
        queue.selfDelivered();
        assertThat(queue.drain(10_000_000_000L)).isTrue();
        assertThat(gate.messages()).endsWith("bbbbbbbbb1");
        queue.close(1_000_000_000L);
    }

    @Test
    @Timeout(30)
    void aMessageLargerThanABundleGoesAloneAndTooLargeIsRefused() throws Exception {
        Gate gate = new Gate();
        BundleQueue queue = new BundleQueue("unit", gate, 64, 1000, 128, 50_000, 4);
        String big = "x".repeat(500);
        assertThat(queue.offer(seg(big), 0)).isTrue();
        assertThat(gate.messages()).containsExactly(big);
        assertThatThrownBy(() -> queue.offer(seg("y".repeat(1001)), 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at most 1000");
        queue.close(1_000_000_000L);
    }

    @Test
    @Timeout(30)
    void aFailedSendIsReportedNotSwallowedAndLaterCallsSayHowManyWereNotSent() throws Exception {
        AtomicBoolean broken = new AtomicBoolean();
        AtomicBoolean refuse = new AtomicBoolean();
        BundleQueue queue = new BundleQueue("unit", frame -> {
            if (broken.get()) {
                throw new CpgException("cpg_mcast_joined", 2);
            }
            return !refuse.get();
        }, 256, 1000, 4096, 50_000, 4);
        assertThat(queue.offer(seg("fine"), 0)).isTrue();
        refuse.set(true);
        assertThat(queue.offer(seg("queued-1"), 0)).isTrue();
        assertThat(queue.offer(seg("queued-2"), 0)).isTrue();
        broken.set(true);
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (true) {
            try {
                queue.offer(seg("more"), 0);
            } catch (IllegalStateException | CpgException e) {
                break;
            }
            assertThat(System.nanoTime()).isLessThan(deadline);
            Thread.sleep(1);
        }
        assertThatThrownBy(() -> queue.offer(seg("after"), 0)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("were not sent").hasCauseInstanceOf(CpgException.class);
        assertThatThrownBy(() -> queue.drain(0)).isInstanceOf(IllegalStateException.class);
        queue.close(0);
    }

    @Test
    @Timeout(30)
    void manyThreadsKeepTheirOwnOrder() throws Exception {
        Gate gate = new Gate();
        BundleQueue queue = new BundleQueue("unit", gate, 512, 4096, 4096, 50_000, 4);
        int threads = 4;
        int each = 5000;
        List<Thread> senders = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int me = t;
            senders.add(Thread.ofPlatform().start(() -> {
                for (int k = 0; k < each; k++) {
                    try {
                        while (!queue.offer(seg(me + ":" + k), 1_000_000_000L)) {
                            Thread.onSpinWait();
                        }
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }));
        }
        // the "daemon" refuses now and then, so that bundles form and wait
        Thread flapping = Thread.ofPlatform().daemon().start(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                gate.refuse.set(!gate.refuse.get());
                java.util.concurrent.locks.LockSupport.parkNanos(200_000);
            }
        });
        for (Thread s : senders) {
            s.join();
        }
        flapping.interrupt();
        flapping.join();
        gate.refuse.set(false);
        assertThat(queue.drain(10_000_000_000L)).isTrue();
        List<String> all = gate.messages();
        assertThat(all).hasSize(threads * each);
        int[] next = new int[threads];
        for (String m : all) {
            String[] parts = m.split(":");
            int t = Integer.parseInt(parts[0]);
            assertThat(Integer.parseInt(parts[1])).as("thread " + t).isEqualTo(next[t]++);
        }
        queue.close(1_000_000_000L);
    }
}
