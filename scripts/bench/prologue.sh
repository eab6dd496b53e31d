# Sourced by every scripts/bench/*.sh: the prologue they share. Not meant to be run.
. "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
BENCH_SCRIPTS=$JCPG_ROOT/scripts/bench

# Prints the script's header comment (its usage) and exits.
bench_help() {
  sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 0
}

# What every benchmark does before it builds: installs what is missing (scripts/setup.sh), checks
# for root (a private corosync in namespaces), picks a JDK 22+, and makes the output folders.
# $1: what needs root, for the message.
bench_prepare() {
  "$JCPG_ROOT/scripts/setup.sh"
  need_root "$1"
  export JAVA_HOME; JAVA_HOME=$(find_jdk)
  cd "$JCPG_ROOT"
  mkdir -p target/bench bench-results
}

# The C side's compiler (libcpg-dev comes with setup.sh).
bench_need_gcc() {
  if ! command -v gcc >/dev/null || ! dpkg-query -W -f='${Status}' libc6-dev 2>/dev/null | grep -q 'install ok installed'; then
    log "installing from Debian: gcc libc6-dev (for the C side)"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends gcc libc6-dev >/dev/null
  fi
}

# Builds the Java benchmark (src/bench/java, src/bench/jmh) with the pom's `bench` profile, into
# target/bench-java/, fetching its own dependencies (XChart, JGroups, JMH; never the library's),
# and sets BENCH_CP to the class path that runs it.
bench_build_java() {
  log "building the Java benchmark (mvn -Pbench test-compile, into target/bench-java/)"
  mvn -B -q -ntp -Pbench test-compile >&2
  mvn -B -q -ntp -Pbench dependency:build-classpath -Dmdep.includeScope=test \
    -Dmdep.outputFile=target/bench-java/classpath.txt >/dev/null
  BENCH_CP="$JCPG_ROOT/target/bench-java/classes:$JCPG_ROOT/target/bench-java/test-classes:$(cat "$JCPG_ROOT/target/bench-java/classpath.txt")"
  export BENCH_CP
}

# The machine a benchmark ran on, as key=value lines for its report (JAVA_HOME set).
machine_info() {
  echo "date=$(date --iso-8601=seconds)"
  echo "machine.nproc=$(nproc)"
  echo "machine.model_name=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
  echo "machine.kernel=$(uname -r)"
  echo "machine.loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "machine.corosync=$(corosync -v 2>/dev/null | sed -n "s/.*version '\([^']*\)'.*/\1/p" | head -n 1)"
  echo "machine.libcpg=$(dpkg-query -W -f='${Version}' libcpg4 2>/dev/null || true)"
  echo "machine.jdk=$("$JAVA_HOME/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.runtime\.version = //p') ($("$JAVA_HOME/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.vm\.vendor = //p'))"
  if command -v gcc >/dev/null; then echo "machine.gcc=$(gcc -dumpfullversion)"; fi
}

# The options every alternating benchmark takes: --quick, --pairs N, --sizes "SIZE...".
# Needs ALL_SIZES and ALL_COUNTS (the protocol's); $1: what --quick divides the counts by.
# Sets quick, pairs (5, or 2 with --quick), sizes and counts.
bench_options() {
  local divisor=$1 size count i
  shift
  pairs="" quick=0 sizes=("${ALL_SIZES[@]}")
  while [ $# -gt 0 ]; do
    case "$1" in
      --quick) quick=1 ;;
      --pairs) [ $# -ge 2 ] || die "--pairs needs a number"; pairs=$2; shift ;;
      --pairs=*) pairs=${1#--pairs=} ;;
      --sizes) [ $# -ge 2 ] || die "--sizes needs a list"; read -r -a sizes <<<"$2"; shift ;;
      --sizes=*) read -r -a sizes <<<"${1#--sizes=}" ;;
      -h|--help) bench_help ;;
      *) die "unknown option '$1' (try --help)" ;;
    esac
    shift
  done
  [ -n "$pairs" ] || { [ $quick = 1 ] && pairs=2 || pairs=5; }
  case "$pairs" in ''|*[!0-9]*|0) die "--pairs wants a whole number from 1, not '$pairs'" ;; esac
  counts=()
  for size in "${sizes[@]}"; do
    count=""
    for i in "${!ALL_SIZES[@]}"; do [ "${ALL_SIZES[$i]}" = "$size" ] && count=${ALL_COUNTS[$i]}; done
    [ -n "$count" ] || die "size $size is not one of the protocol's: ${ALL_SIZES[*]}"
    [ $quick = 1 ] && count=$((count / divisor))
    counts+=("$count")
  done
}
