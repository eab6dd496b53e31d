package org.jcpg.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.jcpg.GroupName;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Virtual synchrony under faults: 3 nodes x 2 senders (this JVM and a child
 * JVM, each a member through every node) multicast continuously while the
 * harness kills and restarts nodes and partitions and heals them on a fixed
 * schedule drawn from a fixed seed, for about 70 s. Then the load stops, the
 * deliveries settle, and every member incarnation's history must pass the
 * {@link VsChecker}. Prints the counts.
 */
@Tag("cluster")
class VirtualSynchronyLoadTest {
    private static final long SEED = 0x5EED_C0DEL;
    private static final long SCHEDULE_MS = 70_000;
    private static final int PER_SECOND = 100;
    private static final int MAX_SIZE = 2048;

    enum Kind { KILL_RESTART, PARTITION_HEAL }

    record Fault(Kind kind, int node, long holdMs, long pauseMs) {
    }

    /** The schedule: 14 faults from the seed (the run stops early once SCHEDULE_MS is over). */
    static List<Fault> schedule() {
        Random random = new Random(SEED);
        List<Fault> faults = new ArrayList<>();
        for (int i = 0; i < 14; i++) {
            faults.add(new Fault(random.nextBoolean() ? Kind.KILL_RESTART : Kind.PARTITION_HEAL,
                    1 + random.nextInt(3), 1_500 + random.nextInt(2_000), 1_000 + random.nextInt(2_000)));
        }
        return faults;
    }

    /** The child JVM (LoadPeerMain), driven by text commands. */
    static final class Child implements AutoCloseable {
        final Process process;
        final BufferedReader out;
        final PrintWriter in;

        Child() throws Exception {
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            process = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-Xshare:auto",
                    "-cp", System.getProperty("java.class.path"), LoadPeerMain.class.getName())
                    .redirectError(ProcessBuilder.Redirect.INHERIT).start();
            out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
            in = new PrintWriter(process.getOutputStream(), true, StandardCharsets.UTF_8);
            String ready = out.readLine();
            assertThat(ready).startsWith("READY ");
        }

        String command(String line) throws Exception {
            in.println(line);
            String reply = out.readLine();
            if (reply == null || !reply.startsWith("OK")) {
                throw new AssertionError("load child answered " + reply + " to " + line);
            }
            return reply.substring(2).trim();
        }

