package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.SuiteDaemon;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Zero-copy buffers are unmapped after close, on jcpg's release thread:
 * closing half of 500 buffers and then their connection leaves mappings
 * behind for a moment, and none a few seconds later.
 */
@NodeTest
class ZeroCopyUnmapTest {
    private static long zeroCopyMappings() throws IOException {
        try (Stream<String> lines = Files.lines(Path.of("/proc/self/maps"))) {
            return lines.filter(line -> line.contains("corosync_zerocopy")).count();
        }
    }

    @Test
    @Timeout(120)
    void closedBuffersAndTheirConnectionAreUnmappedSoon() throws Exception {
        long before = zeroCopyMappings();
        CpgConnection cpg = CpgConnection.open(new CpgListener() {
        });
        cpg.join(SuiteDaemon.uniqueGroup("zc-unmap"));
        List<ZeroCopyBuffer> buffers = new ArrayList<>();
        for (int i = 0; i < 500; i++) {
            buffers.add(cpg.allocateZeroCopy(4096));
        }
        long open = zeroCopyMappings();
        for (int i = 0; i < 250; i++) {
            buffers.get(i).close();
        }
        cpg.close();
        long right = zeroCopyMappings();
        long start = System.nanoTime();
        long deadline = start + Duration.ofSeconds(30).toNanos();
        long now;
        while ((now = zeroCopyMappings()) > before && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        System.out.println("zero-copy mappings: " + before + " before, " + open + " with 500 open, " + right
                + " right after closing, " + now + " after " + (System.nanoTime() - start) / 1_000_000 + " ms");
        assertThat(open).isGreaterThanOrEqualTo(before + 500);
        assertThat(now).as("mappings left").isEqualTo(before);
    }
}
