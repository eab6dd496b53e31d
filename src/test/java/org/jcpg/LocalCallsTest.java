package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.jcpg.internal.stubs.cpg_h;
import org.jcpg.testsupport.NodeTest;
import org.jcpg.testsupport.Recorder;
import org.jcpg.testsupport.SuiteDaemon;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Calls answered locally (node id, sizes, fd, context) and the numeric codes of the enums. */
@NodeTest
class LocalCallsTest {

    private static int stub(String constant) {
        try {
            return (int) cpg_h.class.getMethod(constant).invoke(null);
        } catch (ReflectiveOperationException e) {
            throw new AssertionError("no constant " + constant + " in cpg_h", e);
        }
    }

    private static List<String> stubConstants(String prefix) {
        return Arrays.stream(cpg_h.class.getMethods())
                .filter(m -> m.getName().startsWith(prefix) && m.getParameterCount() == 0
                        && m.getReturnType() == int.class)
                .map(Method::getName).toList();
    }

    @Test
    @Timeout(30)
    void localQueries() {
        try (CpgConnection cpg = CpgConnection.open(new Recorder())) {
            assertThat(cpg.localNodeId()).isEqualTo(1L);
            assertThat(cpg.maxAtomicMessageSize()).isEqualTo(1047552);
            assertThat(cpg.flowControlState()).isEqualTo(FlowControlState.DISABLED);
            cpg.join(SuiteDaemon.uniqueGroup("local-queries"));
            assertThat(cpg.flowControlState()).isEqualTo(FlowControlState.DISABLED);
            assertThat(cpg.localNodeId()).isEqualTo(1L);
        }
    }

    @Test
    @Timeout(30)
    void fdIsOpenAndStable() {
        Recorder recorder = new Recorder();
        CpgConnection cpg = CpgConnection.open(recorder);
        int fd;
        try (CpgConnection other = CpgConnection.open(new Recorder())) {
            fd = cpg.fd();
            assertThat(fd).isNotNegative();
            assertThat(Files.exists(Path.of("/proc/self/fd/" + fd), java.nio.file.LinkOption.NOFOLLOW_LINKS)).isTrue();
            assertThat(other.fd()).isNotEqualTo(fd);
            GroupName group = SuiteDaemon.uniqueGroup("local-fd");
            cpg.join(group);
            cpg.multicast(Guarantee.AGREED, new byte[] {1});
            SuiteDaemon.dispatchUntil(() -> recorder.messages.size() == 1, cpg);
            assertThat(cpg.fd()).isEqualTo(fd);
            cpg.groups();
            cpg.membership(group);
            assertThat(cpg.fd()).isEqualTo(fd);
        } finally {
            cpg.close();
        }
        assertThatThrownBy(cpg::fd).isInstanceOf(IllegalStateException.class);
    }

    @Test
    @Timeout(30)
    void contextIsPerConnection() {
        try (CpgConnection first = CpgConnection.open(new Recorder());
             CpgConnection second = CpgConnection.open(new Recorder())) {
            assertThat(first.context()).isNull();
            assertThat(second.context()).isNull();
            Object state = new Object();
            first.setContext(state);
            assertThat(first.context()).isSameAs(state);
            assertThat(second.context()).isNull();
            Object otherState = new StringBuilder("second");
            second.setContext(otherState);
            assertThat(first.context()).isSameAs(state);
            assertThat(second.context()).isSameAs(otherState);
            first.setContext(null);
            assertThat(first.context()).isNull();
            assertThat(second.context()).isSameAs(otherState);
        }
    }

    @Test
    @Timeout(30)
    void callbacksGetTheSameConnectionAndItsContext() {
        List<Object> connections = new CopyOnWriteArrayList<>();
        List<Object> contexts = new CopyOnWriteArrayList<>();
        CpgListener listener = new CpgListener() {
            @Override
            public void onMessage(CpgConnection connection, Message message) {
                connections.add(connection);
                contexts.add(connection.context());
            }

            @Override
            public void onMembershipChange(CpgConnection connection, MembershipChange change) {
                connections.add(connection);
                contexts.add(connection.context());
            }

            @Override
            public void onTotemChange(CpgConnection connection, TotemChange change) {
                connections.add(connection);
                contexts.add(connection.context());
            }
        };
        Object state = new Object();
        try (CpgConnection cpg = CpgConnection.open(listener, ModelFlag.DELIVER_INITIAL_TOTEM_CONF);
             CpgConnection bystander = CpgConnection.open(listener)) {
            cpg.setContext(state);
            bystander.setContext("bystander");
            cpg.join(SuiteDaemon.uniqueGroup("local-ctx"));
            cpg.multicast(Guarantee.AGREED, "x".getBytes());
            // JOIN, message, initial totem: three callbacks
            SuiteDaemon.dispatchUntil(() -> connections.size() >= 3, cpg, bystander);
            assertThat(connections).hasSize(3).allSatisfy(c -> assertThat(c).isSameAs(cpg));
            assertThat(contexts).hasSize(3).allSatisfy(c -> assertThat(c).isSameAs(state));
        }
    }

