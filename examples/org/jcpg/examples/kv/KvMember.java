package org.jcpg.examples.kv;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.jcpg.CpgConnection;
import org.jcpg.CpgException;
import org.jcpg.GroupName;
import org.jcpg.Member;
import org.jcpg.MembershipChange;
import org.jcpg.TotemChange;

/**
 * One replica of a {@link ReplicatedMap} in a process of its own, driven
 * through stdin and reporting through stdout, for the tests and the demo
 * ({@link MemberProcess} runs it). It prints {@code READY pid}, then answers
 * each command line with {@code OK verb [RESULT]} or {@code ERR verb PROBLEM}:
 * <ul>
 * <li>{@code join GROUPHEX [CHUNK [DELAY_MS]]}: joins (snapshot chunks of at most CHUNK bytes, 0: the
 *     default; a pause of DELAY_MS before sending a snapshot);
 * <li>{@code synced}: waits (20 s at most) until this replica holds the state;
 * <li>{@code put KEY VALUE}, {@code zput KEY SIZE} (a value of SIZE bytes through a zero-copy
 *     buffer): answer the update's position once applied here;
 * <li>{@code load NAME COUNT PAUSE_MS}: a writer thread sends COUNT updates
 *     {@code Put(NAME-PID-i, i), Add(total, 1)}, a pause after each, at most 64 unapplied;
 *     reports {@code EV LOADDONE NAME COUNT LASTPOSITION} (or {@code EV LOADFAIL});
 * <li>{@code fence ID}: puts {@code fence/ID}; every replica prints {@code EV FENCE} at it;
 * <li>{@code keys NAME}: per writer of {@code load NAME}, {@code PID:COUNT:HIGHEST+1}, comma-separated;
 * <li>{@code digest}: {@code OK digest POSITION DIGEST ENTRIES ANOMALIES};
 * <li>{@code leave}: leaves the group; {@code exit}: halts (so does the end of stdin).
 * </ul>
 * Events: {@code EV APPLY POS NODE/PID SEQ WHAT}, {@code EV VIEW EPOCH members=.. joined=..
 * left=..} (NODE/PID, /REASON), {@code EV SYNCED EPOCH fresh|snapshot ENTRIES REPLAYED POS DIGEST},
 * {@code EV SNAPSENT EPOCH BYTES CHUNKS}, {@code EV RING NODE.SEQ nodes=..},
 * {@code EV FENCE ID POS DIGEST ENTRIES ANOMALIES}, {@code EV LOST CAUSE}.
 */
public final class KvMember {
    private static volatile ReplicatedMap map;

    private KvMember() {
    }

    static synchronized void print(String line) {
        System.out.println(line);
        System.out.flush();
    }

    static String members(List<Member> members, boolean reasons) {
        return members.stream().map(m -> m.nodeId() + "/" + m.pid() + (reasons ? "/" + m.reason() : ""))
                .collect(Collectors.joining(","));
    }

    /** A short, space-free description of an update's first operation. */
    static String describe(List<ReplicatedMap.Op> ops) {
        ReplicatedMap.Op op = ops.getFirst();
        String what = switch (op) {
            case ReplicatedMap.Op.Put put -> "put:" + put.key() + "=" + shorten(put.value());
            case ReplicatedMap.Op.Remove remove -> "remove:" + remove.key();
            case ReplicatedMap.Op.Add add -> "add:" + add.key() + "+" + add.delta();
        };
        return (ops.size() > 1 ? what + "+" + (ops.size() - 1) + "more" : what).replace(' ', '_');
    }

    private static String shorten(String value) {
        return value.length() <= 24 ? value : value.substring(0, 8) + "..(" + value.length() + "B)";
    }

    private static final ReplicatedMap.Listener LISTENER = new ReplicatedMap.Listener() {
        @Override
        public void applied(ReplicatedMap m, ReplicatedMap.Update update) {
            print("EV APPLY " + update.position() + " " + update.nodeId() + "/" + update.pid() + " " + update.seq()
                    + " " + describe(update.ops()));
            if (update.ops().getFirst() instanceof ReplicatedMap.Op.Put put && put.key().startsWith("fence/")) {
                print("EV FENCE " + put.key().substring(6) + " " + update.position() + " " + m.digest() + " "
                        + m.entries().size() + " " + m.anomalies());
            }
        }

        @Override
        public void viewChanged(ReplicatedMap m, MembershipChange change, long epoch) {
            print("EV VIEW " + epoch + " members=" + members(change.members(), false)
                    + " joined=" + members(change.joined(), true) + " left=" + members(change.left(), true));
        }

        @Override
        public void synced(ReplicatedMap m, long epoch, boolean fresh, int entries, int replayed) {
            print("EV SYNCED " + epoch + " " + (fresh ? "fresh" : "snapshot") + " " + entries + " " + replayed
                    + " " + m.position() + " " + m.digest());
        }

        @Override
        public void snapshotSent(ReplicatedMap m, long epoch, int bytes, int chunks) {
            print("EV SNAPSENT " + epoch + " " + bytes + " " + chunks);
        }

        @Override
        public void ringChanged(ReplicatedMap m, TotemChange change) {
            print("EV RING " + change.ringId().nodeId() + "." + Long.toUnsignedString(change.ringId().seq())
                    + " nodes=" + change.nodeIds().stream().map(String::valueOf).collect(Collectors.joining(",")));
        }

        @Override
        public void lost(ReplicatedMap m, CpgException cause) {
            print("EV LOST " + cause.error());
        }
    };

