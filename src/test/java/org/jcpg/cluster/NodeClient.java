package org.jcpg.cluster;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.jcpg.CpgConnection;
import org.jcpg.CpgError;
import org.jcpg.CpgEvent;
import org.jcpg.CpgException;
import org.jcpg.CpgListener;
import org.jcpg.DispatchMode;
import org.jcpg.GroupName;
import org.jcpg.Guarantee;
import org.jcpg.MembershipChange;
import org.jcpg.Message;
import org.jcpg.ModelFlag;
import org.jcpg.TotemChange;
import org.jcpg.testsupport.Cluster;
import org.jcpg.testsupport.Payloads;

/**
 * A member of a group through one node of a {@link Cluster}, inside
 * this JVM: a platform thread with {@link CpgConnection#DISPATCH_STACK_SIZE}
 * enters the node's network namespace ({@link Netns#enter}), opens a
 * connection (model V1 with the initial totem change), joins and then
 * dispatches ({@code BLOCKING}) until the connection is closed or its daemon
 * goes away ({@link #lost()}). Every event is recorded (messages as
 * {@link Delivered}: sender, length, SHA-256, and the bytes of small ones) and
 * also handed to an optional extra listener, on the dispatch thread.
 *
 * <p>corosync knows a member by node id and pid: one JVM can be a member of
 * one group through each node once, since the node ids differ.
 */
public final class NodeClient implements AutoCloseable {
    /** Payloads up to this size are kept whole in {@link Delivered#payload}. */
    static final int KEEP_BYTES = 64 * 1024;

    /** A delivered message. */
    public record Delivered(long nodeId, int pid, long length, String sha256, byte[] payload) {
        @Override
        public String toString() {
            return nodeId + "/" + pid + ":" + length + ":" + sha256.substring(0, 12);
        }
    }

    private final Cluster cluster;
    private final int node;
    private final GroupName group;
    private final CpgListener extra;
    private final List<Object> events = new ArrayList<>();
    private final CountDownLatch started = new CountDownLatch(1);
    private volatile CpgConnection cpg;
    private volatile Throwable startFailure;
    private volatile Throwable lost;
    private volatile boolean closed;
    private volatile long localNodeId;
    private Thread thread;

    private NodeClient(Cluster cluster, int node, GroupName group, CpgListener extra) {
        this.cluster = cluster;
        this.node = node;
        this.group = group;
        this.extra = extra;
    }

