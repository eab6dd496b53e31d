/*
 * cpgbench: the C reference side of jcpg's benchmark (scripts/bench/bench.sh).
 *
 * Usage: cpgbench copy|zerocopy SIZE COUNT
 * Environment: JCPG_COROSYNC_PID, the daemon's pid (for its CPU time).
 *
 * One connection joins "bench-<pid>", waits for its own JOIN, sends
 * COUNT/10 untimed warm-up messages and waits until they are all delivered,
 * then sends COUNT timed messages of SIZE bytes (AGREED) and stops the
 * clock at its own COUNT-th timed delivery. Payload: bytes 0-7 the sequence
 * number (u64 little endian), bytes 8-15 the send time (CLOCK_MONOTONIC ns),
 * the rest 0xA5 (below 16 bytes only what fits). After each successful send
 * the fd is polled with timeout 0 and, if readable, dispatched with
 * CS_DISPATCH_ALL; on CS_ERR_TRY_AGAIN the same, then the send is retried
 * (counted). Every delivery's length and sequence number are checked: a lost
 * or reordered message fails the run with exit status 2.
 *
 * copy:     cpg_mcast_joined from one malloc'd buffer;
 * zerocopy: one cpg_zcb_alloc buffer, filled in place, cpg_zcb_mcast_joined.
 *
 * Prints one JSON line on stdout (see /work/bench-interface.md):
 * msgs/s, MB/s (10^6 bytes), send-call and delivery latency p50/p99
 * (nearest rank, microseconds), TRY_AGAIN count, this process's CPU
 * (getrusage, user+system, and its user part alone) and the daemon's
 * (/proc/PID/stat utime+stime) per timed message in microseconds.
 */
#define _GNU_SOURCE
#include <corosync/cpg.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define FILL_BYTE 0xA5
/* No delivery for this long while messages are outstanding: the run fails. */
#define STALL_MS 30000

static cpg_handle_t handle;
static uint32_t my_nodeid;
static uint32_t my_pid;
static int joined;

static size_t msg_size;
static uint64_t warmup;     /* number of untimed messages, seq 0..warmup-1 */
static uint64_t total;      /* warmup + count */
static uint64_t delivered;  /* next expected sequence number */
static uint64_t *deliver_ns; /* delivery latency of each timed message */
static uint64_t end_ns;     /* time of the last timed delivery */
static struct rusage end_usage;
static int have_times;      /* the payload holds the send time (size >= 16) */

