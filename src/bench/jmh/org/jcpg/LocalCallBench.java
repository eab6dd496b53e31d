package org.jcpg;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import org.jcpg.internal.stubs.cpg_callbacks_t;
import org.jcpg.internal.stubs.cpg_h;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * A call that libcpg answers without asking the daemon, three ways: through
 * jcpg's public API, through the raw jextract stub on a handle of our own,
 * and (outside JMH) from C, src/bench/c/cpglocal.c. Needs a running corosync
 * in this network namespace (scripts/bench/bench-jmh.sh starts a private one).
 *
 * <p>{@code maxAtomicMessageSize()} returns the value jcpg read once when it
 * connected, so its public figure is a field read, not a libcpg call;
 * {@code flowControlState()} calls libcpg each time.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class LocalCallBench {
    private CpgConnection connection;
    private Arena arena;
    private MemorySegment out;
    private long rawHandle;

    @Setup
    public void connect() {
        connection = CpgConnection.open(new CpgListener() { });
        arena = Arena.ofConfined();
        out = arena.allocate(JAVA_INT);
        MemorySegment handleOut = arena.allocate(JAVA_LONG);
        // No callbacks: this handle is never dispatched.
        int rc = cpg_h.cpg_initialize(handleOut, cpg_callbacks_t.allocate(arena));
        if (rc != cpg_h.CS_OK()) {
            throw new IllegalStateException("cpg_initialize failed: " + rc);
        }
        rawHandle = handleOut.get(JAVA_LONG, 0);
    }

    @TearDown
    public void disconnect() {
        cpg_h.cpg_finalize(rawHandle);
        arena.close();
        connection.close();
    }

    @Benchmark
    public int publicMaxAtomicMessageSize() {
        return connection.maxAtomicMessageSize();
    }

    @Benchmark
    public FlowControlState publicFlowControlState() {
        return connection.flowControlState();
    }

    @Benchmark
    public int stubMaxAtomicMsgsizeGet() {
        int rc = cpg_h.cpg_max_atomic_msgsize_get(rawHandle, out);
        return rc + out.get(JAVA_INT, 0);
    }

    @Benchmark
    public int stubFlowControlStateGet() {
        int rc = cpg_h.cpg_flow_control_state_get(rawHandle, out);
        return rc + out.get(JAVA_INT, 0);
    }
}
