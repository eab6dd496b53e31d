package org.jcpg;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.jcpg.bundling.Bundling;
import org.jcpg.bundling.BundlingReceiver;
import org.jcpg.bundling.BundlingSender;
import org.jcpg.bundling.BundlingStatistics;
import org.jcpg.testsupport.BundleRecorder;

/**
 * A member of a bundled group in a child JVM ({@link PeerProcess.Program#BUNDLE_PEER}), for
 * {@link BundlingTest}: it prints {@code READY <pid>}, then reads a command a line and answers
 * {@code OK verb [RESULT]} or {@code ERR verb PROBLEM}:
 * <ul>
 * <li>{@code join HEX}: opens a connection on an event loop with a {@link BundlingReceiver}
 *     in front of a {@link BundleRecorder}, joins, makes a {@link BundlingSender};
 * <li>{@code send THREADS COUNT SIZE}: starts THREADS threads that each send COUNT numbered
 *     messages of SIZE bytes (COUNT 0: until the process dies); when all are done and flushed it
 *     prints {@code EV SENT accepted bundles};
 * <li>{@code report TOTAL}: waits until TOTAL messages were delivered, answers
 *     {@link BundleRecorder#report()};
 * <li>{@code from PID}: waits until PID left the group, answers {@link BundleRecorder#reportFrom};
 * <li>{@code exit}: halts (as does the end of stdin).
 * </ul>
 */
public final class BundlePeerMain {
    private static final BundleRecorder RECORDER = new BundleRecorder();
    private static CpgEventLoop loop;
    private static CpgConnection cpg;
    private static BundlingSender sender;

    private BundlePeerMain() {
    }

    private static synchronized void print(String line) {
        System.out.println(line);
        System.out.flush();
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
                print("EV SENT " + s.accepted() + " " + s.bundles());
            } catch (Throwable t) {
                print("EV SENDERROR " + t);
            }
        });
    }

    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, UTF_8));
        print("READY " + ProcessHandle.current().pid());
        String line;
        while ((line = in.readLine()) != null) {
            String[] words = line.trim().split(" ");
            String verb = words[0];
            try {
                String result = "";
                switch (verb) {
                    case "join" -> join(GroupName.ofBytes(HexFormat.of().parseHex(words[1])));
                    case "send" -> send(Integer.parseInt(words[1]), Integer.parseInt(words[2]), Integer.parseInt(words[3]));
                    case "report" -> {
                        RECORDER.awaitTotal(Long.parseLong(words[1]), 60_000);
                        result = " " + RECORDER.report();
                    }
                    case "from" -> {
                        int pid = Integer.parseInt(words[1]);
                        if (!RECORDER.awaitLeft(pid, 30_000)) {
                            throw new IllegalStateException(pid + " never left");
                        }
                        result = " " + RECORDER.reportFrom(pid);
                    }
                    case "exit" -> Runtime.getRuntime().halt(0);
                    default -> throw new IllegalArgumentException("unknown command " + line);
                }
                print("OK " + verb + result);
            } catch (Throwable t) {
                print("ERR " + verb + " " + t);
            }
        }
        Runtime.getRuntime().halt(0);
    }
}
