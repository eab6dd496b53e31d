/*
 * cpglocal: the C side of the no-IPC call micro-benchmark (scripts/bench/bench-jmh.sh).
 *
 * Usage: cpglocal [CALLS]      (default 5000000)
 *
 * Connects (cpg_initialize, no callbacks: nothing is dispatched), then times
 * CALLS calls of cpg_max_atomic_msgsize_get and of cpg_flow_control_state_get
 * in a tight loop with CLOCK_MONOTONIC, 7 rounds each after one untimed
 * round, and prints one JSON line with the median and the best round in
 * nanoseconds per call. libcpg answers both from the handle it holds (a
 * handle-database lookup, no message to the daemon), so this is the floor
 * the Java side is compared with.
 */
#define _GNU_SOURCE
#include <corosync/cpg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define ROUNDS 7

static double now_ns(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int compare(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static volatile long sink;

static double time_max_atomic(cpg_handle_t handle, long calls) {
	uint32_t size = 0;
	long sum = 0;
	double start = now_ns();
	for (long i = 0; i < calls; i++) {
		if (cpg_max_atomic_msgsize_get(handle, &size) != CS_OK) {
			fprintf(stderr, "cpglocal: cpg_max_atomic_msgsize_get failed\n");
			exit(1);
		}
		sum += size;
	}
	double ns = (now_ns() - start) / (double)calls;
	sink = sum;
	return ns;
}

static double time_flow_control(cpg_handle_t handle, long calls) {
	cpg_flow_control_state_t state = CPG_FLOW_CONTROL_DISABLED;
	long sum = 0;
	double start = now_ns();
	for (long i = 0; i < calls; i++) {
		if (cpg_flow_control_state_get(handle, &state) != CS_OK) {
			fprintf(stderr, "cpglocal: cpg_flow_control_state_get failed\n");
			exit(1);
		}
		sum += state;
	}
	double ns = (now_ns() - start) / (double)calls;
	sink = sum;
	return ns;
}

int main(int argc, char **argv) {
	long calls = argc > 1 ? atol(argv[1]) : 5000000L;
	if (calls < 1) {
		fprintf(stderr, "usage: cpglocal [CALLS]\n");
		return 1;
	}
	cpg_handle_t handle;
	cpg_callbacks_t callbacks = {0};
	cs_error_t rc = cpg_initialize(&handle, &callbacks);
	if (rc != CS_OK) {
		fprintf(stderr, "cpglocal: cpg_initialize failed: %d (is corosync running in this network namespace?)\n", rc);
		return 1;
	}
	double max_atomic[ROUNDS], flow_control[ROUNDS];
	time_max_atomic(handle, calls / 4);
	time_flow_control(handle, calls / 4);
	for (int r = 0; r < ROUNDS; r++) {
		max_atomic[r] = time_max_atomic(handle, calls);
		flow_control[r] = time_flow_control(handle, calls);
	}
	qsort(max_atomic, ROUNDS, sizeof(double), compare);
	qsort(flow_control, ROUNDS, sizeof(double), compare);
	printf("{\"impl\":\"c\",\"calls\":%ld,\"rounds\":%d,"
	       "\"max_atomic_msgsize_get_ns\":%.2f,\"max_atomic_msgsize_get_best_ns\":%.2f,"
	       "\"flow_control_state_get_ns\":%.2f,\"flow_control_state_get_best_ns\":%.2f}\n",
	       calls, ROUNDS, max_atomic[ROUNDS / 2], max_atomic[0], flow_control[ROUNDS / 2], flow_control[0]);
	cpg_finalize(handle);
	return 0;
}
