package org.jcpg.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.jcpg.cluster.FaultSchedule.Fault;
import org.jcpg.cluster.FaultSchedule.Kind;
import org.jcpg.testsupport.UnitTest;
import org.junit.jupiter.api.Test;

/**
 * The seeds and schedules of the cluster tests: the same seed gives the same schedule (what a
 * replay needs), another seed another one; the seed property reads decimal and 0x hex and
 * fails loudly on anything else.
 */
@UnitTest
class FaultScheduleTest {
    @Test
    void theSameSeedGivesTheSameScheduleAndAnotherSeedAnother() {
        assertThat(FaultSchedule.mixed(42, 14, 3)).isEqualTo(FaultSchedule.mixed(42, 14, 3));
        assertThat(FaultSchedule.mixed(42, 14, 3).describe()).isEqualTo(FaultSchedule.mixed(42, 14, 3).describe());
        assertThat(FaultSchedule.mixed(43, 14, 3).faults()).isNotEqualTo(FaultSchedule.mixed(42, 14, 3).faults());
        assertThat(FaultSchedule.killPartitionKill(7)).isEqualTo(FaultSchedule.killPartitionKill(7));
        assertThat(java.util.stream.LongStream.range(0, 20).mapToObj(FaultSchedule::killPartitionKill)
                .map(FaultSchedule::faults).distinct()).hasSizeGreaterThan(1);
    }

    @Test
    void schedulesStayInTheirRanges() {
        for (long seed = 0; seed < 50; seed++) {
            FaultSchedule mixed = FaultSchedule.mixed(seed, 14, 3);
            assertThat(mixed.faults()).hasSize(14).allSatisfy(f -> {
                assertThat(f.node()).isBetween(1, 3);
                assertThat(f.holdMs()).isBetween(1_500L, 3_499L);
                assertThat(f.pauseMs()).isBetween(1_000L, 2_999L);
            });
            FaultSchedule kpk = FaultSchedule.killPartitionKill(seed);
            assertThat(kpk.faults()).extracting(Fault::kind)
                    .containsExactly(Kind.KILL_RESTART, Kind.PARTITION_HEAL, Kind.KILL_RESTART);
            assertThat(kpk.faults()).extracting(Fault::node).containsExactlyInAnyOrder(1, 2, 3);
        }
        assertThat(FaultSchedule.mixed(5, 2, 3).describe()).startsWith("fault schedule from seed 5:\n   1. ");
    }

    @Test
    void theSeedPropertyReadsDecimalAndHexAndRefusesGarbage() {
        assertThat(RunSeed.parse("1234")).isEqualTo(1234);
        assertThat(RunSeed.parse(" 0x5EEDC0DE ")).isEqualTo(0x5EEDC0DEL);
        assertThat(RunSeed.parse("-3")).isEqualTo(-3);
        assertThatThrownBy(() -> RunSeed.parse("seed")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("-Djcpg.vs.seed=seed");
        RunSeed seed = new RunSeed(99, true);
        assertThat(seed.replay(FaultScheduleTest.class))
                .isEqualTo("scripts/test.sh -Dtest=FaultScheduleTest -Djcpg.vs.seed=99");
        assertThat(seed).hasToString("jcpg.vs.seed=99 (from the property)");
    }

    @Test
    void withoutThePropertyEachRunDrawsAnotherSeed() {
        String before = System.clearProperty(RunSeed.PROPERTY);
        try {
            RunSeed a = RunSeed.fromPropertyOrFresh();
            RunSeed b = RunSeed.fromPropertyOrFresh();
            assertThat(a.given()).isFalse();
            assertThat(a.value()).isNotNegative().isNotEqualTo(b.value());
            System.setProperty(RunSeed.PROPERTY, "0x10");
            assertThat(RunSeed.fromPropertyOrFresh()).isEqualTo(new RunSeed(16, true));
        } finally {
            if (before == null) {
                System.clearProperty(RunSeed.PROPERTY);
            } else {
                System.setProperty(RunSeed.PROPERTY, before);
            }
        }
    }
}
