package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.jcpg.testsupport.KillableDaemon;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.SuiteDaemon;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * What jcpg does when corosync dies or restarts under its clients. Each test
 * runs its own corosync ({@link KillableDaemon}) in a namespace of its own and
 * kills that one: the suite's shared daemon is never touched. The clients
 * are child JVMs in that namespace ({@link DaemonPeer}); two peers, one
 * with callbacks on the loop thread and one with callbacks on virtual
 * threads, send to each other under load while the daemon goes away.
 *
 * <p>Bounds are generous: they tell "works" from "hangs" or "spins", not
 * fast from slow. Facts seen (error codes, leftover files) are printed as
 * lines starting with "FACT".
 */
@NodeTest
class DaemonDeathTest {
    private static final Duration EVENT = Duration.ofSeconds(20);

    /** How the daemon goes away. */
    enum Stop {
        SIGKILL, SIGTERM
    }

    private static void fact(String text) {
        System.out.println("FACT " + text);
    }

    private static String pids(DaemonPeer... peers) {
        return PeerProcess.pidList(java.util.Arrays.stream(peers).mapToLong(DaemonPeer::pid).toArray());
    }

    /** Both peers see both as members, then both send and each has received plenty from both. */
    private static void underLoad(GroupName group, String sendMode, DaemonPeer... peers) throws InterruptedException {
        String members = "members=" + pids(peers);
        for (DaemonPeer peer : peers) {
            peer.awaitEvent(e -> e.startsWith("CONFCHG " + DaemonPeer.hex(group)) && e.endsWith(members), EVENT);
        }
        for (DaemonPeer peer : peers) {
            peer.command("send " + sendMode);
        }
        for (DaemonPeer receiver : peers) {
            for (DaemonPeer sender : peers) {
                receiver.await("200 messages from " + sender, r -> r.sender(sender.pid()).count >= 200, EVENT);
            }
        }
    }

    private static long cpuOfLoop(String reply) {
        return Long.parseLong(reply.split(" ")[0]);
    }

    private static long cpuOfProcess(String reply) {
        return Long.parseLong(reply.split(" ")[1]);
    }

    /** The loss is reported once; calls then fail with CpgException; isLost() says so. */
    private static String assertLostOnce(DaemonPeer peer) throws InterruptedException {
        peer.awaitEvent(e -> e.startsWith("LOST "), EVENT);
        // Room for a second report, which must not come.
        Thread.sleep(500);
        List<String> lost = peer.events("LOST ");
        assertThat(lost).as(peer + " reports the loss once").hasSize(1);
        assertThat(lost.getFirst()).as(peer + ": isLost() inside the callback").endsWith("isLost=true");
        return lost.getFirst();
    }

    private static void assertSendFails(DaemonPeer peer) throws InterruptedException {
        assertThat(peer.command("stats")).as(peer + " statistics").startsWith("lost=true closed=false");
        String send = peer.command("trysend");
        // DaemonPeerMain answers ERR (failing command()) for anything but CpgException.
        assertThat(send).as(peer + ": a send after the loss").startsWith("CpgException ");
        fact(peer + ": a send after the loss throws " + send);
    }

    /** libqb's entries in /dev/shm for one client of one daemon: qb-DAEMON-CLIENT-CONN-RANDOM directories. */
    private static List<Path> shmEntries(long daemon, long client) throws IOException {
        String prefix = "qb-" + daemon + "-" + client + "-";
        try (Stream<Path> all = Files.list(Path.of("/dev/shm"))) {
            return all.filter(p -> p.getFileName().toString().startsWith(prefix)).sorted().toList();
        }
    }

