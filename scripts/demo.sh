#!/usr/bin/env bash
# Usage: scripts/demo.sh [--cluster | --system] [--color | --no-color]
#
# The first command to run: about 5 s (after the set-up) that show what
# corosync's Closed Process Group gives a Java program, as a timeline. Four
# member processes: three join a group, multicast at the same time and all
# deliver one agreed order; one leaves (LEAVE), one is killed mid-stream
# (PROCDOWN), the fourth joins and receives the state of a replicated map
# (the example org.jcpg.examples.kv); a zero-copy send; the totem ring. At
# the end it checks that every member's log tells the same history and that
# the replicas are equal, and exits 1 if not (0 if they agree, 2 on a usage
# error).
#
# It does the set-up first (scripts/setup.sh: packages when missing; a Maven
# build of the classes) and stops everything it started, also on Ctrl-C.
#
#   (default)   a private single-node corosync on loopback, in namespaces of
#               its own (scripts/with-corosync.sh); needs root
#   --system    the corosync already running in this network namespace
#               (e.g. the system's, started by systemd); nothing is started
#   --cluster   a private 3-node cluster (scripts/cluster.sh), one member per
#               node, and node 3's corosync is killed at the end; needs root
#   --color / --no-color   colours (default: when stdout is a terminal and
#               NO_COLOR is unset)
set -euo pipefail
. "$(dirname "$0")/common.sh"

mode=private
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then color=always; else color=never; fi
for arg in "$@"; do
  case "$arg" in
    --cluster) mode=cluster ;;
    --system) mode=system ;;
    --color) color=always ;;
    --no-color) color=never ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) printf 'jcpg: unknown option %s (see --help)\n' "$arg" >&2; exit 2 ;;
  esac
done

"$JCPG_ROOT/scripts/setup.sh"
export JAVA_HOME; JAVA_HOME=$(find_jdk)
cd "$JCPG_ROOT"
log "building (mvn test-compile)"
mvn -B -q -ntp -Dstyle.color="$color" test-compile
demo=("$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -XX:TieredStopAtLevel=1 -Xshare:auto
  -Djcpg.root="$JCPG_ROOT" -cp "$JCPG_ROOT/target/classes:$JCPG_ROOT/target/test-classes"
  org.jcpg.examples.demo.Demo --color "$color")

case "$mode" in
  private)
    exec "$JCPG_ROOT/scripts/with-corosync.sh" "$JCPG_ROOT/scripts/in-corosync-netns" "${demo[@]}" ;;
  system)
    command -v corosync-cpgtool >/dev/null || die "corosync-cpgtool is missing: run scripts/setup.sh"
    corosync-cpgtool >/dev/null 2>&1 \
      || die "no corosync answers in this network namespace (corosync-cpgtool failed): start it (systemctl start corosync), or run scripts/demo.sh without --system for a private one"
    exec "${demo[@]}" ;;
  cluster)
    need_root "the 3-node cluster"
    id=demo$$
    trap '"$JCPG_ROOT/scripts/cluster.sh" --id "$id" down >/dev/null 2>&1 || true' EXIT
    trap 'exit 130' INT TERM
    "$JCPG_ROOT/scripts/cluster.sh" --id "$id" up -n 3 >/dev/null
    set +e
    "${demo[@]}" --cluster "$id"
    status=$?
    set -e
    exit $status ;;
esac
