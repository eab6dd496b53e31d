package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.jcpg.bundling.Bundling;
import org.jcpg.bundling.BundlingReceiver;
import org.jcpg.bundling.BundlingSender;
import org.jcpg.bundling.BundlingStatistics;
import org.jcpg.testsupport.Await;
import org.jcpg.testsupport.BundleRecorder;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.SuiteDaemon;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Bundling against the private corosync: agreed order and per-sender FIFO
 * across bundles of several processes, bundles cut by a sender's death
 * (SIGKILL) delivered whole or not at all and the same everywhere,
 * back-pressure (the daemon refuses, the bounded queue fills, trySend
 * refuses, send times out, nothing is lost), and mixed groups.
 */
@NodeTest
class BundlingTest {
    /** Waits for a {@link BundlePeerMain}'s "SENT accepted bundles" (or "SENDERROR ...") event; returns it. */
    private static String awaitSent(PeerProcess peer, Duration timeout) throws InterruptedException {
        return peer.awaitEvent(e -> e.startsWith("SENT") || e.startsWith("SENDERROR"), timeout);
    }

    private static List<Thread> sendFromThreads(BundlingSender sender, int threads, int count, int size) {
        List<Thread> all = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int thread = t;
            all.add(Thread.ofPlatform().start(() -> {
                for (int seq = 0; seq < count; seq++) {
                    sender.send(BundleRecorder.payload(thread, seq, size), Duration.ofSeconds(30));
                }
            }));
        }
        return all;
    }

    @Test
    @Timeout(180)
    void everyMemberDeliversTheSameMessagesInTheSameOrderEachSendersInItsOrder() throws Exception {
        GroupName group = SuiteDaemon.uniqueGroup("bundle-order");
        BundleRecorder recorder = new BundleRecorder();
        Bundling bundling = Bundling.defaults();
        int threads = 2;
        int each = 3000;
        try (CpgEventLoop loop = CpgEventLoop.start();
             CpgConnection cpg = loop.open(recorder.raw(bundling.receiver(recorder)))) {
            cpg.join(group);
            List<PeerProcess> peers = new ArrayList<>();
            try {
                for (int i = 0; i < 3; i++) {
                    peers.add(PeerProcess.joined(PeerProcess.Program.BUNDLE_PEER, group));
                }
                Await.until(() -> cpg.membership(group).size() == 4, Duration.ofSeconds(20), "4 members");
                for (PeerProcess peer : peers) {
                    peer.command("send " + threads + " " + each + " 48");
                }
                long total = 4L * threads * each;
                try (BundlingSender sender = bundling.sender(cpg)) {
                    for (Thread t : sendFromThreads(sender, threads, each, 48)) {
                        t.join();
                    }
                    assertThat(sender.flush(Duration.ofSeconds(60))).isTrue();
                    assertThat(sender.statistics().sent()).isEqualTo((long) threads * each);
                }
                List<String> bundlesPerPeer = new ArrayList<>();
                for (PeerProcess peer : peers) {
                    bundlesPerPeer.add(awaitSent(peer, Duration.ofSeconds(90)));
                }
                assertThat(bundlesPerPeer).allMatch(s -> s.startsWith("SENT " + threads * each + " "));
                assertThat(recorder.awaitTotal(total, 60_000)).as(recorder.report()).isTrue();
                String mine = recorder.report();
                assertThat(recorder.fifoErrors()).as(recorder.firstProblem()).isZero();
                assertThat(recorder.corrupt()).as(recorder.firstProblem()).isZero();
                assertThat(mine).startsWith(total + " ");
                for (PeerProcess peer : peers) {
                    assertThat(peer.command("report " + total)).as("peer " + peer.pid()).isEqualTo(mine);
                }
                System.out.println("bundle order: " + total + " messages, own sends " + recorder.reportFrom((int) SuiteDaemon.OWN_PID)
                        + ", peers " + bundlesPerPeer);
            } finally {
                for (PeerProcess peer : peers) {
                    peer.close();
                }
            }
        }
    }

    @Test
    @Timeout(180)
    void aSenderKilledMidStreamLeavesWholeBundlesOnlyAndTheSameOnesEverywhere() throws Exception {
        GroupName group = SuiteDaemon.uniqueGroup("bundle-kill");
        BundleRecorder recorder = new BundleRecorder();
        try (CpgEventLoop loop = CpgEventLoop.start();
             CpgConnection cpg = loop.open(recorder.raw(Bundling.defaults().receiver(recorder)))) {
            cpg.join(group);
            try (PeerProcess victim = PeerProcess.joined(PeerProcess.Program.BUNDLE_PEER, group);
                 PeerProcess other = PeerProcess.joined(PeerProcess.Program.BUNDLE_PEER, group);
                 PeerProcess watcher = PeerProcess.joined(PeerProcess.Program.BUNDLE_PEER, group)) {
                Await.until(() -> cpg.membership(group).size() == 4, Duration.ofSeconds(20), "4 members");
                other.command("send 2 5000 200");
                victim.command("send 2 0 100");
                Await.until(() -> {
                    BundleRecorder.Sender s = recorder.sender(victim.pid());
                    return s != null && s.count > 20_000 && s.bundles < s.count;
                }, Duration.ofSeconds(60), "the victim's messages arrive, in bundles");
                victim.kill();
                assertThat(recorder.awaitLeft(victim.pid(), 30_000)).isTrue();
                String here = recorder.reportFrom(victim.pid());
                String there = watcher.command("from " + victim.pid());
                String[] words = here.split(" ");
                long count = Long.parseLong(words[0]);
                long bundles = Long.parseLong(words[2]);
                long inBundles = Long.parseLong(words[3]);
                // every bundle that arrived was delivered whole, message for message
                assertThat(inBundles).isEqualTo(count);
                assertThat(bundles).isLessThan(count);
                // and the watcher delivered exactly the same of the victim's messages, in the same order
                assertThat(there.split(" ")[0] + " " + there.split(" ")[1]).isEqualTo(words[0] + " " + words[1]);
                assertThat(recorder.fifoErrors()).as(recorder.firstProblem()).isZero();
                assertThat(recorder.corrupt()).as(recorder.firstProblem()).isZero();
                assertThat(awaitSent(other, Duration.ofSeconds(120))).startsWith("SENT 10000 ");
                Await.until(() -> recorder.sender(other.pid()).count == 10_000, Duration.ofSeconds(60), "the other sender's messages");
                System.out.println("bundle kill: victim " + here + " here, " + there + " at the watcher");
            }
        }
    }

    @Test
    @Timeout(180)
    void aFullQueueRefusesOrTimesOutAndLosesNothing() throws Exception {
        GroupName group = SuiteDaemon.uniqueGroup("bundle-pressure");
        BundleRecorder recorder = new BundleRecorder();
        int queueBytes = 512 * 1024;
        Bundling bundling = Bundling.builder().queueBytes(queueBytes).build();
        // A plain connection (no event loop), dispatched only later.
        try (CpgConnection cpg = CpgConnection.open(bundling.receiver(recorder))) {
            cpg.join(group);
            BundlingSender sender = bundling.sender(cpg);
            // Large messages, three to a bundle, that nobody dispatches: the daemon soon refuses
            // them (TRY_AGAIN), and then the bounded queue fills.
            int size = 20_000;
            int seq = 0;
            long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
            while (sender.trySend(BundleRecorder.payload(0, seq, size))) {
                seq++;
                assertThat(sender.statistics().queuedBytes()).isLessThanOrEqualTo(queueBytes);
                if (System.nanoTime() > deadline) {
                    fail("the queue never filled: " + sender.statistics());
                }
            }
            BundlingStatistics full = sender.statistics();
            assertThat(full.refused()).isEqualTo(1);
            assertThat(full.tryAgain()).isPositive();
            assertThat(full.accepted()).isEqualTo(seq);
            assertThat(full.queuedBytes()).isLessThanOrEqualTo(queueBytes).isGreaterThan(queueBytes - 2 * (size + 16));
            int accepted = seq;
            // From the snapshot taken when the queue refused: the flusher may drain it right after.
            int queued = (int) (full.accepted() - full.sent());

            Thread dispatcher = Thread.ofPlatform().stackSize(CpgConnection.DISPATCH_STACK_SIZE).daemon().start(() -> {
                try {
                    cpg.dispatch(DispatchMode.BLOCKING);
                } catch (Throwable t) {
                    t.printStackTrace();
                }
            });
            // The refused message, sent again with a wait, and some more after it.
            for (int more = 0; more < 100; more++) {
                sender.send(BundleRecorder.payload(0, accepted + more, size), Duration.ofSeconds(30));
            }
            assertThat(sender.flush(Duration.ofSeconds(60))).isTrue();
            int total = accepted + 100;
            assertThat(recorder.awaitTotal(total, 60_000)).as(recorder.report()).isTrue();
            assertThat(recorder.fifoErrors()).as(recorder.firstProblem()).isZero();
            assertThat(recorder.corrupt()).isZero();
            BundlingStatistics done = sender.statistics();
            assertThat(done.sent()).isEqualTo(total);
            assertThat(done.queuedBytes()).isZero();
            // the messages that waited in the queue went out three to a bundle
            assertThat(queued).isGreaterThan(20);
            assertThat(done.bundles()).isLessThanOrEqualTo(total - queued + (queued + 2) / 3);
            assertThat(done.largestBundle()).isLessThanOrEqualTo(bundling.maxBundleBytes());
            System.out.println("bundle pressure: " + accepted + " accepted, " + queued
                    + " of them queued when the queue was full; " + done);

            // A send that cannot get in within its timeout. To hold the queue full for sure, the
            // daemon is stopped while another thread waits in a request call (holding the
            // connection's IPC lock), so that the bundle being sent waits too.
            SuiteDaemon.signal("STOP");
            int before = recorder.total() > Integer.MAX_VALUE ? 0 : (int) recorder.total();
            int next = total;
            try {
                Thread holder = Thread.ofPlatform().daemon().start(cpg::localNodeId);
                Await.until(() -> holder.getState() == Thread.State.RUNNABLE, Duration.ofSeconds(5), "the holder is in libcpg");
                Thread.sleep(50);
                int first = next++;
                // the first send becomes the flusher and waits for the lock: on a thread of its own
                Thread.ofPlatform().daemon().start(() -> sender.trySend(BundleRecorder.payload(0, first, size)));
                Await.until(() -> sender.statistics().accepted() == first + 1, Duration.ofSeconds(5), "the first send");
                while (sender.trySend(BundleRecorder.payload(0, next, size))) {
                    next++;
                }
                int waiting = next;
                assertThatThrownBy(() -> sender.send(BundleRecorder.payload(0, waiting, size), Duration.ofMillis(50)))
                        .isInstanceOfSatisfying(CpgException.class, e -> {
                            assertThat(e.error()).isEqualTo(CpgError.TRY_AGAIN);
                            assertThat(e.isRetryable()).isTrue();
                        });
                assertThat(sender.flush(Duration.ofMillis(50))).isFalse();
                assertThat(sender.statistics().refused()).isEqualTo(done.refused() + 2);
                assertThat(sender.statistics().queuedBytes()).isLessThanOrEqualTo(queueBytes);
            } finally {
                SuiteDaemon.resume();
            }
            assertThat(sender.flush(Duration.ofSeconds(60))).isTrue();
            assertThat(recorder.awaitTotal(next, 60_000)).as(recorder.report()).isTrue();
            assertThat(recorder.total()).isEqualTo(next).isGreaterThan(before);
            assertThat(recorder.fifoErrors()).as(recorder.firstProblem()).isZero();
            sender.close();
            assertThatThrownBy(() -> sender.trySend(new byte[1])).isInstanceOf(IllegalStateException.class);
            cpg.close();
            dispatcher.join(10_000);
        }
    }

    @Test
    @Timeout(120)
    void aBundledGroupRejectsPlainMessagesUnlessItSaysItIsMixed() throws Exception {
        for (boolean mixed : new boolean[] {false, true}) {
            GroupName group = SuiteDaemon.uniqueGroup("bundle-mixed");
            List<String> seen = new CopyOnWriteArrayList<>();
            List<String> rawKinds = new CopyOnWriteArrayList<>();
            List<String> rejected = new CopyOnWriteArrayList<>();
            Bundling bundling = Bundling.builder().acceptUnbundled(mixed)
                    .onRejected((m, why) -> rejected.add(m.pid() + ": " + why)).build();
            BundlingReceiver receiver = bundling.receiver(new CpgListener() {
                @Override
                public void onMessage(CpgConnection connection, Message message) {
                    seen.add(message.nodeId() + "/" + message.pid() + " " + new String(message.toByteArray(), StandardCharsets.UTF_8));
                }
            });
            CpgListener raw = new CpgListener() {
                @Override
                public void onEvent(CpgConnection connection, CpgEvent event) {
                    if (event instanceof Message m) {
                        rawKinds.add(Bundling.isBundle(m.payload()) ? "bundle" : "plain");
                    }
                    receiver.onEvent(connection, event);
                }
            };
            ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
            try (CpgEventLoop loop = CpgEventLoop.builder().executor(executor).start();
                 CpgConnection cpg = loop.open(raw);
                 BundlingSender sender = bundling.sender(joined(cpg, group))) {
                long node = cpg.localNodeId();
                cpg.multicast(Guarantee.AGREED, "plain one".getBytes(StandardCharsets.UTF_8));
                sender.send("bundled".getBytes(StandardCharsets.UTF_8), Duration.ofSeconds(5));
                assertThat(sender.flush(Duration.ofSeconds(5))).isTrue();
                // a plain message that starts with the magic but is no well-formed frame
                byte[] fake = {(byte) 0xFE, 'J', 'B', 'D', 1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 'x'};
                cpg.multicast(Guarantee.AGREED, fake);
                cpg.multicast(Guarantee.AGREED, "plain two".getBytes(StandardCharsets.UTF_8));
                Await.until(() -> rawKinds.size() == 4, Duration.ofSeconds(20), "4 deliveries");
                Thread.sleep(100);  // the executor may still run the last callback
                String me = node + "/" + SuiteDaemon.OWN_PID;
                assertThat(rawKinds).containsExactly("plain", "bundle", "bundle", "plain");
                if (mixed) {
                    assertThat(seen).containsExactly(me + " plain one", me + " bundled", me + " plain two");
                    assertThat(rejected).singleElement().asString().contains("malformed bundle");
                } else {
                    assertThat(seen).containsExactly(me + " bundled");
                    assertThat(rejected).hasSize(3);
                    assertThat(rejected.get(0)).isEqualTo(SuiteDaemon.OWN_PID + ": not a bundle (a member that does not bundle?), 9 bytes");
                    assertThat(rejected.get(1)).contains("malformed bundle").contains("count 2");
                }
                assertThat(receiver.rejected()).isEqualTo(rejected.size());
            } finally {
                executor.shutdown();
            }
        }
    }

    private static CpgConnection joined(CpgConnection cpg, GroupName group) {
        cpg.join(group);
        return cpg;
    }

    @Test
    @Timeout(60)
    void aSenderNeedsAJoinedConnectionAndBundlesWithinTheAtomicSize() throws Exception {
        try (CpgConnection cpg = CpgConnection.open(new CpgListener() { })) {
            assertThatThrownBy(() -> Bundling.defaults().sender(cpg)).isInstanceOf(IllegalStateException.class);
            cpg.join(SuiteDaemon.uniqueGroup("bundle-misuse"));
            int atomic = cpg.maxAtomicMessageSize();
            assertThatThrownBy(() -> Bundling.builder().maxBundleBytes(atomic + 1).queueBytes(4L << 20).build().sender(cpg))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("atomic");
            try (BundlingSender sender = Bundling.defaults().sender(cpg)) {
                assertThatThrownBy(() -> sender.trySend(MemorySegment.ofArray(new byte[atomic])))
                        .isInstanceOf(IllegalArgumentException.class);
                // the largest message that fits a bundle of the atomic size goes alone in one
                assertThat(sender.trySend(new byte[atomic - Bundling.BUNDLE_OVERHEAD - Bundling.MESSAGE_OVERHEAD])).isTrue();
                assertThat(sender.flush(Duration.ofSeconds(10))).isTrue();
                assertThat(sender.statistics().largestBundle()).isEqualTo(atomic);
            }
        }
    }
}
