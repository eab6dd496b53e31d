package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.io.IOException;
import java.lang.reflect.UndeclaredThrowableException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.Payloads;
import org.jcpg.testsupport.SuiteDaemon;
import org.jcpg.testsupport.Where;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * An exception escaping an FFM upcall kills the JVM. Whatever a listener
 * throws must come out of dispatch instead, after the native call, without
 * losing the other events of that dispatch.
 */
@NodeTest
class CallbackExceptionTest {
    /** Long enough for the local daemon to have queued what we just sent. */
    private static final long SETTLE_MILLIS = 200;

    static final class BoomError extends Error {
        BoomError(String message) {
            super(message);
        }
    }

    @SuppressWarnings("unchecked")
    static <T extends Throwable> void sneakyThrow(Throwable t) throws T {
        throw (T) t;
    }

    /** Records messages (by index) and throws the given throwable from chosen messages. */
    static class Thrower implements CpgListener {
        final List<Integer> seen = new CopyOnWriteArrayList<>();
        final List<Thread> threads = new CopyOnWriteArrayList<>();
        final List<MembershipChange> changes = new CopyOnWriteArrayList<>();
        final List<TotemChange> totems = new CopyOnWriteArrayList<>();
        final AtomicInteger thrown = new AtomicInteger();
        volatile java.util.Map<Integer, Throwable> throwOnMessage = java.util.Map.of();
        volatile Throwable throwOnMembership;
        volatile Throwable throwOnTotem;

        @Override
        public void onMessage(CpgConnection connection, Message message) {
            int k = Payloads.index(message.payload());
            seen.add(k);
            threads.add(Thread.currentThread());
            Throwable t = throwOnMessage.get(k);
            if (t != null) {
                thrown.incrementAndGet();
                sneakyThrow(t);
            }
        }

        @Override
        public void onMembershipChange(CpgConnection connection, MembershipChange change) {
            changes.add(change);
            threads.add(Thread.currentThread());
            Throwable t = throwOnMembership;
            if (t != null) {
                throwOnMembership = null;
                thrown.incrementAndGet();
                sneakyThrow(t);
            }
        }

        @Override
        public void onTotemChange(CpgConnection connection, TotemChange change) {
            totems.add(change);
            threads.add(Thread.currentThread());
            Throwable t = throwOnTotem;
            if (t != null) {
                throwOnTotem = null;
                thrown.incrementAndGet();
                sneakyThrow(t);
            }
        }
    }

    private static void send(CpgConnection cpg, int... ks) throws InterruptedException {
        for (int k : ks) {
            cpg.multicast(Guarantee.AGREED, Payloads.pattern(k, 64 + k));
        }
        Thread.sleep(SETTLE_MILLIS);
    }

    private static void joinQuietly(CpgConnection cpg, Thrower listener, String prefix) {
        cpg.join(SuiteDaemon.uniqueGroup(prefix));
        SuiteDaemon.dispatchUntil(() -> listener.changes.size() == 1, cpg);
    }

    /** Later dispatches deliver normally and throw nothing more. */
    private static void stillWorks(CpgConnection cpg, Thrower listener, int thrownSoFar) {
        int before = listener.seen.size();
        cpg.multicast(Guarantee.AGREED, Payloads.pattern(100, 100));
        cpg.multicast(Guarantee.AGREED, Payloads.pattern(101, 101));
        SuiteDaemon.dispatchUntil(() -> listener.seen.size() == before + 2, cpg);
        assertThat(listener.seen.subList(before, before + 2)).containsExactly(100, 101);
        assertThat(listener.thrown).hasValue(thrownSoFar);
        assertThat(listener.threads).containsOnly(Thread.currentThread());
    }

    private static Throwable dispatchAll(CpgConnection cpg) {
        return catchThrowable(() -> cpg.dispatch(DispatchMode.ALL));
    }

    @ParameterizedTest
    @EnumSource(Where.class)
    @Timeout(30)
    void runtimeExceptionFromOnMessageIsRethrownAfterAllEventsAreDelivered(Where where) throws Exception {
        assertRethrownAsItself(where, new IllegalArgumentException("boom from onMessage"), 0, "cbex-rt");
    }

    @ParameterizedTest
    @EnumSource(Where.class)
    @Timeout(30)
    void errorFromOnMessageIsRethrownAsItself(Where where) throws Exception {
        assertRethrownAsItself(where, new BoomError("error from onMessage"), 0, "cbex-err");
    }

    @ParameterizedTest
    @EnumSource(Where.class)
    @Timeout(30)
    void assertionErrorFromOnMessageIsRethrownAsItself(Where where) throws Exception {
        assertRethrownAsItself(where, new AssertionError("assertion in onMessage"), 1, "cbex-ae");
    }

    /** The message at index {@code throwAt} of three throws {@code boom}: dispatch rethrows it after all three. */
    private static void assertRethrownAsItself(Where where, Throwable boom, int throwAt, String prefix) throws Exception {
        where.run(() -> {
            Thrower listener = new Thrower();
            try (CpgConnection cpg = CpgConnection.open(listener)) {
                joinQuietly(cpg, listener, prefix);
                listener.throwOnMessage = java.util.Map.of(throwAt, boom);
                send(cpg, 0, 1, 2);
                assertThat(dispatchAll(cpg)).isSameAs(boom);
                assertThat(listener.seen).containsExactly(0, 1, 2);
                stillWorks(cpg, listener, 1);
            }
        });
    }

