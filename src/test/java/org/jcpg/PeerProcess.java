package org.jcpg;

import static org.assertj.core.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/** A {@link PeerMain} in a child JVM: another process, so it may join the groups this one joins. */
final class PeerProcess implements AutoCloseable {
    final Process process;
    final List<String> events = new CopyOnWriteArrayList<>();
    private final BlockingQueue<String> replies = new LinkedBlockingQueue<>();
    private final PrintWriter commands;

    private PeerProcess(Process process) {
        this.process = process;
        this.commands = new PrintWriter(process.getOutputStream(), true, StandardCharsets.UTF_8);
        Thread.ofPlatform().daemon().name("peer-reader").start(() -> {
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
                // the peer is gone
            }
            replies.add("EOF");
        });
    }

    static PeerProcess start() throws InterruptedException, IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process process = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), PeerMain.class.getName())
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
        PeerProcess peer = new PeerProcess(process);
        String ready = peer.replies.poll(20, TimeUnit.SECONDS);
        if (ready == null || !ready.startsWith("READY")) {
            process.destroyForcibly();
            fail("peer did not start: " + ready);
        }
        return peer;
    }

    int pid() {
        return (int) process.pid();
    }

    /** Sends a command and waits for its "OK". */
    void command(String command) throws InterruptedException {
        commands.println(command);
        String reply = replies.poll(20, TimeUnit.SECONDS);
        String verb = command.split(" ")[0];
        if (reply == null || !reply.equals("OK " + verb)) {
            fail("peer answered " + reply + " to " + command);
        }
    }

    void join(GroupName group) throws InterruptedException {
        command("join " + HexFormat.of().formatHex(group.toBytes()));
    }

    /** Waits until some event line matches. */
    String awaitEvent(Predicate<String> condition, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            for (String event : events) {
                if (condition.test(event)) {
                    return event;
                }
            }
            Thread.sleep(5);
        }
        return fail("no peer event matched within " + timeout + "; events: " + events);
    }

    @Override
    public void close() throws InterruptedException {
        commands.println("quit");
        if (!process.waitFor(5, TimeUnit.SECONDS)) {
            process.destroyForcibly();
        }
    }
}
