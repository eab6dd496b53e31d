package org.jcpg;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.jcpg.testsupport.ChildProtocol;
import org.jcpg.testsupport.KillableDaemon;

/**
 * A CPG client in a child JVM that runs inside the network namespace of a
 * {@link KillableDaemon} (see {@link DaemonPeer}), so that a test can kill
 * that daemon under it and watch what jcpg reports.
 *
 * <p>It speaks {@link ChildProtocol}; its commands:
 * <ul>
 * <li>{@code loop EXECUTOR RECONNECT}: starts a {@link CpgEventLoop} named {@code peer-loop};
 *     EXECUTOR {@code none} or {@code virtual} (callbacks on virtual threads); RECONNECT
 *     {@code off} or {@code FIRST_MS,MAX_MS} ({@link CpgEventLoop.Builder#reconnect});
 * <li>{@code join HEX}: opens a connection on the loop and joins the group (name in hex);
 * <li>{@code send continue|stop}: a thread sends {@code PID:SEQ} texts (SEQ counts every attempt,
 *     so no two messages of this process ever carry the same SEQ) in bursts; a
 *     {@link CpgException} is printed ({@code EV SENDERR seq ERROR code operation}), then the
 *     thread goes on after a pause ({@code continue}) or ends ({@code stop}; TRY_AGAIN never
 *     stops it); anything else is printed as {@code EV SENDFAIL} and ends it;
 * <li>{@code stopsend}: ends that thread; answers {@code lastSeq sent errors};
 * <li>{@code seq}: the last SEQ attempted;
 * <li>{@code trysend}: one send now: {@code sent}, or {@code CpgException ERROR code}
 *     (any other throwable answers ERR);
 * <li>{@code stats}: {@code lost= closed= sent= delivered= other= dispatches=};
 * <li>{@code cpu}: CPU nanoseconds of the loop thread (-1 once it has ended) and of the process;
 * <li>{@code shm}: this process's entries in /dev/shm ({@code qb-*-PID-*}), comma-separated;
 * <li>{@code membership}: the pids that {@code membership(group)} lists;
 * <li>{@code closeloop}: closes the loop; answers the milliseconds it took;
 * <li>{@code plain HEX platform|virtual}: opens a plain connection, joins the group, and
 *     dispatches it with {@code BLOCKING} on a 4 MiB platform thread or a virtual thread; answers
 *     its index; its end is printed as {@code EV DISPATCHEND i returned N},
 *     {@code EV DISPATCHEND i CpgException ERROR code} or {@code EV DISPATCHEND i other THROWABLE};
 * <li>{@code closeplain I...}: closes those plain connections; answers the milliseconds it took;
 * <li>{@code quit}: closes everything, prints {@code BYE} and exits with status 0;
 * <li>{@code ping}: answers OK;
 * <li>{@code exit} (the protocol's): halts at once.
 * </ul>
 * Events: {@code EV MSG senderPid seq}, {@code EV CONFCHG hex joined=.. left=.. members=..},
 * {@code EV TOTEM ring nodes}, {@code EV LOST ERROR code operation isLost=B},
 * {@code EV RECONNECTED attempts hex}, {@code EV CALLBACKFAIL throwable}.
 */
public final class DaemonPeerMain {
    static final String LOOP_THREAD = "peer-loop";
    private static final long PID = ProcessHandle.current().pid();
    private static final Pattern TEXT = Pattern.compile("(\\d+):(\\d+)");

    private static CpgEventLoop loop;
    private static ExecutorService executor;
    private static CpgConnection connection;
    private static GroupName group;
    private static Thread sender;
    private static volatile boolean sending;
    private static volatile long seq = -1;
    private static volatile long sent;
    private static volatile long sendErrors;
    private static final List<CpgConnection> plain = new ArrayList<>();

    private DaemonPeerMain() {
    }

