package org.jcpg;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.nio.charset.StandardCharsets.UTF_8;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.jcpg.testsupport.Await;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.Recorder;
import org.jcpg.testsupport.SuiteDaemon;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Sending and receiving: membership between connections, total order, every multicast flavour, zero-copy. */
// SEPARATE_THREAD: a test stuck in a native call still fails after 30 s instead of blocking the build.
@NodeTest
@Timeout(value = 30, unit = SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class MessagingTest {
    private static final int PID = (int) SuiteDaemon.OWN_PID;

    private final List<CpgConnection> opened = new CopyOnWriteArrayList<>();

    @AfterEach
    void closeConnections() {
        opened.forEach(CpgConnection::close);
    }

    private CpgConnection open(Recorder recorder) {
        CpgConnection connection = CpgConnection.open(recorder);
        opened.add(connection);
        return connection;
    }

    private static List<String> payloads(Recorder recorder) {
        return recorder.messages.stream().map(m -> new String(m.payload(), UTF_8)).toList();
    }

    // ---- two connections in one process -----------------------------------

    /**
     * corosync names a member by (node id, pid) and refuses a second handle of
     * the same process in the same group (CS_ERR_EXIST): members of one group
     * must be different processes (see ProcessTest).
     */
    @Test
    void secondConnectionOfTheSameProcessCannotJoinTheSameGroup() {
        GroupName group = SuiteDaemon.uniqueGroup("twice");
        Recorder first = new Recorder();
        CpgConnection a = open(first);
        CpgConnection b = open(new Recorder());
        a.join(group);
        assertThatThrownBy(() -> b.join(group))
                .isInstanceOfSatisfying(CpgException.class, e -> {
                    assertThat(e.error()).isEqualTo(CpgError.EXIST);
                    assertThat(e.operation()).isEqualTo("cpg_join");
                });
        assertThat(b.group()).isNull();
        // The refused join changed nothing: the group still has one member, and b may join elsewhere.
        assertThat(a.membership(group)).containsExactly(new Member(a.localNodeId(), PID, Reason.UNDEFINED));
        GroupName other = SuiteDaemon.uniqueGroup("twice-other");
        b.join(other);
        assertThat(b.group()).isEqualTo(other);
    }

    @Test
    void connectionsInDifferentGroupsReceiveOnlyTheirGroupsMessages() {
        Recorder first = new Recorder();
        Recorder second = new Recorder();
        CpgConnection a = open(first);
        CpgConnection b = open(second);
        GroupName groupA = SuiteDaemon.uniqueGroup("iso-a");
        GroupName groupB = SuiteDaemon.uniqueGroup("iso-b");
        a.join(groupA);
        b.join(groupB);
        a.multicast(Guarantee.AGREED, "to-a".getBytes(UTF_8));
        b.multicast(Guarantee.AGREED, "to-b".getBytes(UTF_8));
        a.multicast(Guarantee.AGREED, "to-a-2".getBytes(UTF_8));
        SuiteDaemon.dispatchUntil(() -> first.messages.size() >= 2 && !second.messages.isEmpty(), a, b);
        a.dispatch(DispatchMode.ALL);
        b.dispatch(DispatchMode.ALL);
        assertThat(payloads(first)).containsExactly("to-a", "to-a-2");
        assertThat(payloads(second)).containsExactly("to-b");
        assertThat(first.messages).allSatisfy(m -> assertThat(m.group()).isEqualTo(groupA));
        assertThat(second.messages).allSatisfy(m -> assertThat(m.group()).isEqualTo(groupB));
        // Each saw only its own join.
        assertThat(first.joins()).containsExactly(new Member(a.localNodeId(), PID, Reason.JOIN));
        assertThat(second.joins()).containsExactly(new Member(b.localNodeId(), PID, Reason.JOIN));
    }

    // ---- multicast flavours ---------------------------------------------------

    /** Joins a fresh group, runs {@code send}, and returns the one message delivered back. */
    private byte[] roundTrip(Consumer<CpgConnection> send) {
        Recorder recorder = new Recorder();
        CpgConnection cpg = open(recorder);
        cpg.join(SuiteDaemon.uniqueGroup("mcast"));
        send.accept(cpg);
        SuiteDaemon.dispatchUntil(() -> !recorder.messages.isEmpty(), cpg);
        // Anything sent by mistake (a second message) would be waiting by now as well.
        cpg.dispatch(DispatchMode.ALL);
        assertThat(recorder.messages).hasSize(1);
        assertThat(recorder.messages.get(0).pid()).isEqualTo(PID);
        return recorder.messages.get(0).payload();
    }

    private static byte[] pattern(int length, int seed) {
        byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++) {
            bytes[i] = (byte) (i * 31 + (i >>> 8) + seed);
        }
        return bytes;
    }

    @Test
    void multicastsByteArray() {
        byte[] message = pattern(1000, 1);
        assertThat(roundTrip(cpg -> cpg.multicast(Guarantee.AGREED, message))).isEqualTo(message);
    }

    @Test
    void multicastsTheRemainingBytesOfAHeapByteBufferAndAdvancesIt() {
        byte[] backing = pattern(100, 2);
        ByteBuffer buffer = ByteBuffer.wrap(backing, 10, 50); // position 10, limit 60
        byte[] delivered = roundTrip(cpg -> cpg.multicast(Guarantee.AGREED, buffer));
        assertThat(delivered).isEqualTo(java.util.Arrays.copyOfRange(backing, 10, 60));
        assertThat(buffer.position()).isEqualTo(60);
        assertThat(buffer.hasRemaining()).isFalse();
    }

    @Test
    void multicastsTheRemainingBytesOfADirectByteBufferAndAdvancesIt() {
        byte[] content = pattern(300, 3);
        ByteBuffer buffer = ByteBuffer.allocateDirect(400);
        buffer.put(content).flip();
        buffer.position(7);
        byte[] delivered = roundTrip(cpg -> cpg.multicast(Guarantee.AGREED, buffer));
        assertThat(delivered).isEqualTo(java.util.Arrays.copyOfRange(content, 7, 300));
        assertThat(buffer.position()).isEqualTo(buffer.limit()).isEqualTo(300);
    }

    @Test
    void multicastsAReadOnlyByteBuffer() {
        byte[] content = pattern(64, 4);
        ByteBuffer buffer = ByteBuffer.wrap(content).asReadOnlyBuffer();
        assertThat(roundTrip(cpg -> cpg.multicast(Guarantee.AGREED, buffer))).isEqualTo(content);
        assertThat(buffer.hasRemaining()).isFalse();
    }

    @Test
    void multicastsHeapSegment() {
        byte[] content = pattern(500, 5);
        MemorySegment segment = MemorySegment.ofArray(content).asSlice(100, 300);
        assertThat(roundTrip(cpg -> cpg.multicast(Guarantee.AGREED, segment)))
                .isEqualTo(java.util.Arrays.copyOfRange(content, 100, 400));
    }

    @Test
    void multicastsConfinedArenaSegment() {
        byte[] content = pattern(2000, 6);
        try (Arena arena = Arena.ofConfined()) {
            // Confined to this thread: jcpg hands it to libcpg without a copy.
            MemorySegment segment = arena.allocate(content.length);
            MemorySegment.copy(content, 0, segment, JAVA_BYTE, 0, content.length);
            assertThat(roundTrip(cpg -> cpg.multicast(Guarantee.AGREED, segment))).isEqualTo(content);
        }
    }

    @Test
    void multicastsSharedArenaSegment() {
        byte[] content = pattern(2000, 7);
        try (Arena arena = Arena.ofShared()) {
            MemorySegment segment = arena.allocate(content.length);
            MemorySegment.copy(content, 0, segment, JAVA_BYTE, 0, content.length);
            assertThat(roundTrip(cpg -> cpg.multicast(Guarantee.AGREED, segment))).isEqualTo(content);
        }
    }

    @Test
    void multicastsGlobalAndAutoArenaSegments() {
        byte[] content = pattern(777, 8);
        MemorySegment global = Arena.global().allocate(content.length);
        MemorySegment.copy(content, 0, global, JAVA_BYTE, 0, content.length);
        assertThat(roundTrip(cpg -> cpg.multicast(Guarantee.AGREED, global))).isEqualTo(content);

        MemorySegment auto = Arena.ofAuto().allocate(content.length);
        MemorySegment.copy(content, 0, auto, JAVA_BYTE, 0, content.length);
        assertThat(roundTrip(cpg -> cpg.multicast(Guarantee.AGREED, auto))).isEqualTo(content);
    }

    @Test
    void segmentOfAClosedArenaIsRefusedAndNothingIsSent() {
        Arena arena = Arena.ofShared();
        MemorySegment segment = arena.allocate(16);
        arena.close();
        Recorder recorder = new Recorder();
        CpgConnection cpg = open(recorder);
        cpg.join(SuiteDaemon.uniqueGroup("closed-arena"));
        assertThatThrownBy(() -> cpg.multicast(Guarantee.AGREED, segment)).isInstanceOf(IllegalStateException.class);
        // A marker sent afterwards is the only message delivered.
        cpg.multicast(Guarantee.AGREED, "marker".getBytes(UTF_8));
        SuiteDaemon.dispatchUntil(() -> !recorder.messages.isEmpty(), cpg);
        cpg.dispatch(DispatchMode.ALL);
        assertThat(payloads(recorder)).containsExactly("marker");
    }

    @Test
    void gathersByteBuffersIntoOneMessage() {
        byte[] one = pattern(10, 9);
        byte[] two = pattern(200, 10);
        byte[] three = pattern(33, 11);
        ByteBuffer heap = ByteBuffer.wrap(one);
        ByteBuffer direct = ByteBuffer.allocateDirect(two.length).put(two).flip();
        ByteBuffer empty = ByteBuffer.allocate(0);
        ByteBuffer heapWithOffset = ByteBuffer.wrap(pattern(50, 12), 5, 33).slice().put(three).flip();
        byte[] delivered = roundTrip(cpg -> cpg.multicast(Guarantee.AGREED, heap, direct, empty, heapWithOffset));
        assertThat(delivered).isEqualTo(concat(one, two, three));
        assertThat(List.of(heap, direct, empty, heapWithOffset)).allSatisfy(b -> assertThat(b.hasRemaining()).isFalse());
    }

    @Test
    void gathersSegmentsOfEveryKindIntoOneMessage() {
        byte[] one = pattern(100, 13);
        byte[] two = pattern(1, 14);
        byte[] three = pattern(4000, 15);
        byte[] four = pattern(17, 16);
        try (Arena confined = Arena.ofConfined(); Arena shared = Arena.ofShared()) {
            MemorySegment nativeTwo = confined.allocate(two.length);
            MemorySegment.copy(two, 0, nativeTwo, JAVA_BYTE, 0, two.length);
            MemorySegment nativeThree = shared.allocate(three.length);
            MemorySegment.copy(three, 0, nativeThree, JAVA_BYTE, 0, three.length);
            MemorySegment globalFour = Arena.global().allocate(four.length);
            MemorySegment.copy(four, 0, globalFour, JAVA_BYTE, 0, four.length);
            byte[] delivered = roundTrip(cpg -> cpg.multicast(Guarantee.AGREED,
                    MemorySegment.ofArray(one), nativeTwo, MemorySegment.NULL, nativeThree, globalFour));
            assertThat(delivered).isEqualTo(concat(one, two, three, four));
        }
    }

    /** libcpg copies the iovec array into a fixed iovec[64] with its own header first: 63 parts fit, 64 must not overflow it. */
    @ParameterizedTest
    @ValueSource(ints = {62, 63, 64, 200})
    void gatherOfManyPartsIsDeliveredAsTheExactConcatenation(int parts) {
        ByteArrayOutputStream expected = new ByteArrayOutputStream();
        MemorySegment[] segments = new MemorySegment[parts];
        try (Arena arena = Arena.ofConfined()) {
            for (int i = 0; i < parts; i++) {
                byte[] part = pattern(1 + i % 7, i);
                expected.writeBytes(part);
                // Alternate heap and native parts, so both the copied and the direct path are used.
                if (i % 2 == 0) {
                    segments[i] = MemorySegment.ofArray(part);
                } else {
                    segments[i] = arena.allocate(part.length);
                    MemorySegment.copy(part, 0, segments[i], JAVA_BYTE, 0, part.length);
                }
            }
            assertThat(roundTrip(cpg -> cpg.multicast(Guarantee.AGREED, segments))).isEqualTo(expected.toByteArray());
        }
    }

    @Test
    void emptyMessageIsDeliveredWithLengthZero() {
        assertThat(roundTrip(cpg -> cpg.multicast(Guarantee.AGREED, new byte[0]))).isEmpty();
    }

    @Test
    void gatherOfNoPartsIsDeliveredAsAnEmptyMessage() {
        assertThat(roundTrip(cpg -> cpg.multicast(Guarantee.AGREED, new MemorySegment[0]))).isEmpty();
    }

    @Test
    void everyGuaranteeIsAcceptedAndDelivered() {
        Recorder recorder = new Recorder();
        CpgConnection cpg = open(recorder);
        cpg.join(SuiteDaemon.uniqueGroup("guarantee"));
        for (Guarantee guarantee : Guarantee.values()) {
            cpg.multicast(guarantee, guarantee.name().getBytes(UTF_8));
        }
        SuiteDaemon.dispatchUntil(() -> recorder.messages.size() == Guarantee.values().length, cpg);
        assertThat(payloads(recorder)).containsExactly("UNORDERED", "FIFO", "AGREED", "SAFE");
    }

    @Test
    void sendBeforeJoinIsRefused() {
        CpgConnection cpg = open(new Recorder());
        assertThatThrownBy(() -> cpg.multicast(Guarantee.AGREED, new byte[1])).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void fourMebibyteMessageIsFragmentedAndDeliveredWhole() {
        int size = 4 * 1024 * 1024;
        Recorder recorder = new Recorder();
        CpgConnection cpg = open(recorder);
        cpg.join(SuiteDaemon.uniqueGroup("big"));
        assertThat(cpg.maxAtomicMessageSize()).isEqualTo(1047552).isLessThan(size);

        byte[] message = pattern(size, 17);
        // Sent from the test thread while nobody dispatches: the fragmented send must not depend on it.
        cpg.multicast(Guarantee.AGREED, message);
        cpg.multicast(Guarantee.AGREED, "after".getBytes(UTF_8));
        SuiteDaemon.dispatchUntil(() -> recorder.messages.size() == 2, cpg);
        byte[] delivered = recorder.messages.get(0).payload();
        assertThat(delivered.length).isEqualTo(size);
        // Arrays.mismatch rather than isEqualTo: a 4 MiB failure message would be unreadable.
        assertThat(java.util.Arrays.mismatch(delivered, message)).as("first differing byte").isEqualTo(-1);
        assertThat(new String(recorder.messages.get(1).payload(), UTF_8)).isEqualTo("after");
    }

    // ---- zero copy ------------------------------------------------------------

    @Test
    void zeroCopyBufferSendsItsContentAndCanBeReused() {
        Recorder recorder = new Recorder();
        CpgConnection cpg = open(recorder);
        cpg.join(SuiteDaemon.uniqueGroup("zcb"));
        ZeroCopyBuffer buffer = cpg.allocateZeroCopy(4096);
        MemorySegment segment = buffer.segment();
        assertThat(segment.byteSize()).isEqualTo(4096);

        byte[] first = pattern(1000, 18);
        MemorySegment.copy(first, 0, segment, JAVA_BYTE, 0, first.length);
        buffer.multicast(Guarantee.AGREED, first.length);
        SuiteDaemon.dispatchUntil(() -> recorder.messages.size() == 1, cpg);
        assertThat(recorder.messages.get(0).payload()).isEqualTo(first);

        // The same buffer, refilled with different content and sent whole.
        byte[] second = pattern(4096, 19);
        MemorySegment.copy(second, 0, segment, JAVA_BYTE, 0, second.length);
        buffer.multicast(Guarantee.AGREED, second.length);
        buffer.multicast(Guarantee.AGREED, 0);
        SuiteDaemon.dispatchUntil(() -> recorder.messages.size() == 3, cpg);
        assertThat(recorder.messages.get(1).payload()).isEqualTo(second);
        assertThat(recorder.messages.get(2).payload()).isEmpty();

        assertThatThrownBy(() -> buffer.multicast(Guarantee.AGREED, 4097)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> buffer.multicast(Guarantee.AGREED, -1)).isInstanceOf(IllegalArgumentException.class);

        buffer.close();
        assertThatThrownBy(() -> segment.get(JAVA_BYTE, 0)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> buffer.multicast(Guarantee.AGREED, 1)).isInstanceOf(IllegalStateException.class);
        assertThatCode(buffer::close).as("second close").doesNotThrowAnyException();
        // Nothing was sent by the refused calls.
        cpg.dispatch(DispatchMode.ALL);
        assertThat(recorder.messages).hasSize(3);
    }

    @Test
    void closingTheConnectionInvalidatesItsZeroCopyBuffers() {
        CpgConnection cpg = open(new Recorder());
        cpg.join(SuiteDaemon.uniqueGroup("zcb-close"));
        ZeroCopyBuffer buffer = cpg.allocateZeroCopy(128);
        MemorySegment segment = buffer.segment();
        segment.fill((byte) 1);
        cpg.close();
        assertThatThrownBy(() -> segment.get(JAVA_BYTE, 0)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> buffer.segment().set(JAVA_BYTE, 0, (byte) 2)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> buffer.multicast(Guarantee.AGREED, 1)).isInstanceOf(IllegalStateException.class);
        assertThatCode(buffer::close).doesNotThrowAnyException();
    }

    /** Whether this process still maps a zero-copy buffer at {@code address} (libcpg maps /dev/shm/corosync_zerocopy-*). */
    private static boolean zeroCopyMapped(long address) throws java.io.IOException {
        long page = address & ~0xfffL;
        return java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/maps")).stream()
                .filter(line -> line.contains("corosync_zerocopy"))
                .anyMatch(line -> Long.parseUnsignedLong(line.substring(0, line.indexOf('-')), 16) == page);
    }

    @Test
    void zeroCopyMemoryIsUnmappedWhenTheBufferOrTheConnectionCloses() throws Exception {
        CpgConnection cpg = open(new Recorder());
        ZeroCopyBuffer closedFirst = cpg.allocateZeroCopy(10_000);
        ZeroCopyBuffer closedWithConnection = cpg.allocateZeroCopy(10_000);
        long first = closedFirst.segment().address();
        long second = closedWithConnection.segment().address();
        assertThat(zeroCopyMapped(first)).isTrue();
        assertThat(zeroCopyMapped(second)).isTrue();
        closedFirst.close();
        assertThatThrownBy(() -> closedFirst.segment().get(JAVA_BYTE, 0)).isInstanceOf(IllegalStateException.class);
        awaitUnmapped(first);
        assertThat(zeroCopyMapped(second)).isTrue();
        cpg.close();
        assertThatThrownBy(() -> closedWithConnection.segment().get(JAVA_BYTE, 0)).isInstanceOf(IllegalStateException.class);
        awaitUnmapped(second);
    }

    /** close() never waits for the daemon: a jcpg thread frees the memory soon after. */
    private static void awaitUnmapped(long address) throws Exception {
        Await.until(() -> !zeroCopyMapped(address), Duration.ofSeconds(10), "the zero-copy mapping gone after close");
        assertThat(zeroCopyMapped(address)).as("zero-copy mapping still present after close").isFalse();
    }

    /**
     * close() from a callback defers the native release until the dispatch
     * returns; a buffer closed in between must still be freed (by the
     * connection's release), not forgotten by both.
     */
    @Test
    void zeroCopyBufferClosedAfterItsConnectionInACallbackIsStillUnmapped() throws Exception {
        java.util.concurrent.atomic.AtomicReference<ZeroCopyBuffer> buffer = new java.util.concurrent.atomic.AtomicReference<>();
        CpgConnection cpg = CpgConnection.open(new CpgListener() {
            @Override
            public void onMessage(CpgConnection connection, Message message) {
                connection.close();
                buffer.get().close();
            }
        });
        opened.add(cpg);
        cpg.join(SuiteDaemon.uniqueGroup("zcb-leak"));
        buffer.set(cpg.allocateZeroCopy(10_000));
        long address = buffer.get().segment().address();
        cpg.multicast(Guarantee.AGREED, new byte[1]);
        long deadline = System.nanoTime() + SECONDS.toNanos(10);
        while (!cpg.isClosed() && System.nanoTime() < deadline) {
            cpg.dispatch(DispatchMode.ONE);
        }
        assertThat(cpg.isClosed()).isTrue();
        assertThatThrownBy(() -> buffer.get().segment().get(JAVA_BYTE, 0)).isInstanceOf(IllegalStateException.class);
        awaitUnmapped(address);
    }

    @Test
    void zeroCopySendBeforeJoinIsRefused() {
        CpgConnection cpg = open(new Recorder());
        try (ZeroCopyBuffer buffer = cpg.allocateZeroCopy(8)) {
            assertThatThrownBy(() -> buffer.multicast(Guarantee.AGREED, 8)).isInstanceOf(IllegalStateException.class);
        }
        assertThatThrownBy(() -> cpg.allocateZeroCopy(0)).isInstanceOf(IllegalArgumentException.class);
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] part : parts) {
            out.writeBytes(part);
        }
        return out.toByteArray();
    }
}
