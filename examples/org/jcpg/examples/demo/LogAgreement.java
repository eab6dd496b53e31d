package org.jcpg.examples.demo;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Do the members' logs tell one history? Each member logs what it applied:
 * updates with their position in the total order, and views with their
 * epoch. Logs start and end at different points (a joiner starts late, a
 * killed member stops early), so agreement means: inside each log positions
 * and epochs follow each other without a gap and nothing appears twice; across
 * logs a position always holds the same update, an update always sits at the
 * same position, and an epoch always has the same members.
 */
public final class LogAgreement {
    /** {@code UPDATE}: number is the position, id the sender and its sequence number. {@code VIEW}: the epoch and members. */
    public enum Kind { UPDATE, VIEW }

    public record Entry(Kind kind, long number, String id) {
        public static Entry update(long position, String id) {
            return new Entry(Kind.UPDATE, position, id);
        }

        public static Entry view(long epoch, String members) {
            return new Entry(Kind.VIEW, epoch, members);
        }
    }

    private LogAgreement() {
    }

    /**
     * Parses a {@code KvMember} event line ({@code APPLY pos node/pid seq ...} or
     * {@code VIEW epoch members=...}); null for other lines.
     */
    public static Entry parse(String line) {
        String[] w = line.split(" ");
        return switch (w[0]) {
            case "APPLY" -> Entry.update(Long.parseLong(w[1]), w[2] + ":" + w[3]);
            case "VIEW" -> Entry.view(Long.parseLong(w[1]), w[2]);
            default -> null;
        };
    }

    /** The problems found, each a sentence naming the members; empty when all logs agree. */
    public static List<String> check(Map<String, List<Entry>> logs) {
        List<String> problems = new ArrayList<>();
        Map<Long, String[]> atPosition = new HashMap<>();
        Map<String, String[]> positionOf = new HashMap<>();
        Map<Long, String[]> atEpoch = new HashMap<>();
        logs.forEach((member, log) -> {
            long lastPosition = -1;
            long lastEpoch = -1;
            Set<String> seen = new HashSet<>();
            for (Entry entry : log) {
                if (entry.kind() == Kind.VIEW) {
                    if (lastEpoch >= 0 && entry.number() != lastEpoch + 1) {
                        problems.add(member + ": view " + entry.number() + " follows view " + lastEpoch);
                    }
                    lastEpoch = entry.number();
                    String[] other = atEpoch.putIfAbsent(entry.number(), new String[] {member, entry.id()});
                    if (other != null && !other[1].equals(entry.id())) {
                        problems.add("view " + entry.number() + ": " + other[0] + " has " + other[1] + ", "
                                + member + " has " + entry.id());
                    }
                    continue;
                }
                if (!seen.add(entry.id())) {
                    problems.add(member + ": update " + entry.id() + " applied twice");
                }
                if (lastPosition >= 0 && entry.number() != lastPosition + 1) {
                    problems.add(member + ": position " + entry.number() + " follows position " + lastPosition
                            + (entry.number() > lastPosition ? " (updates lost)" : ""));
                }
                lastPosition = entry.number();
                String[] other = atPosition.putIfAbsent(entry.number(), new String[] {member, entry.id()});
                if (other != null && !other[1].equals(entry.id())) {
                    problems.add("position " + entry.number() + ": " + other[0] + " applied " + other[1] + ", "
                            + member + " applied " + entry.id());
                }
                String[] where = positionOf.putIfAbsent(entry.id(), new String[] {member, Long.toString(entry.number())});
                if (where != null && !where[1].equals(Long.toString(entry.number()))) {
                    problems.add("update " + entry.id() + ": at position " + where[1] + " for " + where[0]
                            + ", at " + entry.number() + " for " + member);
                }
            }
        });
        return problems;
    }
}
