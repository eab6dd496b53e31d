# Sourced by the other scripts: shared helpers. Not meant to be run.

JCPG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

die() { printf 'jcpg: %s\n' "$*" >&2; exit 1; }
log() { printf 'jcpg: %s\n' "$*" >&2; }

# Prints the home of a JDK 22 or newer: $JAVA_HOME if it qualifies, else the
# newest one under /usr/lib/jvm. jcpg needs the FFM API, final in JDK 22.
find_jdk() {
  local candidates=() home version best="" best_version=0
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
  for home in /usr/lib/jvm/*; do candidates+=("$home"); done
  for home in "${candidates[@]}"; do
    [ -x "$home/bin/javac" ] || continue
    version=$("$home/bin/java" -XshowSettings:properties -version 2>&1 \
      | sed -n 's/^ *java\.specification\.version = //p')
    case "$version" in ''|1.*) continue ;; esac
    if [ "$version" -ge 22 ] && { [ "$home" = "${JAVA_HOME:-}" ] || [ "$version" -gt "$best_version" ]; }; then
      best=$home; best_version=$version
      [ "$home" = "${JAVA_HOME:-}" ] && break
    fi
  done
  [ -n "$best" ] || die "no JDK 22 or newer found (looked at JAVA_HOME and /usr/lib/jvm/*). Install one, e.g. 'apt-get install openjdk-25-jdk' or Temurin 25, and/or set JAVA_HOME."
  printf '%s\n' "$best"
}

need_root() {
  [ "$(id -u)" = 0 ] || die "$1 needs root (network and mount namespaces, apt-get). Run it with sudo."
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
      -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 0 ;;
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
