package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.jcpg.testsupport.ChildJvm;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.SuiteDaemon;
import org.jcpg.testsupport.Where;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A JVM's next connection runs on the code the JIT compiled for the ones
 * before: when a connection closes or a new one delivers its first
 * message, no compiled code of jcpg is invalidated (by a class loaded), and
 * none of the dispatch and delivery paths is thrown away (by an uncommon
 * trap). Without it, a service that opens connections one after another
 * would pay for compiling its hot paths again each time.
 *
 * <p>It runs in a child JVM that prints what the JIT compiles and throws
 * away ({@code -XX:+PrintCompilation}), compiling synchronously and early
 * ({@code -Xbatch}, thresholds at a tenth), so that the first connection's
 * paths are surely compiled by C2 before the second one opens. Both
 * connections run on one thread: a new thread's first use of jcpg's
 * per-thread stack bounds is a legitimate, JDK-internal, recompile.
 */
@NodeTest
class CompiledPathsTest {
    private static final String MARK = "CompiledPathsTest: the first connection closes";
    private static final int MESSAGES = 30_000;
    /**
     * Where an uncommon trap counts: the dispatch and delivery paths, which
     * both connections take alike. A send path's branch may legitimately
     * be first taken by the second connection: whether the daemon refuses
     * a send (TRY_AGAIN) depends on its load.
     */
    private static final List<String> DELIVERY_PATH = List.of("org.jcpg.internal.Dispatcher::",
            "org.jcpg.internal.Upcalls", "org.jcpg.internal.DispatchStack::", "org.jcpg.CpgListener",
            "org.jcpg.CpgConnection::dispatch");

    @Test
    @Timeout(300)
    void aSecondConnectionKeepsTheCompiledPathsOfTheFirst() throws Exception {
        ChildJvm.Finished child = ChildJvm.of(CompiledPathsTest.class)
                .jvmOptions("-Xbatch", "-XX:CompileThresholdScaling=0.1", "-XX:+PrintCompilation")
                .run(Duration.ofSeconds(280));
        List<String> lines = child.lines();
        assertThat(child.exit()).as("exit status of the child JVM; its stderr:\n%s", child.err()).isZero();
        int mark = lines.indexOf(MARK);
        assertThat(mark).as("the child's marker line").isPositive();
        assertThat(lines.subList(0, mark)).as("C2 compiled the first connection's delivery path")
                .anyMatch(line -> line.matches(".*\\s4\\s+org\\.jcpg\\.internal\\.Dispatcher::deliver .*"));
        List<String> thrownAway = lines.subList(mark, lines.size()).stream()
                .filter(line -> line.contains(" org.jcpg.") && !line.contains("CompiledPathsTest")
                        && (line.contains("marked for deoptimization")
                            || line.contains("uncommon trap") && DELIVERY_PATH.stream().anyMatch(line::contains)))
                .toList();
        assertThat(thrownAway).as("jcpg's compiled code thrown away from the first connection's close on").isEmpty();
    }

    /** In the child JVM: two connections, one after the other, on one thread. */
    public static void main(String[] args) throws Exception {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread thread = Thread.ofPlatform().name("two-connections").stackSize(CpgConnection.DISPATCH_STACK_SIZE)
                .start(() -> {
                    try {
                        exchange(true);
                        exchange(false);
                    } catch (Throwable t) {
                        failure.set(t);
                    }
                });
        thread.join();
        if (failure.get() != null) {
            failure.get().printStackTrace();
            System.exit(1);
        }
    }

    /** Joins a group of its own, sends and delivers MESSAGES, closes. */
    private static void exchange(boolean markTheClose) {
        MemorySegment message = Arena.global().allocate(64);
        long[] delivered = {0};
        boolean[] joined = {false};
        CpgListener listener = new CpgListener() {
            @Override
            public void onMessage(CpgConnection connection, Message m) {
                delivered[0] += m.payload().get(ValueLayout.JAVA_LONG_UNALIGNED, 0) >= 0 ? 1 : 0;
            }

            @Override
            public void onMembershipChange(CpgConnection connection, MembershipChange change) {
                joined[0] = true;
            }
        };
        try (CpgConnection cpg = CpgConnection.open(listener)) {
            cpg.join(SuiteDaemon.uniqueGroup("compiled"));
            while (!joined[0]) {
                cpg.dispatch(DispatchMode.ONE);
            }
            for (long sequence = 0; sequence < MESSAGES; sequence++) {
                message.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, sequence);
                while (!cpg.tryMulticast(Guarantee.AGREED, message)) {
                    cpg.dispatch(DispatchMode.ALL);
                }
                if (sequence % 100 == 99) {
                    // Waits with ONE, at least once (this message is still to come), as the wait
                    // for the join does: the JIT sees both modes, whatever the daemon's timing.
                    do {
                        cpg.dispatch(DispatchMode.ONE);
                    } while (delivered[0] <= sequence);
                } else {
                    cpg.dispatch(DispatchMode.ALL);
                }
            }
            while (delivered[0] < MESSAGES) {
                cpg.dispatch(DispatchMode.ONE);
            }
            if (markTheClose) {
                System.out.println(MARK);
            }
        }
    }
}