    private static final CpgListener LISTENER = new CpgListener() {
        @Override
        public void onEvent(CpgConnection c, CpgEvent event) {
            switch (event) {
                case Message m -> {
                    var matcher = TEXT.matcher(new String(m.toByteArray(), UTF_8));
                    ChildProtocol.event(matcher.matches() ? "MSG " + matcher.group(1) + " " + matcher.group(2)
                            : "MSG " + m.pid() + " ?");
                }
                case MembershipChange change -> ChildProtocol.event("CONFCHG " + HexFormat.of().formatHex(change.group().toBytes())
                        + " joined=" + PeerMain.members(change.joined(), true) + " left=" + PeerMain.members(change.left(), true)
                        + " members=" + PeerMain.members(change.members(), false));
                case TotemChange t -> ChildProtocol.event("TOTEM " + t.ringId() + " " + t.nodeIds());
                case ConnectionLost lost -> ChildProtocol.event("LOST " + lost.cause().error() + " " + lost.cause().code()
                        + " " + lost.cause().operation() + " isLost=" + c.isLost());
                case Reconnected r -> ChildProtocol.event("RECONNECTED " + r.attempts() + " "
                        + (r.group() == null ? "null" : HexFormat.of().formatHex(r.group().toBytes())));
            }
        }
    };

    private static void startLoop(String executorKind, String reconnect) {
        CpgEventLoop.Builder builder = CpgEventLoop.builder().name(LOOP_THREAD)
                .errorHandler((c, failure) -> ChildProtocol.event("CALLBACKFAIL " + failure));
        switch (executorKind) {
            case "none" -> { }
            case "virtual" -> {
                executor = Executors.newVirtualThreadPerTaskExecutor();
                builder.executor(executor);
            }
            default -> throw new IllegalArgumentException("executor " + executorKind);
        }
        if (!reconnect.equals("off")) {
            String[] pauses = reconnect.split(",");
            builder.reconnect(Duration.ofMillis(Long.parseLong(pauses[0])), Duration.ofMillis(Long.parseLong(pauses[1])));
        }
        loop = builder.start();
    }

    private static void startSending(boolean stopOnError) {
        sending = true;
        sender = Thread.ofPlatform().name("sender").start(() -> {
            while (sending) {
                long n = ++seq;
                try {
                    connection.multicast(Guarantee.AGREED, Duration.ofMillis(500),
                            MemorySegment.ofArray((PID + ":" + n).getBytes(UTF_8)));
                    sent++;
                } catch (CpgException e) {
                    sendErrors++;
                    ChildProtocol.event("SENDERR " + n + " " + e.error() + " " + e.code() + " " + e.operation());
                    if (stopOnError && !e.isRetryable()) {
                        return;
                    }
                    pause(20);
                    continue;
                } catch (RuntimeException e) {
                    ChildProtocol.event("SENDFAIL " + n + " " + e);
                    return;
                }
                if (n % 5 == 4) {
                    pause(5);
                }
            }
        });
    }