    /** Connects through the node and joins; returns once joined (waits up to {@code timeout} for the daemon). */
    public static NodeClient join(Cluster cluster, int node, GroupName group, CpgListener extra, Duration timeout) {
        NodeClient client = new NodeClient(cluster, node, group, extra);
        client.thread = Thread.ofPlatform().name("node" + node + "-client").daemon()
                .stackSize(CpgConnection.DISPATCH_STACK_SIZE).start(() -> client.run(timeout));
        try {
            if (!client.started.await(timeout.toSeconds() + 10, TimeUnit.SECONDS)) {
                client.close();
                throw new AssertionError("node " + node + ": no connection and join within " + timeout);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            client.close();
            throw new AssertionError("interrupted", e);
        }
        if (client.startFailure != null) {
            throw new AssertionError("node " + node + ": cannot connect and join " + group, client.startFailure);
        }
        return client;
    }

    public static NodeClient join(Cluster cluster, int node, GroupName group) {
        return join(cluster, node, group, null, Duration.ofSeconds(20));
    }

    private final CpgListener recorder = new CpgListener() {
        @Override
        public void onEvent(CpgConnection connection, CpgEvent event) {
            Object kept = switch (event) {
                case Message m -> delivered(m);
                case MembershipChange c -> c;
                case TotemChange t -> t;
                default -> event;
            };
            synchronized (events) {
                events.add(kept);
                events.notifyAll();
            }
            if (extra != null) {
                try {
                    extra.onEvent(connection, event);
                } catch (RuntimeException | Error e) {
                    synchronized (events) {
                        events.add(e);
                    }
                    e.printStackTrace();
                }
            }
        }
    };

    static Delivered delivered(Message m) {
        byte[] bytes = m.toByteArray();
        return new Delivered(m.nodeId(), m.pid(), bytes.length, sha256(bytes), bytes.length <= KEEP_BYTES ? bytes : null);
    }

    public static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private void run(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        CpgConnection connection = null;
        try {
            Netns.enter(cluster.netnsPath(node));
            while (connection == null) {
                try {
                    connection = CpgConnection.open(recorder, ModelFlag.DELIVER_INITIAL_TOTEM_CONF);
                } catch (CpgException e) {
                    // No daemon (yet) in this namespace: LIBRARY; retry until the deadline.
                    if (System.nanoTime() > deadline || closed) {
                        throw e;
                    }
                    Thread.sleep(50);
                }
            }
            while (true) {
                try {
                    connection.join(group);
                    break;
                } catch (CpgException e) {
                    if (!e.isRetryable() && e.error() != CpgError.EXIST || System.nanoTime() > deadline || closed) {
                        throw e;
                    }
                    Thread.sleep(20);
                }
            }
            localNodeId = connection.localNodeId();
            cpg = connection;
        } catch (Throwable t) {
            startFailure = t;
            if (connection != null) {
                connection.close();
            }
            started.countDown();
            return;
        }
        started.countDown();
        try {
            while (!closed) {
                connection.dispatch(DispatchMode.BLOCKING);
            }
        } catch (Throwable t) {
            if (!closed) {
                lost = t;
            }
        } finally {
            connection.close();
            synchronized (events) {
                events.notifyAll();
            }
        }
    }

    public int node() {
        return node;
    }

    /** The node id as the daemon reports it (cpg_local_get). */
    public long nodeId() {
        return localNodeId;
    }

    public static int pid() {
        return (int) ProcessHandle.current().pid();
    }

    public GroupName group() {
        return group;
    }

    public CpgConnection connection() {
        return cpg;
    }

    /** Why dispatch ended other than by close (the daemon went away), or null. */
    public Throwable lost() {
        return lost;
    }

    public boolean isOpen() {
        return cpg != null && lost == null && !closed;
    }

    /** Multicasts AGREED, retrying on TRY_AGAIN for up to 30 s. */
    public void send(byte[] message) {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (true) {
            try {
                cpg.multicast(Guarantee.AGREED, message);
                return;
            } catch (CpgException e) {
                if (!e.isRetryable() || System.nanoTime() > deadline) {
                    throw e;
                }
                try {
                    Thread.sleep(1);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException(ie);
                }
            }
        }
    }

    public void leave() {
        cpg.leave();
    }

    /** All events so far: MembershipChange, TotemChange and Delivered, in delivery order. */
    public List<Object> events() {
        synchronized (events) {
            return List.copyOf(events);
        }
    }

    public List<MembershipChange> membershipChanges() {
        return events().stream().filter(MembershipChange.class::isInstance).map(MembershipChange.class::cast).toList();
    }

    public List<TotemChange> totemChanges() {
        return events().stream().filter(TotemChange.class::isInstance).map(TotemChange.class::cast).toList();
    }

    public List<Delivered> messages() {
        return events().stream().filter(Delivered.class::isInstance).map(Delivered.class::cast).toList();
    }

    /** Waits until the events so far satisfy the condition. */
    public void await(String what, Predicate<List<Object>> condition, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (events) {
            while (!condition.test(List.copyOf(events))) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new AssertionError("node " + node + ": " + what + " not seen within " + timeout
                            + (lost != null ? " (connection lost: " + lost + ")" : "") + "; events: " + events);
                }
                try {
                    events.wait(Math.max(1, Math.min(left / 1_000_000, 100)));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new AssertionError("interrupted", e);
                }
            }
        }
    }

    /** Waits for a membership change matching the condition and returns the first that does. */
    public MembershipChange awaitChange(String what, Predicate<MembershipChange> condition, Duration timeout) {
        await(what, list -> list.stream().anyMatch(e -> e instanceof MembershipChange c && condition.test(c)), timeout);
        return membershipChanges().stream().filter(condition).findFirst().orElseThrow();
    }

    /** Waits until dispatch ended because the daemon went away. */
    public Throwable awaitLost(Duration timeout) {
        try {
            thread.join(timeout);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (lost == null) {
            throw new AssertionError("node " + node + ": the connection was not lost within " + timeout);
        }
        return lost;
    }

    /** Closes the connection (PROCDOWN for the others) and waits (bounded) for the dispatch thread. */
    @Override
    public void close() {
        closed = true;
        CpgConnection connection = cpg;
        if (connection != null) {
            connection.close();
        }
        if (thread != null) {
            try {
                thread.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public String toString() {
        return "NodeClient[node" + node + ", " + group + (lost != null ? ", lost" : "") + "]";
    }
}
