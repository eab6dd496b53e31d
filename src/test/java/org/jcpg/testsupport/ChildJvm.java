package org.jcpg.testsupport;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A test's child JVM that speaks {@link ChildProtocol}: started with this
 * JVM's class path and native access, optionally behind a launcher prefix
 * that ends by exec'ing its arguments in place (a namespace entry such as
 * {@code nsenter ...}, {@code unshare ...}, {@code cluster.sh exec N}), so the
 * JVM keeps the launcher's pid and {@code READY pid} proves who answers.
 *
 * <p>A reader thread sorts stdout: event lines go to {@link #events()} (or
 * to an {@link EventFilter} that may consume them), {@code OK}/{@code ERR}
 * lines answer {@link #call}, anything else is kept as {@link #otherOutput()}.
 * Stderr is passed on to this JVM's stderr and its tail kept for failure
 * messages. Every wait has a deadline and ends early when the child's
 * stdout ends.
 *
 * <p>Programs that do not speak the protocol (they run to their end) start
 * with {@link Spec#startPlain()} or {@link Spec#run(Duration)}: their stdin
 * is closed, stdout and stderr are collected whole (both at once, so neither
 * pipe can fill and stall the child), and a child past its deadline is
 * killed and fails the test with what it printed.
 */
public final class ChildJvm implements AutoCloseable {
    private static final String EOF = "\u0000EOF";
    private static final int STDERR_TAIL = 60;
    private static final int EVENTS_SHOWN = 40;

    /** Sees every event line (without {@code "EV "}) on the reader thread, in order. */
    @FunctionalInterface
    public interface EventFilter {
        /** Whether to keep the event in {@link #events()}. */
        boolean keep(String event);
    }

    /** How to start a child JVM: its main class, launcher, JVM options and arguments. */
    public static final class Spec {
        private final String main;
        private String classPath = System.getProperty("java.class.path");
        private File stdout;
        private final List<String> launcher = new ArrayList<>();
        private final List<String> jvmOptions = new ArrayList<>();
        private final List<String> args = new ArrayList<>();
        private String label;
        private Duration replyTimeout = Duration.ofSeconds(30);
        private Duration readyTimeout = Duration.ofSeconds(30);
        private EventFilter filter = event -> true;
        private boolean nativeAccess = true;

        private Spec(String main, String label) {
            this.main = main;
            this.label = label;
        }

        /** Instead of this JVM's class path (say, one that another user may read). */
        public Spec classPath(String path) {
            this.classPath = path;
            return this;
        }

        /** A plain child's stdout goes to {@code file} (e.g. /dev/full) instead of a pipe. */
        public Spec stdoutTo(File file) {
            this.stdout = file;
            return this;
        }

        /** A prefix that ends by exec'ing the JVM command (the JVM keeps its pid). */
        public Spec launcher(List<String> prefix) {
            launcher.addAll(prefix);
            return this;
        }

        public Spec jvmOptions(String... options) {
            return jvmOptions(List.of(options));
        }

        public Spec jvmOptions(List<String> options) {
            jvmOptions.addAll(options);
            return this;
        }

        /** Arguments of {@code main}. */
        public Spec args(String... arguments) {
            return args(List.of(arguments));
        }

        public Spec args(List<String> arguments) {
            args.addAll(arguments);
            return this;
        }

        /** Names the child in failure messages and on its stderr lines. */
        public Spec label(String name) {
            this.label = name;
            return this;
        }

        /** How long {@link #call(String)} waits for a reply (default 30 s). */
        public Spec replyTimeout(Duration timeout) {
            this.replyTimeout = timeout;
            return this;
        }

        public Spec readyTimeout(Duration timeout) {
            this.readyTimeout = timeout;
            return this;
        }

        public Spec events(EventFilter eventFilter) {
            this.filter = eventFilter;
            return this;
        }

        /** Without {@code --enable-native-access}: as a user who forgot it. */
        public Spec withoutNativeAccess() {
            this.nativeAccess = false;
            return this;
        }

        /** The whole command line. */
        public List<String> commandLine() {
            List<String> command = new ArrayList<>(launcher);
            command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            if (nativeAccess) {
                command.add("--enable-native-access=ALL-UNNAMED");
            }
            // The CDS archive: the child starts sooner.
            command.add("-Xshare:auto");
            command.addAll(jvmOptions);
            command.addAll(List.of("-cp", classPath, main));
            command.addAll(args);
            return command;
        }

        private Process process() {
            ProcessBuilder builder = new ProcessBuilder(commandLine());
            if (stdout != null) {
                builder.redirectOutput(stdout);
            }
            try {
                return builder.start();
            } catch (IOException e) {
                throw new AssertionError("cannot start " + label + ": " + commandLine(), e);
            }
        }

        /** Starts a protocol child; returns once it printed {@code READY pid}. */
        public ChildJvm start() throws InterruptedException {
            if (stdout != null) {
                throw new IllegalStateException("a protocol child needs its stdout");
            }
            ChildJvm child = new ChildJvm(process(), label, replyTimeout, filter);
            child.awaitReady(readyTimeout);
            return child;
        }

        /** Starts a program that does not speak the protocol; its stdin is closed. */
        public Plain startPlain() {
            return new Plain(process(), label);
        }

        /** Runs a program that does not speak the protocol to its end; fails if it takes longer. */
        public Finished run(Duration timeout) throws InterruptedException {
            return startPlain().finish(timeout);
        }
    }

    /** How a plain child ended: exit status, stdout, stderr. */
    public record Finished(int exit, String out, String err) {
        public List<String> lines() {
            return out.lines().toList();
        }
    }

    /** A child that does not speak the protocol: its output is collected until it ends. */
    public static final class Plain implements AutoCloseable {
        private final Process process;
        private final String label;
        private final StringBuilder out = new StringBuilder();
        private final StringBuilder err = new StringBuilder();
        private final Thread outReader;
        private final Thread errReader;

        private Plain(Process process, String label) {
            this.process = process;
            this.label = label;
            try {
                process.getOutputStream().close();
            } catch (IOException ignored) {
                // it has gone already: finish() says so
            }
            outReader = collect(process.getInputStream(), out, label + "-out");
            errReader = collect(process.getErrorStream(), err, label + "-err");
        }

        private static Thread collect(InputStream stream, StringBuilder into, String name) {
            return Thread.ofPlatform().daemon().name(name).start(() -> {
                try (InputStreamReader reader = new InputStreamReader(stream, UTF_8)) {
                    char[] buffer = new char[8192];
                    int n;
                    while ((n = reader.read(buffer)) >= 0) {
                        synchronized (into) {
                            into.append(buffer, 0, n);
                        }
                    }
                } catch (IOException ignored) {
                    // the child is gone
                }
            });
        }

        public long pid() {
            return process.pid();
        }

        /** Waits for the end and for all its output; fails (and kills it) after {@code timeout}. */
        public Finished finish(Duration timeout) throws InterruptedException {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
                outReader.join(Duration.ofSeconds(10));
                errReader.join(Duration.ofSeconds(10));
                throw new AssertionError(label + " (" + pid() + ") did not end within " + timeout
                        + "; stdout:\n" + text(out) + "\nstderr:\n" + text(err));
            }
            outReader.join(Duration.ofSeconds(30));
            errReader.join(Duration.ofSeconds(30));
            return new Finished(process.exitValue(), text(out), text(err));
        }

        private static String text(StringBuilder builder) {
            synchronized (builder) {
                return builder.toString();
            }
        }

        /** Kills it if it is still running. */
        @Override
        public void close() {
            process.destroyForcibly();
            try {
                process.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Starting a child JVM that runs {@code main}. */
    public static Spec of(Class<?> main) {
        return new Spec(main.getName(), main.getSimpleName());
    }

    /** Starting a child JVM that runs a single source file (the source launcher). */
    public static Spec ofSource(Path source) {
        return new Spec(source.toString(), source.getFileName().toString());
    }

    private final Process process;
    private final String label;
    private final Duration replyTimeout;
    private final EventFilter filter;
    private final PrintWriter commands;
    private final BlockingQueue<String> replies = new LinkedBlockingQueue<>();
    /** Held by one {@link #call} at a time; not this (the reader thread needs that meanwhile). */
    private final Object calling = new Object();
    private final List<String> events = new ArrayList<>();
    private final List<String> other = new ArrayList<>();
    private final Deque<String> stderrTail = new ArrayDeque<>();
    private volatile boolean ended;
    private String ready;

    private ChildJvm(Process process, String label, Duration replyTimeout, EventFilter filter) {
        this.process = process;
        this.label = label;
        this.replyTimeout = replyTimeout;
        this.filter = filter;
        this.commands = new PrintWriter(process.getOutputStream(), true, UTF_8);
        Thread.ofPlatform().daemon().name(label + "-out").start(this::readStdout);
        Thread.ofPlatform().daemon().name(label + "-err").start(this::readStderr);
    }

    private void readStdout() {
        try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), UTF_8))) {
            String line;
            while ((line = out.readLine()) != null) {
                sort(line);
            }
        } catch (IOException | RuntimeException e) {
            synchronized (this) {
                other.add("(reading stdout failed: " + e + ")");
            }
        }
        synchronized (this) {
            ended = true;
            notifyAll();
        }
        replies.add(EOF);
    }

    private void sort(String line) {
        if (line.startsWith("EV ")) {
            String event = line.substring(3);
            boolean keep = filter.keep(event);
            synchronized (this) {
                if (keep) {
                    events.add(event);
                }
                notifyAll();
            }
        } else if (line.startsWith("OK ") || line.startsWith("ERR ")) {
            replies.add(line);
        } else if (line.startsWith("READY ")) {
            synchronized (this) {
                ready = line;
                notifyAll();
            }
        } else {
            synchronized (this) {
                other.add(line);
            }
        }
    }

    private void readStderr() {
        try (BufferedReader err = new BufferedReader(new InputStreamReader(process.getErrorStream(), UTF_8))) {
            String line;
            while ((line = err.readLine()) != null) {
                System.err.println("[" + label + "] " + line);
                synchronized (stderrTail) {
                    if (stderrTail.size() == STDERR_TAIL) {
                        stderrTail.removeFirst();
                    }
                    stderrTail.addLast(line);
                }
            }
        } catch (IOException ignored) {
            // the child is gone
        }
    }

    private synchronized void awaitReady(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (ready == null && !ended) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                break;
            }
            TimeUnit.NANOSECONDS.timedWait(this, left);
        }
        if (ready == null || !ready.equals("READY " + process.pid())) {
            String said = ready == null ? (ended ? "its end" : "nothing within " + timeout) : ready;
            // Closing stdin ends a JVM that a launcher did not exec in place (so it outlives the kill).
            commands.close();
            process.destroyForcibly();
            settle();
            throw new AssertionError(this + " did not start: it printed " + said + " for READY " + process.pid()
                    + diagnosis());
        }
    }

    public long pid() {
        return process.pid();
    }

    public Process process() {
        return process;
    }

    public String label() {
        return label;
    }

    /**
     * Sends a command and waits (the spec's reply timeout) for its {@code OK}; returns what
     * follows {@code OK verb } (or ""). Fails on {@code ERR}, silence or the child's end.
     */
    public String call(String command) throws InterruptedException {
        return call(command, replyTimeout);
    }

    public String call(String command, Duration timeout) throws InterruptedException {
        synchronized (calling) {
            return callAlone(command, timeout);
        }
    }

    private String callAlone(String command, Duration timeout) throws InterruptedException {
        // Pairs replies by order: one command at a time, and a reply left by an earlier call
        // that timed out is not taken for this one's.
        replies.removeIf(reply -> !reply.equals(EOF));
        commands.println(command);
        String reply = replies.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
        String ok = "OK " + command.strip().split(" +")[0];
        if (reply == null || !(reply.equals(ok) || reply.startsWith(ok + " "))) {
            if (EOF.equals(reply)) {
                replies.add(EOF);
            }
            String said = reply == null ? "nothing within " + timeout : EOF.equals(reply) ? "its end" : reply;
            settle();
            throw new AssertionError(this + " answered " + said + " to '" + command + "'" + diagnosis());
        }
        return reply.substring(ok.length()).strip();
    }

    /** Writes a line to the child's stdin without waiting for anything. */
    public void send(String line) {
        commands.println(line);
    }

    /** The event lines kept so far (without {@code "EV "}), in order. */
    public synchronized List<String> events() {
        return List.copyOf(events);
    }

    /** Lines on stdout that are neither READY, a reply nor an event. */
    public synchronized List<String> otherOutput() {
        return List.copyOf(other);
    }

    /** Waits until a kept event matches and returns the first that does. */
    public String awaitEvent(Predicate<String> condition, Duration timeout) throws InterruptedException {
        int index = awaitEvent(0, condition, timeout);
        synchronized (this) {
            return events.get(index);
        }
    }

    /**
     * Waits until a kept event at index {@code from} or later matches; returns its index.
     * Fails at the timeout or when the child's output ends first.
     */
    public synchronized int awaitEvent(int from, Predicate<String> condition, Duration timeout)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        int next = from;
        while (true) {
            for (; next < events.size(); next++) {
                if (condition.test(events.get(next))) {
                    return next;
                }
            }
            long left = deadline - System.nanoTime();
            if (ended || left <= 0) {
                settle();
                throw new AssertionError(this + ": no event matched " + (ended ? "before its end" : "within " + timeout)
                        + diagnosis());
            }
            TimeUnit.NANOSECONDS.timedWait(this, Math.min(left, 100_000_000));
        }
    }

    /**
     * Before a failure message: gives stderr (which trails stdout) and a child whose stdout
     * has ended a moment to arrive and to exit, so the message shows why.
     */
    private void settle() throws InterruptedException {
        process.waitFor(ended ? 2000 : 200, TimeUnit.MILLISECONDS);
        Thread.sleep(100);
    }

    /** Waits until the child's process ends; fails after {@code timeout}. Returns the exit status. */
    public int awaitExit(Duration timeout) throws InterruptedException {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new AssertionError(this + " did not exit within " + timeout + diagnosis());
        }
        return process.exitValue();
    }

    /** SIGKILL; waits until it is gone. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        if (!process.waitFor(20, TimeUnit.SECONDS)) {
            throw new AssertionError(this + " did not die of SIGKILL");
        }
    }

    /** What a failure message adds: exit status, other output, stderr's tail, the last events. */
    public String diagnosis() {
        StringBuilder text = new StringBuilder();
        if (!process.isAlive()) {
            text.append("; exited with ").append(process.exitValue());
        }
        List<String> shown;
        int count;
        synchronized (this) {
            count = events.size();
            shown = List.copyOf(events.subList(Math.max(0, count - EVENTS_SHOWN), count));
            if (!other.isEmpty()) {
                text.append("; other output: ").append(other);
            }
        }
        text.append("; events (").append(count).append(", last ").append(shown.size()).append("): ").append(shown);
        synchronized (stderrTail) {
            if (!stderrTail.isEmpty()) {
                text.append("\nits stderr ends:\n").append(String.join("\n", stderrTail));
            }
        }
        return text.toString();
    }

    /** Tells it to {@code exit}; kills it if it has not within 5 s. */
    @Override
    public void close() {
        if (process.isAlive()) {
            commands.println("exit");
            try {
                if (!process.waitFor(5, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                    process.waitFor(10, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public String toString() {
        return label + " (" + process.pid() + ")";
    }
}
