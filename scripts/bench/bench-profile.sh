#!/usr/bin/env bash
# Usage: scripts/bench/bench-profile.sh [--sizes "SIZE..."] [--rounds N] [--quick]
#
# Where the client's CPU goes, C against Java (docs/benchmarks.md,
# "Profile"): a CPU profile (perf, cpu-clock sampling) of the programs of
# scripts/bench/bench.sh, per message size, against a private corosync:
#   - C copy (src/bench/c/cpgbench.c), the whole run;
#   - Java copy (jcpg) and Java stubs (the same loop on jextract's stubs
#     alone), each in a JVM that has made two runs of the same size before
#     (CpgBench serve), profiled during its third run only: a second run may
#     still be compiling (at 64 B, C2 compiled jcpg's delivery path only
#     then; the first ran it as C1 code).
# The JVMs write a perf map at exit (-XX:+DumpPerfMapAtExit), so that perf
# names the JIT-compiled Java methods. Samples are turned into microseconds
# of CPU per message (warm-up messages included, for all three) and split
# by thread (the sending thread; all others: JIT compiler, GC, VM) and, for
# the sending thread, by where it ran: the kernel, libcpg and libqb, libc,
# the JVM's runtime (libjvm), JIT-compiled Java code, other.
# Prints that table and the sending thread's hottest Java methods, and
# writes bench-results/profile-<timestamp>.txt (also perf's own summaries).
#
#   --sizes    only these of 64 1024 8192 65536 262144 (default: all)
#   --rounds N profile each program N times per size (default 1); the
#              table shows the median of each figure
#   --quick    1/10 of the messages, sizes 64 and 8192
# Environment: PROFILE_KEEP=1 keeps the perf data (in a temporary directory)
# and the JVMs' perf maps (/tmp/perf-PID.map).
set -euo pipefail
. "$(dirname "$0")/prologue.sh"

ALL_SIZES=(64 1024 8192 65536 262144)
ALL_COUNTS=(100000 100000 50000 20000 5000)
PERIOD_NS=250000   # one sample per 250 us of a thread's CPU

# ---- inside the private corosync (scripts/with-corosync.sh runs us again) ----
if [ "${1:-}" = --inside ]; then
  read -r -a sizes <<<"$PROFILE_SIZES"
  read -r -a counts <<<"$PROFILE_COUNTS"
  out=$PROFILE_DIR
  # A served JVM: two runs of SIZE to warm it, then a profiled one; keeps its answer and pid in files.
  java_profiled() { # mode size count name
    local in=$out/$4.in answer pid perf_pid
    rm -f "$in" "$out/$4.out"; mkfifo "$in" "$out/$4.out"
    ("$JCPG_ROOT/scripts/in-corosync-netns" "$PROFILE_JAVA" --enable-native-access=ALL-UNNAMED \
       -XX:+UnlockDiagnosticVMOptions -XX:+DumpPerfMapAtExit -cp "$PROFILE_CP" org.jcpg.bench.CpgBench serve \
       <"$in" >"$out/$4.out") &
    pid=$!
    exec 7>"$in" 8<"$out/$4.out"
    for warm in 1 2; do
      echo "$1 $2 $3" >&7
      read -r -t 300 answer <&8 || die "$4: warm-up run $warm gave no answer"
    done
    perf record -q -a -e cpu-clock -c $PERIOD_NS -o "$out/$4.data" 2>>"$out/perf.log" &
    perf_pid=$!
    sleep 0.5   # perf attaches
    echo "$1 $2 $3" >&7
    read -r -t 300 answer <&8 || die "$4: the profiled run gave no answer"
    kill -INT "$perf_pid"; wait "$perf_pid" || true
    exec 7>&- 8<&-
    wait "$pid" || die "$4: the JVM failed"
    rm -f "$in" "$out/$4.out"
    printf '%s\n' "$answer" >"$out/$4.json"
    echo "$pid" >"$out/$4.pid"
  }
  for round in $(seq 1 "$PROFILE_ROUNDS"); do
    for i in "${!sizes[@]}"; do
      size=${sizes[$i]} count=${counts[$i]}
      log "round $round/$PROFILE_ROUNDS, size $size: C copy"
      perf record -q -a -e cpu-clock -c $PERIOD_NS -o "$out/c-$size-$round.data" -- \
        "$JCPG_ROOT/scripts/in-corosync-netns" "$PROFILE_C" copy "$size" "$count" >"$out/c-$size-$round.json" 2>>"$out/perf.log"
      for mode in copy stubs; do
        log "round $round/$PROFILE_ROUNDS, size $size: Java $mode"
        java_profiled "$mode" "$size" "$count" "java-$mode-$size-$round"
      done
    done
  done
  exit 0
