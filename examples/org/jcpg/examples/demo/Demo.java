package org.jcpg.examples.demo;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.jcpg.GroupName;
import org.jcpg.examples.kv.MemberProcess;

/**
 * The demo of {@code scripts/demo.sh}: a story of about 30 seconds that
 * shows what CPG gives, told as a timeline. Member processes (child JVMs
 * running {@code KvMember}, each a replica of the example's replicated map)
 * join a group, multicast, leave, are killed and join; at the end the demo
 * checks that every member's log tells the same history
 * ({@link LogAgreement}) and that the replicas are equal, and fails if not.
 *
 * <p>Options: {@code --cluster ID} (members on the nodes of
 * {@code scripts/cluster.sh --id ID}, and node 3 is killed at the end),
 * {@code --color always|never|auto}, {@code --group NAME}. The members reach
 * corosync through this JVM's network namespace (or through cluster.sh).
 */
public final class Demo {
    private static final Duration WAIT = Duration.ofSeconds(30);

    private final PrintStream out;
    private final boolean color;
    private final String cluster;
    private final Path root;
    private final GroupName group;
    private final long start = System.nanoTime();
    private final Map<String, MemberProcess> members = new LinkedHashMap<>();
    private final Map<String, String> names = new ConcurrentHashMap<>(); // node/pid -> m1
    private final Set<String> printed = ConcurrentHashMap.newKeySet();
    private volatile String echoApplies;
    private volatile boolean finished; // the member whose applied updates the timeline shows, or null

    private Demo(PrintStream out, boolean color, String cluster, Path root, String group) {
        this.out = out;
        this.color = color;
        this.cluster = cluster;
        this.root = root;
        this.group = GroupName.of(group);
    }

    public static void main(String[] args) {
        int status;
        try {
            status = run(args, System.out);
        } catch (IllegalArgumentException e) {
            System.err.println("demo: " + e.getMessage());
            status = 2;
        }
        System.out.flush();
        Runtime.getRuntime().halt(status);
    }

    /** Runs the demo; returns the exit status: 0 if every log agreed, 1 if not or if a step failed. */
    public static int run(String[] args, PrintStream out) {
        String colorMode = "auto";
        String cluster = null;
        String group = "jcpg-demo-" + ProcessHandle.current().pid();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--color" -> colorMode = value(args, ++i);
                case "--cluster" -> cluster = value(args, ++i);
                case "--group" -> group = value(args, ++i);
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        boolean color = switch (colorMode) {
            case "always" -> true;
            case "never" -> false;
            case "auto" -> System.console() != null && System.console().isTerminal();
            default -> throw new IllegalArgumentException("--color always|never|auto, not " + colorMode);
        };
        Path root = Path.of(System.getProperty("jcpg.root", System.getProperty("user.dir"))).toAbsolutePath();
        Demo demo = new Demo(out, color, cluster, root, group);
        Thread cleanup = new Thread(demo::stopAll, "demo-cleanup");
        Runtime.getRuntime().addShutdownHook(cleanup);
        try {
            return demo.story();
        } catch (Exception | AssertionError e) {
            demo.line(null, demo.paint("31;1", "the demo failed: " + e.getMessage()));
            return 1;
        } finally {
            demo.finished = true;
            demo.stopAll();
            try {
                Runtime.getRuntime().removeShutdownHook(cleanup);
            } catch (IllegalStateException shuttingDown) {
                // the hook runs anyway
            }
        }
    }

    private static String value(String[] args, int i) {
        if (i >= args.length) {
            throw new IllegalArgumentException(args[i - 1] + " needs a value");
        }
        return args[i];
    }

    // ---- the story --------------------------------------------------------

