package org.jcpg.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.jcpg.testsupport.UnitTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The report of scripts/bench/bench.sh: warm medians and the fresh JVM's ratios, without corosync. */
@UnitTest
class BenchReportTest {
    private static String run(int pair, String impl, String mode, String jvm, double msgsPerSecond, double cpu) {
        return String.format(java.util.Locale.ROOT,
                "{\"pair\":%d,\"order\":1,\"impl\":\"%s\",\"mode\":\"%s\",\"size\":64,\"count\":1000,%s\"exit\":0,"
                        + "\"result\":{\"impl\":\"%s\",\"mode\":\"%s\",\"size\":64,\"count\":1000,\"msgs_per_s\":%.1f,"
                        + "\"client_cpu_us_per_msg\":%.2f,\"daemon_cpu_us_per_msg\":20.0}}",
                pair, impl, mode, jvm == null ? "" : "\"jvm\":\"" + jvm + "\",", impl, mode, msgsPerSecond, cpu);
    }

    @Test
    void javaMediansAreOfTheWarmRunsAndTheFreshRunIsReportedApart(@TempDir Path dir) throws Exception {
        Map<String, Object> doc = report(dir,
                run(1, "c", "copy", null, 1000, 5),
                run(1, "java", "copy", "fresh", 100, 50),
                run(2, "c", "copy", null, 2000, 5),
                run(2, "java", "copy", "warm", 900, 6),
                run(3, "c", "copy", null, 3000, 5),
                run(3, "java", "copy", "warm", 1100, 6));
        Map<String, Object> c = find(doc.get("medians"), "c");
        Map<String, Object> java = find(doc.get("medians"), "java");
        assertThat(BenchReport.num(c.get("msgs_per_s")).doubleValue()).as("C: every pair").isEqualTo(2000);
        assertThat(BenchReport.num(java.get("msgs_per_s")).doubleValue()).as("Java: the warm runs only").isEqualTo(1000);
        assertThat(BenchReport.num(java.get("runs")).intValue()).isEqualTo(2);
        Map<String, Object> fresh = find(doc.get("fresh_jvm_medians"), "java");
        assertThat(BenchReport.num(fresh.get("msgs_per_s")).doubleValue()).isEqualTo(100);
        assertThat(find(doc.get("fresh_jvm_medians"), "c")).as("C has no fresh JVM").isNull();

        Map<?, ?> ratio = (Map<?, ?>) ((List<?>) doc.get("ratios")).get(0);
        assertThat(BenchReport.num(ratio.get("msgs_per_s")).doubleValue()).isEqualTo(0.5);
        assertThat(BenchReport.num(ratio.get("fresh_jvm_msgs_per_s")).doubleValue()).isEqualTo(0.05);
        assertThat(BenchReport.num(ratio.get("fresh_jvm_client_cpu_us_per_msg")).doubleValue()).isEqualTo(10.0);
    }

    @Test
    void stubsAreComparedWithCAndJcpgWithTheStubs(@TempDir Path dir) throws Exception {
        Map<String, Object> doc = report(dir,
                run(1, "c", "copy", null, 1000, 4),
                run(1, "java", "copy", "warm", 800, 6),
                run(1, "java", "stubs", "warm", 900, 5));
        Map<?, ?> stubs = null;
        for (Object r : (List<?>) doc.get("ratios")) {
            if ("stubs".equals(((Map<?, ?>) r).get("java_mode"))) {
                stubs = (Map<?, ?>) r;
            }
        }
        assertThat(stubs).isNotNull();
        assertThat(stubs.get("c_mode")).isEqualTo("copy");
        assertThat(BenchReport.num(stubs.get("msgs_per_s")).doubleValue()).isEqualTo(0.9);
        Map<?, ?> layers = (Map<?, ?>) ((List<?>) doc.get("jcpg_over_stubs")).get(0);
        assertThat(BenchReport.num(layers.get("msgs_per_s")).doubleValue()).isCloseTo(800 / 900.0, within(1e-6));
        assertThat(BenchReport.num(layers.get("client_cpu_us_per_msg")).doubleValue()).isEqualTo(1.2);
    }

    /** Runs the report on these run records; returns the JSON document it wrote. */
    private static Map<String, Object> report(Path dir, String... runs) throws Exception {
        Path info = Files.writeString(dir.resolve("info.txt"), "date=2026-12-03\nmachine.nproc=2\nparameters.pairs=2\n");
        Path records = Files.writeString(dir.resolve("runs.jsonl"), String.join("\n", runs) + "\n");
        BenchReport.main(new String[] {info.toString(), records.toString(), dir.resolve("out").toString()});
        return BenchReport.Json.object(BenchReport.Json.parse(Files.readString(dir.resolve("out.json"))));
    }

    private static Map<String, Object> find(Object medians, String impl) {
        for (Object m : (List<?>) medians) {
            Map<String, Object> median = BenchReport.Json.object(m);
            if (impl.equals(median.get("impl"))) {
                return median;
            }
        }
        return null;
    }
}
