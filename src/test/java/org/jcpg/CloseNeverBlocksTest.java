package org.jcpg;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.jcpg.testsupport.Await;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.Payloads;
import org.jcpg.testsupport.Recorder;
import org.jcpg.testsupport.SuiteDaemon;
import org.jcpg.testsupport.TryAgain;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * close() never waits for the daemon: with corosync SIGSTOPped,
 * CpgConnection.close() and ZeroCopyBuffer.close() still return, and the
 * native handle is finalized once the daemon runs again.
 *
 * <p>One corosync serves every test of this JVM: the daemon is stopped for
 * at most the bound below, and always continued in a finally.
 */
@NodeTest
class CloseNeverBlocksTest {
    /** Generous: close should return at once; this only tells "returns" from "blocks until SIGCONT". */
    private static final Duration BOUND = Duration.ofSeconds(10);

    /** Runs the action on a new thread while the daemon is stopped; whether it returned within BOUND. */
    private static boolean returnsWhileDaemonStopped(String name, Runnable action) throws InterruptedException {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread thread = Thread.ofPlatform().name(name).unstarted(() -> {
            try {
                action.run();
            } catch (Throwable t) {
                failure.set(t);
            }
        });
        boolean returned;
        SuiteDaemon.signal("STOP");
        try {
            thread.start();
            returned = thread.join(BOUND);
        } finally {
            SuiteDaemon.resume();
        }
        // Once the daemon runs again, a blocked close completes; wait for it so that nothing lingers.
        if (!thread.join(Duration.ofSeconds(30))) {
            fail(name + " still blocked 30 s after SIGCONT: " + java.util.Arrays.toString(thread.getStackTrace()));
        }
        if (failure.get() != null) {
            throw new AssertionError(name + " threw", failure.get());
        }
        return returned;
    }

    /** Lines of /proc/self/maps that map libcpg's zero-copy buffers (shared memory in corosync 3.1.7). */
    private static long zeroCopyMappings() throws IOException {
        try (Stream<String> lines = Files.lines(Path.of("/proc/self/maps"))) {
            return lines.filter(line -> line.contains("corosync_zerocopy")).count();
        }
    }

    private static List<Integer> pids(List<Member> members) {
        return members.stream().map(Member::pid).toList();
    }

    private static List<Member> membership(CpgConnection observer, GroupName group) {
        return TryAgain.retrying(() -> observer.membership(group));
    }

    /** Polls the observer until this process is no longer a member of the group. */
    private static void awaitGone(CpgConnection observer, GroupName group) {
        AtomicReference<List<Member>> seen = new AtomicReference<>(List.of());
        Await.until(() -> {
            seen.set(membership(observer, group));
            return !pids(seen.get()).contains((int) SuiteDaemon.OWN_PID);
        }, Duration.ofSeconds(30), Duration.ofMillis(20),
                () -> "leaving " + group + " after close and SIGCONT; still a member: " + seen.get());
        assertThat(observer.members(group)).as("members(group) after close").noneMatch(m -> m.pid() == (int) SuiteDaemon.OWN_PID);
    }

    private static void awaitMappings(long expected) {
        Await.until(() -> zeroCopyMappings() == expected, Duration.ofSeconds(30), Duration.ofMillis(20),
                () -> "zero-copy mappings back to " + expected + " (buffer freed); seen: " + mappingsOrError());
    }

    private static String mappingsOrError() {
        try {
            return String.valueOf(zeroCopyMappings());
        } catch (IOException e) {
            return e.toString();
        }
    }