    @Test
    @Timeout(10)
    void errorCodesMatchCorosync() {
        for (CpgError error : CpgError.values()) {
            if (error == CpgError.UNKNOWN) {
                continue;
            }
            assertThat(error.code()).as(error.name()).isEqualTo(stub("CS_ERR_" + error.name()));
            assertThat(CpgError.of(error.code())).isSameAs(error);
            assertThat(error.isRetryable()).as(error.name())
                    .isEqualTo(error == CpgError.TRY_AGAIN || error == CpgError.INTERRUPT);
        }
        // and every CS_ERR_ of the header has its constant
        assertThat(stubConstants("CS_ERR_")).map(name -> name.substring("CS_ERR_".length()))
                .containsExactlyInAnyOrderElementsOf(Arrays.stream(CpgError.values())
                        .filter(e -> e != CpgError.UNKNOWN).map(Enum::name).toList());
        assertThat(cpg_h.CS_OK()).isEqualTo(1);
        for (int notAnError : new int[] {1, 29, 0, -1, 31, 99, 101}) {
            assertThat(CpgError.of(notAnError)).as("CpgError.of(%d)", notAnError).isEqualTo(CpgError.UNKNOWN);
        }
    }

    @Test
    @Timeout(10)
    void guaranteeDispatchReasonAndFlagCodesMatchCorosync() {
        for (Guarantee guarantee : Guarantee.values()) {
            assertThat(guarantee.code()).as(guarantee.name()).isEqualTo(stub("CPG_TYPE_" + guarantee.name()));
        }
        assertThat(stubConstants("CPG_TYPE_")).hasSize(Guarantee.values().length);
        for (DispatchMode mode : DispatchMode.values()) {
            assertThat(mode.code()).as(mode.name()).isEqualTo(stub("CS_DISPATCH_" + mode.name()));
        }
        assertThat(stubConstants("CS_DISPATCH_")).hasSize(DispatchMode.values().length);
        for (Reason reason : Reason.values()) {
            assertThat(reason.code()).as(reason.name()).isEqualTo(stub("CPG_REASON_" + reason.name()));
            assertThat(Reason.of(reason.code())).isSameAs(reason);
        }
        assertThat(stubConstants("CPG_REASON_")).hasSize(Reason.values().length);
        for (int unknown : new int[] {-1, 6, 7, 100, Integer.MAX_VALUE, Integer.MIN_VALUE}) {
            assertThat(Reason.of(unknown)).as("Reason.of(%d)", unknown).isEqualTo(Reason.UNDEFINED);
        }
        assertThat(ModelFlag.DELIVER_INITIAL_TOTEM_CONF.bit()).isEqualTo(cpg_h.CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF());
        assertThat(FlowControlState.values()).hasSize(stubConstants("CPG_FLOW_CONTROL_").size());
    }

    @Test
    @Timeout(30)
    void zeroCopyBuffersAboveTheAtomicSizeAreRefusedBeforeLibcpg() {
        try (CpgConnection cpg = CpgConnection.open(new Recorder())) {
            cpg.join(SuiteDaemon.uniqueGroup("local-toobig"));
            // corosync would accept sends just under 1 MiB and drop them; libcpg aborts on absurd sizes
            for (long size : new long[] {cpg.maxAtomicMessageSize() + 1L, 1L << 20, 2L << 20, Long.MAX_VALUE, 0, -1}) {
                assertThatIllegalArgumentException().as("size %d", size)
                        .isThrownBy(() -> cpg.allocateZeroCopy(size))
                        .withMessageContaining(String.valueOf(cpg.maxAtomicMessageSize()));
            }
            // the connection is still fine
            assertThat(cpg.localNodeId()).isEqualTo(1L);
        }
    }

    @Test
    @Timeout(30)
    void joinRefusedByTheDaemonThrowsCpgException() {
        GroupName group = SuiteDaemon.uniqueGroup("local-exist");
        try (CpgConnection first = CpgConnection.open(new Recorder());
             CpgConnection second = CpgConnection.open(new Recorder())) {
            first.join(group);
            assertThatThrownBy(() -> second.join(group))
                    .isInstanceOfSatisfying(CpgException.class, e -> {
                        assertThat(e.error()).isEqualTo(CpgError.EXIST);
                        assertThat(e.code()).isEqualTo(14);
                        assertThat(e.operation()).isEqualTo("cpg_join");
                        assertThat(e.getMessage()).isEqualTo("cpg_join failed: CS_ERR_EXIST (14)");
                        assertThat(e.isRetryable()).isFalse();
                    });
        }
    }
}
