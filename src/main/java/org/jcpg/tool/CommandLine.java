package org.jcpg.tool;

import java.math.BigDecimal;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One subcommand's arguments: flags ({@code --json}), options with a value
 * ({@code --count 3} or {@code --count=3}) and positional arguments, in any
 * order. {@code --} ends the options; {@code -} is a positional argument.
 * {@code --help}, {@code -h} and {@code --debug} are accepted everywhere.
 */
final class CommandLine {
    private static final Pattern DURATION = Pattern.compile("(\\d+(?:\\.\\d+)?)(ms|s|m|h|)");

    private final String command;
    private final Set<String> flags = new HashSet<>();
    private final Map<String, String> values = new HashMap<>();
    private final List<String> positional = new ArrayList<>();

    private CommandLine(String command) {
        this.command = command;
    }

    /**
     * @param flagNames  the flags this command knows, e.g. "--json"
     * @param valueNames the options that take a value, e.g. "--count"
     * @throws Failure (usage) for an unknown option, a missing value or a repeated option
     */
    static CommandLine parse(String command, List<String> args, Set<String> flagNames, Set<String> valueNames) {
        CommandLine line = new CommandLine(command);
        boolean optionsEnded = false;
        for (int i = 0; i < args.size(); i++) {
            String arg = args.get(i);
            if (optionsEnded || !arg.startsWith("-") || arg.equals("-")) {
                line.positional.add(arg);
                continue;
            }
            if (arg.equals("--")) {
                optionsEnded = true;
                continue;
            }
            if (arg.equals("-h")) {
                arg = "--help";
            }
            int equals = arg.indexOf('=');
            String name = equals < 0 ? arg : arg.substring(0, equals);
            if (valueNames.contains(name)) {
                String value;
                if (equals >= 0) {
                    value = arg.substring(equals + 1);
                } else if (i + 1 < args.size()) {
                    value = args.get(++i);
                } else {
                    throw line.usage(name + " needs a value");
                }
                if (line.values.put(name, value) != null) {
                    throw line.usage(name + " given twice");
                }
            } else if (equals < 0 && (flagNames.contains(name) || name.equals("--help") || name.equals("--debug"))) {
                line.flags.add(name);
            } else {
                throw line.usage("unknown option " + arg);
            }
        }
        return line;
    }

    boolean has(String flag) {
        return flags.contains(flag);
    }

    /** The option's value, or null. */
    String value(String option) {
        return values.get(option);
    }

    /**
     * A duration option: {@code 500ms}, {@code 5s}, {@code 2m}, or plain
     * seconds ({@code 1.5}); null if absent.
     */
    Duration duration(String option) {
        String text = values.get(option);
        if (text == null) {
            return null;
        }
        Matcher m = DURATION.matcher(text.trim());
        if (!m.matches()) {
            throw usage(option + " \"" + text + "\" is not a duration (e.g. 500ms, 5s, 2m, 1.5)");
        }
        BigDecimal amount = new BigDecimal(m.group(1));
        BigDecimal nanosPerUnit = switch (m.group(2)) {
            case "ms" -> BigDecimal.valueOf(1_000_000L);
            case "m" -> BigDecimal.valueOf(60_000_000_000L);
            case "h" -> BigDecimal.valueOf(3_600_000_000_000L);
            default -> BigDecimal.valueOf(1_000_000_000L);
        };
        BigDecimal nanos = amount.multiply(nanosPerUnit);
        if (nanos.signum() <= 0 || nanos.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0) {
            throw usage(option + " \"" + text + "\" must be above 0 and at most about 290 years");
        }
        return Duration.ofNanos(nanos.longValue());
    }

    /** A positive whole number option; null if absent. */
    Long positiveNumber(String option) {
        String text = values.get(option);
        if (text == null) {
            return null;
        }
        try {
            long number = Long.parseLong(text.trim());
            if (number > 0) {
                return number;
            }
        } catch (NumberFormatException e) {
            // below
        }
        throw usage(option + " \"" + text + "\" is not a positive whole number");
    }

    List<String> positional() {
        return positional;
    }

    /** A usage failure that names the command and where to read its help. */
    Failure usage(String problem) {
        return Failure.usage(command + ": " + problem + " (see: jcpg " + command + " --help)");
    }
}
