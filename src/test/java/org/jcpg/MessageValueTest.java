package org.jcpg;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.Payloads;
import org.jcpg.testsupport.SuiteDaemon;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A delivered message's payload cannot be written, and each delivery is a value of its own. */
@NodeTest
class MessageValueTest {
    static final class Keeper implements CpgListener {
        final List<Message> messages = new CopyOnWriteArrayList<>();
        final List<Boolean> readOnly = new CopyOnWriteArrayList<>();
        final List<Boolean> bufferReadOnly = new CopyOnWriteArrayList<>();
        final List<Throwable> writeOutcomes = new CopyOnWriteArrayList<>();
        final List<byte[]> afterWrite = new CopyOnWriteArrayList<>();

        @Override
        public void onMessage(CpgConnection connection, Message message) {
            messages.add(message);
            readOnly.add(message.payload().isReadOnly());
            bufferReadOnly.add(message.payload().asByteBuffer().isReadOnly());
            Throwable outcome = null;
            try {
                message.payload().set(JAVA_BYTE, 0, (byte) 0x5a);
            } catch (RuntimeException e) {
                outcome = e;
            }
            writeOutcomes.add(outcome == null ? new AssertionError("the write succeeded") : outcome);
            afterWrite.add(message.toByteArray());
        }
    }

    /** Two deliveries of the same 64 bytes from this process. */
    private static Keeper deliverTwice(byte[] content) {
        Keeper keeper = new Keeper();
        try (CpgConnection cpg = CpgConnection.open(keeper)) {
            cpg.join(SuiteDaemon.uniqueGroup("values"));
            cpg.multicast(Guarantee.AGREED, content);
            cpg.multicast(Guarantee.AGREED, content);
            SuiteDaemon.dispatchUntil(() -> keeper.messages.size() == 2, cpg);
        }
        return keeper;
    }

    @Test
    @Timeout(60)
    void payloadIsReadOnly() {
        byte[] content = Payloads.pattern(11, 64);
        Keeper keeper = deliverTwice(content);
        assertThat(keeper.readOnly).containsExactly(true, true);
        assertThat(keeper.bufferReadOnly).containsExactly(true, true);
        assertThat(keeper.writeOutcomes).allSatisfy(t -> assertThat(t).isNotInstanceOf(AssertionError.class));
        assertThat(keeper.afterWrite).allSatisfy(bytes -> assertThat(bytes).isEqualTo(content));
    }

    @Test
    @Timeout(60)
    void equalDeliveriesAreNotEqual() {
        Keeper keeper = deliverTwice(Payloads.pattern(12, 64));
        Message first = keeper.messages.get(0);
        Message second = keeper.messages.get(1);
        assertThat(first.group()).isEqualTo(second.group());
        assertThat(first.pid()).isEqualTo(second.pid());
        assertThat(first.nodeId()).isEqualTo(second.nodeId());
        assertThat(first).isNotEqualTo(second);
        assertThat(first).isEqualTo(first);
    }
}
