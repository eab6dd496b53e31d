package org.jcpg.bench;

import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.MathContext;
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
 * The report of scripts/bench/bench.sh: reads the run records (one JSON object a
 * line: pair, order, impl, mode, size, count, exit, result = the benchmark
 * program's own line or null) and a key=value file of machine facts and
 * parameters; writes PREFIX.json (date, machine, parameters, runs, medians,
 * ratios) and PREFIX.png (charts: msgs/s, client and daemon CPU per message,
 * per size, C and Java in every mode) and prints the medians and ratios.
 * Exits with 1 if any run failed (after writing everything).
 *
 * <p>Ratios are Java/C of the medians over the pairs: Java copy, stubs, segment,
 * bytearray and loop against C copy; Java zerocopy against C zerocopy. Java
 * copy against Java stubs (the same loop on jextract's stubs alone) is
 * jcpg's own share of a gap; stubs against C, the JVM's and FFM's.
 */
public final class BenchReport {
    /** Fields of a result whose median is reported. */
    static final List<String> FIELDS = List.of("msgs_per_s", "mb_per_s", "send_p50_us", "send_p99_us",
            "deliver_p50_us", "deliver_p99_us", "try_again", "client_cpu_us_per_msg", "daemon_cpu_us_per_msg",
            "alloc_bytes_per_msg", "jit_cpu_us_per_msg", "user_cpu_us_per_msg");
    /** Fields of which the ratio Java/C is reported. */
    static final List<String> RATIO_FIELDS = List.of("msgs_per_s", "client_cpu_us_per_msg", "daemon_cpu_us_per_msg");
    /** Fields of which the ratio of Java in a fresh JVM to C is reported. */
    static final List<String> FRESH_RATIO_FIELDS = List.of("msgs_per_s", "client_cpu_us_per_msg");
    /** Series in display order: impl, mode, the C mode a Java mode is compared with. */
    static final String[][] SERIES = {
            {"c", "copy", null}, {"java", "copy", "copy"}, {"java", "stubs", "copy"}, {"java", "segment", "copy"},
            {"java", "bytearray", "copy"}, {"java", "loop", "copy"},
            {"c", "zerocopy", null}, {"java", "zerocopy", "zerocopy"}};
    static final Color[] COLORS = {
            new Color(0x404040), new Color(0x1f77b4), new Color(0xff7f0e), new Color(0x6baed6), new Color(0x2ca02c),
            new Color(0x98df8a), new Color(0x9e9e9e), new Color(0xd62728)};

    private BenchReport() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 3) {
            System.err.println("usage: BenchReport INFO_FILE RUNS_FILE OUTPUT_PREFIX");
            System.exit(64);
        }
        Map<String, Object> info = new LinkedHashMap<>();
        for (String line : Files.readAllLines(Path.of(args[0]), StandardCharsets.UTF_8)) {
            int eq = line.indexOf('=');
            if (eq > 0) {
                put(info, line.substring(0, eq), line.substring(eq + 1));
            }
        }
        List<Map<String, Object>> runs = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of(args[1]), StandardCharsets.UTF_8)) {
            if (!line.isBlank()) {
                runs.add(Json.object(Json.parse(line)));
            }
        }

        // medians per size, impl and mode, over the runs that succeeded
        TreeSet<Integer> sizes = new TreeSet<>();
        runs.forEach(r -> sizes.add(num(r.get("size")).intValue()));
        Map<String, Map<String, Object>> medianOf = medians(runs, sizes, false);
        Map<String, Map<String, Object>> freshOf = medians(runs, sizes, true);
        int failed = 0;
        for (Map<String, Object> r : runs) {
            if (num(r.get("exit")).intValue() != 0 || r.get("result") == null) {
                failed++;
            }
        }
        List<Map<String, Object>> ratios = new ArrayList<>();
        List<Map<String, Object>> jcpgOverStubs = new ArrayList<>();
        for (int size : sizes) {
            for (String[] s : SERIES) {
                Map<String, Object> java = medianOf.get(key(size, s[0], s[1]));
                Map<String, Object> c = s[2] == null ? null : medianOf.get(key(size, "c", s[2]));
                if (java == null || c == null) {
                    continue;
                }
                Map<String, Object> ratio = new LinkedHashMap<>();
                ratio.put("size", size);
                ratio.put("java_mode", s[1]);
                ratio.put("c_mode", s[2]);
                for (String field : RATIO_FIELDS) {
                    ratio.put(field, ratio(java.get(field), c.get(field)));
                }
                Map<String, Object> fresh = freshOf.get(key(size, s[0], s[1]));
                for (String field : FRESH_RATIO_FIELDS) {
                    ratio.put("fresh_jvm_" + field, fresh == null ? null : ratio(fresh.get(field), c.get(field)));
                }
                ratios.add(ratio);
            }
            Map<String, Object> copy = medianOf.get(key(size, "java", "copy"));
            Map<String, Object> stubs = medianOf.get(key(size, "java", "stubs"));
            if (copy != null && stubs != null) {
                Map<String, Object> layers = new LinkedHashMap<>();
                layers.put("size", size);
                for (String field : RATIO_FIELDS) {
                    layers.put(field, ratio(copy.get(field), stubs.get(field)));
                }
                jcpgOverStubs.add(layers);
            }
        }

        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("date", info.remove("date"));
        doc.put("machine", info.remove("machine"));
        doc.put("parameters", info.remove("parameters"));
        doc.putAll(info);
        doc.put("ratio_definition", "Java/C of the medians over the pairs (Java: the runs of a JVM that had run before;"
                + " C: all); Java copy, stubs, segment, bytearray and loop against C copy, Java zerocopy against C zerocopy;"
                + " fresh_jvm_*: the median of Java's runs in a fresh JVM against the same C median;"
                + " jcpg_over_stubs: Java copy against Java stubs (the same loop on jextract's stubs alone, without jcpg);"
                + " CPU in microseconds per timed message");
        doc.put("failed_runs", failed);
        doc.put("runs", runs);
        doc.put("medians", new ArrayList<>(medianOf.values()));
        doc.put("fresh_jvm_medians", new ArrayList<>(freshOf.values()));
        doc.put("ratios", ratios);
        doc.put("jcpg_over_stubs", jcpgOverStubs);
        List<Map<String, Object>> targets = BenchTargets.check(sizes, medianOf);
        doc.put("targets", targets);
        Path json = Path.of(args[2] + ".json");
        Files.writeString(json, Json.write(doc, 0) + "\n", StandardCharsets.UTF_8);

        printTable(sizes, medianOf, freshOf);
        printLayers(jcpgOverStubs);
        BenchTargets.print(targets);
        Path png = Path.of(args[2] + ".png");
        try {
            writeCharts(png, sizes, medianOf, freshOf, doc);
        } catch (RuntimeException | Error e) {
            System.err.println("jcpg: no chart: " + e);
            png = null;
        }
        System.out.println();
        System.out.println("results: " + json + (png == null ? "" : ", chart: " + png));
        if (failed > 0) {
            System.err.println("jcpg: " + failed + " run(s) FAILED: see their exit status in " + json);
            System.exit(1);
        }
    }

    private static void printTable(TreeSet<Integer> sizes, Map<String, Map<String, Object>> medianOf,
            Map<String, Map<String, Object>> freshOf) {
        System.out.println();
        System.out.println("Medians over the pairs (Java: its JVM's runs after the first); ratio = Java/C (copy, stubs,"
                + " segment, bytearray, loop vs C copy; zerocopy vs C zerocopy).");
        System.out.println("fresh J/C: msgs/s and client CPU of Java's first run in a fresh JVM against the same C median.");
        System.out.println("client and daemon CPU in microseconds per message; C usr, J usr: the part of the client's"
                + " CPU spent in user space (the rest is the kernel's);");
        System.out.println("J jit: the part of J cpu that the JIT compiler threads used; J alloc: bytes Java allocated"
                + " per message.");
        System.out.printf(Locale.ROOT, "%-8s %-10s %-9s %10s %10s %6s  %8s %8s %6s  %6s %6s  %8s %8s %6s  %6s %7s  %9s %5s%n",
                "size", "Java mode", "C mode", "C msgs/s", "J msgs/s", "J/C", "C cpu", "J cpu", "J/C", "C usr", "J usr",
                "C daemon", "J daemon", "J/C", "J jit", "J alloc", "fresh J/C", "cpu");
        for (int size : sizes) {
            for (String[] s : SERIES) {
                if (s[2] == null) {
                    continue;
                }
                Map<String, Object> java = medianOf.get(key(size, s[0], s[1]));
                Map<String, Object> c = medianOf.get(key(size, "c", s[2]));
                if (java == null && c == null) {
                    continue;
                }
                StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "%-8s %-10s %-9s", sizeLabel(size),
                        s[1], s[2]));
                String[] formats = {" %10.0f %10.0f %6s", "  %8.2f %8.2f %6s", "  %8.1f %8.1f %6s"};
                for (int i = 0; i < RATIO_FIELDS.size(); i++) {
                    String field = RATIO_FIELDS.get(i);
                    Object cv = c == null ? null : c.get(field);
                    Object jv = java == null ? null : java.get(field);
                    Object r = ratio(jv, cv);
                    row.append(String.format(Locale.ROOT, formats[i], cv == null ? Double.NaN : num(cv).doubleValue(),
                            jv == null ? Double.NaN : num(jv).doubleValue(),
                            r == null ? "-" : String.format(Locale.ROOT, "%.2f", num(r).doubleValue())));
                    if (field.equals("client_cpu_us_per_msg")) {
                        row.append(String.format(Locale.ROOT, "  %6.2f %6.2f", value(c, "user_cpu_us_per_msg"),
                                value(java, "user_cpu_us_per_msg")));
                    }
                }
                row.append(String.format(Locale.ROOT, "  %6.2f %7.1f", value(java, "jit_cpu_us_per_msg"),
                        value(java, "alloc_bytes_per_msg")));
                Map<String, Object> fresh = freshOf.get(key(size, s[0], s[1]));
                Object freshRate = fresh == null || c == null ? null : ratio(fresh.get("msgs_per_s"), c.get("msgs_per_s"));
                Object freshCpu = fresh == null || c == null ? null
                        : ratio(fresh.get("client_cpu_us_per_msg"), c.get("client_cpu_us_per_msg"));
                row.append(String.format(Locale.ROOT, "  %9s %5s",
                        freshRate == null ? "-" : String.format(Locale.ROOT, "%.2f", num(freshRate).doubleValue()),
                        freshCpu == null ? "-" : String.format(Locale.ROOT, "%.2f", num(freshCpu).doubleValue())));
                System.out.println(row);
            }
        }
    }

    /** A field of a median as a double, NaN if absent. */
    private static double value(Map<String, Object> median, String field) {
        Object v = median == null ? null : median.get(field);
        return v == null ? Double.NaN : num(v).doubleValue();
    }

    private static void printLayers(List<Map<String, Object>> jcpgOverStubs) {
        if (jcpgOverStubs.isEmpty()) {
            return;
        }
        System.out.println();
        System.out.println("jcpg's own share: Java copy / Java stubs (the same loop on jextract's stubs alone; 1 = jcpg costs nothing):");
        System.out.printf(Locale.ROOT, "%-8s %8s %10s %10s%n", "size", "msgs/s", "client cpu", "daemon cpu");
        for (Map<String, Object> layers : jcpgOverStubs) {
            System.out.printf(Locale.ROOT, "%-8s %8.2f %10.2f %10.2f%n", sizeLabel(num(layers.get("size")).intValue()),
                    value(layers, "msgs_per_s"), value(layers, "client_cpu_us_per_msg"),
                    value(layers, "daemon_cpu_us_per_msg"));
        }
    }

    private static void writeCharts(Path png, TreeSet<Integer> sizes, Map<String, Map<String, Object>> medianOf,
            Map<String, Map<String, Object>> freshOf, Map<String, Object> doc) throws IOException {
        // field, title, y axis, ratio (Java/C) or absolute (log scale)
        String[][] panels = {
                {"msgs_per_s", "Throughput (messages/s; higher is better)", "msgs/s", ""},
                {"client_cpu_us_per_msg", "Client CPU per message (µs; lower is better)", "µs CPU / msg", ""},
                {"msgs_per_s", "Throughput, Java / C (1 = as fast as C)", "Java / C", "ratio"},
                {"client_cpu_us_per_msg", "Client CPU per message, Java / C (1 = as cheap as C)", "Java / C", "ratio"},
                {"daemon_cpu_us_per_msg", "corosync daemon CPU per message (µs)", "µs CPU / msg", ""},
                {"daemon_cpu_us_per_msg", "Daemon CPU per message, Java / C", "Java / C", "ratio"},
                {"msgs_per_s", "Throughput, Java in a fresh JVM (first run) / C", "Java / C", "fresh"},
                {"client_cpu_us_per_msg", "Client CPU per message, Java in a fresh JVM / C", "Java / C", "fresh"}};
        int panelWidth = 800, panelHeight = 420, header = 60, columns = 2;
        int rows = (panels.length + columns - 1) / columns;
        BufferedImage image = new BufferedImage(columns * panelWidth, header + rows * panelHeight, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, image.getWidth(), image.getHeight());
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 18));
        g.drawString("jcpg (Java) vs libcpg (C), one corosync node: medians of alternating runs; Java in a warm JVM"
                + " unless marked fresh", 20, 26);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
        Map<?, ?> machine = doc.get("machine") instanceof Map<?, ?> m ? m : Map.of();
        Map<?, ?> params = doc.get("parameters") instanceof Map<?, ?> m ? m : Map.of();
        g.drawString(String.format("%s   %s CPUs (%s), kernel %s, corosync %s, JDK %s, 1 fresh + %s warm pairs, messages per size %s%s",
                doc.get("date"), machine.get("nproc"), machine.get("model_name"), machine.get("kernel"),
                machine.get("corosync"), machine.get("jdk"), params.get("pairs"), params.get("counts"),
                Boolean.TRUE.equals(params.get("quick")) ? " (--quick)" : ""), 20, 48);

        List<String> categories = new ArrayList<>();
        sizes.forEach(s -> categories.add(sizeLabel(s)));
        for (int p = 0; p < panels.length; p++) {
            boolean fresh = panels[p][3].equals("fresh");
            boolean ratio = fresh || panels[p][3].equals("ratio");
            CategoryChart chart = new CategoryChartBuilder().width(panelWidth).height(panelHeight)
                    .title(panels[p][1]).xAxisTitle("message size").yAxisTitle(panels[p][2]).build();
            var styler = chart.getStyler();
            styler.setLegendPosition(Styler.LegendPosition.OutsideE);
            styler.setChartBackgroundColor(Color.WHITE);
            styler.setPlotBackgroundColor(Color.WHITE);
            styler.setPlotGridLinesColor(new Color(0xdddddd));
            styler.setAvailableSpaceFill(0.85);
            styler.setYAxisMin(0.0);
            styler.setYAxisDecimalPattern(ratio ? "0.0#" : "#,##0.#");
            List<Color> colors = new ArrayList<>();
            for (int i = 0; i < SERIES.length; i++) {
                String[] s = SERIES[i];
                if (ratio && s[2] == null) {
                    continue;
                }
                List<Double> values = new ArrayList<>();
                boolean any = false;
                for (int size : sizes) {
                    Map<String, Object> m = (fresh ? freshOf : medianOf).get(key(size, s[0], s[1]));
                    Object v = m == null ? null : m.get(panels[p][0]);
                    if (ratio) {
                        Map<String, Object> c = medianOf.get(key(size, "c", s[2]));
                        v = c == null ? null : ratio(v, c.get(panels[p][0]));
                    }
                    // a missing value (a size whose runs all failed) is left out: null
                    values.add(v == null || num(v).doubleValue() <= 0 ? null : num(v).doubleValue());
                    any |= v != null;
                }
                if (any) {
                    chart.addSeries((s[0].equals("c") ? "C " : "Java ") + s[1], categories, values);
                    colors.add(COLORS[i]);
                }
            }
            if (colors.isEmpty()) {
                continue;
            }
            styler.setSeriesColors(colors.toArray(Color[]::new));
            Graphics2D panel = (Graphics2D) g.create((p % columns) * panelWidth, header + (p / columns) * panelHeight,
                    panelWidth, panelHeight);
            chart.paint(panel, panelWidth, panelHeight);
            panel.dispose();
        }
        g.dispose();
        ImageIO.write(image, "png", png.toFile());
    }

    /**
     * Medians per size, impl and mode over the runs that succeeded: of Java's runs in a fresh
     * JVM ({@code "jvm":"fresh"}) if {@code fresh}, else of the others and of all C runs.
     */
    static Map<String, Map<String, Object>> medians(List<Map<String, Object>> runs, TreeSet<Integer> sizes,
            boolean fresh) {
        Map<String, Map<String, Object>> medianOf = new LinkedHashMap<>();
        for (int size : sizes) {
            for (String[] s : SERIES) {
                List<Map<String, Object>> results = new ArrayList<>();
                for (Map<String, Object> r : runs) {
                    if (num(r.get("size")).intValue() == size && s[0].equals(r.get("impl")) && s[1].equals(r.get("mode"))
                            && num(r.get("exit")).intValue() == 0 && r.get("result") instanceof Map<?, ?> m
                            && (s[0].equals("c") ? !fresh : fresh == "fresh".equals(r.get("jvm")))) {
                        results.add(Json.object(m));
                    }
                }
                if (results.isEmpty()) {
                    continue;
                }
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("size", size);
                m.put("impl", s[0]);
                m.put("mode", s[1]);
                m.put("runs", results.size());
                for (String field : FIELDS) {
                    List<Double> values = new ArrayList<>();
                    results.forEach(res -> {
                        if (res.get(field) instanceof Number n) {
                            values.add(n.doubleValue());
                        }
                    });
                    m.put(field, values.isEmpty() ? null : median(values));
                }
                medianOf.put(key(size, s[0], s[1]), m);
            }
        }
        return medianOf;
    }

    static String key(int size, String impl, String mode) {
        return size + "/" + impl + "/" + mode;
    }

    static String sizeLabel(int size) {
        return size >= 1024 && size % 1024 == 0 ? size / 1024 + " KiB" : size + " B";
    }

    static double median(List<Double> values) {
        List<Double> sorted = new ArrayList<>(values);
        sorted.sort(null);
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }

    static Object ratio(Object java, Object c) {
        if (!(java instanceof Number j) || !(c instanceof Number cn) || cn.doubleValue() == 0) {
            return null;
        }
        return j.doubleValue() / cn.doubleValue();
    }

    static Number num(Object o) {
        if (o instanceof Number n) {
            return n;
        }
        throw new IllegalArgumentException("not a number: " + o);
    }

    /** Puts "a.b=v" as nested maps; numbers stay strings except whole numbers. */
    @SuppressWarnings("unchecked")
    private static void put(Map<String, Object> map, String key, String value) {
        int dot = key.indexOf('.');
        if (dot < 0) {
            map.put(key, value.matches("-?[0-9]{1,15}") ? (Object) Long.parseLong(value)
                    : value.equals("true") || value.equals("false") ? (Object) Boolean.valueOf(value) : value);
        } else {
            put((Map<String, Object>) map.computeIfAbsent(key.substring(0, dot), k -> new LinkedHashMap<>()),
                    key.substring(dot + 1), value);
        }
    }

    /** Just enough JSON: objects, arrays, strings, numbers, true, false, null. */
    static final class Json {
        private final String s;
        private int i;

        private Json(String s) {
            this.s = s;
        }

        static Object parse(String text) {
            Json p = new Json(text);
            Object v = p.value();
            p.space();
            if (p.i != text.length()) {
                throw p.error("trailing characters");
            }
            return v;
        }

        @SuppressWarnings("unchecked")
        static Map<String, Object> object(Object o) {
            if (o instanceof Map<?, ?> m) {
                return (Map<String, Object>) m;
            }
            throw new IllegalArgumentException("not a JSON object: " + o);
        }

        private Object value() {
            space();
            if (i >= s.length()) {
                throw error("unexpected end");
            }
            char c = s.charAt(i);
            switch (c) {
                case '{' -> {
                    i++;
                    Map<String, Object> m = new LinkedHashMap<>();
                    space();
                    if (peek('}')) {
                        return m;
                    }
                    do {
                        space();
                        String k = string();
                        space();
                        expect(':');
                        m.put(k, value());
                        space();
                    } while (peek(','));
                    expect('}');
                    return m;
                }
                case '[' -> {
                    i++;
                    List<Object> l = new ArrayList<>();
                    space();
                    if (peek(']')) {
                        return l;
                    }
                    do {
                        l.add(value());
                        space();
                    } while (peek(','));
                    expect(']');
                    return l;
                }
                case '"' -> {
                    return string();
                }
                default -> {
                    for (String word : new String[] {"null", "true", "false"}) {
                        if (s.startsWith(word, i)) {
                            i += word.length();
                            return word.equals("null") ? null : Boolean.valueOf(word);
                        }
                    }
                    int start = i;
                    while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) {
                        i++;
                    }
                    if (start == i) {
                        throw error("unexpected '" + c + "'");
                    }
                    String number = s.substring(start, i);
                    try {
                        return number.matches("-?[0-9]{1,18}") ? (Object) Long.parseLong(number)
                                : (Object) Double.parseDouble(number);
                    } catch (NumberFormatException e) {
                        throw error("bad number " + number);
                    }
                }
            }
        }

        private String string() {
            expect('"');
            StringBuilder b = new StringBuilder();
            while (i < s.length() && s.charAt(i) != '"') {
                char c = s.charAt(i++);
                if (c == '\\') {
                    char e = s.charAt(i++);
                    switch (e) {
                        case 'n' -> b.append('\n');
                        case 't' -> b.append('\t');
                        case 'r' -> b.append('\r');
                        case 'b' -> b.append('\b');
                        case 'f' -> b.append('\f');
                        case 'u' -> {
                            b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                            i += 4;
                        }
                        default -> b.append(e);
                    }
                } else {
                    b.append(c);
                }
            }
            expect('"');
            return b.toString();
        }

        private void space() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
                i++;
            }
        }

        private boolean peek(char c) {
            if (i < s.length() && s.charAt(i) == c) {
                i++;
                return true;
            }
            return false;
        }

        private void expect(char c) {
            if (!peek(c)) {
                throw error("expected '" + c + "'");
            }
        }

        private IllegalArgumentException error(String what) {
            return new IllegalArgumentException("bad JSON at " + i + ": " + what + " in " + s);
        }

        /** Objects one key a line; objects inside arrays (runs, medians) on one line each. */
        static String write(Object v, int indent) {
            StringBuilder b = new StringBuilder();
            write(b, v, indent, indent > 2);
            return b.toString();
        }

        private static void write(StringBuilder b, Object v, int indent, boolean flat) {
            String pad = " ".repeat(indent + 2);
            if (v == null) {
                b.append("null");
            } else if (v instanceof Map<?, ?> m) {
                b.append('{');
                boolean first = true;
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    b.append(first ? "" : ",").append(flat ? "" : "\n" + pad);
                    first = false;
                    quote(b, String.valueOf(e.getKey()));
                    b.append(flat ? ":" : ": ");
                    write(b, e.getValue(), indent + 2, flat || e.getValue() instanceof List<?>);
                }
                b.append(flat || m.isEmpty() ? "" : "\n" + " ".repeat(indent)).append('}');
            } else if (v instanceof List<?> l) {
                b.append('[');
                boolean first = true;
                for (Object o : l) {
                    b.append(first ? "" : ",").append("\n").append(pad);
                    first = false;
                    write(b, o, indent + 2, true);
                }
                b.append(l.isEmpty() ? "" : "\n" + " ".repeat(indent)).append(']');
            } else if (v instanceof Double d) {
                if (d.isNaN() || d.isInfinite()) {
                    b.append("null");
                } else if (d == Math.rint(d) && Math.abs(d) < 1e15) {
                    b.append(d.longValue());
                } else {
                    b.append(new BigDecimal(d).round(new MathContext(6)).stripTrailingZeros().toPlainString());
                }
            } else if (v instanceof Number || v instanceof Boolean) {
                b.append(v);
            } else {
                quote(b, v.toString());
            }
        }

        private static void quote(StringBuilder b, String s) {
            b.append('"');
            for (char c : s.toCharArray()) {
                switch (c) {
                    case '"' -> b.append("\\\"");
                    case '\\' -> b.append("\\\\");
                    case '\n' -> b.append("\\n");
                    case '\t' -> b.append("\\t");
                    default -> {
                        if (c < 0x20) {
                            b.append(String.format("\\u%04x", (int) c));
                        } else {
                            b.append(c);
                        }
                    }
                }
            }
            b.append('"');
        }
    }
}
