#!/usr/bin/env bash
# Usage: scripts/bench/bench-bundle.sh [--quick] [--pairs N] [--sizes "SIZE..."]
#
# jcpg with bundling vs plain jcpg vs JGroups, side by side (issue 10;
# docs/bundling.md). Two members in two JVMs on this machine: a sender
# and a receiver (org.jcpg.bench.GroupBench, src/bench/java). jcpg: both connect
# to one private single-node corosync; JGroups 5.5.7 (from Maven Central,
# only in the pom's bench profile): TCP on loopback with SEQUENCER for total order, the sender being
# the coordinator and so the sequencer. Per pair and size the three run one
# after the other, the order reversed every other pair; each run sends
# untimed warm-up messages for WARMUP seconds, waits for its own delivery of
# the last, then sends COUNT timed ones (the same COUNT for the three), all
# checked for order and length by both members. Prints per size the medians (msgs/s,
# delivery latency p50/p99 of the sender's own messages, client CPU per
# message of both JVMs together, corosync's CPU per message) and the ratios
# jcpg/JGroups; writes bench-results/bundle-<timestamp>.json and .png.
#
#   --pairs N   rounds per size (default 5)
#   --quick     a smoke run: 1/10 of the messages, 2 s warm-up, 2 pairs (unless --pairs)
#   --sizes     only these of 64 1024 8192
# Environment: BENCH_JAVA_OPTS (extra JVM options for both members; bundling
# options other than the defaults: -Dbench.maxBundleBytes=N -Dbench.maxInFlight=N
# -Dbench.maxDelayMicros=N -Dbench.queueBytes=N).
set -euo pipefail
. "$(dirname "$0")/prologue.sh"

ALL_SIZES=(64 1024 8192)
# The same for the three. JGroups delivers ~500,000 msgs/s of 64 B here once warm, so its timed part
# needs hundreds of thousands to last a second; plain jcpg (~20,000 msgs/s) makes these the bulk of the
# run time.
ALL_COUNTS=(500000 300000 100000)
# Untimed warm-up, in seconds of sending: JGroups' JIT needs several seconds and ~a million messages
# before it runs compiled code (with a warm-up of a few thousand messages it was measured mostly
# interpreted, the compiler threads competing for the 2 CPUs).
WARMUP_S=6 QUICK_WARMUP_S=2
IMPLS=(bundled plain jgroups)

run_member() { # impl role size count warmup group port peer: the member's stdout
  # GroupBench fails by itself after a minute without progress; this is the backstop.
  timeout --foreground -k 10 900 "$JCPG_ROOT/scripts/in-corosync-netns" "$BENCH_JAVA" \
    --enable-native-access=ALL-UNNAMED -Xms512m -Xmx1g -Djava.net.preferIPv4Stack=true ${BENCH_JAVA_OPTS:-} \
    -cp "$BENCH_CP" org.jcpg.bench.GroupBench "$@" 2>>"$BENCH_LOG" || true
}

# ---- inside the private corosync (scripts/with-corosync.sh runs us again) ----
if [ "${1:-}" = --inside ]; then
  read -r -a sizes <<<"$BENCH_SIZES"
  read -r -a counts <<<"$BENCH_COUNTS"
  plan=()
  for pair in $(seq 1 "$BENCH_PAIRS"); do
    for i in "${!sizes[@]}"; do
      order=("${IMPLS[@]}")
      [ $((pair % 2)) = 0 ] && order=(jgroups plain bundled)
      for impl in "${order[@]}"; do plan+=("$pair ${sizes[$i]} ${counts[$i]} $impl"); done
    done
  done
  total=${#plan[@]} failed=0 started=$SECONDS
  for k in "${!plan[@]}"; do
    read -r pair size count impl <<<"${plan[$k]}"
    elapsed=$((SECONDS - started))
    printf 'jcpg: %3d/%d  pair %d/%d  size %5d  %-8s (%d:%02d elapsed)\n' \
      $((k + 1)) "$total" "$pair" "$BENCH_PAIRS" "$size" "$impl" $((elapsed / 60)) $((elapsed % 60)) >&2
    group="gbench-$$-$k" port=$((20000 + (RANDOM % 20000)))
    sender_file=$(mktemp) receiver_file=$(mktemp)
    run_member "$impl" sender "$size" "$count" "$BENCH_WARMUP" "$group" "$port" $((port + 1)) >"$sender_file" &
    sender_pid=$!
    # The receiver once the sender is connected: in JGroups the sender is then the coordinator,
    # and so the sequencer.
    for _ in $(seq 1 600); do
      grep -q '^CONNECTED' "$sender_file" && break
      kill -0 $sender_pid 2>/dev/null || break
      sleep 0.1
    done
    run_member "$impl" receiver "$size" "$count" "$BENCH_WARMUP" "$group" $((port + 1)) "$port" >"$receiver_file" &
    receiver_pid=$!
    wait $sender_pid || true
    wait $receiver_pid || true
    s=$(grep '^{' "$sender_file" | tail -n 1 || true); r=$(grep '^{' "$receiver_file" | tail -n 1 || true)
    rm -f "$sender_file" "$receiver_file"
    [ -n "$s" ] || s=null
    [ -n "$r" ] || r=null
    case "$s|$r" in
      '{'*'"ok":true'*'}|{'*'"ok":true'*'}') printf '%s\n' "$s" | sed -n 's/.*"msgs_per_s":\([0-9.]*\).*"latency_p50_us":\([0-9.]*\),"latency_p99_us":\([0-9.]*\).*/jcpg:      \1 msgs\/s, latency p50 \2 us, p99 \3 us/p' >&2 ;;
      *) failed=$((failed + 1)); log "FAILED: $impl size $size pair $pair: $s $r" ;;
    esac
    printf '{"pair":%d,"order":%d,"impl":"%s","size":%d,"count":%d,"sender":%s,"receiver":%s}\n' \
      "$pair" $((k + 1)) "$impl" "$size" "$count" "$s" "$r" >>"$BENCH_RUNS"
  done
  log "$total runs in $(( (SECONDS - started) / 60 )) min $(( (SECONDS - started) % 60 )) s, $failed failed"
  exit 0
