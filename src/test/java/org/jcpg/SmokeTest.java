package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;

import org.jcpg.testsupport.NodeTest;
import org.junit.jupiter.api.Test;

@NodeTest
class SmokeTest {
    @Test
    void joinsSendsAndReceivesItsOwnMessage() {
        Recorder recorder = new Recorder();
        GroupName group = Daemon.uniqueGroup("smoke");
        try (CpgConnection cpg = CpgConnection.open(recorder)) {
            cpg.join(group);
            cpg.multicast(Guarantee.AGREED, "hello".getBytes());
            Daemon.dispatchUntil(() -> recorder.messages.size() == 1, cpg);
            Recorder.Received received = recorder.messages.get(0);
            assertThat(received.group()).isEqualTo(group);
            assertThat(received.pid()).isEqualTo((int) Daemon.PID);
            assertThat(received.nodeId()).isEqualTo(cpg.localNodeId());
            assertThat(new String(received.payload())).isEqualTo("hello");
        }
    }
}
