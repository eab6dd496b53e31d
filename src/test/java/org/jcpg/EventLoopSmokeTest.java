package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.SuiteDaemon;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The event loop's basic promise: events arrive without the application dispatching. */
@NodeTest
class EventLoopSmokeTest {
    @Test
    @Timeout(30)
    void theLoopDeliversOnItsThreadAndAnExecutorOnItsOwn() throws Exception {
        for (boolean withExecutor : new boolean[] {false, true}) {
            List<String> seen = new CopyOnWriteArrayList<>();
            CpgListener listener = new CpgListener() {
                @Override
                public void onEvent(CpgConnection connection, CpgEvent event) {
                    switch (event) {
                        case Message m -> seen.add("message " + new String(m.toByteArray()) + " on " + Thread.currentThread().getName());
                        case MembershipChange c -> seen.add("change");
                        case TotemChange t -> seen.add("totem");
                        case ConnectionLost lost -> seen.add("lost");
                        case Reconnected r -> seen.add("reconnected");
                    }
                }
            };
            CpgEventLoop.Builder builder = CpgEventLoop.builder().name("smoke-loop");
            if (withExecutor) {
                builder.executor(Executors.newVirtualThreadPerTaskExecutor());
            }
            try (CpgEventLoop loop = builder.start(); CpgConnection cpg = loop.open(listener)) {
                cpg.join(SuiteDaemon.uniqueGroup("loop-smoke"));
                cpg.multicast(Guarantee.AGREED, "hi".getBytes());
                long deadline = System.nanoTime() + 20_000_000_000L;
                while (seen.stream().noneMatch(s -> s.startsWith("message")) && System.nanoTime() < deadline) {
                    Thread.sleep(5);
                }
                assertThat(seen).contains("change");
                String message = seen.stream().filter(s -> s.startsWith("message")).findFirst().orElseThrow();
                if (withExecutor) {
                    assertThat(message).startsWith("message hi on ").doesNotContain("smoke-loop");
                } else {
                    assertThat(message).isEqualTo("message hi on smoke-loop");
                }
                assertThat(cpg.statistics().messagesSent()).isEqualTo(1);
                assertThat(cpg.statistics().messagesDelivered()).isEqualTo(1);
            }
        }
    }
}
