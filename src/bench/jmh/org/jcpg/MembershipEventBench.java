package org.jcpg;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import org.jcpg.internal.Upcalls;
import org.jcpg.internal.stubs.cpg_address;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * A membership change of {@code members} members, one of them just joined,
 * as libcpg hands it to the confchg callback (native {@code cpg_address}
 * arrays), decoded by the connection's real upcall target into a
 * {@link MembershipChange} and handed to a listener that keeps it (so that
 * building it cannot be optimized away). Called from Java: the upcall
 * itself is {@link UpcallBench}'s. Needs corosync for the connection.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class MembershipEventBench {
    @Param({"3", "100"})
    public int members;

    private CpgConnection connection;
    private Arena arena;
    private Upcalls.Target dispatcher;
    private MemorySegment group;
    private MemorySegment memberList;
    private MemorySegment joinedList;
    private CpgEvent last;
    // What the confchg upcall receives: zero-length segments of the global scope.
    private MemorySegment groupAsPassed;
    private MemorySegment membersAsPassed;
    private MemorySegment joinedAsPassed;

    @Setup
    public void setUp() {
        arena = Arena.ofConfined();
        connection = CpgConnection.open(new CpgListener() {
            @Override
            public void onEvent(CpgConnection c, CpgEvent event) {
                last = event;
            }
        });
        dispatcher = connection.core().dispatcher();
        group = UpcallBench.nativeName(arena, "bench");
        memberList = cpg_address.allocateArray(members, arena);
        for (int i = 0; i < members; i++) {
            MemorySegment entry = cpg_address.asSlice(memberList, i);
            cpg_address.nodeid(entry, 1 + i % 16);
            cpg_address.pid(entry, 1000 + i);
            cpg_address.reason(entry, 0);
        }
        joinedList = cpg_address.allocateArray(1, arena);
        MemorySegment.copy(cpg_address.asSlice(memberList, members - 1), 0, joinedList, 0, cpg_address.sizeof());
        cpg_address.reason(joinedList, 1); // CPG_REASON_JOIN
        groupAsPassed = MemorySegment.ofAddress(group.address());
        membersAsPassed = MemorySegment.ofAddress(memberList.address());
        joinedAsPassed = MemorySegment.ofAddress(joinedList.address());
    }

    @TearDown
    public void tearDown() {
        connection.close();
        arena.close();
    }

    @Benchmark
    public CpgEvent confchg() {
        dispatcher.confchg(groupAsPassed, membersAsPassed, members, MemorySegment.NULL, 0, joinedAsPassed, 1);
        return last;
    }
}
