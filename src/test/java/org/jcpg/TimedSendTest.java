package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.jcpg.testsupport.KillableDaemon;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.SuiteDaemon;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link CpgConnection#multicast(Guarantee, Duration, MemorySegment...)}:
 * every Duration has a meaning, and an interrupt ends the wait at once.
 * The full queue comes from a daemon of the test's own ({@link KillableDaemon})
 * that the test stops with SIGSTOP: the suite's daemon is never stopped.
 */
@NodeTest
class TimedSendTest {
    /** Every extreme is accepted when the daemon has room: the message goes out. */
    @Test
    @Timeout(60)
    void everyTimeoutSendsWhenTheDaemonHasRoom() {
        GroupName group = SuiteDaemon.uniqueGroup("timed");
        List<Duration> timeouts = List.of(Duration.ZERO, Duration.ofNanos(1), Duration.ofNanos(-1),
                Duration.ofSeconds(Long.MIN_VALUE), Duration.ofSeconds(Long.MAX_VALUE, 999_999_999),
                Duration.ofSeconds(Long.MAX_VALUE), Duration.ofDays(366), Duration.ofSeconds(1));
        List<String> received = new ArrayList<>();
        try (CpgConnection cpg = CpgConnection.open(new CpgListener() {
            @Override
            public void onMessage(CpgConnection c, Message m) {
                received.add(new String(m.toByteArray()));
            }
        })) {
            cpg.join(group);
            for (Duration timeout : timeouts) {
                cpg.multicast(Guarantee.AGREED, timeout, MemorySegment.ofArray(timeout.toString().getBytes()));
            }
            SuiteDaemon.dispatchUntil(() -> received.size() == timeouts.size(), cpg);
            assertThatThrownBy(() -> cpg.multicast(Guarantee.AGREED, (Duration) null, MemorySegment.ofArray(new byte[1])))
                    .isInstanceOf(NullPointerException.class);
        }
        assertThat(received).containsExactlyElementsOf(timeouts.stream().map(Duration::toString).toList());
    }

    /**
     * With the queue full: zero and negative timeouts try once; a short one waits it out; an
     * interrupt ends even a 20 s or endless wait within milliseconds, as TRY_AGAIN with an
     * InterruptedException attached, the flag kept, without burning CPU.
     */
    @Test
    @Timeout(180)
    void anInterruptEndsTheWaitAndEveryTimeoutHasAnOutcome() throws Exception {
        GroupName group = SuiteDaemon.uniqueGroup("interrupted");
        try (KillableDaemon node = KillableDaemon.start();
             MisuseChild child = MisuseChild.start(node.enter(List.of()), List.of(),
                     "interrupted-send", HexFormat.of().formatHex(group.toBytes()))) {
            List<String> timed = new ArrayList<>();
            List<String> interrupted = new ArrayList<>();
            String before;
            signal(node, "STOP");
            try {
                child.tell("go");
                System.out.println("queue full: " + child.await("FULL", Duration.ofSeconds(30)));
                for (int i = 0; i < 5; i++) {
                    timed.add(child.await("TIMED", Duration.ofSeconds(10)));
                }
                for (int i = 0; i < 2; i++) {
                    interrupted.add(child.await("INTERRUPTED", Duration.ofSeconds(10)));
                }
                before = child.await("PREINTERRUPTED", Duration.ofSeconds(10));
            } finally {
                signal(node, "CONT");
            }
            timed.forEach(line -> System.out.println("TIMED " + line));
            interrupted.forEach(line -> System.out.println("INTERRUPTED " + line));
            System.out.println("PREINTERRUPTED " + before);
            for (String line : timed.subList(0, 4)) {
                assertThat(line).as("zero or negative: one try").contains("outcome=CpgException:TRY_AGAIN suppressed=none");
                assertThat(Long.parseLong(MisuseChild.field(line, "ms"))).as(line).isLessThan(1000);
            }
            String waited = timed.get(4);
            assertThat(waited).contains("outcome=CpgException:TRY_AGAIN suppressed=none");
            assertThat(Long.parseLong(MisuseChild.field(waited, "ms"))).as(waited).isBetween(290L, 5000L);
            for (String line : interrupted) {
                assertThat(line).as("the sender was still waiting when interrupted").contains("waitingBefore=true");
                assertThat(line).as("the interrupt ended the wait").contains("returned=true");
                assertThat(Long.parseLong(MisuseChild.field(line, "ms"))).as(line).isLessThan(1000);
                assertThat(line).contains("outcome=CpgException:TRY_AGAIN suppressed=InterruptedException flag=true");
            }
            assertThat(before).contains("outcome=CpgException:TRY_AGAIN suppressed=InterruptedException flag=true");
            assertThat(Long.parseLong(MisuseChild.field(before, "ms"))).isLessThan(1000);
        }
    }

    private static void signal(KillableDaemon node, String signal) {
        try {
            Process kill = new ProcessBuilder("kill", "-" + signal, String.valueOf(node.pid())).inheritIO().start();
            assertThat(kill.waitFor(10, TimeUnit.SECONDS) && kill.exitValue() == 0).as("kill -" + signal).isTrue();
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
