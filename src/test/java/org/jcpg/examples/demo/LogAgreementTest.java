package org.jcpg.examples.demo;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jcpg.examples.demo.LogAgreement.Entry;
import org.jcpg.testsupport.UnitTest;
import org.junit.jupiter.api.Test;

/** The demo's agreement check finds each way logs can disagree, and the demo then exits 1. */
@UnitTest
class LogAgreementTest {
    private static List<Entry> log(String... lines) {
        List<Entry> log = new ArrayList<>();
        for (String line : lines) {
            log.add(LogAgreement.parse(line));
        }
        return log;
    }

    private static Map<String, List<Entry>> logs(List<Entry> a, List<Entry> b) {
        Map<String, List<Entry>> logs = new LinkedHashMap<>();
        logs.put("m1", a);
        logs.put("m2", b);
        return logs;
    }

    private static final List<Entry> GOOD = log("VIEW 1 members=1/10", "APPLY 1 1/10 1 put:a=1", "VIEW 2 members=1/10,1/11",
            "APPLY 2 1/11 1 put:b=2", "APPLY 3 1/10 2 put:c=3");

    @Test
    void agreeingLogsStartingAtDifferentPointsPass() {
        List<Entry> joiner = log("VIEW 2 members=1/10,1/11", "APPLY 2 1/11 1 put:b=2", "APPLY 3 1/10 2 put:c=3");
        assertThat(LogAgreement.check(logs(GOOD, joiner))).isEmpty();
        List<String> said = new ArrayList<>();
        assertThat(Demo.verdict(logs(GOOD, joiner), List.of("d1", "d1"), (who, text) -> said.add(text))).isZero();
        assertThat(said).singleElement().asString().startsWith("yes: 2 logs, 3 updates");
    }

    @Test
    void differentOrderFails() {
        List<Entry> swapped = log("VIEW 1 members=1/10", "APPLY 1 1/10 1 put:a=1", "VIEW 2 members=1/10,1/11",
                "APPLY 2 1/10 2 put:c=3", "APPLY 3 1/11 1 put:b=2");
        assertThat(LogAgreement.check(logs(GOOD, swapped)))
                .contains("position 2: m1 applied 1/11:1, m2 applied 1/10:2");
        List<String> said = new ArrayList<>();
        assertThat(Demo.verdict(logs(GOOD, swapped), List.of("d1", "d1"), (who, text) -> said.add(text))).isEqualTo(1);
        assertThat(said).anyMatch(s -> s.startsWith("DISAGREE: position 2"));
    }

    @Test
    void lostDuplicatedAndViewDifferencesFail() {
        List<Entry> lost = log("APPLY 1 1/10 1 put:a=1", "APPLY 3 1/10 2 put:c=3");
        assertThat(LogAgreement.check(logs(GOOD, lost))).contains("m2: position 3 follows position 1 (updates lost)");
        List<Entry> twice = log("APPLY 1 1/10 1 put:a=1", "APPLY 2 1/10 1 put:a=1");
        assertThat(LogAgreement.check(logs(GOOD, twice))).contains("m2: update 1/10:1 applied twice");
        List<Entry> otherView = log("VIEW 1 members=1/10", "VIEW 2 members=1/10,1/12");
        assertThat(LogAgreement.check(logs(GOOD, otherView))).contains("view 2: m1 has members=1/10,1/11, m2 has members=1/10,1/12");
    }

    @Test
    void differentDigestsFail() {
        assertThat(Demo.verdict(logs(GOOD, GOOD), List.of("d1", "d2"), (who, text) -> { })).isEqualTo(1);
    }
}