        @Override
        public void close() throws Exception {
            in.println("exit");
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    /**
     * The histories with, in the first cleanly ended one, two adjacent deliveries of different
     * senders swapped and the first delivery repeated at the end.
     */
    static List<VsHistory> tampered(List<VsHistory> histories) {
        List<String> lines = new ArrayList<>(VsHistory.write(histories).lines().toList());
        int start = -1;
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).startsWith("H ") && lines.get(i).endsWith(" CLEAN")) {
                start = i;
                break;
            }
        }
        assertThat(start).isNotNegative();
        int end = start + 1;
        while (end < lines.size() && !lines.get(end).startsWith("H ")) {
            end++;
        }
        String firstDelivery = null;
        boolean swapped = false;
        for (int i = start + 1; i + 1 < end; i++) {
            String a = lines.get(i), b = lines.get(i + 1);
            if (a.startsWith("D ") && firstDelivery == null) {
                firstDelivery = a;
            }
            if (!swapped && i > start + 50 && a.startsWith("D ") && b.startsWith("D ")
                    && !a.split(" ")[1].equals(b.split(" ")[1])) {
                lines.set(i, b);
                lines.set(i + 1, a);
                swapped = true;
            }
        }
        assertThat(swapped).isTrue();
        lines.add(end, firstDelivery);
        return VsHistory.parse(lines);
    }

    private static void await(String what, BooleanSupplier condition, long timeoutMs) throws InterruptedException {
        long deadline = System.nanoTime() + timeoutMs * 1_000_000;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(what + " not reached within " + timeoutMs + " ms");
            }
            Thread.sleep(100);
        }
    }

    @Test
    @Timeout(300)
    void threeNodesTimesTwoSendersUnderKillsRestartsAndPartitions() throws Exception {
        GroupName group = Clients.uniqueGroup("vs");
        try (ClusterFixture cluster = ClusterFixture.up(3); Child child = new Child()) {
            List<Path> netns = IntStream.rangeClosed(1, 3).mapToObj(cluster::netnsPath).toList();
            LoadGroup local = new LoadGroup(netns, group, PER_SECOND, MAX_SIZE);
            child.command("start " + HexFormat.of().formatHex(group.toBytes()) + " " + PER_SECOND + " " + MAX_SIZE
                    + " " + netns.stream().map(Path::toString).collect(Collectors.joining(" ")));
            BooleanSupplier allSix = () -> {
                try {
                    String[] s = child.command("status").split(" ");
                    return local.connected() && local.minViewSize() == 6 && s[0].equals("true") && s[1].equals("6");
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            };
            await("6 members in every view", allSix, 30_000);

            long t0 = System.nanoTime();
            int kills = 0, partitions = 0;
            for (Fault f : schedule()) {
                if ((System.nanoTime() - t0) / 1_000_000 > SCHEDULE_MS) {
                    break;
                }
                System.out.printf("t=%5.1f s: %s node %d for %d ms%n", (System.nanoTime() - t0) / 1e9, f.kind(), f.node(), f.holdMs());
                if (f.kind() == Kind.KILL_RESTART) {
                    cluster.kill(f.node());
                    Thread.sleep(f.holdMs());
                    cluster.restart(f.node());
                    kills++;
                } else {
                    cluster.partition(f.node());
                    Thread.sleep(f.holdMs());
                    cluster.heal(f.node());
                    partitions++;
                }
                Thread.sleep(f.pauseMs());
            }
            long faultsMs = (System.nanoTime() - t0) / 1_000_000;
            cluster.awaitSettled();
            await("all 6 members back in one view", allSix, 30_000);
            Thread.sleep(1_000);

            local.stopSending();
            child.command("stop");
            // Settle: every member delivered its own messages, and the counts stay put for 1.5 s.
            long last = -1;
            long stableSince = System.nanoTime();
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (true) {
                String[] s = child.command("status").split(" ");
                long total = local.deliveries() + Long.parseLong(s[3]);
                boolean self = local.selfDelivered() && s[2].equals("true");
                if (total != last) {
                    last = total;
                    stableSince = System.nanoTime();
                } else if (self && System.nanoTime() - stableSince > 1_500_000_000L) {
                    break;
                }
                assertThat(System.nanoTime()).as("deliveries settle within 30 s").isLessThan(deadline);
                Thread.sleep(100);
            }

            List<VsHistory> histories = new ArrayList<>(local.finish());
            Path file = Files.createTempFile("jcpg-vs-", ".txt");
            try {
                child.command("finish " + file);
                histories.addAll(VsHistory.parse(Files.readAllLines(file)));
            } finally {
                Files.deleteIfExists(file);
            }

            VsChecker.Report report = VsChecker.check(histories);
            System.out.printf("virtual synchrony: %d faults injected in %.1f s (%d kill+restart, %d partition+heal); %s%n",
                    kills + partitions, faultsMs / 1e3, kills, partitions, report);
            report.assertOk();
            assertThat(VsChecker.check(tampered(histories)).violations())
                    .as("the same histories with one message reordered and one duplicated fail")
                    .anyMatch(v -> v.contains("agreed order broken"))
                    .anyMatch(v -> v.contains("twice"));
            assertThat(kills + partitions).isGreaterThanOrEqualTo(6);
            assertThat(report.messages()).isGreaterThan(5_000);
            assertThat(report.views()).isGreaterThan(2 * (kills + partitions));
            assertThat(histories).as("a member incarnation per connection").hasSizeGreaterThan(6 + (kills > 0 ? 1 : 0));
        }
    }
}
