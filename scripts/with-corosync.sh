#!/usr/bin/env bash
# Usage: scripts/with-corosync.sh COMMAND [ARG...]
#
# Starts a private single-node corosync on 127.0.0.1, runs COMMAND while it
# serves CPG, then stops it and cleans up. COMMAND's exit status is ours.
#
# corosync's IPC is an abstract unix socket (@cpg), one per network
# namespace, and its pid file (/run/corosync.pid) is compiled in. So the
# private daemon gets its own network namespace (only loopback) and its own
# mount namespace with a private directory over /run: a corosync that the
# machine already runs is never touched. COMMAND runs in the root namespaces
# (so Maven still reaches its repository); it reaches the daemon by running
# the programs that must talk to it through scripts/in-corosync-netns,
# which finds the namespace in $JCPG_NETNS.
set -euo pipefail
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/corosync-lib.sh"
need_root "a private corosync"
[ $# -gt 0 ] || die "usage: $0 COMMAND [ARG...]"
command -v corosync >/dev/null || die "corosync is not installed: run scripts/setup.sh"

ns=jcpg-$$
dir=$(mktemp -d /tmp/jcpg-corosync.XXXXXX)
daemon=""

stop_daemon() {
  set +e
  if [ -n "$daemon" ]; then
    corosync_stop_pid "$daemon"
    wait "$daemon" 2>/dev/null
    # A daemon that died hard leaves its libqb rings behind; they carry its pid.
    corosync_clean_shm "$daemon"
  fi
  ip netns del "$ns" 2>/dev/null
  rm -rf "$dir"
}
trap stop_daemon EXIT
trap 'exit 130' INT TERM

corosync_write_conf "$dir" jcpg-private
corosync_netns_create "$ns"
( corosync_exec "$ns" "$dir" ) >"$dir/corosync.log" 2>&1 &
daemon=$!

if ! corosync_await_cpg "$ns" "$daemon" 300; then
  cat "$dir/corosync.log" >&2
  die "the private corosync did not start serving CPG within 30 s (its log is above)"
fi
log "private corosync (pid $daemon) serves CPG in network namespace $ns"

export JCPG_NETNS=$ns JCPG_COROSYNC_PID=$daemon JCPG_COROSYNC_LOG=$dir/corosync.log
set +e
"$@"
status=$?
set -e
exit $status