    private int story() throws Exception {
        boolean onCluster = cluster != null;
        header("jcpg demo: what corosync's Closed Process Group gives a Java program");
        note("group " + group + (onCluster ? ", members on the nodes of cluster " + cluster : ", on this machine's corosync")
                + "; each member is a JVM holding a replica of a map (the example org.jcpg.examples.kv)");

        // The JVMs start at once (the joins come one by one): a JVM takes a while to start.
        startMembers(List.of("m1", "m2", "m3", "m4"), onCluster ? List.of(1, 2, 3, 3) : List.of(1, 1, 1, 1));
        MemberProcess m1 = members.get("m1");
        MemberProcess m2 = members.get("m2");
        MemberProcess m3 = members.get("m3");
        MemberProcess m4 = members.get("m4");

        step(1, "Three processes join the group: corosync tells every member who is in it");
        for (MemberProcess m : List.of(m1, m2, m3)) {
            join(m);
            m.command("synced");
        }

        step(2, "Each multicasts at the same time: every member gets all messages in one agreed order");
        echoApplies = "m1";
        List<Thread> senders = new ArrayList<>();
        for (MemberProcess m : List.of(m1, m2, m3)) {
            senders.add(Thread.ofPlatform().start(() -> {
                try {
                    for (int k = 1; k <= 3; k++) {
                        m.command("put " + m.name() + ".said" + k + " hello-" + k + "-from-" + m.name());
                    }
                } catch (InterruptedException | RuntimeException e) {
                    throw new IllegalStateException(e);
                }
            }));
        }
        for (Thread t : senders) {
            t.join();
        }
        awaitApplied(List.of(m1, m2, m3), m1.command("put m1.sent-all done"));
        echoApplies = null;
        sideBySide(List.of(m1, m2, m3));

        step(3, "m3 leaves the group: the others see it go, reason LEAVE");
        m3.command("leave");
        m1.await(l -> l.startsWith("VIEW ") && l.contains("/LEAVE"), WAIT);

        step(4, "m2 is killed (SIGKILL) in the middle of a stream of updates: reason PROCDOWN");
        m2.command("load stream 5000 2");
        String m2id = m2.id();
        m1.await(l -> l.startsWith("APPLY ") && l.split(" ")[2].equals(m2id) && Long.parseLong(l.split(" ")[3]) > 50, WAIT);
        note("m2 has had " + count(m1, m2id) + " updates applied so far; SIGKILL");
        m2.kill();
        m1.await(l -> l.startsWith("VIEW ") && l.contains(m2id + "/PROCDOWN"), WAIT);
        note("m1 applied " + count(m1, m2id) + " of m2's updates: all it sent before dying, in order, none half-delivered");

        step(5, "m4 joins while m1 keeps writing: it receives the state, consistent at the join");
        m1.command("load stream 600 3");
        Thread.sleep(300);
        join(m4);
        m4.command("synced");
        m1.await(l -> l.startsWith("LOADDONE stream"), WAIT);

        step(6, "A zero-copy send: m4 writes a 256 KiB value straight into corosync's buffer");
        echoApplies = "m1";
        String position = m4.command("zput m4.blob " + 256 * 1024);
        awaitApplied(List.of(m1, m4), position);
        echoApplies = null;

        step(7, "The replicas compare their state at one point of the stream (a fence update)");
        m1.command("fence final");
        List<String> digests = new ArrayList<>();
        for (MemberProcess m : List.of(m1, m4)) {
            String[] f = m.await(l -> l.startsWith("FENCE final "), WAIT).words();
            digests.add(f[3]);
            line(m.name(), "at position " + f[2] + ": " + f[4] + " entries, sha256 " + f[3].substring(0, 16) + "..., "
                    + f[5] + " sequence anomalies");
        }

        if (onCluster) {
            step(8, "The totem ring: node 3's corosync is killed; m1 sees m4 go (NODEDOWN) and a new ring");
            runCluster("kill", "3");
            m1.await(l -> l.startsWith("VIEW ") && l.contains("/NODEDOWN"), WAIT);
            m1.await(l -> l.startsWith("RING ") && l.endsWith("nodes=1,2"), WAIT);
        } else {
            step(8, "The totem ring: the nodes corosync runs on (one here; try scripts/demo.sh --cluster)");
            String[] ring = m1.await(l -> l.startsWith("RING "), WAIT).words();
            note("every member saw totem ring " + ring[1] + " with nodes " + ring[2].substring(6)
                    + ": the views above are process groups inside it");
        }

        step(9, "Do all logs agree?");
        finished = true;
        return verdict(logs(), digests, this::line);
    }

