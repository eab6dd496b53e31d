package org.jcpg.cluster;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * The faults a cluster test injects, in order, drawn from a seed ({@link RunSeed}): the same
 * seed gives the same schedule (the timing of the load around it still varies from run to run).
 *
 * @param seed   what it was drawn from
 * @param faults the faults in order
 */
record FaultSchedule(long seed, List<Fault> faults) {
    enum Kind { KILL_RESTART, PARTITION_HEAL }

    /** A fault: SIGKILL the node's daemon or cut it off, hold, restart or heal it, then pause. */
    record Fault(Kind kind, int node, long holdMs, long pauseMs) {
        @Override
        public String toString() {
            return kind + " node " + node + ", hold " + holdMs + " ms, pause " + pauseMs + " ms";
        }
    }

    FaultSchedule {
        faults = List.copyOf(faults);
    }

    /** {@code count} faults, each of either kind on any of the nodes 1..{@code nodes}: hold 1.5-3.5 s, pause 1-3 s. */
    static FaultSchedule mixed(long seed, int count, int nodes) {
        Random random = new Random(seed);
        List<Fault> faults = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            faults.add(new Fault(random.nextBoolean() ? Kind.KILL_RESTART : Kind.PARTITION_HEAL,
                    1 + random.nextInt(nodes), 1_500 + random.nextInt(2_000), 1_000 + random.nextInt(2_000)));
        }
        return new FaultSchedule(seed, faults);
    }

    /**
     * Three faults on three different nodes (in an order drawn from the seed): kill and restart
     * one, partition and heal another, kill and restart the third; hold 1.5-3 s, pause 1.5-2.5 s.
     */
    static FaultSchedule killPartitionKill(long seed) {
        Random random = new Random(seed);
        List<Integer> nodes = new ArrayList<>(List.of(1, 2, 3));
        java.util.Collections.shuffle(nodes, random);
        List<Kind> kinds = List.of(Kind.KILL_RESTART, Kind.PARTITION_HEAL, Kind.KILL_RESTART);
        return new FaultSchedule(seed, IntStream.range(0, 3).mapToObj(i -> new Fault(kinds.get(i), nodes.get(i),
                1_500 + random.nextInt(1_500), 1_500 + random.nextInt(1_000))).toList());
    }

    /** The schedule, one fault per line, for the log. */
    String describe() {
        return "fault schedule from seed " + seed + ":\n" + IntStream.range(0, faults.size())
                .mapToObj(i -> String.format("  %2d. %s%n", i + 1, faults.get(i))).collect(Collectors.joining());
    }
}
