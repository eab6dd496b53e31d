package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;

import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.Recorder;
import org.jcpg.testsupport.SuiteDaemon;
import org.junit.jupiter.api.Test;

@NodeTest
class SmokeTest {
    @Test
    void joinsSendsAndReceivesItsOwnMessage() {
        Recorder recorder = new Recorder();
        GroupName group = SuiteDaemon.uniqueGroup("smoke");
        try (CpgConnection cpg = CpgConnection.open(recorder)) {
            cpg.join(group);
            cpg.multicast(Guarantee.AGREED, "hello".getBytes());
            SuiteDaemon.dispatchUntil(() -> recorder.messages.size() == 1, cpg);
            Recorder.Received received = recorder.messages.get(0);
            assertThat(received.group()).isEqualTo(group);
            assertThat(received.pid()).isEqualTo((int) SuiteDaemon.OWN_PID);
            assertThat(received.nodeId()).isEqualTo(cpg.localNodeId());
            assertThat(new String(received.payload())).isEqualTo("hello");
        }
    }
}
