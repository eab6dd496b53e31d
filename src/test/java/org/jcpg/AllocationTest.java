package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import org.jcpg.bundling.Bundling;
import org.jcpg.bundling.BundlingReceiver;
import org.jcpg.bundling.BundlingSender;
import org.jcpg.testsupport.ChildJvm;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.SuiteDaemon;
import org.jcpg.testsupport.ThreadAllocation;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The hot paths allocate nothing in steady state: sending from a native
 * segment or a zero-copy buffer, and delivering through the payload view
 * to a callback that reads it without copying. "Nothing" means under one
 * byte per message over a window of 100,000 messages, sent and dispatched
 * by one thread; a path gets a few windows to reach its steady state (the
 * JIT compiles in the background), and fails if none is below the bound.
 * The {@code byte[]} path, copied through reused staging memory, is held
 * to the same bound. Bundled sends and deliveries copy no message to the
 * heap (a looser bound: see {@link #bundled}).
 *
 * <p>Each path runs in a JVM of its own, as in an application: in this
 * test JVM, the listener call sites have seen many other tests' listeners,
 * and the JIT could not inline them.
 */
@NodeTest
class AllocationTest {
    private static final int WINDOW = 100_000;
    private static final int WINDOWS = 5;
    private static final int SIZE = 1024;

    private interface Sender {
        boolean trySend(CpgConnection cpg, long sequence);
    }

    @Test
    @Timeout(600)
    void nativeSegmentSendsAndViewDeliveriesAllocateNothing() throws Exception {
        assertInChildJvm("segment");
    }

    @Test
    @Timeout(600)
    void zeroCopySendsAndViewDeliveriesAllocateNothing() throws Exception {
        assertInChildJvm("zerocopy");
    }

    @Test
    @Timeout(600)
    void byteArraySendsAllocateNothingEither() throws Exception {
        assertInChildJvm("bytearray");
    }

    @Test
    @Timeout(600)
    void bundledSendsAndDeliveriesCopyNothingToTheHeap() throws Exception {
        assertInChildJvm("bundled");
    }

    private static void assertInChildJvm(String path) throws Exception {
        ChildJvm.Finished child = ChildJvm.of(AllocationTest.class).args(path).run(Duration.ofSeconds(590));
        System.out.print(child.out());
        System.err.print(child.err());
        assertThat(child.exit()).as("exit status of the child JVM for %s", path).isZero();
    }

    /** In the child JVM: measures one path; exits with 1 if no window was below its bound. */
    public static void main(String[] args) throws Exception {
        switch (args[0]) {
            case "segment" -> segment();
            case "zerocopy" -> zeroCopy();
            case "bytearray" -> byteArray();
            case "bundled" -> bundled();
            default -> throw new IllegalArgumentException(args[0]);
        }
    }

    private static void segment() throws Exception {
        // Global: readable in place from the thread that sends (a confined arena would be the test thread's).
        MemorySegment message = Arena.global().allocate(SIZE);
        assertSteadyStateAllocatesNothing("tryMulticast(MemorySegment) + delivery", (cpg, sequence) -> {
            message.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, sequence);
            return cpg.tryMulticast(Guarantee.AGREED, message);
        });
    }

    private static void zeroCopy() throws Exception {
        ZeroCopyBuffer[] buffer = new ZeroCopyBuffer[1];
        assertSteadyStateAllocatesNothing("ZeroCopyBuffer.tryMulticast + delivery", (cpg, sequence) -> {
            if (buffer[0] == null) {
                buffer[0] = cpg.allocateZeroCopy(SIZE);
            }
            buffer[0].segment().set(ValueLayout.JAVA_LONG_UNALIGNED, 0, sequence);
            return buffer[0].tryMulticast(Guarantee.AGREED, SIZE);
        });
    }

    private static void byteArray() throws Exception {
        byte[] message = new byte[SIZE];
        assertSteadyStateAllocatesNothing("tryMulticast(byte[]) + delivery", (cpg, sequence) -> {
            message[0] = (byte) sequence;
            return cpg.tryMulticast(Guarantee.AGREED, message);
        });
    }

    /**
     * Bundling is held to a looser bound: the bundle's view (the receiver
     * lets it escape) and each message's {@code Message} and slice are small
     * objects that the JIT does not remove (30-45 bytes per message measured
     * at this load, one message per bundle), but no message is copied to
     * the heap, which would take over {@code SIZE} bytes each.
     */
    private static void bundled() throws Exception {
        MemorySegment message = Arena.global().allocate(SIZE);
        BundlingSender[] out = new BundlingSender[1];
        assertSteadyStateAllocatesLessThan(SIZE / 8.0, "BundlingSender.trySend + BundlingReceiver delivery", (cpg, sequence) -> {
            if (out[0] == null) {
                out[0] = Bundling.defaults().sender(cpg);
            }
            message.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, sequence);
            return out[0].trySend(message);
        });
    }

    private static void assertSteadyStateAllocatesNothing(String path, Sender sender) throws Exception {
        assertSteadyStateAllocatesLessThan(1.0, path, sender);
    }

    private static void assertSteadyStateAllocatesLessThan(double bound, String path, Sender sender) throws Exception {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        double[] best = {Double.MAX_VALUE};
        Thread thread = Thread.ofPlatform().name("allocation").stackSize(CpgConnection.DISPATCH_STACK_SIZE).start(() -> {
            try {
                best[0] = measure(path, sender, bound);
            } catch (Throwable t) {
                failure.set(t);
            }
        });
        thread.join();
        if (failure.get() != null) {
            throw new AssertionError(failure.get());
        }
        assertThat(best[0]).as("least bytes allocated per message in a window of %d, %s", WINDOW, path)
                .isLessThan(bound);
    }

    /** Returns the least bytes per message of the windows run, stopping at the first below the bound. */
    private static double measure(String path, Sender sender, double bound) throws Exception {
        ThreadAllocation allocation = new ThreadAllocation();
        long[] delivered = {0};
        long[] checksum = {0};
        CpgListener listener = new CpgListener() {
            @Override
            public void onMessage(CpgConnection connection, Message message) {
                // Reads the view without copying it.
                checksum[0] += message.payload().get(ValueLayout.JAVA_LONG_UNALIGNED, 0) + message.length()
                        + message.pid();
                delivered[0]++;
            }
        };
        double best = Double.MAX_VALUE;
        try (CpgConnection cpg = CpgConnection.open(path.startsWith("Bundling") ? Bundling.defaults().receiver(listener)
                : listener)) {
            cpg.join(SuiteDaemon.uniqueGroup("alloc"));
            long sequence = 0;
            long overhead = allocation.overhead();
            for (int window = 0; window < WINDOWS && best >= bound; window++) {
                long start = allocation.now();
                long deliveredBefore = delivered[0];
                for (int i = 0; i < WINDOW; i++) {
                    while (!sender.trySend(cpg, sequence)) {
                        cpg.dispatch(DispatchMode.ALL);
                    }
                    sequence++;
                    cpg.dispatch(DispatchMode.ALL);
                }
                while (delivered[0] - deliveredBefore < WINDOW) {
                    cpg.dispatch(DispatchMode.ONE);
                }
                double perMessage = (double) (allocation.now() - start - overhead) / WINDOW;
                System.out.printf("%s: window %d, %.3f bytes allocated per message%n", path, window, perMessage);
                best = Math.min(best, perMessage);
            }
            assertThat(checksum[0]).isNotZero();
        }
        return best;
    }
}