    /**
     * The demo's verdict: 0 if the logs agree and all digests are equal, else 1; tells why
     * through {@code say} (member name or null, text).
     */
    static int verdict(Map<String, List<LogAgreement.Entry>> logs, List<String> digests,
                       java.util.function.BiConsumer<String, String> say) {
        List<String> problems = new ArrayList<>(LogAgreement.check(logs));
        if (new HashSet<>(digests).size() > 1) {
            problems.add("the replicas' digests differ: " + digests);
        }
        if (problems.isEmpty()) {
            long updates = logs.values().stream().flatMap(List::stream)
                    .filter(e -> e.kind() == LogAgreement.Kind.UPDATE).map(LogAgreement.Entry::id).distinct().count();
            say.accept(null, "yes: " + logs.size() + " logs, " + updates + " updates, each at the same position in every log"
                    + " that has it, no gaps, nothing twice; the replicas are equal byte for byte");
            return 0;
        }
        problems.stream().limit(20).forEach(p -> say.accept(null, "DISAGREE: " + p));
        say.accept(null, problems.size() + " disagreement(s)");
        return 1;
    }

    private Map<String, List<LogAgreement.Entry>> logs() {
        Map<String, List<LogAgreement.Entry>> logs = new LinkedHashMap<>();
        members.forEach((name, m) -> {
            List<LogAgreement.Entry> log = new ArrayList<>();
            for (MemberProcess.Event e : m.events()) {
                LogAgreement.Entry entry = LogAgreement.parse(e.line());
                if (entry != null) {
                    log.add(entry);
                }
            }
            logs.put(name, log);
        });
        return logs;
    }

    private static long count(MemberProcess observer, String origin) {
        return observer.events().stream().filter(e -> e.line().startsWith("APPLY ") && e.words()[2].equals(origin)).count();
    }

    private static void awaitApplied(List<MemberProcess> who, String position) throws InterruptedException {
        for (MemberProcess m : who) {
            m.await(l -> l.startsWith("APPLY " + position + " "), WAIT);
        }
    }

    /** The last step's updates as each member applied them, in columns: every row must be equal. */
    private void sideBySide(List<MemberProcess> who) {
        Map<String, List<String>> columns = new LinkedHashMap<>();
        for (MemberProcess m : who) {
            List<String> column = new ArrayList<>();
            for (MemberProcess.Event e : m.events()) {
                if (e.line().startsWith("APPLY ")) {
                    String[] w = e.words();
                    column.add(String.format("#%-3s %-3s %s", w[1], name(w[2]),
                            w[4].replaceFirst("^put:", "").replaceFirst("=.*", "")));
                }
            }
            columns.put(m.name(), column);
        }
        note("the three logs side by side:");
        StringBuilder head = new StringBuilder("      ");
        columns.keySet().forEach(n -> head.append(String.format("%-24s", "log of " + n)));
        out.println(paint("1", head.toString().stripTrailing()));
        int rows = columns.values().stream().mapToInt(List::size).max().orElse(0);
        for (int r = 0; r < rows; r++) {
            StringBuilder row = new StringBuilder("      ");
            Set<String> distinct = new HashSet<>();
            for (List<String> column : columns.values()) {
                String cell = r < column.size() ? column.get(r) : "-";
                distinct.add(cell);
                row.append(String.format("%-24s", cell));
            }
            out.println(row.toString().stripTrailing() + (distinct.size() == 1 ? paint("32", "  same") : paint("31;1", "  DIFFERENT")));
        }
    }

    // ---- members ------------------------------------------------------------

    private void startMembers(List<String> memberNames, List<Integer> nodes) throws Exception {
        List<Thread> starting = new ArrayList<>();
        Map<String, MemberProcess> started = new ConcurrentHashMap<>();
        List<Exception> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
        for (int i = 0; i < memberNames.size(); i++) {
            String name = memberNames.get(i);
            List<String> launcher = cluster == null ? List.of()
                    : List.of(root.resolve("scripts/cluster.sh").toString(), "--id", cluster, "exec", String.valueOf(nodes.get(i)));
            starting.add(Thread.ofPlatform().start(() -> {
                try {
                    started.put(name, MemberProcess.start(name, launcher));
                } catch (Exception e) {
                    failures.add(e);
                }
            }));
        }
        for (Thread t : starting) {
            t.join();
        }
        for (int i = 0; i < memberNames.size(); i++) {
            MemberProcess m = started.get(memberNames.get(i));
            if (m == null) {
                continue;
            }
            members.put(m.name(), m);
            // pids are unique across the cluster's namespaces too: they share the pid namespace
            names.put(String.valueOf(m.pid()), m.name());
            m.observe(e -> show(m, e));
            note(m.name() + " is process " + m.pid() + (cluster != null ? " on node " + nodes.get(i) : ""));
        }
        if (!failures.isEmpty()) {
            throw failures.getFirst();
        }
    }

