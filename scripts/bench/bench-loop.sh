#!/usr/bin/env bash
# Usage: scripts/bench/bench-loop.sh [ROUNDS] [SIZE...]
#
# Compares how jcpg delivers messages to an application (see
# src/bench/java/org/jcpg/bench/LoopBenchmark.java): a hand-written
# dispatch(BLOCKING) thread, a CpgEventLoop, and a CpgEventLoop with a
# virtual-thread executor. Runs them alternately against one private
# corosync, ROUNDS times (default 5) per SIZE (default 64 and 1024 bytes),
# and prints the medians with the ratios to the hand-written thread. On one
# node the daemon is the bottleneck: compare the client CPU per message.
set -euo pipefail
. "$(dirname "$0")/prologue.sh"
case "${1:-}" in -h|--help) bench_help ;; esac
bench_prepare "the loop benchmark (a private corosync)"
bench_build_java
rounds=${1:-5}; shift || true
sizes=("$@"); [ ${#sizes[@]} -gt 0 ] || sizes=(64 1024)
export BENCH_JAVA="$JAVA_HOME/bin/java"
export BENCH_ROUNDS=$rounds BENCH_SIZES="${sizes[*]}" JCPG_ROOT
exec "$JCPG_ROOT/scripts/with-corosync.sh" bash -c '
  set -euo pipefail
  results=$(mktemp)
  for size in $BENCH_SIZES; do
    for round in $(seq 1 "$BENCH_ROUNDS"); do
      for mode in thread loop executor; do
        "$JCPG_ROOT/scripts/in-corosync-netns" "$BENCH_JAVA" --enable-native-access=ALL-UNNAMED \
          -cp "$BENCH_CP" org.jcpg.bench.LoopBenchmark "$mode" "$size" 100000 | tee -a "$results"
      done
    done
  done
  echo
  echo "medians over $BENCH_ROUNDS rounds (msgs/s, client CPU us/msg, daemon CPU us/msg; ratio to thread):"
  for size in $BENCH_SIZES; do
    for mode in thread loop executor; do
      awk -v m="$mode" -v s="$size" '"'"'$1==m && $2==s {print $3, $4, $5}'"'"' "$results" > "$results.$mode"
    done
    med() { sort -g | awk "{a[NR]=\$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}"; }
    for mode in thread loop executor; do
      rate=$(cut -d" " -f1 "$results.$mode" | med); cpu=$(cut -d" " -f2 "$results.$mode" | med); daemon=$(cut -d" " -f3 "$results.$mode" | med)
      if [ "$mode" = thread ]; then base_rate=$rate; base_cpu=$cpu; fi
      awk -v m="$mode" -v s="$size" -v r="$rate" -v c="$cpu" -v d="$daemon" -v br="$base_rate" -v bc="$base_cpu" \
        '"'"'BEGIN {printf "%-8s %6d B  %8.0f msgs/s (x%.2f)  %6.2f us CPU/msg (x%.2f)  daemon %6.2f us/msg\n", m, s, r, r/br, c, c/bc, d}'"'"'
    done
  done
  rm -f "$results" "$results".*
'
