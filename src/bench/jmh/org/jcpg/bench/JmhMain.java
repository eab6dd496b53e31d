package org.jcpg.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.openjdk.jmh.profile.GCProfiler;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.format.OutputFormatFactory;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;

/**
 * Runs jcpg's JMH benchmarks (LocalCallBench, UpcallBench,
 * MembershipEventBench) with the GC profiler, then prints the summary table
 * of scripts/bench/bench-jmh.sh and writes it as JSON.
 *
 * <pre>
 * JmhMain INFO_FILE C_RESULT_FILE OUT.json [--quick]
 * </pre>
 * INFO_FILE: {@code key=value} lines (date, machine) copied into the JSON;
 * C_RESULT_FILE: the JSON line of src/bench/c/cpglocal.c. JMH's own output
 * goes to stderr (progress); the table to stdout.
 */
public final class JmhMain {
    private JmhMain() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 3) {
            throw new IllegalArgumentException("usage: JmhMain INFO_FILE C_RESULT_FILE OUT.json [--quick]");
        }
        Map<String, String> info = readInfo(Path.of(args[0]));
        String cLine = Files.readString(Path.of(args[1])).strip();
        boolean quick = args.length > 3 && args[3].equals("--quick");

        ChainedOptionsBuilder options = new OptionsBuilder()
                .include("org\\.jcpg\\.(LocalCallBench|UpcallBench|MembershipEventBench)\\.")
                .forks(1)
                .warmupIterations(quick ? 1 : 3)
                .warmupTime(TimeValue.seconds(1))
                .measurementIterations(quick ? 2 : 5)
                .measurementTime(TimeValue.seconds(1))
                .addProfiler(GCProfiler.class)
                .shouldFailOnError(true);
        Collection<RunResult> results = new Runner(options.build(),
                OutputFormatFactory.createFormatInstance(new PrintStream(System.err, true, StandardCharsets.UTF_8),
                        VerboseMode.NORMAL)).run();

        List<Row> rows = new ArrayList<>();
        for (RunResult result : results) {
            String benchmark = result.getParams().getBenchmark();
            String name = benchmark.substring(benchmark.lastIndexOf('.', benchmark.lastIndexOf('.') - 1) + 1);
            String members = result.getParams().getParam("members");
            if (members != null) {
                name += "[" + members + "]";
            }
            Result<?> primary = result.getPrimaryResult();
            double alloc = Double.NaN;
            for (Map.Entry<String, Result> secondary : result.getSecondaryResults().entrySet()) {
                if (secondary.getKey().endsWith("gc.alloc.rate.norm")) {
                    alloc = secondary.getValue().getScore();
                }
            }
            // Per-iteration scores: on a shared machine the median and the best iteration say more than the mean.
            double[] iterations = result.getBenchmarkResults().stream()
                    .flatMap(b -> b.getIterationResults().stream())
                    .mapToDouble(i -> i.getPrimaryResult().getScore()).sorted().toArray();
            double median = iterations.length == 0 ? Double.NaN : iterations.length % 2 == 1
                    ? iterations[iterations.length / 2]
                    : (iterations[iterations.length / 2 - 1] + iterations[iterations.length / 2]) / 2;
            double best = iterations.length == 0 ? Double.NaN : iterations[0];
            rows.add(new Row(name, primary.getScore(), primary.getScoreError(), median, best, alloc));
        }
        Map<String, Row> byName = new LinkedHashMap<>();
        rows.forEach(row -> byName.put(row.name(), row));
        double[] cMax = {number(cLine, "max_atomic_msgsize_get_ns"), number(cLine, "max_atomic_msgsize_get_best_ns")};
        double[] cFlow = {number(cLine, "flow_control_state_get_ns"), number(cLine, "flow_control_state_get_best_ns")};

        PrintStream out = System.out;
        out.println();
        out.println("median of the iterations (C: of the rounds), the best one in parentheses; ns");
        out.printf(Locale.ROOT, "%-28s %16s %16s %16s %16s %8s%n", "no-IPC call, ns/call", "public API", "stub", "C",
                "public - C", "pub B/op");
        printCall(out, "cpg_max_atomic_msgsize_get", byName.get("LocalCallBench.publicMaxAtomicMessageSize"),
                byName.get("LocalCallBench.stubMaxAtomicMsgsizeGet"), cMax);
        printCall(out, "cpg_flow_control_state_get", byName.get("LocalCallBench.publicFlowControlState"),
                byName.get("LocalCallBench.stubFlowControlStateGet"), cFlow);
        out.println("(target: public at most 10 ns more than C; maxAtomicMessageSize() returns a value cached at connect)");
        out.println();
        out.printf(Locale.ROOT, "%-36s %16s %10s%n", "per event", "ns", "B/op");
        for (String[] label : new String[][] {
                {"UpcallBench.cCallback", "C calls a C deliver callback"},
                {"UpcallBench.upcallEmpty", "C calls an empty jcpg upcall stub"},
                {"UpcallBench.upcallDeliver", "C calls jcpg's deliver (full)"},
                {"UpcallBench.javaDeliver", "Java calls jcpg's deliver"},
                {"MembershipEventBench.confchg[3]", "membership change, 3 members"},
                {"MembershipEventBench.confchg[100]", "membership change, 100 members"}}) {
            Row row = byName.get(label[0]);
            if (row != null) {
                out.printf(Locale.ROOT, "%-36s %16s %10.1f%n", label[1], cell(row.median(), row.best()), row.allocBytes());
            }
        }

        StringBuilder json = new StringBuilder("{\"info\":{");
        String separator = "";
        for (Map.Entry<String, String> entry : info.entrySet()) {
            json.append(separator).append(quote(entry.getKey())).append(':').append(quote(entry.getValue()));
            separator = ",";
        }
        json.append("},\"c\":").append(cLine).append(",\"jmh\":[");
        separator = "";
        for (Row row : rows) {
            json.append(separator).append(String.format(Locale.ROOT,
                    "{\"benchmark\":%s,\"ns_per_op\":%.3f,\"error_ns\":%.3f,\"median_ns\":%.3f,\"best_ns\":%.3f,"
                            + "\"alloc_bytes_per_op\":%s}",
                    quote(row.name()), row.ns(), row.error(), row.median(), row.best(),
                    Double.isNaN(row.allocBytes()) ? "null" : String.format(Locale.ROOT, "%.3f", row.allocBytes())));
            separator = ",";
        }
        json.append("]}\n");
        Files.writeString(Path.of(args[2]), json.toString());
        out.println();
        out.println("written: " + args[2]);
    }

    private record Row(String name, double ns, double error, double median, double best, double allocBytes) {
    }

    private static void printCall(PrintStream out, String call, Row publicApi, Row stub, double[] c) {
        double[] pub = publicApi == null ? new double[] {Double.NaN, Double.NaN}
                : new double[] {publicApi.median(), publicApi.best()};
        out.printf(Locale.ROOT, "%-28s %16s %16s %16s %16s %8.1f%n", call, cell(pub[0], pub[1]),
                stub == null ? "-" : cell(stub.median(), stub.best()), cell(c[0], c[1]),
                String.format(Locale.ROOT, "%+.1f (%+.1f)", pub[0] - c[0], pub[1] - c[1]),
                publicApi == null ? Double.NaN : publicApi.allocBytes());
    }

    private static String cell(double median, double best) {
        return String.format(Locale.ROOT, "%.1f (%.1f)", median, best);
    }

    /** A number field of a flat one-line JSON object, NaN if absent. */
    static double number(String json, String key) {
        Matcher m = Pattern.compile("\"" + Pattern.quote(key) + "\":(-?[0-9.]+)").matcher(json);
        return m.find() ? Double.parseDouble(m.group(1)) : Double.NaN;
    }

    private static Map<String, String> readInfo(Path file) throws IOException {
        Map<String, String> info = new LinkedHashMap<>();
        for (String line : Files.readAllLines(file)) {
            int eq = line.indexOf('=');
            if (eq > 0) {
                info.put(line.substring(0, eq), line.substring(eq + 1));
            }
        }
        return info;
    }

    private static String quote(String text) {
        StringBuilder s = new StringBuilder("\"");
        for (char ch : text.toCharArray()) {
            switch (ch) {
                case '"' -> s.append("\\\"");
                case '\\' -> s.append("\\\\");
                default -> {
                    if (ch < 0x20) {
                        s.append(String.format("\\u%04x", (int) ch));
                    } else {
                        s.append(ch);
                    }
                }
            }
        }
        return s.append('"').toString();
    }
}