    @ParameterizedTest
    @EnumSource(Where.class)
    @Timeout(30)
    void sneakyCheckedExceptionIsWrappedInUndeclaredThrowableException(Where where) throws Exception {
        where.run(() -> {
            IOException checked = new IOException("checked, thrown sneakily");
            Thrower listener = new Thrower();
            try (CpgConnection cpg = CpgConnection.open(listener)) {
                joinQuietly(cpg, listener, "cbex-checked");
                listener.throwOnMessage = java.util.Map.of(0, checked);
                send(cpg, 0, 1, 2);
                Throwable thrown = dispatchAll(cpg);
                assertThat(thrown).isInstanceOf(UndeclaredThrowableException.class);
                assertThat(thrown.getCause()).isSameAs(checked);
                assertThat(listener.seen).containsExactly(0, 1, 2);
                stillWorks(cpg, listener, 1);
            }
        });
    }

    @ParameterizedTest
    @EnumSource(value = Where.class, names = {"JUNIT_THREAD", "VIRTUAL_THREAD", "BIG_STACK_THREAD"})
    @Timeout(30)
    void exceptionFromOnMembershipChangeIsRethrownAndTheMessageAfterItDelivered(Where where) throws Exception {
        where.run(() -> {
            RuntimeException boom = new IllegalStateException("boom from onMembershipChange");
            Thrower listener = new Thrower();
            listener.throwOnMembership = boom;
            try (CpgConnection cpg = CpgConnection.open(listener)) {
                cpg.join(SuiteDaemon.uniqueGroup("cbex-confchg"));
                send(cpg, 7);
                // Our JOIN and then message 7 wait in one dispatch.
                assertThat(dispatchAll(cpg)).isSameAs(boom);
                assertThat(listener.changes).hasSize(1);
                assertThat(listener.changes.get(0).joined()).extracting(Member::pid).containsExactly((int) SuiteDaemon.OWN_PID);
                assertThat(listener.seen).containsExactly(7);
                stillWorks(cpg, listener, 1);
            }
        });
    }

    @ParameterizedTest
    @EnumSource(value = Where.class, names = {"JUNIT_THREAD", "VIRTUAL_THREAD", "BIG_STACK_THREAD"})
    @Timeout(30)
    void errorFromOnTotemChangeIsRethrownAndTheOtherEventsDelivered(Where where) throws Exception {
        where.run(() -> {
            BoomError boom = new BoomError("error from onTotemChange");
            Thrower listener = new Thrower();
            listener.throwOnTotem = boom;
            try (CpgConnection cpg = CpgConnection.open(listener, ModelFlag.DELIVER_INITIAL_TOTEM_CONF)) {
                cpg.join(SuiteDaemon.uniqueGroup("cbex-totem"));
                send(cpg, 3);
                // Initial totem configuration, our JOIN and message 3 wait in one dispatch.
                assertThat(dispatchAll(cpg)).isSameAs(boom);
                assertThat(listener.totems).hasSize(1);
                assertThat(listener.totems.get(0).nodeIds()).containsExactly(cpg.localNodeId());
                assertThat(listener.changes).hasSize(1);
                assertThat(listener.seen).containsExactly(3);
                stillWorks(cpg, listener, 1);
            }
        });
    }

    @ParameterizedTest
    @EnumSource(value = Where.class, names = {"JUNIT_THREAD", "VIRTUAL_THREAD", "BIG_STACK_THREAD"})
    @Timeout(30)
    void secondThrowableOfOneDispatchIsSuppressedByTheFirst(Where where) throws Exception {
        where.run(() -> {
            RuntimeException first = new IllegalArgumentException("first");
            BoomError second = new BoomError("second");
            Thrower listener = new Thrower();
            try (CpgConnection cpg = CpgConnection.open(listener)) {
                joinQuietly(cpg, listener, "cbex-two");
                listener.throwOnMessage = java.util.Map.of(0, first, 2, second);
                send(cpg, 0, 1, 2, 3);
                assertThat(dispatchAll(cpg)).isSameAs(first);
                assertThat(first.getSuppressed()).containsExactly(second);
                assertThat(listener.seen).containsExactly(0, 1, 2, 3);
                stillWorks(cpg, listener, 2);
            }
        });
    }

    @ParameterizedTest
    @EnumSource(value = Where.class, names = {"JUNIT_THREAD", "BIG_STACK_THREAD"})
    @Timeout(30)
    void throwablesOfDifferentCallbackKindsInOneDispatch(Where where) throws Exception {
        where.run(() -> {
            RuntimeException fromTotem = new IllegalStateException("totem");
            BoomError fromConfchg = new BoomError("confchg");
            IOException fromMessage = new IOException("message");
            Thrower listener = new Thrower();
            listener.throwOnTotem = fromTotem;
            listener.throwOnMembership = fromConfchg;
            listener.throwOnMessage = java.util.Map.of(5, fromMessage);
            try (CpgConnection cpg = CpgConnection.open(listener, ModelFlag.DELIVER_INITIAL_TOTEM_CONF)) {
                cpg.join(SuiteDaemon.uniqueGroup("cbex-mixed"));
                send(cpg, 5);
                Throwable thrown = dispatchAll(cpg);
                assertThat(listener.thrown).hasValue(3);
                // The totem change may come before or after the JOIN; the message comes last.
                assertThat(thrown).isIn(fromTotem, fromConfchg);
                Throwable other = thrown == fromTotem ? fromConfchg : fromTotem;
                assertThat(thrown.getSuppressed()).containsExactly(other, fromMessage);
                stillWorks(cpg, listener, 3);
            }
        });
    }
}
