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
