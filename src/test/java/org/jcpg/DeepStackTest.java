package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.Payloads;
import org.jcpg.testsupport.Recorder;
import org.jcpg.testsupport.Stacks;
import org.jcpg.testsupport.SuiteDaemon;
import org.jcpg.testsupport.Where;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * libcpg's dispatch frame needs about 1 MiB of stack LEFT, not just a big
 * thread. jcpg must dispatch safely however deep the caller already is:
 * nested dispatches from callbacks, a big thread that is already deep in
 * Java frames, and small or virtual threads right at their stack's end.
 */
@NodeTest
class DeepStackTest {
    private static final int LEVELS = 7;

    /** One connection of the nested chain: its first event dispatches the next connection until that one got its message. */
    static final class Level implements CpgListener {
        final int index;
        final GroupName group;
        final List<byte[]> messages = new CopyOnWriteArrayList<>();
        final AtomicBoolean joinedSelf = new AtomicBoolean();
        final AtomicBoolean descended = new AtomicBoolean();
        final AtomicInteger nesting;
        final AtomicInteger deepestNesting;
        volatile CpgConnection next;
        volatile Level nextLevel;

        Level(int index, GroupName group, AtomicInteger nesting, AtomicInteger deepestNesting) {
            this.index = index;
            this.group = group;
            this.nesting = nesting;
            this.deepestNesting = deepestNesting;
        }

        boolean gotMessage() {
            return !messages.isEmpty();
        }

        @Override
        public void onMessage(CpgConnection connection, Message message) {
            messages.add(message.toByteArray());
            descend();
        }

        @Override
        public void onMembershipChange(CpgConnection connection, MembershipChange change) {
            if (change.joined().stream().anyMatch(m -> m.pid() == (int) SuiteDaemon.OWN_PID)) {
                joinedSelf.set(true);
            }
            descend();
        }

        private void descend() {
            CpgConnection following = next;
            if (following == null || !descended.compareAndSet(false, true)) {
                return;
            }
            int now = nesting.incrementAndGet();
            deepestNesting.accumulateAndGet(now, Math::max);
            try {
                DispatchMode mode = index % 2 == 0 ? DispatchMode.ALL : DispatchMode.ONE;
                long deadline = System.nanoTime() + 30_000_000_000L;
                while (!nextLevel.gotMessage()) {
                    following.dispatch(mode);
                    if (System.nanoTime() > deadline) {
                        throw new AssertionError("level " + (index + 1) + " got no message within 30 s");
                    }
                }
            } finally {
                nesting.decrementAndGet();
            }
        }
    }

