package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.function.Supplier;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.Payloads;
import org.jcpg.testsupport.Recorder;
import org.jcpg.testsupport.SuiteDaemon;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A segment mapped from a file that shrank faults (SIGBUS) when read. libcpg
 * copying it natively would kill the JVM; jcpg must turn that into an
 * exception, like Java's own copy does (InternalError).
 */
@NodeTest
class MappedSegmentTest {
    private static final int SIZE = 64 * 1024;

    private static MemorySegment map(Path file, Arena arena, int k) throws Exception {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            channel.write(java.nio.ByteBuffer.wrap(new byte[SIZE]));
            MemorySegment segment = channel.map(FileChannel.MapMode.READ_WRITE, 0, SIZE, arena);
            MemorySegment.copy(MemorySegment.ofArray(Payloads.pattern(k, SIZE)), 0, segment, 0, SIZE);
            return segment;
        }
    }

    private static void truncate(Path file) throws Exception {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
            channel.truncate(0);
        }
    }

    /**
     * With a confined arena, the old code hands the mapped memory to libcpg as
     * it is: its memcpy gets SIGBUS and the JVM dies.
     */
    @Test
    @Timeout(60)
    void aTruncatedMappingFromAConfinedArenaThrowsAndTheJvmSurvives() throws Exception {
        scenario("mapped-confined", Arena::ofConfined);
    }

    /** Same with a shared arena (the old code copies it first, in Java: a raw InternalError escapes). */
    @Test
    @Timeout(60)
    void aTruncatedMappingFromASharedArenaThrowsAndTheJvmSurvives() throws Exception {
        scenario("mapped-shared", Arena::ofShared);
    }

    private static void scenario(String prefix, Supplier<Arena> arenas) throws Exception {
        Recorder recorder = new Recorder();
        Path dir = Files.createTempDirectory("jcpg-mapped");
        Path intactFile = dir.resolve("intact");
        Path shrunkFile = dir.resolve("shrunk");
        try (CpgConnection cpg = CpgConnection.open(recorder); Arena arena = arenas.get()) {
            cpg.join(SuiteDaemon.uniqueGroup(prefix));
            MemorySegment intact = map(intactFile, arena, 1);
            cpg.multicast(Guarantee.AGREED, intact);
            SuiteDaemon.dispatchUntil(() -> recorder.messages.size() == 1, cpg);
            assertThat(recorder.messages.get(0).payload()).isEqualTo(Payloads.pattern(1, SIZE));

            MemorySegment shrunk = map(shrunkFile, arena, 2);
            truncate(shrunkFile);
            Throwable thrown = catchThrowable(() -> cpg.multicast(Guarantee.AGREED, shrunk));
            assertThat(thrown).as("multicast of a truncated mapping").isInstanceOf(IllegalStateException.class);
            assertThat(thrown.getCause()).isInstanceOf(InternalError.class);

            // Still alive and working.
            byte[] after = Payloads.pattern(3, 100);
            cpg.multicast(Guarantee.AGREED, after);
            SuiteDaemon.dispatchUntil(() -> recorder.messages.stream().anyMatch(r -> java.util.Arrays.equals(r.payload(), after)), cpg);
            assertThat(recorder.messages).as("nothing of the truncated mapping was delivered").hasSize(2);
        } finally {
            Files.deleteIfExists(intactFile);
            Files.deleteIfExists(shrunkFile);
            Files.deleteIfExists(dir);
        }
    }
}
