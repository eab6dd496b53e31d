#!/usr/bin/env bash
# Usage: scripts/test.sh [MAVEN ARG...]
#
# Runs all of jcpg's tests against a real corosync: installs what is
# missing (scripts/setup.sh), starts a private single-node corosync in its
# own namespaces (scripts/with-corosync.sh), and runs `mvn verify` with the
# test JVM inside that daemon's network namespace. Maven itself stays in
# the root namespace, where it can reach its repository. Then the Java
# benchmark's own unit tests (src/bench/java, built with -Pbench into
# target/bench-java/; no corosync needed); with -Dtest=... they run only if
# the selection names org.jcpg.bench.
set -euo pipefail
. "$(dirname "$0")/common.sh"
"$JCPG_ROOT/scripts/setup.sh"
export JAVA_HOME; JAVA_HOME=$(find_jdk)
export JCPG_TEST_JAVA="$JAVA_HOME/bin/java"
cd "$JCPG_ROOT"
"$JCPG_ROOT/scripts/with-corosync.sh" \
  mvn -B -ntp verify -Djcpg.test.jvm="$JCPG_ROOT/scripts/netns/bin/java" "$@"
selection=""
for arg in "$@"; do
  case "$arg" in -Dtest=*) selection=${arg#-Dtest=} ;; esac
done
case "$selection" in
  ""|*bench*) ;;
  *) exit 0 ;;
esac
log "the benchmark's unit tests (mvn -Pbench test-compile surefire:test@bench-unit)"
exec mvn -B -ntp -Pbench test-compile surefire:test@bench-unit "$@"
