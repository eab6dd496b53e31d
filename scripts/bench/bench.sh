#!/usr/bin/env bash
# Usage: scripts/bench/bench.sh [--quick] [--pairs N] [--sizes "SIZE..."]
#
# jcpg against the C library, side by side (docs/benchmarks.md):
# builds the C reference program (src/bench/c/cpgbench.c, into target/bench/)
# and the Java one (org.jcpg.bench.CpgBench, src/bench/java), starts a private
# corosync and, per message size, runs them ALTERNATELY against it, 1 + N pairs:
#   C copy, Java copy, Java stubs, Java segment, Java bytearray, Java loop,
#   C zerocopy, Java zerocopy
# (Java stubs: copy's loop on jextract's stubs alone, without jcpg: what the
# JVM and FFM cost by themselves.)
# The Java runs of one size and mode are made one after the other by one JVM
# (CpgBench serve, idle between its runs): pair 1 in a fresh JVM, whose JIT
# is still compiling after the protocol's COUNT/10 warm-up messages; pairs
# 2..N+1 in a JVM that has run before, like a service's. Medians and ratios
# are of the warm pairs (all pairs for C); the fresh JVM's ratio is printed
# beside them.
# Then prints per size and mode the medians and the ratios Java/C (Java's
# copy, stubs, segment, bytearray and loop against C copy; zerocopy against C
# zerocopy) and Java copy against Java stubs (jcpg's own share), and writes
# bench-results/<timestamp>.json (machine, parameters, every run, medians,
# ratios) and bench-results/<timestamp>.png (charts).
#
#   --pairs N   warm rounds of alternating runs per size, after the fresh one (default 5)
#   --quick     a smoke run: 1/20 of the messages, 1 + 2 pairs (unless --pairs)
#   --sizes     only these of 64 1024 8192 65536 262144
# Environment: BENCH_JAVA_OPTS (extra JVM options for CpgBench),
# BENCH_EXTRA_CP (put before the class path of CpgBench; for testing).
set -euo pipefail
. "$(dirname "$0")/prologue.sh"

ALL_SIZES=(64 1024 8192 65536 262144)
ALL_COUNTS=(100000 100000 50000 20000 5000)   # the protocol's counts per size
JAVA_COPY_MODES=(copy stubs segment bytearray loop)