    private void join(MemberProcess m) throws InterruptedException {
        m.join(group, 0);
        line(m.name(), "joined " + group + " (node " + m.nodeId() + ")");
    }

    private String name(String nodeSlashPid) {
        return names.getOrDefault(nodeSlashPid.substring(nodeSlashPid.indexOf('/') + 1), nodeSlashPid);
    }

    private void show(MemberProcess m, MemberProcess.Event e) {
        if (finished) {
            return; // the members' reactions to being stopped are not part of the story
        }
        String[] w = e.words();
        switch (w[0]) {
            case "VIEW" -> {
                if (printed.add("view " + w[1])) {
                    line(m.name(), "sees view " + w[1] + ": " + who(w[2].substring(8)) + describeChange(w[3], w[4]));
                }
            }
            case "SYNCED" -> line(m.name(), w[2].equals("fresh") ? "holds the state: the group was empty, so an empty map"
                    : "holds the state: a snapshot taken at view " + w[1] + " (" + w[3] + " entries), then " + w[4]
                    + " updates it had buffered since its join; now at position " + w[5]);
            case "SNAPSENT" -> line(m.name(), "sends the state of view " + w[1] + " to the joiner: " + w[2] + " bytes in "
                    + w[3] + " message(s)");
            case "RING" -> {
                if (printed.add("ring " + w[1])) {
                    line(m.name(), "totem ring " + w[1] + " with nodes " + w[2].substring(6));
                }
            }
            case "APPLY" -> {
                if (m.name().equals(echoApplies)) {
                    line(m.name(), "delivers #" + w[1] + " from " + name(w[2]) + ": " + w[4]);
                }
            }
            case "LOST" -> line(m.name(), "lost its corosync (" + w[1] + ")");
            case "LOADFAIL" -> line(m.name(), paint("31", e.line()));
            default -> {
            }
        }
    }

    private String who(String list) {
        if (list.isEmpty()) {
            return "(nobody)";
        }
        List<String> named = new ArrayList<>();
        for (String id : list.split(",")) {
            String[] parts = id.split("/");
            String base = parts[0] + "/" + parts[1];
            named.add(name(base) + (parts.length > 2 ? " " + parts[2] : ""));
        }
        return String.join(" ", named);
    }

    private String describeChange(String joined, String left) {
        String j = joined.substring(7);
        String l = left.substring(5);
        return (j.isEmpty() ? "" : "  <- joined: " + who(j)) + (l.isEmpty() ? "" : "  <- left: " + who(l));
    }

    private void runCluster(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(root.resolve("scripts/cluster.sh").toString(), "--id", cluster));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        if (p.waitFor() != 0) {
            throw new IllegalStateException("cluster.sh " + String.join(" ", args) + " failed: " + output);
        }
        note(output.replace("jcpg: ", ""));
    }

    private void stopAll() {
        for (MemberProcess m : members.values()) {
            try {
                m.kill();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    // ---- the timeline -------------------------------------------------------

    private static final Map<String, String> MEMBER_COLOURS = Map.of("m1", "36", "m2", "35", "m3", "33", "m4", "34");

    private String paint(String sgr, String text) {
        return color ? "\u001b[" + sgr + "m" + text + "\u001b[0m" : text;
    }

    private synchronized void line(String member, String text) {
        String time = String.format("[%5.1fs]", (System.nanoTime() - start) / 1e9);
        String who = member == null ? "    " : paint(MEMBER_COLOURS.getOrDefault(member, "1"), String.format("%-4s", member));
        out.println(paint("2", time) + " " + who + text);
        out.flush();
    }

    private synchronized void step(int number, String title) {
        out.println();
        out.println(paint("1", number + ". " + title));
    }

    private synchronized void header(String title) {
        out.println(paint("1;4", title));
    }

    private void note(String text) {
        line(null, paint("2", text));
    }
}
