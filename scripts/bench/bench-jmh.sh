#!/usr/bin/env bash
# Usage: scripts/bench/bench-jmh.sh [--quick]
#
# jcpg's micro-benchmarks (docs/benchmarks.md, "Micro-benchmarks and scaling"), JMH
# with its GC profiler, against a private corosync:
#   - a call libcpg answers without the daemon (cpg_max_atomic_msgsize_get,
#     cpg_flow_control_state_get): jcpg's public API, the raw jextract stub,
#     and C (src/bench/c/cpglocal.c, a timed tight loop), in ns per call;
#   - one message delivery as libcpg's dispatch makes it: C calling a C
#     callback, an empty jcpg upcall stub, and jcpg's real deliver path
#     (src/bench/c/upcallshim.c calls the function pointer in a loop);
#   - building the MembershipChange of a change of 3 and of 100 members from
#     native cpg_address arrays.
# Prints a table (ns and bytes allocated per operation) and writes
# bench-results/jmh-<timestamp>.json. About 3 minutes; --quick: about 1.
# JMH comes from Maven Central through the pom's `bench` profile (built into
# target/bench-java/), never a dependency of the library.
set -euo pipefail
. "$(dirname "$0")/prologue.sh"

if [ "${1:-}" = --inside ]; then
  log "C: $BENCH_CALLS calls per round, 7 rounds (target/bench/cpglocal)"
  "$JCPG_ROOT/scripts/in-corosync-netns" "$JCPG_ROOT/target/bench/cpglocal" "$BENCH_CALLS" >"$BENCH_C_RESULT"
  cat "$BENCH_C_RESULT" >&2
  log "JMH (progress below; the table at the end)"
  exec "$JCPG_ROOT/scripts/in-corosync-netns" "$BENCH_JAVA" --enable-native-access=ALL-UNNAMED \
    -Djcpg.bench.upcallShim="$JCPG_ROOT/target/bench/libjcpgupcallshim.so" \
    -cp "$BENCH_CP" org.jcpg.bench.JmhMain "$BENCH_INFO" "$BENCH_C_RESULT" "$BENCH_OUT" $BENCH_QUICK
fi

quick=""
case "${1:-}" in
  "") ;;
  --quick) quick=--quick ;;
  -h|--help) bench_help ;;
  *) die "unknown option '$1' (try --help)" ;;
esac

bench_prepare "the micro-benchmarks (a private corosync)"
bench_need_gcc

log "building the C side (target/bench/cpglocal, target/bench/libjcpgupcallshim.so)"
gcc -O2 -Wall -Wextra -Werror -o target/bench/cpglocal src/bench/c/cpglocal.c -lcpg
gcc -O2 -Wall -Wextra -Werror -shared -fPIC -o target/bench/libjcpgupcallshim.so src/bench/c/upcallshim.c
bench_build_java

stamp=$(date +%Y%m%d-%H%M%S)
info=target/bench/jmh-info-$stamp.txt
{
  machine_info
  echo "parameters.quick=$([ -n "$quick" ] && echo true || echo false)"
} >"$info"

export BENCH_JAVA=$JAVA_HOME/bin/java
export BENCH_INFO=$JCPG_ROOT/$info BENCH_C_RESULT=$JCPG_ROOT/target/bench/jmh-c-$stamp.json
export BENCH_OUT=$JCPG_ROOT/bench-results/jmh-$stamp.json BENCH_QUICK=$quick
export BENCH_CALLS=$([ -n "$quick" ] && echo 1000000 || echo 5000000)
status=0
"$JCPG_ROOT/scripts/with-corosync.sh" "$BENCH_SCRIPTS/bench-jmh.sh" --inside || status=$?
rm -f "$info" "$BENCH_C_RESULT"
exit $status