fi

rounds=1 quick=0 sizes=("${ALL_SIZES[@]}")
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) [ $# -ge 2 ] || die "--rounds needs a number"; rounds=$2; shift ;;
    --sizes) [ $# -ge 2 ] || die "--sizes needs a list"; read -r -a sizes <<<"$2"; shift ;;
    --quick) quick=1 sizes=(64 8192) ;;
    -h|--help) bench_help ;;
    *) die "unknown option '$1' (try --help)" ;;
  esac
  shift
done
case "$rounds" in ''|*[!0-9]*|0) die "--rounds wants a whole number from 1, not '$rounds'" ;; esac
counts=()
for size in "${sizes[@]}"; do
  count=""
  for i in "${!ALL_SIZES[@]}"; do [ "${ALL_SIZES[$i]}" = "$size" ] && count=${ALL_COUNTS[$i]}; done
  [ -n "$count" ] || die "size $size is not one of the protocol's: ${ALL_SIZES[*]}"
  [ $quick = 1 ] && count=$((count / 10))
  counts+=("$count")
done

bench_prepare "the profile (a private corosync, perf)"
if ! command -v perf >/dev/null || ! perf --version >/dev/null 2>&1; then
  log "installing perf (Debian package linux-perf)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q linux-perf >&2 \
    || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q linux-perf >&2; } \
    || die "could not install perf (apt-get install linux-perf)"
fi
perf stat -e cpu-clock true >/dev/null 2>&1 || die "perf cannot sample here (perf stat -e cpu-clock true failed)"
log "building the C program (target/bench/cpgbench)"
gcc -O2 -Wall -Wextra -Werror -o target/bench/cpgbench src/bench/c/cpgbench.c -lcpg
bench_build_java

