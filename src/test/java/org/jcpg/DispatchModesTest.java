package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.Payloads;
import org.jcpg.testsupport.Recorder;
import org.jcpg.testsupport.SuiteDaemon;
import org.jcpg.testsupport.Where;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** What BLOCKING and ONE return, and when. */
@NodeTest
class DispatchModesTest {
    private static final int FRAGMENTED_SIZE = 4 << 20;

    static final class Boom extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Boom(String message) {
            super(message);
        }
    }

    @Test
    @Timeout(90)
    void blockingDispatchThrowsAFailingCallbackWithoutClose() throws Exception {
        GroupName group = SuiteDaemon.uniqueGroup("blocking-throws");
        AtomicInteger messages = new AtomicInteger();
        CpgListener listener = new CpgListener() {
            @Override
            public void onMessage(CpgConnection connection, Message message) {
                throw new Boom("boom " + messages.incrementAndGet());
            }
        };
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        AtomicInteger returned = new AtomicInteger(-1);
        Thread dispatcher;
        boolean ended;
        boolean closedMeanwhile;
        try (CpgConnection cpg = CpgConnection.open(listener)) {
            cpg.join(group);
            dispatcher = Where.BIG_STACK_THREAD.start(() -> {
                try {
                    returned.set(cpg.dispatch(DispatchMode.BLOCKING));
                } catch (Throwable t) {
                    thrown.set(t);
                }
            }, "blocking-dispatch");
            for (int k = 0; k < 5; k++) {
                Payloads.send(cpg, Payloads.pattern(k, 64));
            }
            ended = dispatcher.join(Duration.ofSeconds(20));
            closedMeanwhile = cpg.isClosed();
        }
        // close() (by try-with-resources) ends a dispatch that was still waiting.
        assertThat(dispatcher.join(Duration.ofSeconds(20))).as("dispatch returned after close").isTrue();

        assertThat(ended).as("dispatch(BLOCKING) returned with the callback's failure within 20 s, without close"
                + " (callbacks run: " + messages.get() + ")").isTrue();
        assertThat(closedMeanwhile).isFalse();
        assertThat(returned.get()).as("dispatch must throw, not return").isEqualTo(-1);
        assertThat(thrown.get()).isInstanceOf(Boom.class).hasMessage("boom 1");
    }

    @ParameterizedTest
    @EnumSource(value = Where.class, names = {"BIG_STACK_THREAD", "JUNIT_THREAD"})
    @Timeout(120)
    void oneAfterAFragmentedSendReturnsOneWithTheWholeMessage(Where where) throws Exception {
        GroupName group = SuiteDaemon.uniqueGroup("one-fragmented");
        Recorder recorder = new Recorder();
        try (CpgConnection cpg = CpgConnection.open(recorder)) {
            cpg.join(group);
            SuiteDaemon.dispatchUntil(() -> recorder.joins().stream().anyMatch(m -> m.pid() == (int) SuiteDaemon.OWN_PID), cpg);
            assertThat(cpg.maxAtomicMessageSize()).isLessThan(FRAGMENTED_SIZE);

            Payloads.send(cpg, Payloads.pattern(42, FRAGMENTED_SIZE));
            int first = where.call(Duration.ofSeconds(60), () -> cpg.dispatch(DispatchMode.ONE));

            assertThat(first).as("dispatch(ONE) after a %d-byte send (messages delivered: %d)",
                    FRAGMENTED_SIZE, recorder.messages.size()).isEqualTo(1);
            assertThat(recorder.messages).hasSize(1);
            assertThat(Payloads.matches(MemorySegment.ofArray(recorder.messages.get(0).payload()), 42, FRAGMENTED_SIZE))
                    .as("the message, whole").isTrue();
            // Nothing else was pending.
            assertThat(where.call(Duration.ofSeconds(30), () -> cpg.dispatch(DispatchMode.ALL))).isZero();
            assertThat(recorder.messages).hasSize(1);
        }
    }

    @ParameterizedTest
    @EnumSource(value = Where.class, names = {"BIG_STACK_THREAD", "JUNIT_THREAD"})
    @Timeout(120)
    void oneWaitingDuringAFragmentedSendReturnsOneWithTheWholeMessage(Where where) throws Exception {
        GroupName group = SuiteDaemon.uniqueGroup("one-waiting");
        Recorder recorder = new Recorder();
        try (CpgConnection cpg = CpgConnection.open(recorder)) {
            cpg.join(group);
            SuiteDaemon.dispatchUntil(() -> recorder.joins().stream().anyMatch(m -> m.pid() == (int) SuiteDaemon.OWN_PID), cpg);

            AtomicReference<Throwable> sendFailure = new AtomicReference<>();
            Thread sender = Thread.ofPlatform().name("fragmented-sender").unstarted(() -> {
                try {
                    Thread.sleep(200); // let dispatch(ONE) start waiting first
                    Payloads.send(cpg, Payloads.pattern(43, FRAGMENTED_SIZE));
                } catch (Throwable t) {
                    sendFailure.set(t);
                }
            });
            int first = where.call(Duration.ofSeconds(60), () -> {
                sender.start();
                return cpg.dispatch(DispatchMode.ONE);
            });
            assertThat(sender.join(Duration.ofSeconds(60))).as("send finished").isTrue();
            assertThat(sendFailure.get()).isNull();

            assertThat(first).as("dispatch(ONE) waiting during a %d-byte send (messages delivered: %d)",
                    FRAGMENTED_SIZE, recorder.messages.size()).isEqualTo(1);
            assertThat(recorder.messages).hasSize(1);
            assertThat(Payloads.matches(MemorySegment.ofArray(recorder.messages.get(0).payload()), 43, FRAGMENTED_SIZE))
                    .as("the message, whole").isTrue();
        }
    }
}
