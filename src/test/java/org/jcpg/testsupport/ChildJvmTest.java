package org.jcpg.testsupport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The harness itself, with a child that needs no corosync: the handshake, replies paired with
 * commands, ERR as a failure, events from other threads, stderr in failure messages, the end of
 * the child ending every wait, and plain children's output and deadline.
 */
@UnitTest
@Timeout(120)
class ChildJvmTest {
    /** The child: a few commands over {@link ChildProtocol}. */
    public static final class Child {
        private Child() {
        }

        public static void main(String[] args) {
            new ChildProtocol()
                    .answer("echo", ChildProtocol.Command::rest)
                    .answer("sum", c -> String.valueOf(c.intWord(1) + c.intWord(2)))
                    .on("fail", c -> {
                        System.err.println("about to fail: " + c.rest());
                        throw new IllegalStateException(c.rest());
                    })
                    .on("events", c -> {
                        Thread[] threads = new Thread[4];
                        for (int t = 0; t < threads.length; t++) {
                            int thread = t;
                            threads[t] = Thread.ofPlatform().start(() -> {
                                for (int i = 0; i < 250; i++) {
                                    ChildProtocol.event("E " + thread + " " + i);
                                }
                            });
                        }
                        for (Thread t : threads) {
                            t.join();
                        }
                    })
                    .on("print", c -> System.out.println(c.rest()))
                    .on("die", c -> Runtime.getRuntime().halt(c.intWord(1)))
                    .serve();
        }
    }

    /** A plain child: prints its arguments on stdout, "err" on stderr, exits with 3. */
    public static final class Plain {
        private Plain() {
        }

        public static void main(String[] args) throws InterruptedException {
            if (args.length > 0 && args[0].equals("sleep")) {
                Thread.sleep(60_000);
            }
            System.out.println(String.join(" ", args));
            System.err.println("err");
            System.exit(3);
        }
    }

    private static ChildJvm.Spec child() {
        return ChildJvm.of(Child.class).jvmOptions("-XX:TieredStopAtLevel=1");
    }

    @Test
    void repliesPairWithCommandsAndCarryTheirResult() throws Exception {
        try (ChildJvm child = child().start()) {
            assertThat(child.call("echo a  b c")).isEqualTo("a  b c");
            assertThat(child.call("sum 2 40")).isEqualTo("42");
            assertThat(child.call("echo")).isEmpty();
            child.call("print not a protocol line");
            assertThat(child.otherOutput()).containsExactly("not a protocol line");
        }
    }

    @Test
    void anErrReplyFailsTheCallWithTheProblemAndTheChildsStderr() throws Exception {
        try (ChildJvm child = child().label("erring").start()) {
            assertThatThrownBy(() -> child.call("fail on purpose"))
                    .isInstanceOf(AssertionError.class)
                    .hasMessageContaining("erring (" + child.pid() + ")")
                    .hasMessageContaining("ERR fail java.lang.IllegalStateException: on purpose")
                    .hasMessageContaining("about to fail: on purpose");
            assertThatThrownBy(() -> child.call("bogus")).hasMessageContaining("unknown command bogus");
            assertThat(child.call("sum 1 1")).as("the next call gets its own reply").isEqualTo("2");
        }
    }

    @Test
    void eventsFromManyThreadsArriveWholeAndInEachThreadsOrder() throws Exception {
        try (ChildJvm child = child().start()) {
            child.call("events");
            child.awaitEvent(e -> e.equals("E 3 249"), Duration.ofSeconds(30));
            List<String> events = child.events();
            assertThat(events).hasSize(1000);
            for (int t = 0; t < 4; t++) {
                String prefix = "E " + t + " ";
                List<String> own = events.stream().filter(e -> e.startsWith(prefix)).toList();
                assertThat(own).hasSize(250);
                for (int i = 0; i < 250; i++) {
                    assertThat(own.get(i)).isEqualTo(prefix + i);
                }
            }
            int index = child.awaitEvent(500, e -> e.startsWith("E "), Duration.ofSeconds(1));
            assertThat(index).as("a wait from an index looks there first").isEqualTo(500);
        }
    }

    @Test
    void anEventFilterSeesEveryEventAndKeepsWhatItChooses() throws Exception {
        List<String> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
        try (ChildJvm child = child().events(e -> seen.add(e) && e.startsWith("E 0 ")).start()) {
            child.call("events");
            child.awaitEvent(e -> e.equals("E 0 249"), Duration.ofSeconds(30));
            child.call("sum 0 0");
            assertThat(seen).hasSize(1000);
            assertThat(child.events()).hasSize(250).allMatch(e -> e.startsWith("E 0 "));
        }
    }

    @Test
    void theChildsEndEndsEveryWaitAtOnce() throws Exception {
        try (ChildJvm child = child().start()) {
            long start = System.nanoTime();
            assertThatThrownBy(() -> child.call("die 7", Duration.ofSeconds(60)))
                    .hasMessageContaining("answered its end").hasMessageContaining("exited with 7");
            assertThatThrownBy(() -> child.awaitEvent(e -> true, Duration.ofSeconds(60)))
                    .hasMessageContaining("before its end");
            assertThatThrownBy(() -> child.call("sum 1 2", Duration.ofSeconds(60))).hasMessageContaining("its end");
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(30));
        }
    }

    @Test
    void exitAndTheEndOfStdinHaltTheChild() throws Exception {
        ChildJvm child = child().start();
        child.send("exit");
        assertThat(child.awaitExit(Duration.ofSeconds(20))).isZero();
        ChildJvm other = child().start();
        other.process().getOutputStream().close();
        assertThat(other.awaitExit(Duration.ofSeconds(20))).isZero();
    }

    @Test
    void aChildThatIsNotTheLaunchersProcessFailsTheHandshake() {
        // sh without exec: the JVM is sh's child, so READY carries another pid.
        ChildJvm.Spec spec = child().launcher(List.of("sh", "-c", "\"$@\"; true", "sh"));
        assertThatThrownBy(spec::start).isInstanceOf(AssertionError.class).hasMessageContaining("did not start");
    }

    @Test
    void aPlainChildsOutputAndStatusAreCollected() throws Exception {
        ChildJvm.Finished finished = ChildJvm.of(Plain.class).args("one", "two").run(Duration.ofSeconds(60));
        assertThat(finished).isEqualTo(new ChildJvm.Finished(3, "one two\n", "err\n"));
    }

    @Test
    void aPlainChildPastItsDeadlineIsKilledAndFails() throws Exception {
        ChildJvm.Plain plain = ChildJvm.of(Plain.class).args("sleep").startPlain();
        assertThatThrownBy(() -> plain.finish(Duration.ofSeconds(2))).hasMessageContaining("did not end within");
        assertThat(ProcessHandle.of(plain.pid()).map(ProcessHandle::isAlive).orElse(false)).isFalse();
    }
}