    public static void main(String[] args) throws Exception {
        warmUp();
        print("READY " + ProcessHandle.current().pid());
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            String[] words = line.trim().split(" ");
            try {
                String result = run(words);
                print(("OK " + words[0] + " " + result).trim());
            } catch (Exception | AssertionError e) {
                print("ERR " + words[0] + " " + String.valueOf(e).replace('\n', ' '));
            }
            if (words[0].equals("exit")) {
                break;
            }
        }
        Runtime.getRuntime().halt(0);
    }

    /**
     * Connects once and closes, so that the first join does not pay for loading libcpg and
     * linking its functions (seconds on a loaded machine): the demo starts its JVMs early and
     * joins them one by one.
     */
    private static void warmUp() {
        try (CpgConnection warm = CpgConnection.open(new org.jcpg.CpgListener() {
        })) {
            warm.localNodeId();
        } catch (RuntimeException | LinkageError noDaemonYet) {
            // the join will report it
        }
    }

    private static String run(String[] words) throws Exception {
        return switch (words[0]) {
            case "join" -> {
                ReplicatedMap.Builder builder = ReplicatedMap.builder(GroupName.ofBytes(HexFormat.of().parseHex(words[1])))
                        .listener(LISTENER);
                if (words.length > 2 && !words[2].equals("0")) {
                    builder.chunkSize(Integer.parseInt(words[2]));
                }
                if (words.length > 3) {
                    builder.snapshotDelay(Duration.ofMillis(Long.parseLong(words[3])));
                }
                map = builder.join();
                yield map.nodeId() + " " + map.pid();
            }
            case "synced" -> {
                map.awaitSynced(Duration.ofSeconds(20));
                yield "";
            }
            case "put" -> String.valueOf(map.put(words[1], words.length > 2 ? words[2] : "").get(20, TimeUnit.SECONDS));
            case "zput" -> String.valueOf(map.putZeroCopy(words[1], "z".repeat(Integer.parseInt(words[2])))
                    .get(20, TimeUnit.SECONDS));
            case "load" -> {
                String name = words[1];
                int count = Integer.parseInt(words[2]);
                long pauseMillis = Long.parseLong(words[3]);
                Thread.ofPlatform().name("load-" + name).start(() -> load(name, count, pauseMillis));
                yield "";
            }
            case "fence" -> String.valueOf(map.put("fence/" + words[1], "").get(20, TimeUnit.SECONDS));
            case "digest" -> map.position() + " " + map.digest() + " " + map.entries().size() + " " + map.anomalies();
            case "get" -> String.valueOf(map.get(words[1]));
            case "keys" -> keys(words[1]);
            case "leave" -> {
                map.leave();
                yield "";
            }
            case "exit" -> "";
            default -> throw new IllegalArgumentException("unknown command");
        };
    }

    /** Per writer of {@code load NAME}: "pid:count:highest+1", comma-separated, sorted. */
    private static String keys(String name) {
        java.util.TreeMap<String, long[]> writers = new java.util.TreeMap<>();
        map.entries().forEach((key, value) -> {
            if (key.startsWith(name + "-")) {
                String[] parts = key.split("-");
                long[] seen = writers.computeIfAbsent(parts[parts.length - 2], p -> new long[2]);
                seen[0]++;
                seen[1] = Math.max(seen[1], Long.parseLong(parts[parts.length - 1]) + 1);
            }
        });
        return writers.entrySet().stream().map(e -> e.getKey() + ":" + e.getValue()[0] + ":" + e.getValue()[1])
                .collect(Collectors.joining(","));
    }

    private static void load(String name, int count, long pauseMillis) {
        long pid = ProcessHandle.current().pid();
        List<CompletableFuture<Long>> window = new ArrayList<>();
        long last = 0;
        try {
            for (int i = 0; i < count; i++) {
                window.add(map.update(List.of(new ReplicatedMap.Op.Put(name + "-" + pid + "-" + i, Integer.toString(i)),
                        new ReplicatedMap.Op.Add("total", 1))));
                if (window.size() >= 64) {
                    last = window.removeFirst().get(30, TimeUnit.SECONDS);
                }
                if (pauseMillis > 0) {
                    Thread.sleep(pauseMillis);
                }
            }
            for (CompletableFuture<Long> f : window) {
                last = f.get(30, TimeUnit.SECONDS);
            }
            print("EV LOADDONE " + name + " " + count + " " + last);
        } catch (Exception e) {
            print("EV LOADFAIL " + name + " " + String.valueOf(e).replace('\n', ' '));
        }
    }
}
