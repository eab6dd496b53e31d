package org.jcpg;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.jcpg.internal.Upcalls;
import org.jcpg.internal.stubs.cpg_name;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * One message delivery as libcpg's dispatch makes it: C calls the deliver
 * function pointer (src/bench/c/upcallshim.c, a loop of {@value #CALLS}
 * calls, path in {@code -Djcpg.bench.upcallShim}) with a group name, node
 * id, pid and a 64-byte payload in native memory. No daemon in the path,
 * but a connection is open (needs corosync) so that the delivery runs
 * through that connection's real {@code Dispatcher}, outside a dispatch.
 *
 * <ul>
 * <li>{@code cCallback}: the floor, C calling a C function;
 * <li>{@code upcallEmpty}: an upcall stub of {@link Upcalls} whose target does nothing;
 * <li>{@code upcallDeliver}: the connection's upcall target (group name check, payload
 *     view, {@code Message}, the listener, which reads the length and a byte, as a
 *     callback that does not copy would);
 * <li>{@code javaDeliver}: the same target called from Java, i.e. without the upcall transition.
 * </ul>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class UpcallBench {
    static final int CALLS = 1000;
    static final int PAYLOAD = 64;

    private CpgConnection connection;
    private Arena arena;
    private MethodHandle deliverLoop;
    private MemorySegment cCallback;
    private MemorySegment emptyStub;
    private MemorySegment deliverStub;
    private MemorySegment group;
    private MemorySegment payload;
    // What an upcall receives: zero-length segments of the global scope at the same addresses.
    private MemorySegment groupAsPassed;
    private MemorySegment payloadAsPassed;
    private Upcalls.Target dispatcher;
    long sink;

    @Setup
    public void setUp() {
        arena = Arena.ofShared();
        SymbolLookup shim = SymbolLookup.libraryLookup(shimPath(), arena);
        Linker linker = Linker.nativeLinker();
        deliverLoop = linker.downcallHandle(shim.find("jcpgbench_deliver_loop").orElseThrow(),
                FunctionDescriptor.ofVoid(ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG));
        cCallback = shim.find("jcpgbench_noop_deliver").orElseThrow();
        connection = CpgConnection.open(new CpgListener() {
            @Override
            public void onEvent(CpgConnection c, CpgEvent event) {
                if (event instanceof Message message) {
                    sink += message.length() + message.payload().get(JAVA_BYTE, 0);
                }
            }
        });
        dispatcher = connection.core().dispatcher();
        deliverStub = Upcalls.allocate(dispatcher, arena).deliver();
        emptyStub = Upcalls.allocate(new Upcalls.Target() {
            @Override
            public void deliver(long groupName, int nodeId, int pid, long message, long length) {
                sink += length;
            }

            @Override
            public void confchg(MemorySegment groupName, MemorySegment members, long memberCount,
                                MemorySegment left, long leftCount, MemorySegment joined, long joinedCount) {
            }

            @Override
            public void totemConfchg(MemorySegment ringId, int memberCount, MemorySegment members) {
            }

            @Override
            public void failed(Throwable failure) {
            }
        }, arena).deliver();
        group = nativeName(arena, "bench");
        payload = arena.allocate(PAYLOAD, 16);
        payload.fill((byte) 0xA5);
        groupAsPassed = MemorySegment.ofAddress(group.address());
        payloadAsPassed = MemorySegment.ofAddress(payload.address());
    }

    @TearDown
    public void tearDown() {
        connection.close();
        // The stubs stay valid: the arena (and the shim) outlive every call, and this JVM ends after the run.
    }

    static String shimPath() {
        String path = System.getProperty("jcpg.bench.upcallShim");
        if (path == null) {
            throw new IllegalStateException("-Djcpg.bench.upcallShim=PATH of libjcpgupcallshim.so is not set"
                    + " (scripts/bench/bench-jmh.sh builds it from src/bench/c/upcallshim.c)");
        }
        return path;
    }

    static MemorySegment nativeName(Arena arena, String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        MemorySegment name = cpg_name.allocate(arena);
        cpg_name.length(name, bytes.length);
        MemorySegment.copy(bytes, 0, name, JAVA_BYTE, 4, bytes.length);
        return name;
    }

    @Benchmark
    @OperationsPerInvocation(CALLS)
    public void cCallback() throws Throwable {
        deliverLoop.invokeExact(cCallback, group, payload, (long) PAYLOAD, (long) CALLS);
    }

    @Benchmark
    @OperationsPerInvocation(CALLS)
    public void upcallEmpty() throws Throwable {
        deliverLoop.invokeExact(emptyStub, group, payload, (long) PAYLOAD, (long) CALLS);
    }

    @Benchmark
    @OperationsPerInvocation(CALLS)
    public void upcallDeliver() throws Throwable {
        deliverLoop.invokeExact(deliverStub, group, payload, (long) PAYLOAD, (long) CALLS);
    }

    @Benchmark
    public long javaDeliver() {
        dispatcher.deliver(groupAsPassed.address(), 1, 4242, payloadAsPassed.address(), PAYLOAD);
        return sink;
    }
}