static void fail(const char *fmt, ...)
{
	va_list ap;
	fputs("cpgbench: FAILED: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void die(const char *fmt, ...)
{
	va_list ap;
	fputs("cpgbench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Writes the low min(n, 8) bytes of v little endian. */
static void put_le(unsigned char *p, size_t n, uint64_t v)
{
	for (size_t i = 0; i < n && i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n && i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void deliver_fn(cpg_handle_t h, const struct cpg_name *group, uint32_t nodeid,
		       uint32_t pid, void *msg, size_t msg_len)
{
	(void)h;
	(void)group;
	uint64_t now = now_ns();
	if (nodeid != my_nodeid || pid != my_pid)
		fail("message from node %" PRIu32 " pid %" PRIu32 " in our private group", nodeid, pid);
	if (delivered >= total)
		fail("message after the last one (%zu bytes)", msg_len);
	const unsigned char *p = msg;
	size_t seq_len = msg_size < 8 ? msg_size : 8;
	uint64_t mask = seq_len == 8 ? UINT64_MAX : ((uint64_t)1 << (8 * seq_len)) - 1;
	uint64_t seq = get_le(p, msg_len < seq_len ? msg_len : seq_len);
	if (msg_len != msg_size || seq != (delivered & mask))
		fail("delivery #%" PRIu64 ": got seq %" PRIu64 " of %zu bytes, expected seq %" PRIu64 " of %zu bytes",
		     delivered, seq, msg_len, delivered & mask, msg_size);
	if (delivered >= warmup && have_times) {
		uint64_t sent = get_le(p + 8, 8);
		deliver_ns[delivered - warmup] = now - sent;
	}
	delivered++;
	if (delivered == total) {
		end_ns = now;
		getrusage(RUSAGE_SELF, &end_usage);
	}
}

static void confchg_fn(cpg_handle_t h, const struct cpg_name *group,
		       const struct cpg_address *members, size_t n_members,
		       const struct cpg_address *left, size_t n_left,
		       const struct cpg_address *joined_list, size_t n_joined)
{
	(void)h;
	(void)group;
	(void)members;
	(void)n_members;
	for (size_t i = 0; i < n_left; i++)
		if (left[i].nodeid == my_nodeid && left[i].pid == my_pid)
			fail("we left our group (reason %" PRIu32 ")", left[i].reason);
	for (size_t i = 0; i < n_joined; i++)
		if (joined_list[i].nodeid == my_nodeid && joined_list[i].pid == my_pid)
			joined = 1;
}

static void totem_fn(cpg_handle_t h, struct cpg_ring_id ring, uint32_t n, const uint32_t *nodes)
{
	(void)h;
	(void)ring;
	(void)n;
	(void)nodes;
}

static int fd;

/* Dispatches everything pending if the fd is readable within timeout_ms. */
static int poll_dispatch(int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int r = poll(&pfd, 1, timeout_ms);
	if (r < 0) {
		if (errno == EINTR)
			return 0;
		die("poll: %s", strerror(errno));
	}
	if (r == 0)
		return 0;
	if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL))
		die("the connection to corosync failed (poll revents 0x%x)", (unsigned)pfd.revents);
	cs_error_t e = cpg_dispatch(handle, CS_DISPATCH_ALL);
	if (e != CS_OK && e != CS_ERR_TRY_AGAIN)
		die("cpg_dispatch: error %d", (int)e);
	return 1;
}

/* Dispatches until *done or until nothing arrives for STALL_MS. */
static void wait_for(const volatile int *flag, uint64_t until_delivered, const char *what)
{
	uint64_t last_progress = now_ns(), last_delivered = delivered;
	while (flag ? !*flag : delivered < until_delivered) {
		poll_dispatch(100);
		if (delivered != last_delivered) {
			last_delivered = delivered;
			last_progress = now_ns();
		} else if (now_ns() - last_progress > (uint64_t)STALL_MS * 1000000u) {
			fail("%s: nothing for %d s (%" PRIu64 " of %" PRIu64 " delivered)",
			     what, STALL_MS / 1000, delivered, total);
		}
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest value with at least p% of the values <= it. */
static double percentile_us(const uint64_t *sorted, size_t n, unsigned p)
{
	size_t rank = (n * p + 99) / 100;
	if (rank < 1)
		rank = 1;
	return (double)sorted[rank - 1] / 1000.0;
}

/* utime + stime of pid, in clock ticks; -1 if unreadable. */
static long long proc_cpu_ticks(long pid)
{
	char path[64], buf[2048];
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')'); /* the command name may contain spaces and ')' */
	if (!p)
		return -1;
	unsigned long long utime, stime;
	/* after ")": state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15) */
	if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
		return -1;
	return (long long)(utime + stime);
}

static double user_us(const struct rusage *r)
{
	return (double)r->ru_utime.tv_sec * 1e6 + (double)r->ru_utime.tv_usec;
}

static double rusage_us(const struct rusage *r)
{
	return user_us(r) + (double)r->ru_stime.tv_sec * 1e6 + (double)r->ru_stime.tv_usec;
}

static unsigned long long parse_positive(const char *s, const char *what, unsigned long long max)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || end == s || v < 1 || v > max || s[0] == '-')
		die("%s must be a whole number from 1 to %llu, not '%s'", what, max, s);
	return v;
}

int main(int argc, char **argv)
{
	if (argc != 4 || (strcmp(argv[1], "copy") != 0 && strcmp(argv[1], "zerocopy") != 0))
		die("usage: %s copy|zerocopy SIZE COUNT", argv[0]);
	const char *mode = argv[1];
	int zerocopy = strcmp(mode, "zerocopy") == 0;
	msg_size = parse_positive(argv[2], "SIZE", 1047552); /* libcpg's largest atomic message */
	uint64_t count = parse_positive(argv[3], "COUNT", 100000000);
	warmup = count / 10;
	total = warmup + count;
	have_times = msg_size >= 16;

	long daemon_pid = -1;
	const char *env = getenv("JCPG_COROSYNC_PID");
	if (env && *env)
		daemon_pid = (long)parse_positive(env, "JCPG_COROSYNC_PID", LONG_MAX);
	else
		fprintf(stderr, "cpgbench: JCPG_COROSYNC_PID is not set: no daemon CPU\n");

	uint64_t *send_ns = malloc(count * sizeof *send_ns);
	deliver_ns = malloc(count * sizeof *deliver_ns);
	if (!send_ns || !deliver_ns)
		die("out of memory");

	cpg_model_v1_data_t model = {
		.model = CPG_MODEL_V1,
		.cpg_deliver_fn = deliver_fn,
		.cpg_confchg_fn = confchg_fn,
		.cpg_totem_confchg_fn = totem_fn,
		.flags = 0,
	};
	cs_error_t e = cpg_model_initialize(&handle, CPG_MODEL_V1, (cpg_model_data_t *)&model, NULL);
	if (e != CS_OK)
		die("cpg_model_initialize: error %d (is corosync running, and are we in its network namespace?)", (int)e);
	if ((e = cpg_fd_get(handle, &fd)) != CS_OK)
		die("cpg_fd_get: error %d", (int)e);
	unsigned int local;
	if ((e = cpg_local_get(handle, &local)) != CS_OK)
		die("cpg_local_get: error %d", (int)e);
	my_nodeid = local;
	my_pid = (uint32_t)getpid();

	struct cpg_name group;
	group.length = (uint32_t)snprintf(group.value, sizeof group.value, "bench-%" PRIu32, my_pid);
	if ((e = cpg_join(handle, &group)) != CS_OK)
		die("cpg_join: error %d", (int)e);
	wait_for(&joined, 0, "waiting for our JOIN");

	unsigned char *buf;
	if (zerocopy) {
		void *zb;
		if ((e = cpg_zcb_alloc(handle, msg_size, &zb)) != CS_OK)
			die("cpg_zcb_alloc: error %d", (int)e);
		buf = zb;
	} else {
		buf = malloc(msg_size);
		if (!buf)
			die("out of memory");
	}
	memset(buf, FILL_BYTE, msg_size);
	struct iovec iov = { .iov_base = buf, .iov_len = msg_size };
	size_t seq_len = msg_size < 8 ? msg_size : 8;
	size_t time_len = msg_size <= 8 ? 0 : (msg_size < 16 ? msg_size - 8 : 8);

	uint64_t try_again = 0;
	uint64_t start_ns = 0;
	struct rusage start_usage;
	long long daemon_start = -1;
	for (uint64_t seq = 0; seq < total; seq++) {
		if (seq == warmup) {
			/* Warm-up done: let its deliveries drain, then start the clocks. */
			wait_for(NULL, warmup, "warm-up");
			try_again = 0;
			daemon_start = daemon_pid > 0 ? proc_cpu_ticks(daemon_pid) : -1;
			getrusage(RUSAGE_SELF, &start_usage);
			start_ns = now_ns();
		}
		put_le(buf, seq_len, seq);
		for (;;) {
			uint64_t t0 = now_ns();
			put_le(buf + 8, time_len, t0);
			e = zerocopy ? cpg_zcb_mcast_joined(handle, CPG_TYPE_AGREED, buf, msg_size)
				     : cpg_mcast_joined(handle, CPG_TYPE_AGREED, &iov, 1);
			uint64_t t1 = now_ns();
			if (e == CS_OK) {
				if (seq >= warmup)
					send_ns[seq - warmup] = t1 - t0;
				poll_dispatch(0);
				break;
			}
			if (e != CS_ERR_TRY_AGAIN)
				die("%s: error %d at message %" PRIu64, zerocopy ? "cpg_zcb_mcast_joined" : "cpg_mcast_joined",
				    (int)e, seq);
			try_again++;
			poll_dispatch(0);
		}
	}
	wait_for(NULL, total, "timed messages");
	long long daemon_end = daemon_pid > 0 ? proc_cpu_ticks(daemon_pid) : -1;

	double seconds = (double)(end_ns - start_ns) / 1e9;
	double client_us = rusage_us(&end_usage) - rusage_us(&start_usage);
	double client_user_us = user_us(&end_usage) - user_us(&start_usage);
	qsort(send_ns, count, sizeof *send_ns, cmp_u64);
	qsort(deliver_ns, count, sizeof *deliver_ns, cmp_u64);

	char deliver50[32] = "null", deliver99[32] = "null", daemon_cpu[32] = "null";
	if (have_times) {
		snprintf(deliver50, sizeof deliver50, "%.2f", percentile_us(deliver_ns, count, 50));
		snprintf(deliver99, sizeof deliver99, "%.2f", percentile_us(deliver_ns, count, 99));
	}
	if (daemon_start >= 0 && daemon_end >= 0) {
		double us_per_tick = 1e6 / (double)sysconf(_SC_CLK_TCK);
		snprintf(daemon_cpu, sizeof daemon_cpu, "%.3f",
			 (double)(daemon_end - daemon_start) * us_per_tick / (double)count);
	}
	printf("{\"impl\":\"c\",\"mode\":\"%s\",\"size\":%zu,\"count\":%" PRIu64 ","
	       "\"msgs_per_s\":%.1f,\"mb_per_s\":%.3f,"
	       "\"send_p50_us\":%.2f,\"send_p99_us\":%.2f,"
	       "\"deliver_p50_us\":%s,\"deliver_p99_us\":%s,"
	       "\"try_again\":%" PRIu64 ",\"client_cpu_us_per_msg\":%.3f,"
	       "\"user_cpu_us_per_msg\":%.3f,"
	       "\"daemon_cpu_us_per_msg\":%s,\"alloc_bytes_per_msg\":null}\n",
	       mode, msg_size, count,
	       (double)count / seconds, (double)count * (double)msg_size / seconds / 1e6,
	       percentile_us(send_ns, count, 50), percentile_us(send_ns, count, 99),
	       deliver50, deliver99, try_again, client_us / (double)count,
	       client_user_us / (double)count, daemon_cpu);
	fflush(stdout);

	if (zerocopy)
		cpg_zcb_free(handle, buf);
	else
		free(buf);
	cpg_finalize(handle);
	free(send_ns);
	free(deliver_ns);
	return 0;
}
