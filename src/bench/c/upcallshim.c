/*
 * upcallshim: a tiny shared library for the upcall micro-benchmarks of
 * scripts/bench/bench-jmh.sh (src/bench/jmh/org/jcpg/UpcallBench.java).
 *
 * libcpg's dispatch calls the deliver and confchg callbacks through
 * function pointers from C. These loops do the same, COUNT times, with the
 * arguments libcpg would pass, so that a JMH benchmark can time one upcall
 * as libcpg triggers it, without a daemon in the path: the pointer may be a
 * jcpg upcall stub or, for the floor, jcpgbench_noop_deliver below.
 */
#include <corosync/cpg.h>
#include <stddef.h>

void jcpgbench_deliver_loop(cpg_deliver_fn_t deliver, const struct cpg_name *group,
                            void *message, size_t length, long count) {
	for (long i = 0; i < count; i++) {
		deliver(0, group, 1, 4242, message, length);
	}
}

void jcpgbench_confchg_loop(cpg_confchg_fn_t confchg, const struct cpg_name *group,
                            const struct cpg_address *members, size_t member_count,
                            const struct cpg_address *joined, size_t joined_count, long count) {
	for (long i = 0; i < count; i++) {
		confchg(0, group, members, member_count, NULL, 0, joined, joined_count);
	}
}

static volatile size_t noop_sink;

/* What a C application's deliver callback costs at the least: it reads the length. */
void jcpgbench_noop_deliver(cpg_handle_t handle, const struct cpg_name *group, uint32_t nodeid,
                            uint32_t pid, void *message, size_t length) {
	(void)handle; (void)group; (void)nodeid; (void)pid; (void)message;
	noop_sink = length;
}
