#!/usr/bin/env bash
# Usage: scripts/test.sh [MAVEN ARG...]
#
# Runs all of jcpg's tests against a real corosync: installs what is
# missing (scripts/setup.sh), starts a private single-node corosync in its
# own namespaces (scripts/with-corosync.sh), and runs `mvn verify` with the
# test JVM inside that daemon's network namespace. Maven itself stays in
# the root namespace, where it can reach its repository.
set -euo pipefail
. "$(dirname "$0")/common.sh"
"$JCPG_ROOT/scripts/setup.sh"
export JAVA_HOME; JAVA_HOME=$(find_jdk)
export JCPG_TEST_JAVA="$JAVA_HOME/bin/java"
cd "$JCPG_ROOT"
exec "$JCPG_ROOT/scripts/with-corosync.sh" \
  mvn -B -ntp verify -Djcpg.test.jvm="$JCPG_ROOT/scripts/netns/bin/java" "$@"
