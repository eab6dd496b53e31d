package org.jcpg.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The benchmark's targets (README, "Benchmark"), checked against the warm
 * medians of a run of {@code scripts/bench.sh}: for copy from a native
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
    /** The Java modes the targets are set for, and the C mode each is compared with. */
    private static final String[][] MODES = {{"copy", "copy"}, {"zerocopy", "zerocopy"}};

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
            for (String[] mode : MODES) {
                Map<String, Object> java = medianOf.get(BenchReport.key(size, "java", mode[0]));
                Map<String, Object> c = medianOf.get(BenchReport.key(size, "c", mode[1]));
                if (java == null) {
                    continue;
                }
                Map<String, Object> stubs = mode[0].equals("copy")
                        ? medianOf.get(BenchReport.key(size, "java", "stubs")) : null;
                double cpuBound = size >= LARGE ? CPU_LARGE : CPU_SMALL;
                add(rows, size, mode[0], "msgs/s J/C >=", THROUGHPUT,
                        ratio(java, c, "msgs_per_s"), ratio(stubs, c, "msgs_per_s"));
                add(rows, size, mode[0], "client CPU J/C <=", cpuBound,
                        ratio(java, c, "client_cpu_us_per_msg"), ratio(stubs, c, "client_cpu_us_per_msg"));
                add(rows, size, mode[0], "alloc B/msg <", ALLOCATION,
                        field(java, "alloc_bytes_per_msg"), field(stubs, "alloc_bytes_per_msg"));
            }
        }
        return rows;
    }

    private static void add(List<Map<String, Object>> rows, int size, String mode, String target, double bound,
                            Double value, Double stubs) {
        if (value == null) {
            return;
        }
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("size", size);
        row.put("mode", mode);
        row.put("target", target);
        row.put("value", value);
        row.put("bound", bound);
        row.put("met", meets(row, value));
        row.put("stubs", stubs);
        rows.add(row);
    }

    private static Double ratio(Map<String, Object> java, Map<String, Object> c, String field) {
        Double j = field(java, field);
        Double cv = field(c, field);
        return j == null || cv == null || cv == 0 ? null : j / cv;
    }

    private static Double field(Map<String, Object> median, String field) {
        Object v = median == null ? null : median.get(field);
        return v == null ? null : BenchReport.num(v).doubleValue();
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
        int missed = 0;
        int missedWithStubs = 0;
        int missedWithoutJcpg = 0;
        for (Map<String, Object> row : rows) {
            double value = (Double) row.get("value");
            double bound = (Double) row.get("bound");
            boolean ok = (Boolean) row.get("met");
            Double stubs = (Double) row.get("stubs");
            boolean ratio = !row.get("target").toString().startsWith("alloc");
            int digits = ratio ? 2 : 1;
            String format = "%." + digits + "f";
            if (ok) {
                met++;
            } else {
                missed++;
                if (stubs != null) {
                    missedWithStubs++;
                    if (!meets(row, stubs)) {
                        missedWithoutJcpg++;
                    }
                }
            }
            System.out.printf(Locale.ROOT, "%-8s %-9s %-18s %7s %6s  %-16s %12s%n",
                    BenchReport.sizeLabel((Integer) row.get("size")), row.get("mode"), row.get("target"),
                    String.format(Locale.ROOT, ratio ? "%.2f" : "%.0f", bound),
                    String.format(Locale.ROOT, format, value),
                    ok ? "met" : "missed by " + by(digits, Math.abs(value - bound)),
                    stubs == null ? "" : String.format(Locale.ROOT, format, stubs));
        }
        System.out.printf(Locale.ROOT, "%d of %d met. Of the %d missed that the stubs mode measures too, Java"
                + " without jcpg misses %d as well. Where the CPU goes: scripts/bench-profile.sh (README, \"Profile\").%n",
                met, met + missed, missedWithStubs, missedWithoutJcpg);
    }

    /** How far a target is missed; a miss that the format would round to nothing shows as below its last digit. */
    static String by(int digits, double distance) {
        String format = "%." + digits + "f";
        String shown = String.format(Locale.ROOT, format, distance);
        return Double.parseDouble(shown) > 0 ? shown : "<" + String.format(Locale.ROOT, format, Math.pow(10, -digits));
    }

    /** Whether {@code value} meets the row's target. */
    static boolean meets(Map<String, Object> row, double value) {
        double bound = (Double) row.get("bound");
        String target = row.get("target").toString();
        return target.endsWith(">=") ? value >= bound : target.endsWith("<") ? value < bound : value <= bound;
    }
}
