package org.jcpg;

import static org.assertj.core.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Another process in a group. corosync refuses a second join of the same
 * group by the same pid (CS_ERR_EXIST), whatever the connection, so a test
 * that needs a second member of one group runs it in a child JVM: this
 * class's {@link #main}. The child inherits the test JVM's network
 * namespace, so it reaches the same private daemon.
 *
 * <p>Protocol on the child's stdin/stdout: it prints {@code JOINED <pid>}
 * once in the group, then answers {@code leave} with {@code LEFT},
 * {@code close} with {@code CLOSED}, and {@code exit} (or end of input) by
 * halting the JVM without closing anything.
 */
final class Peer implements AutoCloseable {
    private static final String EOF = "\u0000EOF";

    private final Process process;
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    private final PrintStream in;
    final int pid;

    private Peer(GroupName group) {
        String java = ProcessHandle.current().info().command().orElseThrow();
        try {
            process = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-Xshare:auto",
                    "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
                    Peer.class.getName(), HexFormat.of().formatHex(group.toBytes()))
                    .redirectError(ProcessBuilder.Redirect.INHERIT)
                    .start();
        } catch (IOException e) {
            throw new AssertionError("cannot start a peer JVM", e);
        }
        in = new PrintStream(process.getOutputStream(), true, StandardCharsets.UTF_8);
        Thread reader = new Thread(() -> {
            try (BufferedReader out = new BufferedReader(
                    new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = out.readLine()) != null) {
                    lines.add(line);
                }
            } catch (IOException ignored) {
                // the peer went away
            } finally {
                lines.add(EOF);
            }
        }, "peer-reader");
        reader.setDaemon(true);
        reader.start();
        String joined = expect("JOINED ");
        pid = Integer.parseInt(joined.substring("JOINED ".length()));
        if (pid != process.pid()) {
            fail("peer reports pid " + pid + " but the child is " + process.pid());
        }
    }

    /** Starts a child JVM that joins {@code group}; returns once it has joined. */
    static Peer join(GroupName group) {
        return new Peer(group);
    }

    /** The peer calls leave(). */
    void leave() {
        in.println("leave");
        expect("LEFT");
    }

    /** The peer closes its connection without leaving. */
    void closeConnection() {
        in.println("close");
        expect("CLOSED");
    }

    /** The peer halts without closing its connection; waits until it is gone. */
    void exit() {
        in.println("exit");
        try {
            if (!process.waitFor(20, TimeUnit.SECONDS)) {
                fail("peer " + pid + " did not exit");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            fail("interrupted");
        }
    }

    private String expect(String prefix) {
        try {
            String line = lines.poll(20, TimeUnit.SECONDS);
            if (line == null) {
                fail("peer did not answer " + prefix + " within 20 s");
            }
            if (!line.startsWith(prefix)) {
                fail("peer answered '" + line + "', expected " + prefix);
            }
            return line;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    @Override
    public void close() {
        process.destroyForcibly();
        try {
            process.waitFor(20, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The child: joins the group named (in hex) by args[0], then obeys stdin. */
    public static void main(String[] args) throws IOException {
        GroupName group = GroupName.ofBytes(HexFormat.of().parseHex(args[0]));
        CpgConnection cpg = CpgConnection.open(new CpgListener() { });
        cpg.join(group);
        System.out.println("JOINED " + ProcessHandle.current().pid());
        BufferedReader commands = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String command;
        while ((command = commands.readLine()) != null) {
            switch (command) {
                case "leave" -> {
                    cpg.leave();
                    System.out.println("LEFT");
                }
                case "close" -> {
                    cpg.close();
                    System.out.println("CLOSED");
                }
                case "exit" -> Runtime.getRuntime().halt(0);
                default -> System.out.println("UNKNOWN " + command);
            }
        }
        Runtime.getRuntime().halt(0);
    }

}
