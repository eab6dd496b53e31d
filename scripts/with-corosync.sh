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
need_root "a private corosync"
[ $# -gt 0 ] || die "usage: $0 COMMAND [ARG...]"
command -v corosync >/dev/null || die "corosync is not installed: run scripts/setup.sh"

ns=jcpg-$$
dir=$(mktemp -d /tmp/jcpg-corosync.XXXXXX)
daemon=""

stop_daemon() {
  set +e
  if [ -n "$daemon" ] && kill -0 "$daemon" 2>/dev/null; then
    kill -TERM "$daemon"
    for _ in $(seq 1 150); do
      kill -0 "$daemon" 2>/dev/null || break
      case "$(ps -o stat= -p "$daemon" 2>/dev/null)" in Z*) break ;; esac
      sleep 0.1
    done
    kill -KILL "$daemon" 2>/dev/null
    wait "$daemon" 2>/dev/null
  fi
  # A daemon that died hard leaves its libqb rings behind; they carry its pid.
  [ -n "$daemon" ] && rm -rf /dev/shm/qb-"$daemon"-* 2>/dev/null
  ip netns del "$ns" 2>/dev/null
  rm -rf "$dir"
}
trap stop_daemon EXIT
trap 'exit 130' INT TERM

mkdir -p "$dir/run" "$dir/state"
cat > "$dir/corosync.conf" <<CONF
totem {
    version: 2
    cluster_name: jcpg-private
    transport: knet
    crypto_cipher: none
    crypto_hash: none
}
nodelist {
    node {
        ring0_addr: 127.0.0.1
        nodeid: 1
        name: node1
    }
}
logging {
    to_stderr: yes
    to_logfile: no
    to_syslog: no
    timestamp: on
    blackbox: off
}
system {
    state_dir: $dir/state
    move_to_root_cgroup: no
}
CONF

ip netns add "$ns"
ip -n "$ns" link set lo up
# ip netns exec and unshare exec in place, so $! is corosync's own pid.
ip netns exec "$ns" unshare --mount --propagation private \
  sh -c 'mount --bind "$1/run" /run && exec corosync -f -c "$1/corosync.conf"' sh "$dir" \
  >"$dir/corosync.log" 2>&1 &
daemon=$!

ready=""
for _ in $(seq 1 300); do
  kill -0 "$daemon" 2>/dev/null || break
  if ip netns exec "$ns" corosync-cpgtool >/dev/null 2>&1; then ready=1; break; fi
  sleep 0.1
done
if [ -z "$ready" ]; then
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