    @Test
    @Timeout(120)
    void connectionCloseReturnsWhileTheDaemonIsStopped() throws Exception {
        SuiteDaemon.assertAlive();
        GroupName group = SuiteDaemon.uniqueGroup("stopped-close");
        Recorder recorder = new Recorder();
        try (CpgConnection observer = CpgConnection.open(new CpgListener() { })) {
            long mappingsBefore = zeroCopyMappings();
            CpgConnection victim = CpgConnection.open(recorder);
            victim.join(group);
            // A buffer still open when the connection closes is freed with it.
            ZeroCopyBuffer buffer = victim.allocateZeroCopy(4096);
            long mappingsWith = zeroCopyMappings();
            SuiteDaemon.dispatchUntil(() -> recorder.joins().stream().anyMatch(m -> m.pid() == (int) SuiteDaemon.OWN_PID), victim);
            assertThat(pids(membership(observer, group))).containsExactly((int) SuiteDaemon.OWN_PID);

            boolean returned = returnsWhileDaemonStopped("close-connection", victim::close);

            assertThat(returned).as("CpgConnection.close() returned within " + BOUND + " while corosync was stopped")
                    .isTrue();
            assertThat(victim.isClosed()).isTrue();
            assertThatThrownBy(() -> buffer.segment().get(JAVA_BYTE, 0)).isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(() -> victim.multicast(Guarantee.AGREED, new byte[1]))
                    .isInstanceOf(IllegalStateException.class);
            // After SIGCONT the handle is finalized: the daemon sees the process go.
            awaitGone(observer, group);
            if (mappingsWith > mappingsBefore) {
                awaitMappings(mappingsBefore);
            }
            buffer.close();
        }
        SuiteDaemon.assertAlive();
    }

    @Test
    @Timeout(120)
    void zeroCopyBufferCloseReturnsWhileTheDaemonIsStopped() throws Exception {
        SuiteDaemon.assertAlive();
        GroupName group = SuiteDaemon.uniqueGroup("stopped-zcb");
        Recorder recorder = new Recorder();
        try (CpgConnection observer = CpgConnection.open(new CpgListener() { })) {
            CpgConnection cpg = CpgConnection.open(recorder);
            try {
                cpg.join(group);
                SuiteDaemon.dispatchUntil(() -> recorder.joins().stream().anyMatch(m -> m.pid() == (int) SuiteDaemon.OWN_PID), cpg);
                long mappingsBefore = zeroCopyMappings();
                ZeroCopyBuffer buffer = cpg.allocateZeroCopy(4096);
                long mappingsWith = zeroCopyMappings();
                byte[] first = Payloads.pattern(1, 100);
                MemorySegment.copy(first, 0, buffer.segment(), JAVA_BYTE, 0, first.length);
                TryAgain.retrying(() -> buffer.multicast(Guarantee.AGREED, first.length));
                SuiteDaemon.dispatchUntil(() -> recorder.messages.size() == 1, cpg);

                boolean returned = returnsWhileDaemonStopped("close-buffer", buffer::close);

                assertThat(returned).as("ZeroCopyBuffer.close() returned within " + BOUND + " while corosync was stopped")
                        .isTrue();
                assertThatThrownBy(() -> buffer.segment().get(JAVA_BYTE, 0)).isInstanceOf(IllegalStateException.class);
                assertThatThrownBy(() -> buffer.multicast(Guarantee.AGREED, 1)).isInstanceOf(IllegalStateException.class);
                buffer.close(); // again: nothing
                if (mappingsWith > mappingsBefore) {
                    awaitMappings(mappingsBefore);
                }
                // The connection itself still works.
                Payloads.send(cpg, Payloads.pattern(2, 100));
                SuiteDaemon.dispatchUntil(() -> recorder.messages.size() == 2, cpg);
                assertThat(Payloads.matches(MemorySegment.ofArray(recorder.messages.get(0).payload()), 1, 100)).isTrue();
                assertThat(Payloads.matches(MemorySegment.ofArray(recorder.messages.get(1).payload()), 2, 100)).isTrue();
                assertThat(pids(membership(observer, group))).containsExactly((int) SuiteDaemon.OWN_PID);
            } finally {
                cpg.close();
            }
            awaitGone(observer, group);
        }
        SuiteDaemon.assertAlive();
    }
}