stamp=$(date +%Y%m%d-%H%M%S)
work=$(mktemp -d)
[ -n "${PROFILE_KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
export PROFILE_DIR=$work PROFILE_SIZES="${sizes[*]}" PROFILE_COUNTS="${counts[*]}" PROFILE_ROUNDS=$rounds
export PROFILE_C=$JCPG_ROOT/target/bench/cpgbench PROFILE_JAVA=$JAVA_HOME/bin/java
export PROFILE_CP=$BENCH_CP
"$JCPG_ROOT/scripts/with-corosync.sh" "$BENCH_SCRIPTS/bench-profile.sh" --inside

# ---- the report --------------------------------------------------------------
report=bench-results/profile-$stamp.txt
# Microseconds of CPU per message by thread and place, from one perf.data: "thread place us".
cpu_split() { # data messages sending-thread: the program's threads (by comm for C), and the daemon's
  # The C program has one thread: its comm selects it (a filter of one comm would drop the column).
  local filter=() only_sender=1
  [ "$3" = bench-sender ] && filter=(--pid "$4") only_sender=0
  perf report -i "$1" --stdio -q -n "${filter[@]}" --sort comm,dso -t '|' 2>/dev/null \
    | awk -F'|' -v msgs="$2" -v sender="$3" -v only_sender=$only_sender -v period=$PERIOD_NS '
    NF >= 4 {
      comm = $3; dso = $4; gsub(/^ +| +$/, "", comm); gsub(/^ +| +$/, "", dso)
      if (only_sender && comm != sender) next
      thread = comm == sender ? "sender" : "others"
      place = "other"
      if (dso == "[kernel.kallsyms]") place = "kernel"
      else if (dso ~ /^libcpg|^libqb/) place = "libcpg+libqb"
      else if (dso ~ /^libc[.-]/) place = "libc"
      else if (dso ~ /^libjvm/) place = "jvm"
      else if (dso ~ /^perf-[0-9]+\.map$|^\[JIT\]/) place = "java"
      us[thread " " place] += $2 * period / 1e3 / msgs
    }
    END { for (k in us) printf "%s %.3f\n", k, us[k] }'
  perf report -i "$1" --stdio -q -n --comms corosync --sort comm -t '|' 2>/dev/null \
    | awk -F'|' -v msgs="$2" -v period=$PERIOD_NS 'NF >= 3 { s += $2 } END { printf "daemon all %.3f\n", s * period / 1e3 / msgs }'
}
size_label() { if [ $(($1 % 1024)) = 0 ]; then echo "$(($1 / 1024)) KiB"; else echo "$1 B"; fi; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) { print "nan"; exit } print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
# The median over the rounds of one figure of $work/split ("round thread place us"): a thread's
# CPU (THREAD), or the part of it in one place (THREAD PLACE); 0 if none was sampled.
figure() {
  local m
  m=$(awk -v t="$1" -v p="${2:-}" '$2 == t && (p == "" || $3 == p) { s[$1] += $4 } END { for (r in s) print s[r] }' \
    "$work/split" | median)
  echo "${m/nan/0}"
}
{
  echo "jcpg CPU profile, $(date -u +%Y-%m-%dT%H:%M:%SZ): perf record -e cpu-clock -c $PERIOD_NS; rounds $rounds"
  machine_info
  echo
  printf 'microseconds of CPU per message, the whole run (setup and warm-up messages included); sender: the thread that\n'
  printf 'sends and dispatches, and where it ran; others: all other threads (JIT compilers, GC, VM), for Java until it answered\n'
  printf '(after its collection and its compiler threads went idle); daemon: corosync. Sampled system-wide (perf -a), so that\n'
  printf 'the profiler adds nothing to the context switches of the programs\n'
  printf '%-8s %-11s %8s %8s %8s %8s %8s %8s %8s %8s  %8s %8s\n' size program msgs/s sender kernel libcpg libc jvm java other others daemon
} | tee "$report"
places=(kernel libcpg+libqb libc jvm java other)
for i in "${!sizes[@]}"; do
  size=${sizes[$i]} messages=$((counts[i] + counts[i] / 10))
  for program in c java-copy java-stubs; do
    sender=bench-sender; [ $program = c ] && sender=cpgbench
    : >"$work/split"
    for round in $(seq 1 "$rounds"); do
      data=$work/$program-$size-$round.data
      [ -s "$data" ] || continue
      pid=""; [ -f "$work/$program-$size-$round.pid" ] && pid=$(cat "$work/$program-$size-$round.pid")
      cpu_split "$data" "$messages" "$sender" "$pid" | sed "s/^/$round /" >>"$work/split"
      grep -o '"msgs_per_s":[0-9.]*' "$work/$program-$size-$round.json" | cut -d: -f2 >>"$work/rate-$program-$size"
    done
    row=$(printf '%-8s %-11s %8.0f' "$(size_label "$size")" "$program" "$(median <"$work/rate-$program-$size")")
    row+=$(printf ' %8.2f' "$(figure sender)")
    for place in "${places[@]}"; do row+=$(printf ' %8.2f' "$(figure sender "$place")"); done
    row+=$(printf '  %8.2f %8.2f' "$(figure others)" "$(figure daemon)")
    echo "$row" | tee -a "$report"
  done
done
{
  echo
  echo "The sending thread's hottest JIT-compiled Java methods (round 1), nanoseconds per message:"
  for i in "${!sizes[@]}"; do
    size=${sizes[$i]} messages=$((counts[i] + counts[i] / 10))
    for program in java-copy java-stubs; do
      data=$work/$program-$size-1.data pid=$(cat "$work/$program-$size-1.pid")
      echo "  size $size, $program:"
      perf report -i "$data" --stdio -q -n --comms bench-sender --dsos "[JIT] tid $pid" --sort sym -t '|' 2>/dev/null \
        | awk -F'|' -v msgs="$messages" -v period=$PERIOD_NS 'NF >= 3 { sym = $3; gsub(/^ +| +$|^\[\.\] /, "", sym); printf "    %8.1f  %s\n", $2 * period / msgs, sym }' \
        | sort -rn | head -12
    done
  done
} | tee -a "$report"
{
  echo
  echo "perf's own summaries (round 1, the sending thread), by shared object and symbol:"
  for size in "${sizes[@]}"; do
    for program in c java-copy java-stubs; do
      sender=bench-sender; [ $program = c ] && sender=cpgbench
      echo "== size $size, $program"
      perf report -i "$work/$program-$size-1.data" --stdio -q --comms "$sender" --sort dso,sym --percent-limit 0.5 2>/dev/null | head -40
    done
  done
} >>"$report"
[ -n "${PROFILE_KEEP:-}" ] || for pid_file in "$work"/*.pid; do rm -f "/tmp/perf-$(cat "$pid_file").map"; done
log "profile: $report"