    /** The files under those entries (the rings: qb-request-cpg-data, ...). */
    private static List<Path> shmFiles(List<Path> entries) throws IOException {
        List<Path> files = new ArrayList<>();
        for (Path entry : entries) {
            if (!Files.isDirectory(entry)) {
                files.add(entry);
                continue;
            }
            try (Stream<Path> inside = Files.walk(entry)) {
                inside.filter(Files::isRegularFile).forEach(files::add);
            } catch (NoSuchFileException | UncheckedIOException removedMeanwhile) {
                // fine: gone
            }
        }
        return files;
    }

    /**
     * Nothing of a dead daemon's connections to {@code client} is left in
     * /dev/shm once the client closed them: first the rings (megabytes each),
     * then the directories that hold them. Waits a little: finalize runs on
     * jcpg's reaper thread. Checked from this JVM (same /dev/shm), so it works
     * after the peer exited.
     */
    private static void assertShmCleaned(long deadDaemon, long client, String who) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        List<Path> entries = shmEntries(deadDaemon, client);
        while (!entries.isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(100);
            entries = shmEntries(deadDaemon, client);
        }
        List<Path> files = shmFiles(entries);
        fact(who + ": left in /dev/shm of dead daemon " + deadDaemon + " after close: entries "
                + entries.stream().map(p -> p.getFileName().toString()).toList() + ", files in them " + files.size());
        assertThat(files).as(who + ": libqb ring files of dead daemon " + deadDaemon + " after close").isEmpty();
        assertThat(entries).as(who + ": /dev/shm/qb-" + deadDaemon + "-" + client + "-* after close"
                + " (empty directories: libqb's client unlinks the rings of a dead server but not their directory)")
                .isEmpty();
    }

    @Test
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    void sigkillUnderLoadWithoutReconnectIsReportedOnceAndDoesNotSpin() throws Exception {
        GroupName group = SuiteDaemon.uniqueGroup("death");
        try (KillableDaemon node = KillableDaemon.start();
             DaemonPeer onLoop = DaemonPeer.joined(node, "loop-thread", group, false, "off");
             DaemonPeer onExecutor = DaemonPeer.joined(node, "virtual-executor", group, true, "off")) {
            DaemonPeer[] peers = {onLoop, onExecutor};
            underLoad(group, "stop", peers);

            long dead = node.kill();
            for (DaemonPeer peer : peers) {
                fact(peer + " reported " + assertLostOnce(peer) + " after SIGKILL of corosync " + dead);
                assertSendFails(peer);
                // The sender thread stops at its first non-retryable CpgException.
                String error = peer.awaitEvent(e -> e.startsWith("SENDERR ") && !e.contains(" TRY_AGAIN "), EVENT);
                fact(peer + ": its sender under load got " + error);
                assertThat(peer.events("SENDFAIL")).as(peer + ": sends fail only with CpgException").isEmpty();
            }

            // No busy loop: neither the loop thread nor the process burns CPU while the daemon is dead.
            String[] before = {onLoop.command("cpu"), onExecutor.command("cpu")};
            Thread.sleep(2000);
            String[] after = {onLoop.command("cpu"), onExecutor.command("cpu")};
            for (int i = 0; i < peers.length; i++) {
                long loopCpu = cpuOfLoop(after[i]) - cpuOfLoop(before[i]);
                long processCpu = cpuOfProcess(after[i]) - cpuOfProcess(before[i]);
                fact(peers[i] + ": CPU in the 2 s after the loss: loop thread " + loopCpu / 1_000_000
                        + " ms, process " + processCpu / 1_000_000 + " ms");
                assertThat(cpuOfLoop(before[i])).as(peers[i] + ": the loop thread is still there").isNotNegative();
                assertThat(loopCpu).as(peers[i] + ": loop thread CPU (ns) in 2 s").isLessThan(200_000_000L);
                assertThat(processCpu).as(peers[i] + ": process CPU (ns) in 2 s").isLessThan(1_000_000_000L);
            }

            for (DaemonPeer peer : peers) {
                assertThat(peer.process.isAlive()).as(peer + " is alive").isTrue();
                peer.command("ping");
                assertThat(peer.violations()).as(peer + ": per-sender order").isEmpty();
                fact(peer + ": /dev/shm entries of dead daemon " + dead + " before close: " + peer.shmOf(dead));
                long closeMillis = Long.parseLong(peer.command("closeloop", Duration.ofSeconds(30)));
                fact(peer + ": loop.close() took " + closeMillis + " ms");
                assertThat(peer.events("CALLBACKFAIL")).isEmpty();
                assertThat(peer.quit()).as(peer + " exit status").isZero();
            }
            for (DaemonPeer peer : peers) {
                assertShmCleaned(dead, peer.pid(), peer.toString());
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Stop.class)
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    void afterARestartTheLoopReconnectsRejoinsAndNeverDeliversTwice(Stop how) throws Exception {
        GroupName group = SuiteDaemon.uniqueGroup("reconnect");
        try (KillableDaemon node = KillableDaemon.start();
             DaemonPeer onLoop = DaemonPeer.joined(node, "loop-thread", group, false, "100,1000");
             DaemonPeer onExecutor = DaemonPeer.joined(node, "virtual-executor", group, true, "100,1000")) {
            DaemonPeer[] peers = {onLoop, onExecutor};
            underLoad(group, "continue", peers);

            long gone = how == Stop.SIGKILL ? node.kill() : node.term();
            for (DaemonPeer peer : peers) {
                fact(peer + " reported " + assertLostOnce(peer) + " after " + how + " of corosync " + gone);
                assertSendFails(peer);
            }
            // Down long enough for several attempts (100, 200, 400, 800 ms pauses).
            Thread.sleep(1500);
            long again = node.startAgain();

            for (DaemonPeer peer : peers) {
                String reconnected = peer.awaitEvent(e -> e.startsWith("RECONNECTED "), Duration.ofSeconds(30));
                fact(peer + " reported " + reconnected + " after corosync " + again + " started");
                String[] words = reconnected.split(" ");
                assertThat(Integer.parseInt(words[1])).as(peer + ": attempts").isGreaterThanOrEqualTo(2);
                assertThat(words[2]).as(peer + ": the group joined again").isEqualTo(DaemonPeer.hex(group));
            }
            Thread.sleep(500);
            for (DaemonPeer peer : peers) {
                List<String> events = peer.events();
                List<String> losses = peer.events("LOST ");
                List<String> reconnections = peer.events("RECONNECTED ");
                assertThat(losses).as(peer + ": one loss").hasSize(1);
                assertThat(reconnections).as(peer + ": one reconnection").hasSize(1);
                assertThat(events.indexOf(losses.getFirst())).as(peer + ": lost before reconnected")
                        .isLessThan(events.indexOf(reconnections.getFirst()));
                assertThat(peer.command("stats")).as(peer + " statistics").startsWith("lost=false closed=false");
            }

            // Members again: for the new daemon and for the peers themselves.
            List<Long> both = List.of(onLoop.pid(), onExecutor.pid());
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            List<Long> listed = node.cpgtoolMembers(group);
            while (!listed.containsAll(both) && System.nanoTime() < deadline) {
                Thread.sleep(100);
                listed = node.cpgtoolMembers(group);
            }
            assertThat(listed).as("corosync-cpgtool on the restarted daemon").containsExactlyInAnyOrderElementsOf(both);
            for (DaemonPeer peer : peers) {
                assertThat(peer.command("membership")).as(peer + ": membership()").isEqualTo(pids(peers));
            }

            // Messages sent after the reconnection arrive, from both senders at both receivers.
            long[] marks = new long[peers.length];
            for (int i = 0; i < peers.length; i++) {
                marks[i] = Long.parseLong(peers[i].command("seq"));
            }
            for (DaemonPeer receiver : peers) {
                for (int i = 0; i < peers.length; i++) {
                    long sender = peers[i].pid();
                    long mark = marks[i];
                    receiver.await("a message sent by " + sender + " after seq " + mark,
                            r -> r.sender(sender).last > mark, EVENT);
                }
            }
            for (DaemonPeer peer : peers) {
                fact(peer + ": sender stopped at (lastSeq sent errors) " + peer.command("stopsend"));
                List<String> errors = peer.events("SENDERR ").stream()
                        .map(e -> e.split(" ")[2] + " " + e.split(" ")[4]).distinct().toList();
                fact(peer + ": errors its sender saw: " + errors);
                assertThat(peer.events("SENDFAIL")).as(peer + ": sends fail only with CpgException").isEmpty();
            }
            for (DaemonPeer receiver : peers) {
                // Never twice, never out of order: strictly increasing per sender over the whole run.
                assertThat(receiver.violations()).as(receiver + ": per-sender sequence").isEmpty();
                // The gap is never hidden: nothing is delivered between the loss and Reconnected.
                assertThat(receiver.messagesWhileLost()).as(receiver + ": messages between LOST and RECONNECTED").isZero();
                for (DaemonPeer sender : peers) {
                    DaemonPeer.Sender seen = receiver.sender(sender.pid());
                    fact(receiver + " from " + sender + ": " + seen.count + " messages, " + seen.afterReconnect
                            + " after reconnecting, the first of those seq " + seen.firstAfterReconnect);
                    assertThat(seen.afterReconnect).isPositive();
                }
                assertThat(receiver.events("CALLBACKFAIL")).isEmpty();
            }

            for (DaemonPeer peer : peers) {
                peer.command("closeloop", Duration.ofSeconds(30));
                assertThat(peer.quit()).as(peer + " exit status").isZero();
            }
            for (DaemonPeer peer : peers) {
                assertShmCleaned(gone, peer.pid(), peer + " (reconnected, then closed)");
            }
        }
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void closeDuringABlockedDispatchWhileTheDaemonIsKilledDoesNotHang() throws Exception {
        try (KillableDaemon node = KillableDaemon.start(); DaemonPeer peer = DaemonPeer.start(node, "plain")) {
            // 0 and 1 are closed while the daemon is being killed; 2 and 3 after their dispatch failed.
            String[] threads = {"platform", "virtual", "platform", "virtual"};
            for (String thread : threads) {
                peer.command("plain " + DaemonPeer.hex(SuiteDaemon.uniqueGroup("blocked")) + " " + thread);
            }
            Thread.sleep(300);

            CompletableFuture<Long> killed = CompletableFuture.supplyAsync(node::kill);
            long closeMillis = Long.parseLong(peer.command("closeplain 0 1", Duration.ofSeconds(30)));
            long dead = killed.get(30, TimeUnit.SECONDS);
            fact("close() of two dispatching connections while corosync " + dead + " was killed took " + closeMillis + " ms");

            // 2 and 3 end by themselves (their daemon is gone), then are closed; 0 and 1 were closed meanwhile.
            for (int index : new int[] {2, 3, 0, 1}) {
                String end = peer.awaitEvent(e -> e.startsWith("DISPATCHEND " + index + " "), EVENT);
                fact("dispatch(BLOCKING) on a " + threads[index] + " thread, "
                        + (index < 2 ? "closed while the daemon was killed" : "not closed") + ": " + end);
                assertThat(end).as("dispatch ends by returning or with CpgException")
                        .matches("DISPATCHEND \\d+ (returned \\d+|CpgException \\w+ \\d+)");
                if (index == 3) {
                    closeMillis = Long.parseLong(peer.command("closeplain 2 3", Duration.ofSeconds(30)));
                    fact("close() of two connections whose dispatch had failed took " + closeMillis + " ms");
                }
            }
            peer.command("ping");
            assertThat(peer.quit()).as("exit status").isZero();
            assertShmCleaned(dead, peer.pid(), peer.toString());
        }
    }
}