# ---- inside the private corosync (scripts/with-corosync.sh runs us again) ----
if [ "${1:-}" = --inside ]; then
  read -r -a sizes <<<"$BENCH_SIZES"
  read -r -a counts <<<"$BENCH_COUNTS"
  read -r -a java_opts <<<"${BENCH_JAVA_OPTS:-}"
  plan=()   # "pair size count impl mode", in run order
  for i in "${!sizes[@]}"; do
    for pair in $(seq 1 $((BENCH_PAIRS + 1))); do
      plan+=("$pair ${sizes[$i]} ${counts[$i]} c copy")
      for mode in "${JAVA_COPY_MODES[@]}"; do plan+=("$pair ${sizes[$i]} ${counts[$i]} java $mode"); done
      plan+=("$pair ${sizes[$i]} ${counts[$i]} c zerocopy" "$pair ${sizes[$i]} ${counts[$i]} java zerocopy")
    done
  done
  # Expected cost of a run, for the progress bar and the time left: its messages, more for
  # large ones, twice for zero-copy (a round trip per send), plus a JVM's start.
  weight() { local w=$(( $2 * (65536 + $1) / 65536 + 20000 )); [ "$3" = zerocopy ] && w=$((w * 2)); echo $w; }
  weights=() all=0
  for k in "${!plan[@]}"; do
    read -r pair size count impl mode <<<"${plan[$k]}"
    weights[$k]=$(weight "$size" "$count" "$mode"); all=$((all + weights[k]))
  done
  total=${#plan[@]} failed=0 started=$SECONDS done_weight=0
  # Java runs are served by one JVM per size and mode (CpgBench serve): its first run is in a
  # fresh JVM (pair 1), the others in a JVM that has made runs before, as a service has.
  declare -A server_pid=() server_size=() server_in=() server_out=()
  fifos=$(mktemp -d)
  start_server() { # mode size
    local in=$fifos/$1.in out=$fifos/$1.out fd
    rm -f "$in" "$out"; mkfifo "$in" "$out"
    # Not holding the other servers' fifos open: each must see the end of its own input.
    (for fd in "${server_in[@]}" "${server_out[@]}"; do exec {fd}>&-; done
     exec "$JCPG_ROOT/scripts/in-corosync-netns" "$BENCH_JAVA" --enable-native-access=ALL-UNNAMED "${java_opts[@]}" \
       -cp "$BENCH_CP" org.jcpg.bench.CpgBench serve <"$in" >"$out") &
    server_pid[$1]=$!
    # In the order the server opens them.
    exec {fd}>"$in"; server_in[$1]=$fd
    exec {fd}<"$out"; server_out[$1]=$fd
    server_size[$1]=$2
  }
  stop_server() { # mode: end of input ends it
    [ -n "${server_in[$1]:-}" ] || return 0
    local in=${server_in[$1]} out=${server_out[$1]}
    exec {in}>&- {out}<&-
    wait "${server_pid[$1]}" 2>/dev/null || true
    unset "server_in[$1]" "server_out[$1]" "server_pid[$1]" "server_size[$1]"
  }
  java_run() { # mode size count: sets line and status. Blocks on the answer (no polling while Java is measured).
    echo "$1 $2 $3" >&"${server_in[$1]}"
    if read -r -t 300 line <&"${server_out[$1]}"; then
      status=0
    elif kill -0 "${server_pid[$1]}" 2>/dev/null; then
      kill "${server_pid[$1]}"; status=124 line=""
    else
      wait "${server_pid[$1]}"; status=$?; [ $status -ne 0 ] || status=99; line=""
    fi
  }
  for k in "${!plan[@]}"; do
    read -r pair size count impl mode <<<"${plan[$k]}"
    n=$((k + 1)) elapsed=$((SECONDS - started))
    filled=$((30 * done_weight / all)) bar=""
    for ((j = 0; j < 30; j++)); do if [ $j -lt $filled ]; then bar+="#"; else bar+="."; fi; done
    left=""
    if [ $done_weight -gt 0 ]; then
      rest=$((elapsed * (all - done_weight) / done_weight))
      left=$(printf ', ~%d:%02d left' $((rest / 60)) $((rest % 60)))
    fi
    printf 'jcpg: [%s] %3d/%d  size %6d  pair %d/%d  %-4s %-9s (%d:%02d elapsed%s)\n' \
      "$bar" "$n" "$total" "$size" "$pair" $((BENCH_PAIRS + 1)) "$impl" "$mode" $((elapsed / 60)) $((elapsed % 60)) "$left" >&2
    jvm=""
    set +e
    if [ "$impl" = c ]; then
      line=$(timeout --foreground -k 10 300 "$JCPG_ROOT/scripts/in-corosync-netns" "$BENCH_C" "$mode" "$size" "$count")
      status=$?
    else
      jvm=warm
      if [ "${server_size[$mode]:-}" != "$size" ] || ! kill -0 "${server_pid[$mode]}" 2>/dev/null; then
        stop_server "$mode"; start_server "$mode" "$size"; jvm=fresh
      fi
      java_run "$mode" "$size" "$count"
    fi
    set -e
    line=$(printf '%s\n' "$line" | tail -n 1)
    case "$line" in
      '{'*'}') ;;
      *) [ $status -ne 0 ] || status=99; line=null ;;   # 99: no JSON line on stdout
    esac
    if [ $status -ne 0 ]; then
      failed=$((failed + 1))
      log "FAILED: $impl $mode, size $size, pair $pair: exit status $status${line:+ ($line)}"
      line=null
    else
      printf '%s\n' "$line" | sed -n 's/.*"msgs_per_s":\([0-9.]*\).*"client_cpu_us_per_msg":\([0-9.]*\).*"daemon_cpu_us_per_msg":\([0-9.a-z]*\).*/jcpg:     \1 msgs\/s, client \2 us CPU\/msg, daemon \3 us CPU\/msg/p' >&2
    fi
    printf '{"pair":%d,"order":%d,"impl":"%s","mode":"%s","size":%d,"count":%d,%s"exit":%d,"result":%s}\n' \
      "$pair" "$n" "$impl" "$mode" "$size" "$count" "${jvm:+\"jvm\":\"$jvm\",}" "$status" "$line" >>"$BENCH_RUNS"
    done_weight=$((done_weight + weights[k]))
  done
  for mode in "${!server_pid[@]}"; do stop_server "$mode"; done
  rm -rf "$fifos"
  log "$total runs in $(( (SECONDS - started) / 60 )) min $(( (SECONDS - started) % 60 )) s, $failed failed"
  exit 0
