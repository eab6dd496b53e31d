#!/usr/bin/env bash
# Usage: scripts/bench/bench-scale.sh [--rounds N] [--seconds S] [--size BYTES] [--quick]
#
# How jcpg scales on one node (docs/benchmarks.md, "Micro-benchmarks and scaling";
# src/bench/java/org/jcpg/bench/ScaleBench.java), against a private corosync:
#   - throughput: 1, 2, 4 and 8 sender processes at once (child JVMs, one
#     connection each, each in a group of its own), S seconds (default 5) of
#     SIZE-byte (default 1024) AGREED messages after a shared start signal
#     (on TRY_AGAIN a sender waits up to 10 ms for its fd instead of spinning):
#     aggregate msgs/s, client CPU per message (all the senders' CPU over all
#     their deliveries) and the daemon's CPU per message and in cores;
#     N rounds (default 1), alternating the order, medians;
#   - memory: 1, 10, 100 and 1000 connections open in one JVM, unjoined and
#     each joined to a group of its own: Java heap after GC, JVM native memory
#     outside the heap (NMT), process RSS, fds and the daemon's RSS, per
#     connection.
# Prints two tables and writes bench-results/scale-<timestamp>.json.
# About 4 minutes; --quick: 2-second windows and up to 100 connections.
set -euo pipefail
. "$(dirname "$0")/prologue.sh"

if [ "${1:-}" = --inside ]; then
  java=("$BENCH_JAVA" --enable-native-access=ALL-UNNAMED -cp "$BENCH_CP")
  read -r -a counts <<<"$BENCH_COUNTS"
  for round in $(seq 1 "$BENCH_ROUNDS"); do
    order=("${counts[@]}")
    if [ $((round % 2)) = 0 ]; then order=(); for ((i = ${#counts[@]} - 1; i >= 0; i--)); do order+=("${counts[$i]}"); done; fi
    for n in "${order[@]}"; do
      log "round $round/$BENCH_ROUNDS: $n sender process(es), ${BENCH_SECONDS}s of $BENCH_SIZE-byte messages"
      line=$("$JCPG_ROOT/scripts/in-corosync-netns" timeout --foreground -k 10 300 \
        "${java[@]}" org.jcpg.bench.ScaleBench drive "$n" "$BENCH_SIZE" "$BENCH_SECONDS")
      printf '%s\n' "$line" >>"$BENCH_RUNS"
      printf '%s\n' "$line" | sed -n 's/^{"connections":\([0-9]*\).*"msgs_per_s":\([0-9.]*\),"client_cpu_us_per_msg":\([0-9.]*\),"daemon_cpu_us_per_msg":\([0-9.]*\).*/jcpg:     \2 msgs\/s, client \3 us CPU\/msg, daemon \4 us CPU\/msg/p' >&2
    done
  done
  for mode in open join; do
    log "memory: connections $BENCH_MEMORY_STEPS ($mode)"
    "$JCPG_ROOT/scripts/in-corosync-netns" timeout --foreground -k 10 300 \
      "$BENCH_JAVA" --enable-native-access=ALL-UNNAMED -XX:NativeMemoryTracking=summary -cp "$BENCH_CP" \
      org.jcpg.bench.ScaleBench memory "$mode" $BENCH_MEMORY_STEPS >>"$BENCH_RUNS"
  done
  exit 0
fi

rounds=1 seconds=5 size=1024 steps="1 10 100 1000"
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) [ $# -ge 2 ] || die "--rounds needs a number"; rounds=$2; shift ;;
    --seconds) [ $# -ge 2 ] || die "--seconds needs a number"; seconds=$2; shift ;;
    --size) [ $# -ge 2 ] || die "--size needs a number"; size=$2; shift ;;
    --quick) seconds=2 steps="1 10 100" ;;
    -h|--help) bench_help ;;
    *) die "unknown option '$1' (try --help)" ;;
  esac
  shift
done
case "$rounds" in ''|*[!0-9]*|0) die "--rounds wants a whole number from 1, not '$rounds'" ;; esac
case "$seconds" in ''|*[!0-9]*|0) die "--seconds wants a whole number from 1, not '$seconds'" ;; esac
case "$size" in ''|*[!0-9]*) die "--size wants a number of bytes, not '$size'" ;; esac
[ "$size" -ge 8 ] && [ "$size" -le 1047552 ] || die "--size must be 8 to 1047552 bytes (a sequence number, one atomic message)"

bench_prepare "the scaling benchmark (a private corosync)"
bench_build_java
# 1,000 connections hold 2 fds each.
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge 4096 ] || ulimit -n 4096 2>/dev/null \
  || log "the open-file limit is $(ulimit -n): the 1000-connection step may fail"

stamp=$(date +%Y%m%d-%H%M%S)
runs=$JCPG_ROOT/target/bench/scale-runs-$stamp.jsonl
info=$JCPG_ROOT/target/bench/scale-info-$stamp.txt
: >"$runs"
{
  machine_info
  echo "parameters.rounds=$rounds"
  echo "parameters.seconds=$seconds"
  echo "parameters.size=$size"
  echo "parameters.groups=one per sender process"
  echo "parameters.memory_steps=$steps"
} >"$info"

export BENCH_JAVA=$JAVA_HOME/bin/java
export BENCH_RUNS=$runs BENCH_ROUNDS=$rounds BENCH_SECONDS=$seconds BENCH_SIZE=$size
export BENCH_COUNTS="1 2 4 8" BENCH_MEMORY_STEPS=$steps
status=0
"$JCPG_ROOT/scripts/with-corosync.sh" "$BENCH_SCRIPTS/bench-scale.sh" --inside || status=$?
if [ -s "$runs" ]; then
  [ $status = 0 ] || log "the runs stopped early (exit status $status): reporting what ran"
  "$BENCH_JAVA" --enable-native-access=ALL-UNNAMED -cp "$BENCH_CP" org.jcpg.bench.ScaleBench report "$info" "$runs" "bench-results/scale-$stamp.json" \
    || status=$((status ? status : $?))
fi
rm -f "$runs" "$info"
exit $status
