#!/usr/bin/env bash
# Usage: scripts/bench-jmh.sh [--quick]
#
# jcpg's micro-benchmarks (README.md, "Micro-benchmarks and scaling"), JMH
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
# target/jmh/), never a dependency of the library.
set -euo pipefail
. "$(dirname "$0")/common.sh"

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
  -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 0 ;;
  *) die "unknown option '$1' (try --help)" ;;
esac

"$JCPG_ROOT/scripts/setup.sh"
need_root "the micro-benchmarks (a private corosync)"
if ! command -v gcc >/dev/null || ! dpkg-query -W -f='${Status}' libc6-dev 2>/dev/null | grep -q 'install ok installed'; then
  log "installing from Debian: gcc libc6-dev (for the C side)"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends gcc libc6-dev >/dev/null
fi
export JAVA_HOME; JAVA_HOME=$(find_jdk)
cd "$JCPG_ROOT"
mkdir -p target/bench bench-results

log "building the C side (target/bench/cpglocal, target/bench/libjcpgupcallshim.so)"
gcc -O2 -Wall -Wextra -Werror -o target/bench/cpglocal src/bench/c/cpglocal.c -lcpg
gcc -O2 -Wall -Wextra -Werror -shared -fPIC -o target/bench/libjcpgupcallshim.so src/bench/c/upcallshim.c
log "building the benchmarks (mvn -Pbench test-compile, into target/jmh/)"
mvn -B -q -ntp -Pbench test-compile >&2
mvn -B -q -ntp -Pbench dependency:build-classpath -Dmdep.includeScope=test \
  -Dmdep.outputFile=target/jmh/classpath.txt >/dev/null

stamp=$(date +%Y%m%d-%H%M%S)
info=target/bench/jmh-info-$stamp.txt
{
  machine_info
  echo "parameters.quick=$([ -n "$quick" ] && echo true || echo false)"
} >"$info"

export BENCH_JAVA=$JAVA_HOME/bin/java
export BENCH_CP="$JCPG_ROOT/target/jmh/classes:$JCPG_ROOT/target/jmh/test-classes:$(cat target/jmh/classpath.txt)"
export BENCH_INFO=$JCPG_ROOT/$info BENCH_C_RESULT=$JCPG_ROOT/target/bench/jmh-c-$stamp.json
export BENCH_OUT=$JCPG_ROOT/bench-results/jmh-$stamp.json BENCH_QUICK=$quick
export BENCH_CALLS=$([ -n "$quick" ] && echo 1000000 || echo 5000000)
status=0
"$JCPG_ROOT/scripts/with-corosync.sh" "$JCPG_ROOT/scripts/bench-jmh.sh" --inside || status=$?
rm -f "$info" "$BENCH_C_RESULT"
exit $status
