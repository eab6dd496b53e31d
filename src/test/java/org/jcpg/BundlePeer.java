package org.jcpg;

import static org.assertj.core.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** A {@link BundlePeerMain} in a child JVM. */
final class BundlePeer implements AutoCloseable {
    private static final String EOF = "\u0000EOF";

    final Process process;
    final List<String> events = new CopyOnWriteArrayList<>();
    private final BlockingQueue<String> replies = new LinkedBlockingQueue<>();
    private final PrintWriter commands;

    private BundlePeer(Process process) {
        this.process = process;
        this.commands = new PrintWriter(process.getOutputStream(), true, StandardCharsets.UTF_8);
        Thread.ofPlatform().daemon().name("bundle-peer-reader").start(() -> {
            try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = out.readLine()) != null) {
                    if (line.startsWith("EV ")) {
                        events.add(line.substring(3));
                    } else {
                        replies.add(line);
                    }
                }
            } catch (IOException ignored) {
                // gone
            }
            replies.add(EOF);
        });
    }

    static BundlePeer joined(GroupName group) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process process = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-Xshare:auto",
                "-cp", System.getProperty("java.class.path"), BundlePeerMain.class.getName())
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        BundlePeer peer = new BundlePeer(process);
        String ready = peer.replies.poll(30, TimeUnit.SECONDS);
        if (ready == null || !ready.equals("READY " + process.pid())) {
            process.destroyForcibly();
            fail("bundle peer did not start: " + ready);
        }
        peer.command("join " + HexFormat.of().formatHex(group.toBytes()));
        return peer;
    }

    int pid() {
        return (int) process.pid();
    }

    String command(String command) throws InterruptedException {
        commands.println(command);
        String reply = replies.poll(90, TimeUnit.SECONDS);
        String ok = "OK " + command.split(" ")[0];
        if (reply == null || !(reply.equals(ok) || reply.startsWith(ok + " "))) {
            return fail("bundle peer " + pid() + " answered " + reply + " to " + command);
        }
        return reply.substring(ok.length()).trim();
    }

    /** Waits for the "SENT accepted bundles" event; returns it. */
    String awaitSent(long timeoutMillis) throws InterruptedException {
        long deadline = System.currentTimeMillis() + timeoutMillis;
        while (System.currentTimeMillis() < deadline) {
            for (String e : events) {
                if (e.startsWith("SENT") || e.startsWith("SENDERROR")) {
                    return e;
                }
            }
            Thread.sleep(10);
        }
        return fail("bundle peer " + pid() + " did not finish sending; events " + events);
    }

    void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(20, TimeUnit.SECONDS);
    }

    @Override
    public void close() throws InterruptedException {
        commands.println("exit");
        if (!process.waitFor(5, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
