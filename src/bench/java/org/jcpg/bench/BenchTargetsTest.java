package org.jcpg.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.jcpg.testsupport.UnitTest;
import org.junit.jupiter.api.Test;

/** The targets that scripts/bench/bench.sh reports, checked on made-up medians, without corosync. */
@UnitTest
class BenchTargetsTest {
    private final Map<String, Map<String, Object>> medians = new HashMap<>();

    private void median(int size, String impl, String mode, double msgsPerSecond, double cpu, Double alloc) {
        Map<String, Object> m = new HashMap<>();
        m.put("msgs_per_s", msgsPerSecond);
        m.put("client_cpu_us_per_msg", cpu);
        if (alloc != null) {
            m.put("alloc_bytes_per_msg", alloc);
        }
        medians.put(BenchReport.key(size, impl, mode), m);
    }

    private static Map<String, Object> row(List<Map<String, Object>> rows, int size, String mode, String target) {
        return rows.stream().filter(r -> r.get("size").equals(size) && r.get("mode").equals(mode)
                && r.get("target").toString().startsWith(target)).findFirst().orElse(null);
    }

    @Test
    void eachTargetIsMetOrMissedByItsBoundWithTheStubsBeside() {
        median(64, "c", "copy", 1000, 4, null);
        median(64, "java", "copy", 980, 5.2, 0.0);
        median(64, "java", "stubs", 900, 4.4, 2.0);
        median(8192, "c", "copy", 1000, 4, null);
        median(8192, "java", "copy", 960, 4.6, 1.0);
        median(8192, "c", "zerocopy", 500, 10, null);
        median(8192, "java", "zerocopy", 500, 11, 0.0);
        List<Map<String, Object>> rows = BenchTargets.check(List.of(64, 8192), medians);

        Map<String, Object> rate = row(rows, 64, "copy", "msgs/s");
        assertThat((Double) rate.get("value")).isCloseTo(0.98, within(1e-9));
        assertThat(rate.get("met")).isEqualTo(true);
        assertThat((Double) rate.get("stubs")).as("the stubs against C").isCloseTo(0.9, within(1e-9));

        Map<String, Object> cpu = row(rows, 64, "copy", "client CPU");
        assertThat(cpu.get("bound")).as("64 B").isEqualTo(BenchTargets.CPU_SMALL);
        assertThat((Double) cpu.get("value")).isCloseTo(1.3, within(1e-9));
        assertThat(cpu.get("met")).isEqualTo(false);
        assertThat(BenchTargets.meets(cpu, (Double) cpu.get("stubs"))).as("the stubs' 1.1").isTrue();

        assertThat(row(rows, 8192, "copy", "msgs/s").get("met")).isEqualTo(false);
        assertThat(row(rows, 8192, "copy", "client CPU").get("bound")).as("8 KiB").isEqualTo(BenchTargets.CPU_LARGE);
        assertThat(row(rows, 8192, "copy", "client CPU").get("met")).as("1.15").isEqualTo(false);
        assertThat(row(rows, 8192, "copy", "alloc").get("met")).as("1 byte is not less than 1").isEqualTo(false);
        assertThat(row(rows, 64, "copy", "alloc").get("met")).isEqualTo(true);
        assertThat(row(rows, 8192, "zerocopy", "msgs/s").get("met")).isEqualTo(true);
        assertThat(row(rows, 8192, "zerocopy", "client CPU").get("met")).as("exactly 1.10").isEqualTo(true);
        assertThat(row(rows, 8192, "zerocopy", "client CPU").get("stubs")).as("no stubs mode for zero-copy").isNull();
        assertThat(row(rows, 64, "zerocopy", "msgs/s")).as("no zero-copy runs at 64 B").isNull();
    }

    @Test
    void aMissTooSmallToShowIsNotShownAsZero() {
        assertThat(BenchTargets.by(2, 0.114)).isEqualTo("0.11");
        assertThat(BenchTargets.by(2, 0.004)).isEqualTo("<0.01");
        assertThat(BenchTargets.by(1, 0.04)).isEqualTo("<0.1");
    }
}
