package org.jcpg;

import static org.assertj.core.api.Assertions.fail;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.jcpg.testsupport.ChildJvm;
import org.jcpg.testsupport.KillableDaemon;

/**
 * A {@link MisuseChildMain} scenario in a {@link ChildJvm}: {@link #start} returns once the
 * child answered the scenario's command (its arguments); the lines it reports come back, in
 * order, through {@link #await}; {@link #tell} sends a further command and waits for its OK.
 */
final class MisuseChild implements AutoCloseable {
    private final ChildJvm child;
    /** The index of the next event {@link #await} looks at. */
    private int next;

    private MisuseChild(ChildJvm child) {
        this.child = child;
    }

    /**
     * Starts the scenario {@code args} ({@link MisuseChildMain}'s command and its words);
     * {@code launcher} (e.g. {@link KillableDaemon#enter}'s prefix, or nothing for the suite's
     * daemon) ends by exec'ing the JVM.
     */
    static MisuseChild start(List<String> launcher, List<String> jvmOptions, String... args)
            throws InterruptedException {
        ChildJvm child = ChildJvm.of(MisuseChildMain.class).launcher(launcher).jvmOptions(jvmOptions)
                .label("misuse " + args[0]).start();
        try {
            child.call(String.join(" ", args));
        } catch (Throwable t) {
            child.kill();
            throw t;
        }
        return new MisuseChild(child);
    }

    /**
     * Waits for the next reported line that starts with {@code prefix} and returns the rest;
     * fails at the timeout or the child's end.
     */
    String await(String prefix, Duration timeout) throws InterruptedException {
        int index = child.awaitEvent(next, line -> line.startsWith(prefix), timeout);
        next = index + 1;
        return child.events().get(index).substring(prefix.length()).strip();
    }

    /** Sends a command and waits for its OK. */
    void tell(String command) throws InterruptedException {
        child.call(command);
    }

    long pid() {
        return child.pid();
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
        child.close();
    }
}
