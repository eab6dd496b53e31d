package org.jcpg.testsupport;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The child side of the one line protocol that every test child JVM speaks
 * with {@link ChildJvm}. On stdout, one line each:
 * <ul>
 * <li>{@code READY pid}: first, once the program is ready for commands;
 * <li>{@code OK verb [RESULT]}: a command succeeded (RESULT on the same line);
 * <li>{@code ERR verb PROBLEM}: a command threw (the throwable, on one line);
 * <li>{@code EV TEXT}: an event, printed whenever it happens, from any thread.
 * </ul>
 * On stdin, one command a line: a verb and its words, separated by single
 * spaces. Commands run one at a time on the main thread, in order; each gets
 * exactly one OK or ERR, so the parent pairs replies with commands by order.
 * {@code exit} and the end of stdin halt the JVM at once without closing
 * anything (so a dying test run takes its children along); a program may add
 * an orderly way out of its own.
 */
public final class ChildProtocol {
    private static final Object OUT = new Object();

    /** A command line: its verb and its words (the verb is word 0). */
    public record Command(String line, List<String> words) {
        public String verb() {
            return words.getFirst();
        }

        public String word(int index) {
            if (index >= words.size()) {
                throw new IllegalArgumentException("'" + line + "' has no word " + index);
            }
            return words.get(index);
        }

        public int intWord(int index) {
            return Integer.parseInt(word(index));
        }

        public long longWord(int index) {
            return Long.parseLong(word(index));
        }

        /** The words from {@code index} on. */
        public List<String> wordsFrom(int index) {
            return words.subList(Math.min(index, words.size()), words.size());
        }

        /** Everything after the verb and its space, spaces kept. */
        public String rest() {
            int space = line.indexOf(' ');
            return space < 0 ? "" : line.substring(space + 1);
        }
    }

    /** A command that answers a result ({@code OK verb RESULT}; empty: {@code OK verb}). */
    @FunctionalInterface
    public interface Answer {
        String answer(Command command) throws Exception;
    }

    /** A command that answers plain {@code OK verb}. */
    @FunctionalInterface
    public interface Action {
        void run(Command command) throws Exception;
    }

    private final Map<String, Answer> verbs = new LinkedHashMap<>();

    /** Adds a command with a result. */
    public ChildProtocol answer(String verb, Answer answer) {
        if (verbs.putIfAbsent(verb, answer) != null || verb.equals("exit")) {
            throw new IllegalArgumentException("verb " + verb + " twice");
        }
        return this;
    }

    /** Adds a command without a result. */
    public ChildProtocol on(String verb, Action action) {
        return answer(verb, command -> {
            action.run(command);
            return "";
        });
    }

    /** Prints {@code EV text}; safe from any thread. */
    public static void event(String text) {
        print("EV " + oneLine(text));
    }

    private static void print(String line) {
        synchronized (OUT) {
            System.out.println(line);
            System.out.flush();
        }
    }

    private static String oneLine(Object text) {
        return String.valueOf(text).replace('\n', ' ').replace('\r', ' ');
    }

    /** Prints READY, then serves commands until {@code exit} or the end of stdin; never returns. */
    public void serve() {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, UTF_8));
        print("READY " + ProcessHandle.current().pid());
        try {
            String line;
            while ((line = in.readLine()) != null) {
                line = line.strip();
                if (line.isEmpty()) {
                    continue;
                }
                Command command = new Command(line, Arrays.asList(line.split(" +")));
                if (command.verb().equals("exit")) {
                    break;
                }
                print(reply(command));
            }
        } catch (IOException e) {
            // stdin is gone: as its end
        }
        System.out.flush();
        Runtime.getRuntime().halt(0);
    }

    private String reply(Command command) {
        Answer answer = verbs.get(command.verb());
        if (answer == null) {
            return "ERR " + command.verb() + " unknown command " + command.line() + " (known: " + verbs.keySet() + ")";
        }
        try {
            String result = answer.answer(command);
            return "OK " + command.verb() + (result == null || result.isEmpty() ? "" : " " + oneLine(result));
        } catch (Throwable t) {
            return "ERR " + command.verb() + " " + oneLine(t);
        }
    }
}