fi

# ---- outside: options, build, machine info, the runs, the report ----
bench_options 10 "$@"
warmup=$([ $quick = 1 ] && echo $QUICK_WARMUP_S || echo $WARMUP_S)

bench_prepare "the benchmark (a private corosync)"
bench_build_java
java_cp=$BENCH_CP

stamp=$(date +%Y%m%d-%H%M%S)
runs=$JCPG_ROOT/target/bench/bundle-runs-$stamp.jsonl
info=$JCPG_ROOT/target/bench/bundle-info-$stamp.txt
: >"$runs"
{
  echo "date=$(date --iso-8601=seconds)"
  echo "machine.nproc=$(nproc)"
  echo "machine.model_name=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
  echo "machine.kernel=$(uname -r)"
  echo "machine.loadavg_at_start=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "machine.corosync=$(corosync -v 2>/dev/null | sed -n "s/.*version '\([^']*\)'.*/\1/p" | head -n 1)"
  echo "machine.jdk=$("$JAVA_HOME/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.runtime\.version = //p')"
  echo "machine.jgroups=$(sed -n 's/.*jgroups-\([0-9][^/]*\)\.jar.*/\1/p' <<<"${java_cp//:/$'\n'}" | head -n 1)"
  echo "machine.clock_ticks=$(getconf CLK_TCK)"
  echo "parameters.pairs=$pairs"
  echo "parameters.quick=$([ $quick = 1 ] && echo true || echo false)"
  echo "parameters.sizes=${sizes[*]}"
  echo "parameters.counts=${counts[*]}"
  echo "parameters.warmup=${warmup}s of sending, untimed, then the sender waits for its own delivery of the last"
  echo "parameters.order=per pair and size: bundled plain jgroups, reversed every other pair"
  echo "parameters.jgroups=JGroups tcp.xml on 127.0.0.1 plus SEQUENCER, bundler.capacity 64k, sender = coordinator = sequencer (src/bench/resources/org/jcpg/bench/jgroups-tcp-sequencer.xml)"
  echo "parameters.jcpg=one single-node corosync, CpgEventLoop on both members; bundled: Bundling.defaults()"
  echo "parameters.java_opts=-Xms512m -Xmx1g ${BENCH_JAVA_OPTS:-}"
} >"$info"

export BENCH_SIZES="${sizes[*]}" BENCH_COUNTS="${counts[*]}" BENCH_PAIRS=$pairs BENCH_RUNS=$runs BENCH_WARMUP=$warmup
export BENCH_JAVA=$JAVA_HOME/bin/java BENCH_CP=$java_cp BENCH_LOG=$JCPG_ROOT/target/bench/bundle-stderr-$stamp.log BENCH_JAVA_OPTS="${BENCH_JAVA_OPTS:-}"
log "$pairs pairs; sizes ${sizes[*]}; messages ${counts[*]} after ${warmup} s of warm-up; members' stderr in $BENCH_LOG"
status=0
"$JCPG_ROOT/scripts/with-corosync.sh" "$BENCH_SCRIPTS/bench-bundle.sh" --inside || status=$?
[ -s "$runs" ] || { rm -f "$runs" "$info"; exit $((status ? status : 1)); }
[ $status = 0 ] || log "the runs stopped early (exit status $status): reporting the $(wc -l <"$runs") that ran"
"$JAVA_HOME/bin/java" -cp "$java_cp" org.jcpg.bench.GroupBenchReport "$info" "$runs" "bench-results/bundle-$stamp" \
  || status=$((status ? status : $?))
rm -f "$runs" "$info"
exit $status
