package org.jcpg;

import static org.assertj.core.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.jcpg.testsupport.KillableDaemon;

/**
 * A {@link MisuseChildMain} scenario in a child JVM: lines it prints come
 * back through {@link #await}, lines sent with {@link #tell} reach its stdin.
 */
final class MisuseChild implements AutoCloseable {
    private final Process process;
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    private final List<String> all = new ArrayList<>();
    private final PrintWriter input;

    private MisuseChild(Process process) {
        this.process = process;
        this.input = new PrintWriter(process.getOutputStream(), true, StandardCharsets.UTF_8);
        Thread.ofPlatform().daemon().name("misuse-child-reader").start(() -> {
            try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = out.readLine()) != null) {
                    lines.add(line);
                }
            } catch (IOException ignored) {
                // gone
            }
            lines.add("EOF");
        });
    }

    /**
     * Starts the scenario; {@code launcher} (e.g. {@link KillableDaemon#enter}'s prefix, or
     * nothing for the suite's daemon) ends by exec'ing the JVM.
     */
    static MisuseChild start(List<String> launcher, List<String> jvmOptions, String... args) {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>(launcher);
        command.addAll(List.of(java, "--enable-native-access=ALL-UNNAMED", "-Xshare:auto"));
        command.addAll(jvmOptions);
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), MisuseChildMain.class.getName()));
        command.addAll(List.of(args));
        try {
            return new MisuseChild(new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start());
        } catch (IOException e) {
            throw new AssertionError("cannot start " + command, e);
        }
    }

    /** Waits for the next line that starts with {@code prefix}; fails at the timeout or the child's end. */
    String await(String prefix, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            String line = lines.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            if (line == null) {
                return fail("no line '" + prefix + "...' within " + timeout + "; so far: " + all);
            }
            all.add(line);
            if (line.equals("EOF")) {
                return fail("the child ended without '" + prefix + "...'; it printed: " + all);
            }
            if (line.startsWith(prefix)) {
                return line.substring(prefix.length()).strip();
            }
        }
    }

    void tell(String line) {
        input.println(line);
    }

    long pid() {
        return process.pid();
    }

    /** A {@code key=value} of a line of words. */
    static String field(String line, String key) {
        for (String word : line.split(" ")) {
            if (word.startsWith(key + "=")) {
                return word.substring(key.length() + 1);
            }
        }
        return fail("no " + key + " in " + line);
    }

    @Override
    public void close() throws InterruptedException {
        input.close();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