fi

# ---- outside: options, build, machine info, then the runs, then the report ----
bench_options 20 "$@"

bench_prepare "the benchmark (a private corosync)"
bench_need_gcc

log "building the C benchmark (target/bench/cpgbench)"
gcc -O2 -Wall -Wextra -Werror -o target/bench/cpgbench src/bench/c/cpgbench.c -lcpg
bench_build_java
java_cp=$BENCH_CP
[ -n "${BENCH_EXTRA_CP:-}" ] && java_cp="$BENCH_EXTRA_CP:$java_cp"
found=""
IFS=: read -r -a cp_parts <<<"$java_cp"
for dir in "${cp_parts[@]}"; do [ -f "$dir/org/jcpg/bench/CpgBench.class" ] && found=$dir; done
[ -n "$found" ] || die "the Java side of the benchmark, org.jcpg.bench.CpgBench (src/bench/java/org/jcpg/bench/CpgBench.java), is not in this tree: nothing to compare the C program with"

stamp=$(date +%Y%m%d-%H%M%S)
runs=$JCPG_ROOT/target/bench/runs-$stamp.jsonl
info=$JCPG_ROOT/target/bench/info-$stamp.txt
: >"$runs"
{
  machine_info
  echo "parameters.pairs=$pairs"
  echo "parameters.fresh_pairs=1"
  echo "parameters.java_jvm=one JVM per size and mode makes that mode's runs in turn (CpgBench serve): pair 1 fresh, the others warm"
  echo "parameters.quick=$([ $quick = 1 ] && echo true || echo false)"
  echo "parameters.sizes=${sizes[*]}"
  echo "parameters.counts=${counts[*]}"
  echo "parameters.warmup=count/10, untimed"
  echo "parameters.order=per size and pair: c copy, java ${JAVA_COPY_MODES[*]}, c zerocopy, java zerocopy"
  echo "parameters.java_opts=--enable-native-access=ALL-UNNAMED ${BENCH_JAVA_OPTS:-}"
} >"$info"

export BENCH_SIZES="${sizes[*]}" BENCH_COUNTS="${counts[*]}" BENCH_PAIRS=$pairs BENCH_RUNS=$runs
export BENCH_C=$JCPG_ROOT/target/bench/cpgbench BENCH_JAVA=$JAVA_HOME/bin/java BENCH_CP=$java_cp
log "1 fresh + $pairs warm pairs per size; sizes ${sizes[*]}; messages ${counts[*]}"
status=0
"$JCPG_ROOT/scripts/with-corosync.sh" "$BENCH_SCRIPTS/bench.sh" --inside || status=$?
# Interrupted or not, report what was measured.
[ -s "$runs" ] || { rm -f "$runs" "$info"; exit $((status ? status : 1)); }
[ $status = 0 ] || log "the runs stopped early (exit status $status): reporting the $(wc -l <"$runs") that ran"
"$JAVA_HOME/bin/java" -cp "$BENCH_CP" \
  org.jcpg.bench.BenchReport "$info" "$runs" "bench-results/$stamp" || status=$((status ? status : $?))
rm -f "$runs" "$info"
exit $status