    @Test
    @Timeout(120)
    void nestedDispatchesAcrossSevenConnectionsOnAFourMegabyteThread() throws Exception {
        AtomicInteger nesting = new AtomicInteger();
        AtomicInteger deepest = new AtomicInteger();
        Level[] levels = new Level[LEVELS];
        CpgConnection[] connections = new CpgConnection[LEVELS];
        try {
            for (int i = 0; i < LEVELS; i++) {
                levels[i] = new Level(i, SuiteDaemon.uniqueGroup("deep-nest-" + i), nesting, deepest);
                connections[i] = CpgConnection.open(levels[i]);
                connections[i].join(levels[i].group);
            }
            for (int i = 0; i + 1 < LEVELS; i++) {
                levels[i].nextLevel = levels[i + 1];
                levels[i].next = connections[i + 1];
            }
            for (int i = 0; i < LEVELS; i++) {
                connections[i].multicast(Guarantee.AGREED, Payloads.pattern(i, 1000 + i));
            }
            Where.BIG_STACK_THREAD.run(Duration.ofSeconds(100), () -> {
                long deadline = System.nanoTime() + 60_000_000_000L;
                while (!(levels[0].gotMessage() && levels[0].joinedSelf.get())) {
                    connections[0].dispatch(DispatchMode.ALL);
                    if (System.nanoTime() > deadline) {
                        fail("level 0 got no message within 60 s");
                    }
                    Thread.sleep(1);
                }
            });
            System.out.println("nested dispatch: deepest nesting " + deepest.get());
            assertThat(deepest.get()).as("dispatches nested inside callbacks").isGreaterThanOrEqualTo(LEVELS - 1);
            for (int i = 0; i < LEVELS; i++) {
                // Level i's own JOIN may come after its message was seen; pick it up (any thread will do).
                int n = i;
                SuiteDaemon.dispatchUntil(() -> levels[n].joinedSelf.get(), connections[n]);
                assertThat(levels[i].messages).as("messages of level " + i).hasSize(1);
                assertThat(levels[i].messages.get(0)).isEqualTo(Payloads.pattern(i, 1000 + i));
            }
        } finally {
            for (CpgConnection c : connections) {
                if (c != null) {
                    c.close();
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(doubles = {1.5, 1.2, 1.0})
    @Timeout(120)
    void dispatchWithLittleStackLeftOnABigThread(double mebibytesLeft) throws Exception {
        Recorder recorder = new Recorder();
        GroupName group = SuiteDaemon.uniqueGroup("deep-left");
        try (CpgConnection cpg = CpgConnection.open(recorder)) {
            cpg.join(group);
            byte[] message = Payloads.pattern(77, 200_000);
            cpg.multicast(Guarantee.AGREED, message);
            Where.BIG_STACK_THREAD.run(Duration.ofSeconds(100), () -> {
                int overflow = Stacks.overflowDepth();
                double frame = (double) CpgConnection.DISPATCH_STACK_SIZE / overflow;
                int target = (int) (overflow - mebibytesLeft * (1 << 20) / frame);
                System.out.printf("big thread: overflow depth %d, ~%.0f bytes a frame; dispatching at depth %d"
                        + " (~%.2f MiB left)%n", overflow, frame, target, mebibytesLeft);
                AtomicReference<Throwable> failure = new AtomicReference<>();
                AtomicBoolean reached = new AtomicBoolean();
                Stacks.descend(0, target, () -> {
                    reached.set(true);
                    try {
                        long deadline = System.nanoTime() + 30_000_000_000L;
                        while (recorder.messages.isEmpty() || recorder.joins().isEmpty()) {
                            cpg.dispatch(DispatchMode.ALL);
                            if (System.nanoTime() > deadline) {
                                throw new AssertionError("events not delivered within 30 s");
                            }
                        }
                    } catch (Throwable t) {
                        failure.set(t);
                    }
                }, new int[1]);
                assertThat(reached).as("recursion reached the target depth").isTrue();
                if (failure.get() != null) {
                    throw new AssertionError("dispatch deep in the stack failed", failure.get());
                }
            });
            assertThat(recorder.messages).hasSize(1);
            assertThat(recorder.messages.get(0).payload()).isEqualTo(message);
            assertThat(recorder.joins()).extracting(Member::pid).contains((int) SuiteDaemon.OWN_PID);
        }
    }

    enum Small {
        VIRTUAL_THREAD(Where.VIRTUAL_THREAD),
        SMALL_STACK_THREAD(Where.SMALL_STACK_THREAD);

        final Where where;

        Small(Where where) {
            this.where = where;
        }
    }

    /**
     * How many frames of {@link Stacks#descend} (about 100-200 bytes each) short of a
     * StackOverflowError to call dispatch; negative: that fraction of the depth (in 1/100).
     */
    private static final int[] FRAMES_SHORT = {
        -25, -10, 1000, 500, 300, 200, 150, 100, 70, 50, 35, 25, 18, 12, 8, 5, 3, 2, 1, 0,
    };

    @ParameterizedTest
    @EnumSource(Small.class)
    @Timeout(180)
    void dispatchRightAtTheEndOfASmallStackThrowsOrReturnsAndLeavesTheConnectionUsable(Small kind) throws Exception {
        Recorder recorder = new Recorder();
        GroupName group = SuiteDaemon.uniqueGroup("deep-soe-" + kind);
        try (CpgConnection observer = CpgConnection.open(new Recorder())) {
            CpgConnection cpg = CpgConnection.open(recorder);
            cpg.join(group);
            SuiteDaemon.dispatchUntil(() -> recorder.joins().stream().anyMatch(m -> m.pid() == (int) SuiteDaemon.OWN_PID), cpg);

            List<String> outcomes = new ArrayList<>();
            int k = 0;
            for (int short_ : FRAMES_SHORT) {
                // One event waiting for each attempt, so that some callbacks run deep too.
                cpg.multicast(Guarantee.AGREED, Payloads.pattern(k++, 64));
                AtomicBoolean reached = new AtomicBoolean();
                AtomicInteger depth = new AtomicInteger(-1);
                AtomicReference<Throwable> failure = new AtomicReference<>();
                Thread thread = kind.where.start(() -> {
                    try {
                        // Measured on this very thread, just before: the same stack and the same compiled code.
                        int overflow = Stacks.overflowDepth();
                        int target = Math.max(1, short_ < 0 ? overflow + overflow * short_ / 100 : overflow - short_);
                        depth.set(target);
                        Stacks.descend(0, target, () -> {
                            reached.set(true);
                            cpg.dispatch(DispatchMode.ALL);
                        }, new int[1]);
                    } catch (Throwable t) {
                        failure.set(t);
                    }
                }, "deep-attempt-" + short_);
                if (!thread.join(Duration.ofSeconds(20))) {
                    fail("dispatch at depth " + depth.get() + " (" + short_ + " frames short) on " + kind
                            + " did not return within 20 s; stack: " + java.util.Arrays.toString(thread.getStackTrace()));
                }
                Throwable t = failure.get();
                String outcome = "depth " + depth.get() + " (" + (short_ < 0 ? -short_ + "% of the depth" : short_ + " frames")
                        + " short of overflow): "
                        + (reached.get() ? "reached dispatch, " : "overflowed before dispatch, ")
                        + (t == null ? "returned" : t.getClass().getSimpleName());
                outcomes.add(outcome);
                if (t != null && !(t instanceof StackOverflowError)) {
                    throw new AssertionError("dispatch deep in the stack threw something else than StackOverflowError: "
                            + outcome, t);
                }
            }
            System.out.println(kind + " attempts:\n  " + String.join("\n  ", outcomes));

            // The connection still works: a new message arrives through a dispatch from a big-stack thread.
            byte[] after = Payloads.pattern(9999, 500);
            cpg.multicast(Guarantee.AGREED, after);
            Where.BIG_STACK_THREAD.run(Duration.ofSeconds(40), () -> {
                long deadline = System.nanoTime() + 30_000_000_000L;
                while (recorder.messages.stream().noneMatch(m -> java.util.Arrays.equals(m.payload(), after))) {
                    cpg.dispatch(DispatchMode.ALL);
                    if (System.nanoTime() > deadline) {
                        fail("the message sent after the deep attempts was not delivered; delivered: "
                                + recorder.messages.size());
                    }
                    Thread.sleep(2);
                }
            });

            // Nothing twice, nothing out of order (a callback that itself overflowed may have recorded nothing).
            List<Integer> seen = recorder.messages.stream()
                    .filter(m -> m.payload().length == 64).map(m -> Payloads.index(java.lang.foreign.MemorySegment.ofArray(m.payload())))
                    .toList();
            System.out.println(kind + ": " + seen.size() + " of " + k + " deep messages recorded: " + seen);
            assertThat(seen).doesNotHaveDuplicates().isSorted();

            // close() finalizes the handle: the process leaves the group.
            Thread closer = Thread.ofPlatform().name("deep-closer").start(cpg::close);
            if (!closer.join(Duration.ofSeconds(20))) {
                fail("close() did not return within 20 s");
            }
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (observer.membership(group).stream().anyMatch(m -> m.pid() == (int) SuiteDaemon.OWN_PID)) {
                if (System.nanoTime() > deadline) {
                    fail("after close() this process is still a member of " + group + ": " + observer.membership(group));
                }
                Thread.sleep(20);
            }
        }
    }
}
