package org.jcpg.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jcpg.testsupport.Where;

/**
 * The benchmark's targets (docs/benchmarks.md), checked against the warm
 * medians of a run of {@code scripts/bench/bench.sh}: for copy from a native
 * segment and for zero-copy, per size, Java/C msgs/s at least 0.97, Java/C
 * client CPU per message at most 1.25 (64 B, 1 KiB) or 1.10 (8 KiB up), and
 * less than one byte allocated per message. Beside each copy figure, the
 * stubs mode's (the same loop on jextract's stubs alone): where both miss,
 * the JVM and FFM miss without jcpg too.
 */
final class BenchTargets {
    static final double THROUGHPUT = 0.97;
    static final double CPU_SMALL = 1.25;
    static final double CPU_LARGE = 1.10;
    /** Sizes from which the tighter CPU bound applies. */
    static final int LARGE = 8192;
    static final double ALLOCATION = 1.0;
    /** The modes the targets are set for; Java's of each is compared with C's of the same name. */
    private static final List<String> MODES = List.of("copy", "zerocopy");

    /** What a target measures, how it compares with its bound, and to how many digits it is shown. */
    private enum Kind {
        MSGS("msgs/s J/C >=", 2), CPU("client CPU J/C <=", 2), ALLOC("alloc B/msg <", 1);

        final String label;
        final int digits;

        Kind(String label, int digits) {
            this.label = label;
            this.digits = digits;
        }

        boolean meets(double value, double bound) {
            return switch (this) {
                case MSGS -> value >= bound;
                case CPU -> value <= bound;
                case ALLOC -> value < bound;
            };
        }

        static Kind of(Map<String, Object> row) {
            for (Kind kind : values()) {
                if (kind.label.equals(row.get("target"))) {
                    return kind;
                }
            }
            throw new IllegalArgumentException("not a target: " + row.get("target"));
        }
    }

    private BenchTargets() {
    }

    /**
     * One row per size, mode and target, in order: size, mode, target,
     * value, bound, met, and stubs (the stubs mode's value, copy only; null
     * elsewhere). Targets whose figures the run lacks are left out.
     */
    static List<Map<String, Object>> check(Iterable<Integer> sizes, Map<String, Map<String, Object>> medianOf) {
        List<Map<String, Object>> rows = new ArrayList<>();
        for (int size : sizes) {
            for (String mode : MODES) {
                Map<String, Object> java = medianOf.get(BenchReport.key(size, "java", mode));
                if (java == null) {
                    continue;
                }
                Map<String, Object> c = medianOf.getOrDefault(BenchReport.key(size, "c", mode), Map.of());
                Map<String, Object> stubs = mode.equals("copy")
                        ? medianOf.getOrDefault(BenchReport.key(size, "java", "stubs"), Map.of()) : Map.of();
                add(rows, size, mode, Kind.MSGS, THROUGHPUT, BenchReport.ratio(java.get("msgs_per_s"),
                        c.get("msgs_per_s")), BenchReport.ratio(stubs.get("msgs_per_s"), c.get("msgs_per_s")));
                add(rows, size, mode, Kind.CPU, size >= LARGE ? CPU_LARGE : CPU_SMALL,
                        BenchReport.ratio(java.get("client_cpu_us_per_msg"), c.get("client_cpu_us_per_msg")),
                        BenchReport.ratio(stubs.get("client_cpu_us_per_msg"), c.get("client_cpu_us_per_msg")));
                add(rows, size, mode, Kind.ALLOC, ALLOCATION, java.get("alloc_bytes_per_msg"),
                        stubs.get("alloc_bytes_per_msg"));
            }
        }
        return rows;
    }

    private static void add(List<Map<String, Object>> rows, int size, String mode, Kind kind, double bound,
                            Object value, Object stubs) {
        if (value == null) {
            return;
        }
        double v = BenchReport.num(value).doubleValue();
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("size", size);
        row.put("mode", mode);
        row.put("target", kind.label);
        row.put("value", v);
        row.put("bound", bound);
        row.put("met", kind.meets(v, bound));
        row.put("stubs", stubs == null ? null : BenchReport.num(stubs).doubleValue());
        rows.add(row);
    }

    static void print(List<Map<String, Object>> rows) {
        if (rows.isEmpty()) {
            return;
        }
        System.out.println();
        System.out.println("Targets (warm medians); without jcpg: the same figure for the stubs mode (copy's loop on"
                + " jextract's stubs alone):");
        System.out.printf(Locale.ROOT, "%-8s %-9s %-18s %7s %6s  %-16s %12s%n",
                "size", "mode", "target", "bound", "value", "result", "without jcpg");
        int met = 0;
        int missedWithStubs = 0;
        int missedWithoutJcpg = 0;
        for (Map<String, Object> row : rows) {
            double value = (Double) row.get("value");
            double bound = (Double) row.get("bound");
            boolean ok = (Boolean) row.get("met");
            Double stubs = (Double) row.get("stubs");
            int digits = Kind.of(row).digits;
            String format = "%." + digits + "f";
            if (ok) {
                met++;
            } else if (stubs != null) {
                missedWithStubs++;
                if (!meets(row, stubs)) {
                    missedWithoutJcpg++;
                }
            }
            System.out.printf(Locale.ROOT, "%-8s %-9s %-18s %7s %6s  %-16s %12s%n",
                    BenchReport.sizeLabel((Integer) row.get("size")), row.get("mode"), row.get("target"),
                    String.format(Locale.ROOT, format, bound),
                    String.format(Locale.ROOT, format, value),
                    ok ? "met" : "missed by " + by(digits, Math.abs(value - bound)),
                    stubs == null ? "" : String.format(Locale.ROOT, format, stubs));
        }
        System.out.printf(Locale.ROOT, "%d of %d met. Of the %d missed that the stubs mode measures too, Java"
                + " without jcpg misses %d as well. Where the CPU goes: scripts/bench/bench-profile.sh (docs/benchmarks.md, \"Profile\").%n",
                met, rows.size(), missedWithStubs, missedWithoutJcpg);
    }

    /** How far a target is missed; a miss that the format would round to nothing shows as below its last digit. */
    static String by(int digits, double distance) {
        String format = "%." + digits + "f";
        String shown = String.format(Locale.ROOT, format, distance);
        return Double.parseDouble(shown) > 0 ? shown : "<" + String.format(Locale.ROOT, format, Math.pow(10, -digits));
    }

    /** Whether {@code value} meets the row's target. */
    static boolean meets(Map<String, Object> row, double value) {
        return Kind.of(row).meets(value, (Double) row.get("bound"));
    }
}