    private static void pause(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            sending = false;
        }
    }

    private static String trySend() {
        long n = ++seq;
        try {
            connection.multicast(Guarantee.AGREED, MemorySegment.ofArray((PID + ":" + n).getBytes(UTF_8)));
            return "sent";
        } catch (CpgException e) {
            return "CpgException " + e.error() + " " + e.code();
        }
    }

    /**
     * The loop thread's CPU time (ThreadMXBean) and the process's. By
     * reflection: the tests are compiled into module org.jcpg, which does not
     * read java.management; they run on the class path, where it is there.
     */
    private static String cpu() throws ReflectiveOperationException {
        Class<?> factory = Class.forName("java.lang.management.ManagementFactory");
        Object threads = factory.getMethod("getThreadMXBean").invoke(null);
        var threadCpu = Class.forName("java.lang.management.ThreadMXBean").getMethod("getThreadCpuTime", long.class);
        long loopNanos = -1;
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().equals(LOOP_THREAD)) {
                loopNanos = (long) threadCpu.invoke(threads, t.threadId());
            }
        }
        Object os = factory.getMethod("getOperatingSystemMXBean").invoke(null);
        long processNanos = (long) Class.forName("com.sun.management.OperatingSystemMXBean")
                .getMethod("getProcessCpuTime").invoke(os);
        return loopNanos + " " + processNanos;
    }

    private static String shm() throws IOException {
        Pattern mine = Pattern.compile("qb-\\d+-" + PID + "-.*");
        try (Stream<Path> entries = Files.list(Path.of("/dev/shm"))) {
            return entries.map(p -> p.getFileName().toString()).filter(n -> mine.matcher(n).matches())
                    .sorted().collect(Collectors.joining(","));
        }
    }

    private static String openPlain(GroupName name, String threadKind) {
        CpgConnection cpg = CpgConnection.open(new CpgListener() {
        });
        cpg.join(name);
        int index;
        synchronized (plain) {
            plain.add(cpg);
            index = plain.size() - 1;
        }
        Runnable dispatch = () -> {
            try {
                int n = cpg.dispatch(DispatchMode.BLOCKING);
                ChildProtocol.event("DISPATCHEND " + index + " returned " + n);
            } catch (CpgException e) {
                ChildProtocol.event("DISPATCHEND " + index + " CpgException " + e.error() + " " + e.code());
            } catch (Throwable t) {
                ChildProtocol.event("DISPATCHEND " + index + " other " + t);
            }
        };
        switch (threadKind) {
            case "platform" -> Thread.ofPlatform().name("plain-" + index)
                    .stackSize(CpgConnection.DISPATCH_STACK_SIZE).daemon().start(dispatch);
            case "virtual" -> Thread.ofVirtual().name("plain-" + index).start(dispatch);
            default -> throw new IllegalArgumentException("thread " + threadKind);
        }
        return String.valueOf(index);
    }

    private static long closePlain(List<String> indexes) {
        long start = System.nanoTime();
        for (String index : indexes) {
            CpgConnection cpg;
            synchronized (plain) {
                cpg = plain.get(Integer.parseInt(index));
            }
            cpg.close();
        }
        return (System.nanoTime() - start) / 1_000_000;
    }

    private static GroupName groupOf(String hex) {
        return GroupName.ofBytes(HexFormat.of().parseHex(hex));
    }

    private static void quit() throws InterruptedException {
        sending = false;
        if (sender != null) {
            sender.join(10_000);
        }
        if (loop != null) {
            loop.close();
        }
        synchronized (plain) {
            plain.forEach(CpgConnection::close);
        }
        if (executor != null) {
            executor.shutdown();
        }
        System.out.println("BYE");
        System.out.flush();
        System.exit(0);
    }

    public static void main(String[] args) {
        new ChildProtocol()
                .on("loop", c -> startLoop(c.word(1), c.word(2)))
                .on("join", c -> {
                    group = groupOf(c.word(1));
                    connection = loop.open(LISTENER);
                    connection.join(group);
                })
                .on("send", c -> startSending(c.word(1).equals("stop")))
                .answer("stopsend", c -> {
                    sending = false;
                    sender.join(10_000);
                    return seq + " " + sent + " " + sendErrors + (sender.isAlive() ? " still-running" : "");
                })
                .answer("seq", c -> String.valueOf(seq))
                .answer("trysend", c -> trySend())
                .answer("stats", c -> {
                    CpgStatistics s = connection.statistics();
                    return "lost=" + connection.isLost() + " closed=" + connection.isClosed()
                            + " sent=" + s.messagesSent() + " delivered=" + s.messagesDelivered()
                            + " other=" + s.otherEvents() + " dispatches=" + s.dispatchCalls();
                })
                .answer("cpu", c -> cpu())
                .answer("shm", c -> shm())
                .answer("membership", c -> PeerMain.members(connection.membership(group), false))
                .answer("closeloop", c -> {
                    long start = System.nanoTime();
                    loop.close();
                    return String.valueOf((System.nanoTime() - start) / 1_000_000);
                })
                .answer("plain", c -> openPlain(groupOf(c.word(1)), c.word(2)))
                .answer("closeplain", c -> String.valueOf(closePlain(c.wordsFrom(1))))
                .on("ping", c -> { })
                .on("quit", c -> quit())
                .serve();
    }
}
