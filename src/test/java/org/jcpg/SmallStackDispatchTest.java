package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.SuiteDaemon;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * dispatch works from any platform thread, however small its stack: the
 * native dispatch runs on a big-stack worker and the callbacks come back to
 * the caller, and the stack probe that guards the hand-off scales to the
 * thread (it used to overflow on a 64 KiB thread before anything ran). The
 * JVM rounds tiny requests up to its own minimum, so 16 KiB tests that minimum.
 */
@NodeTest
class SmallStackDispatchTest {
    @ParameterizedTest(name = "{0} bytes of stack")
    @ValueSource(longs = {16 << 10, 64 << 10, 128 << 10, 256 << 10})
    @Timeout(60)
    void dispatchFromASmallThreadDelivers(long stackBytes) throws InterruptedException {
        GroupName group = SuiteDaemon.uniqueGroup("small-stack");
        List<String> seen = new CopyOnWriteArrayList<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread thread = Thread.ofPlatform().name("small-" + stackBytes).stackSize(stackBytes).unstarted(() -> {
            Thread self = Thread.currentThread();
            try (CpgConnection cpg = CpgConnection.open(new CpgListener() {
                @Override
                public void onMessage(CpgConnection c, Message m) {
                    seen.add((Thread.currentThread() == self ? "here " : "elsewhere ") + new String(m.toByteArray()));
                }
            })) {
                cpg.join(group);
                for (int i = 0; i < 3; i++) {
                    cpg.multicast(Guarantee.AGREED, ("m" + i).getBytes());
                }
                long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                while (seen.size() < 3 && System.nanoTime() < deadline) {
                    cpg.dispatch(DispatchMode.ONE);
                }
                // Every mode, once more, with nothing waiting or something waiting.
                cpg.multicast(Guarantee.AGREED, "last".getBytes());
                while (seen.size() < 4 && System.nanoTime() < deadline) {
                    cpg.dispatch(DispatchMode.ALL);
                }
                cpg.dispatch(DispatchMode.ONE_NONBLOCKING);
            } catch (Throwable t) {
                failure.set(t);
            }
        });
        thread.start();
        thread.join();
        if (failure.get() != null) {
            throw new AssertionError("dispatch on a thread of " + stackBytes + " bytes of stack threw", failure.get());
        }
        assertThat(seen).containsExactly("here m0", "here m1", "here m2", "here last");
    }
}
