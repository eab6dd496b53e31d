package org.jcpg;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.jcpg.bundling.Bundling;
import org.jcpg.bundling.BundlingReceiver;
import org.jcpg.bundling.BundlingSender;
import org.jcpg.bundling.BundlingStatistics;
import org.jcpg.testsupport.BundleRecorder;
import org.jcpg.testsupport.ChildProtocol;

/**
 * A member of a bundled group in a child JVM ({@link PeerProcess.Program#BUNDLE_PEER}), for
 * {@link BundlingTest}. It speaks {@link ChildProtocol}; its commands:
 * <ul>
 * <li>{@code join HEX}: opens a connection on an event loop with a {@link BundlingReceiver}
 *     in front of a {@link BundleRecorder}, joins, makes a {@link BundlingSender};
 * <li>{@code send THREADS COUNT SIZE}: starts THREADS threads that each send COUNT numbered
 *     messages of SIZE bytes (COUNT 0: until the process dies); when all are done and flushed it
 *     prints {@code EV SENT accepted bundles};
 * <li>{@code report TOTAL}: waits until TOTAL messages were delivered, answers
 *     {@link BundleRecorder#report()};
 * <li>{@code from PID}: waits until PID left the group, answers {@link BundleRecorder#reportFrom};
 * <li>{@code exit} (the protocol's): halts.
 * </ul>
 */
public final class BundlePeerMain {
    private static final BundleRecorder RECORDER = new BundleRecorder();
    private static CpgEventLoop loop;
    private static CpgConnection cpg;
    private static BundlingSender sender;

    private BundlePeerMain() {
    }

    private static void join(GroupName group) throws InterruptedException {
        loop = CpgEventLoop.start();
        Bundling bundling = Bundling.defaults();
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (true) {
            cpg = loop.open(RECORDER.raw(bundling.receiver(RECORDER)));
            try {
                cpg.join(group);
                break;
            } catch (CpgException e) {
                cpg.close();
                if (!e.isRetryable() || System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(5);
            }
        }
        sender = bundling.sender(cpg);
    }

    private static void send(int threads, int count, int size) {
        List<Thread> all = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int thread = t;
            all.add(Thread.ofPlatform().name("send-" + t).start(() -> {
                for (int seq = 0; count == 0 || seq < count; seq++) {
                    sender.send(BundleRecorder.payload(thread, seq, size), Duration.ofSeconds(30));
                }
            }));
        }
        Thread.ofPlatform().daemon().start(() -> {
            try {
                for (Thread t : all) {
                    t.join();
                }
                sender.flush(Duration.ofSeconds(60));
                BundlingStatistics s = sender.statistics();
                ChildProtocol.event("SENT " + s.accepted() + " " + s.bundles());
            } catch (Throwable t) {
                ChildProtocol.event("SENDERROR " + t);
            }
        });
    }

    public static void main(String[] args) {
        new ChildProtocol()
                .on("join", c -> join(GroupName.ofBytes(HexFormat.of().parseHex(c.word(1)))))
                .on("send", c -> send(c.intWord(1), c.intWord(2), c.intWord(3)))
                .answer("report", c -> {
                    RECORDER.awaitTotal(c.longWord(1), 60_000);
                    return RECORDER.report();
                })
                .answer("from", c -> {
                    int pid = c.intWord(1);
                    if (!RECORDER.awaitLeft(pid, 30_000)) {
                        throw new IllegalStateException(pid + " never left");
                    }
                    return RECORDER.reportFrom(pid);
                })
                .serve();
    }
}
