package org.jcpg.bench;

import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import javax.imageio.ImageIO;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.style.Styler;

/**
 * The report of scripts/bench/bench-bundle.sh: reads the key=value machine facts
 * and the run records (pair, order, impl, size, count, sender and receiver
 * = the two {@link GroupBench} lines), writes PREFIX.json (date, machine,
 * parameters, runs, medians per size and implementation, ratios
 * jcpg/JGroups) and PREFIX.png (msgs/s, latency p50 and p99, client CPU per
 * message), prints the table. Client CPU per message is both members' CPU
 * time in the timed part over the message count; corosync's CPU (jcpg only)
 * is reported apart. Exits with 1 if any run failed (after writing all).
 */
public final class GroupBenchReport {
    static final String[] IMPLS = {"bundled", "plain", "jgroups"};
    static final String[] LABELS = {"jcpg bundled", "jcpg plain", "JGroups TCP+SEQUENCER"};
    static final Color[] COLORS = {new Color(0xd62728), new Color(0x1f77b4), new Color(0x2ca02c)};
    static final List<String> FIELDS = List.of("msgs_per_s", "latency_p50_us", "latency_p99_us",
            "client_cpu_us_per_msg", "daemon_cpu_us_per_msg", "msgs_per_bundle");

    private GroupBenchReport() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 3) {
            System.err.println("usage: GroupBenchReport INFO_FILE RUNS_FILE OUTPUT_PREFIX");
            System.exit(64);
        }
        Map<String, Object> doc = new LinkedHashMap<>();
        Map<String, Object> machine = new LinkedHashMap<>();
        Map<String, Object> parameters = new LinkedHashMap<>();
        double ticks = 100;
        for (String line : Files.readAllLines(Path.of(args[0]), StandardCharsets.UTF_8)) {
            int eq = line.indexOf('=');
            if (eq < 0) {
                continue;
            }
            String key = line.substring(0, eq);
            String value = line.substring(eq + 1);
            if (key.equals("date")) {
                doc.put("date", value);
            } else if (key.startsWith("machine.")) {
                machine.put(key.substring(8), value);
                if (key.equals("machine.clock_ticks")) {
                    ticks = Double.parseDouble(value);
                }
            } else if (key.startsWith("parameters.")) {
                parameters.put(key.substring(11), value);
            }
        }
        doc.put("machine", machine);
        doc.put("parameters", parameters);

        List<Object> runs = new ArrayList<>();
        Map<String, Map<String, List<Double>>> values = new LinkedHashMap<>();
        TreeSet<Integer> sizes = new TreeSet<>();
        int failed = 0;
        for (String line : Files.readAllLines(Path.of(args[1]), StandardCharsets.UTF_8)) {
            if (line.isBlank()) {
                continue;
            }
            Map<String, Object> run = BenchReport.Json.object(BenchReport.Json.parse(line));
            runs.add(run);
            int size = BenchReport.num(run.get("size")).intValue();
            String impl = (String) run.get("impl");
            sizes.add(size);
            if (!(run.get("sender") instanceof Map<?, ?> s) || !(run.get("receiver") instanceof Map<?, ?> r)
                    || !Boolean.TRUE.equals(s.get("ok")) || !Boolean.TRUE.equals(r.get("ok"))) {
                failed++;
                continue;
            }
            double count = BenchReport.num(run.get("count")).doubleValue();
            Map<String, List<Double>> v = values.computeIfAbsent(BenchReport.key(size, impl, ""), k -> new LinkedHashMap<>());
            v.computeIfAbsent("msgs_per_s", k -> new ArrayList<>()).add(BenchReport.num(s.get("msgs_per_s")).doubleValue());
            v.computeIfAbsent("latency_p50_us", k -> new ArrayList<>()).add(BenchReport.num(s.get("latency_p50_us")).doubleValue());
            v.computeIfAbsent("latency_p99_us", k -> new ArrayList<>()).add(BenchReport.num(s.get("latency_p99_us")).doubleValue());
            double cpu = BenchReport.num(s.get("cpu_ns")).doubleValue() + BenchReport.num(r.get("cpu_ns")).doubleValue();
            v.computeIfAbsent("client_cpu_us_per_msg", k -> new ArrayList<>()).add(cpu / 1e3 / count);
            if (!impl.equals("jgroups")) {
                double daemon = BenchReport.num(s.get("daemon_ticks")).doubleValue() / ticks * 1e6 / count;
                v.computeIfAbsent("daemon_cpu_us_per_msg", k -> new ArrayList<>()).add(daemon);
            }
            if (s.get("bundles") instanceof Number bundles && bundles.doubleValue() > 0) {
                // The bundle count covers the untimed warm-up messages too.
                double sent = count + BenchReport.num(s.get("warmup_msgs")).doubleValue();
                v.computeIfAbsent("msgs_per_bundle", k -> new ArrayList<>()).add(sent / bundles.doubleValue());
            }
        }
        doc.put("runs", runs);
        Map<String, Map<String, Object>> medianOf = new LinkedHashMap<>();
        List<Object> medians = new ArrayList<>();
        for (int size : sizes) {
            for (String impl : IMPLS) {
                Map<String, List<Double>> v = values.get(BenchReport.key(size, impl, ""));
                if (v == null) {
                    continue;
                }
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("size", size);
                m.put("impl", impl);
                m.put("runs", v.get("msgs_per_s").size());
                for (String field : FIELDS) {
                    if (v.containsKey(field)) {
                        m.put(field, round(BenchReport.median(v.get(field))));
                    }
                }
                medianOf.put(BenchReport.key(size, impl, ""), m);
                medians.add(m);
            }
        }
        doc.put("medians", medians);
        List<Object> ratios = new ArrayList<>();
        for (int size : sizes) {
            Map<String, Object> j = medianOf.get(BenchReport.key(size, "jgroups", ""));
            for (String impl : new String[] {"bundled", "plain"}) {
                Map<String, Object> m = medianOf.get(BenchReport.key(size, impl, ""));
                if (m == null || j == null) {
                    continue;
                }
                Map<String, Object> r = new LinkedHashMap<>();
                r.put("size", size);
                r.put("impl", impl);
                for (String field : List.of("msgs_per_s", "latency_p50_us", "latency_p99_us", "client_cpu_us_per_msg")) {
                    r.put(field, BenchReport.ratio(m.get(field), j.get(field)));
                }
                ratios.add(r);
            }
        }
        doc.put("ratios_jcpg_over_jgroups", ratios);
        Path prefix = Path.of(args[2]);
        Files.writeString(Path.of(prefix + ".json"), BenchReport.Json.write(doc, 0) + "\n", StandardCharsets.UTF_8);
        printTable(sizes, medianOf);
        writeChart(Path.of(prefix + ".png"), doc, sizes, medianOf);
        System.out.println("wrote " + prefix + ".json and " + prefix + ".png" + (failed > 0 ? "; " + failed + " runs FAILED" : ""));
        System.exit(failed > 0 ? 1 : 0);
    }

    private static double round(double v) {
        return Math.round(v * 100) / 100.0;
    }

    private static void printTable(TreeSet<Integer> sizes, Map<String, Map<String, Object>> medianOf) {
        System.out.printf(Locale.ROOT, "%-7s %-9s %10s %9s %11s %11s %9s %9s %9s %8s%n", "size", "impl", "msgs/s",
                "vs JG", "lat p50 us", "lat p99 us", "cpu us/m", "vs JG", "daemon", "per bnd");
        for (int size : sizes) {
            Map<String, Object> j = medianOf.get(BenchReport.key(size, "jgroups", ""));
            for (String impl : IMPLS) {
                Map<String, Object> m = medianOf.get(BenchReport.key(size, impl, ""));
                if (m == null) {
                    continue;
                }
                System.out.printf(Locale.ROOT, "%-7s %-9s %10.0f %9s %11.0f %11.0f %9.2f %9s %9s %8s%n",
                        BenchReport.sizeLabel(size), impl, d(m.get("msgs_per_s")),
                        impl.equals("jgroups") || j == null ? "" : String.format(Locale.ROOT, "%.2fx", d(m.get("msgs_per_s")) / d(j.get("msgs_per_s"))),
                        d(m.get("latency_p50_us")), d(m.get("latency_p99_us")), d(m.get("client_cpu_us_per_msg")),
                        impl.equals("jgroups") || j == null ? "" : String.format(Locale.ROOT, "%.2fx", d(m.get("client_cpu_us_per_msg")) / d(j.get("client_cpu_us_per_msg"))),
                        m.containsKey("daemon_cpu_us_per_msg") ? String.format(Locale.ROOT, "%.2f", d(m.get("daemon_cpu_us_per_msg"))) : "-",
                        m.containsKey("msgs_per_bundle") ? String.format(Locale.ROOT, "%.0f", d(m.get("msgs_per_bundle"))) : "-");
            }
        }
    }

    private static double d(Object o) {
        return o == null ? Double.NaN : BenchReport.num(o).doubleValue();
    }

    private static void writeChart(Path png, Map<String, Object> doc, TreeSet<Integer> sizes,
                                   Map<String, Map<String, Object>> medianOf) throws IOException {
        String[][] panels = {
                {"msgs_per_s", "Throughput", "messages/s"},
                {"latency_p50_us", "Delivery latency p50 (at full load)", "µs"},
                {"latency_p99_us", "Delivery latency p99 (at full load)", "µs"},
                {"client_cpu_us_per_msg", "Client CPU per message (both JVMs)", "µs"}};
        int panelWidth = 640;
        int panelHeight = 400;
        int header = 60;
        BufferedImage image = new BufferedImage(panelWidth * 2, header + panelHeight * 2, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, image.getWidth(), image.getHeight());
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
        g.drawString("jcpg bundled vs jcpg plain vs JGroups (TCP loopback + SEQUENCER): 2 JVMs, medians of alternating runs", 20, 24);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        Map<?, ?> machine = doc.get("machine") instanceof Map<?, ?> m ? m : Map.of();
        Map<?, ?> params = doc.get("parameters") instanceof Map<?, ?> m ? m : Map.of();
        g.drawString(String.format("%s   %s CPUs (%s), load at start %s, corosync %s, JDK %s, JGroups %s, %s pairs, messages %s",
                doc.get("date"), machine.get("nproc"), machine.get("model_name"), machine.get("loadavg_at_start"),
                machine.get("corosync"), machine.get("jdk"), machine.get("jgroups"), params.get("pairs"),
                params.get("counts")), 20, 46);
        List<String> categories = new ArrayList<>();
        sizes.forEach(s -> categories.add(BenchReport.sizeLabel(s)));
        for (int p = 0; p < panels.length; p++) {
            CategoryChart chart = new CategoryChartBuilder().width(panelWidth).height(panelHeight)
                    .title(panels[p][1]).xAxisTitle("message size").yAxisTitle(panels[p][2]).build();
            var styler = chart.getStyler();
            styler.setLegendPosition(Styler.LegendPosition.OutsideS);
            styler.setLegendLayout(Styler.LegendLayout.Horizontal);
            styler.setChartBackgroundColor(Color.WHITE);
            styler.setPlotBackgroundColor(Color.WHITE);
            styler.setPlotGridLinesColor(new Color(0xdddddd));
            styler.setYAxisMin(0.0);
            styler.setYAxisDecimalPattern("#,##0.#");
            List<Color> colors = new ArrayList<>();
            for (int i = 0; i < IMPLS.length; i++) {
                List<Double> series = new ArrayList<>();
                boolean any = false;
                for (int size : sizes) {
                    Map<String, Object> m = medianOf.get(BenchReport.key(size, IMPLS[i], ""));
                    Object v = m == null ? null : m.get(panels[p][0]);
                    double value = v == null ? Double.NaN : d(v);
                    series.add(v == null || value <= 0 ? null : value);
                    any |= v != null;
                }
                if (any) {
                    chart.addSeries(LABELS[i], categories, series);
                    colors.add(COLORS[i]);
                }
            }
            if (colors.isEmpty()) {
                continue;
            }
            styler.setSeriesColors(colors.toArray(Color[]::new));
            Graphics2D panel = (Graphics2D) g.create((p % 2) * panelWidth, header + (p / 2) * panelHeight, panelWidth, panelHeight);
            chart.paint(panel, panelWidth, panelHeight);
            panel.dispose();
        }
        g.dispose();
        ImageIO.write(image, "png", png.toFile());
    }
}
