package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.jcpg.bundling.Bundling;
import org.jcpg.bundling.BundlingReceiver;
import org.jcpg.bundling.BundlingSender;
import org.jcpg.internal.DispatchStack;
import org.jcpg.internal.Libc;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.SuiteDaemon;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * "Zero-copy" means what the README says on each path: a zero-copy buffer
 * is libcpg's shared memory itself (corosync 3.1.7), and a delivered
 * payload is libcpg's receive buffer, in cpg_dispatch's frame on the
 * dispatching thread's stack, not a copy made by jcpg; so is a message
 * unpacked from a bundle. (Native segments going to libcpg as they are:
 * GatherTest; bundle frames too: BundleQueueTest.)
 */
@NodeTest
class ZeroCopyHonestyTest {
    /** The /proc/self/maps line of the mapping that holds {@code address}. */
    private static String mappingOf(long address) throws IOException {
        List<String> lines = Files.readAllLines(Path.of("/proc/self/maps"));
        for (String line : lines) {
            String[] range = line.substring(0, line.indexOf(' ')).split("-");
            long from = Long.parseUnsignedLong(range[0], 16);
            long to = Long.parseUnsignedLong(range[1], 16);
            if (Long.compareUnsigned(address, from) >= 0 && Long.compareUnsigned(address, to) < 0) {
                return line;
            }
        }
        return "(no mapping)";
    }

    @Test
    @Timeout(60)
    void aZeroCopyBufferIsLibcpgsSharedMemory() throws Exception {
        try (CpgConnection cpg = CpgConnection.open(new CpgListener() {
        })) {
            cpg.join(SuiteDaemon.uniqueGroup("zc-honest"));
            try (ZeroCopyBuffer buffer = cpg.allocateZeroCopy(4096)) {
                String mapping = mappingOf(buffer.segment().address());
                assertThat(mapping).as("the mapping of the buffer's memory").contains("/dev/shm/");
            }
        }
    }

    @Test
    @Timeout(60)
    void aDeliveredPayloadIsLibcpgsReceiveBufferOnTheDispatchingThreadsStack() throws Exception {
        long[] seen = new long[3];
        try (CpgConnection cpg = CpgConnection.open(new CpgListener() {
            @Override
            public void onMessage(CpgConnection connection, Message message) {
                long[] stack = DispatchStack.currentThreadStack();
                seen[0] = message.payload().address();
                seen[1] = stack[0];
                seen[2] = stack[0] + stack[1];
            }
        })) {
            cpg.join(SuiteDaemon.uniqueGroup("zc-honest"));
            Thread dispatcher = Thread.ofPlatform().stackSize(CpgConnection.DISPATCH_STACK_SIZE).start(() -> {
                cpg.multicast(Guarantee.AGREED, new byte[] {1, 2, 3});
                while (seen[0] == 0) {
                    cpg.dispatch(DispatchMode.ONE);
                }
            });
            dispatcher.join();
            assertThat(seen[0]).as("the payload's address").isBetween(seen[1], seen[2]);
        }
    }

    @Test
    @Timeout(60)
    void aBundledMessageIsASliceOfTheDeliveredCpgMessageNotACopy() throws Exception {
        long[] bundle = new long[2];
        long[] seen = new long[5];
        byte[][] content = new byte[1][];
        BundlingReceiver receiver = Bundling.defaults().receiver(new CpgListener() {
            @Override
            public void onMessage(CpgConnection connection, Message message) {
                long[] stack = DispatchStack.currentThreadStack();
                seen[0] = message.payload().address();
                seen[1] = message.length();
                seen[2] = stack[0];
                seen[3] = stack[0] + stack[1];
                seen[4] = message.payload().isReadOnly() ? 1 : 0;
                content[0] = message.toByteArray();
            }
        });
        // In front of the receiver: where the CPG message (the bundle) itself was delivered.
        CpgListener outer = new CpgListener() {
            @Override
            public void onEvent(CpgConnection connection, CpgEvent event) {
                if (event instanceof Message delivered) {
                    bundle[0] = delivered.payload().address();
                    bundle[1] = delivered.length();
                }
                receiver.onEvent(connection, event);
            }
        };
        try (CpgConnection cpg = CpgConnection.open(outer)) {
            cpg.join(SuiteDaemon.uniqueGroup("zc-honest"));
            Thread dispatcher = Thread.ofPlatform().stackSize(CpgConnection.DISPATCH_STACK_SIZE).start(() -> {
                try (BundlingSender out = Bundling.defaults().sender(cpg)) {
                    out.send(new byte[] {4, 5, 6, 7}, Duration.ofSeconds(10));
                    while (seen[0] == 0) {
                        cpg.dispatch(DispatchMode.ONE);
                    }
                }
            });
            dispatcher.join();
            assertThat(content[0]).containsExactly(4, 5, 6, 7);
            assertThat(seen[0]).as("the message's address: just after the framing, inside the delivered bundle")
                    .isEqualTo(bundle[0] + Bundling.BUNDLE_OVERHEAD + Bundling.MESSAGE_OVERHEAD);
            assertThat(seen[0] + seen[1]).isLessThanOrEqualTo(bundle[0] + bundle[1]);
            assertThat(seen[0]).as("on the dispatching thread's stack: libcpg's receive buffer").isBetween(seen[2], seen[3]);
            assertThat(seen[4]).as("read-only").isEqualTo(1);
        }
    }
}
