#!/usr/bin/env bash
# Usage: scripts/demo.sh
#
# Builds jcpg and runs examples/Hello.java against a private single-node
# corosync on loopback, with jcpg on the module path.
set -euo pipefail
. "$(dirname "$0")/common.sh"
"$JCPG_ROOT/scripts/setup.sh"
export JAVA_HOME; JAVA_HOME=$(find_jdk)
cd "$JCPG_ROOT"
mvn -B -q -ntp package -DskipTests
jar=$(ls target/jcpg-*.jar | grep -v -e '-sources\.jar$' -e '-javadoc\.jar$' | head -n 1)
exec "$JCPG_ROOT/scripts/with-corosync.sh" "$JCPG_ROOT/scripts/in-corosync-netns" \
  "$JAVA_HOME/bin/java" --module-path "$jar" --add-modules org.jcpg --enable-native-access=org.jcpg \
  examples/Hello.java
