package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicReference;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.Payloads;
import org.jcpg.testsupport.SuiteDaemon;
import org.jcpg.testsupport.Where;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** A message's payload is a view of libcpg's receive buffer, valid only during the callback. */
@NodeTest
class PayloadViewTest {
    static final class Stasher implements CpgListener {
        volatile Message message;
        volatile MemorySegment payload;
        volatile byte[] copy;
        volatile boolean matchedInside;
        volatile byte firstByteInside;
        final AtomicReference<Throwable> otherThreadInside = new AtomicReference<>();

        @Override
        public void onMessage(CpgConnection connection, Message m) {
            message = m;
            payload = m.payload();
            matchedInside = Payloads.matches(m.payload(), 77, 4096);
            firstByteInside = m.payload().get(ValueLayout.JAVA_BYTE, 4);
            copy = m.toByteArray();
            // Another thread may not read the view even while the callback runs.
            Thread other = Thread.ofPlatform().start(() -> otherThreadInside.set(
                    catchThrowable(() -> m.payload().get(ValueLayout.JAVA_BYTE, 0))));
            try {
                other.join();
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = Where.class, names = {"JUNIT_THREAD", "SMALL_STACK_THREAD", "VIRTUAL_THREAD", "BIG_STACK_THREAD"})
    @Timeout(30)
    void payloadIsReadableInTheCallbackOnlyAndCopiesSurvive(Where where) throws Exception {
        Stasher stasher = new Stasher();
        where.run(() -> {
            try (CpgConnection cpg = CpgConnection.open(stasher)) {
                cpg.join(SuiteDaemon.uniqueGroup("payload"));
                byte[] sent = Payloads.pattern(77, 4096);
                cpg.multicast(Guarantee.AGREED, sent);
                SuiteDaemon.dispatchUntil(() -> stasher.payload != null, cpg);

                assertThat(stasher.matchedInside).isTrue();
                assertThat(stasher.firstByteInside).isEqualTo(sent[4]);
                assertThat(stasher.copy).isEqualTo(sent);
                assertThat(stasher.otherThreadInside.get()).isInstanceOf(WrongThreadException.class);

                // Same thread, after the callback: the view is dead, not freed memory.
                MemorySegment stale = stasher.payload;
                assertThat(catchThrowable(() -> stale.get(ValueLayout.JAVA_BYTE, 0))).isInstanceOf(IllegalStateException.class);
                assertThat(catchThrowable(() -> stale.toArray(ValueLayout.JAVA_BYTE))).isInstanceOf(IllegalStateException.class);
                assertThat(catchThrowable(() -> MemorySegment.copy(stale, 0, MemorySegment.ofArray(new byte[8]), 0, 8)))
                        .isInstanceOf(IllegalStateException.class);
                assertThat(catchThrowable(() -> stasher.message.toByteArray())).isInstanceOf(IllegalStateException.class);
                assertThat(stale.byteSize()).isEqualTo(4096);
                assertThat(stale.scope().isAlive()).isFalse();

                // The copy taken inside is intact, and the connection still works.
                assertThat(stasher.copy).isEqualTo(sent);
                stasher.payload = null;
                cpg.multicast(Guarantee.AGREED, sent);
                SuiteDaemon.dispatchUntil(() -> stasher.payload != null, cpg);
                assertThat(stasher.copy).isEqualTo(sent);
            }
        });
        // From yet another thread, later.
        MemorySegment stale = stasher.payload;
        Throwable fromOther = catchThrowable(() -> stale.get(ValueLayout.JAVA_BYTE, 0));
        assertThat(fromOther).isInstanceOfAny(IllegalStateException.class, WrongThreadException.class);
        AtomicReference<Throwable> fromFresh = new AtomicReference<>();
        Thread.ofPlatform().start(() -> fromFresh.set(catchThrowable(() -> stale.get(ValueLayout.JAVA_BYTE, 0)))).join();
        assertThat(fromFresh.get()).isInstanceOfAny(IllegalStateException.class, WrongThreadException.class);
        assertThat(stasher.copy).isEqualTo(Payloads.pattern(77, 4096));
    }
}
