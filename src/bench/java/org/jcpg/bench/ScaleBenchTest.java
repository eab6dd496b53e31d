package org.jcpg.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.jcpg.testsupport.UnitTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The result handling of scripts/bench/bench-scale.sh, without corosync. */
@UnitTest
class ScaleBenchTest {
    @Test
    void readsNumberFieldsOfAFlatJsonLine() {
        String line = "{\"connections\":4,\"msgs_per_s\":1234.5,\"client_cpu_us_per_msg\":-0.25,\"senders\":[{\"msgs_per_s\":1.0}]}";
        assertThat(ScaleBench.number(line, "connections")).isEqualTo(4.0);
        assertThat(ScaleBench.number(line, "msgs_per_s")).as("the first occurrence, the aggregate").isEqualTo(1234.5);
        assertThat(ScaleBench.number(line, "client_cpu_us_per_msg")).isEqualTo(-0.25);
        assertThat(ScaleBench.number(line, "missing")).isNaN();
    }

    @Test
    void medianOfOddAndEvenCounts() {
        assertThat(ScaleBench.median(List.of("{\"x\":3}", "{\"x\":1}", "{\"x\":2}"), "x")).isEqualTo(2.0);
        assertThat(ScaleBench.median(List.of("{\"x\":4}", "{\"x\":1}"), "x")).isEqualTo(2.5);
    }

    @Test
    void reportWritesEveryRunAndTheMachineAsJson(@TempDir Path dir) throws Throwable {
        Path info = Files.writeString(dir.resolve("info.txt"), "date=2026-11-23\nmachine.model_name=CPU \"X\"\n");
        Path runs = Files.writeString(dir.resolve("runs.jsonl"), String.join("\n",
                "{\"connections\":1,\"size\":1024,\"msgs_per_s\":100.0,\"client_cpu_us_per_msg\":10.00,"
                        + "\"daemon_cpu_us_per_msg\":20.00,\"daemon_cores\":1.00}",
                "{\"connections\":2,\"size\":1024,\"msgs_per_s\":150.0,\"client_cpu_us_per_msg\":12.00,"
                        + "\"daemon_cpu_us_per_msg\":22.00,\"daemon_cores\":1.10}",
                "{\"mode\":\"open\",\"connections\":10,\"heap_bytes_per_conn\":3000}") + "\n");
        Path out = dir.resolve("out.json");
        ScaleBench.main(new String[] {"report", info.toString(), runs.toString(), out.toString()});
        String json = Files.readString(out);
        assertThat(json).startsWith("{\"info\":{\"date\":\"2026-11-23\",\"machine.model_name\":\"CPU \\\"X\\\"\"}")
                .contains("\"throughput\":[{\"connections\":1,", "{\"connections\":2,")
                .contains("\"memory\":[{\"mode\":\"open\",\"connections\":10,");
    }
}
