package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.jcpg.internal.Libc;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * "Zero-copy" means what the README says on each path: a zero-copy buffer
 * is libcpg's shared memory itself (corosync 3.1.7), and a delivered
 * payload is libcpg's receive buffer, in cpg_dispatch's frame on the
 * dispatching thread's stack, not a copy made by jcpg. (Native segments
 * going to libcpg as they are: GatherUnitTest.)
 */
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
            cpg.join(Daemon.uniqueGroup("zc-honest"));
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
                long[] stack = Libc.currentThreadStack();
                seen[0] = message.payload().address();
                seen[1] = stack[0];
                seen[2] = stack[0] + stack[1];
            }
        })) {
            cpg.join(Daemon.uniqueGroup("zc-honest"));
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
}
