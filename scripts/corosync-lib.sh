# Sourced by scripts/with-corosync.sh and scripts/corosync-node: how jcpg
# runs a private single-node corosync. Not meant to be run.
#
# corosync's IPC is an abstract unix socket (@cpg), one per network
# namespace, and its pid file (/run/corosync.pid) is compiled in. So each
# private daemon gets its own network namespace (loopback only) and its own
# mount namespace with a private directory over /run; its state_dir is its
# own too (ringid_<nodeid> files would collide). /dev/shm stays shared:
# libqb's rings live there, named qb-<daemon pid>-<client pid>-...

# corosync_write_conf [OPTION...] DIR CLUSTER [ADDRESS...]: DIR/corosync.conf
# (and the directories the daemon needs, DIR/run and DIR/state, its
# state_dir) for the nodes at ADDRESS... (node I: nodeid I, name nodeI;
# default one node on 127.0.0.1). The one writer of jcpg's configurations:
# the private single-node daemon (scripts/with-corosync.sh,
# scripts/corosync-node) and each node of scripts/cluster.sh.
#   --fast            short totem timers (token 500 ms, join 50, merge 100):
#                     a test cluster notices a dead node within a second
#   --crypto KEYFILE  aes256/sha256 with KEYFILE (default: no crypto)
#   --timestamp T     the log's timestamp (on; the cluster: hires)
corosync_write_conf() {
  local fast=0 keyfile="" timestamp=on dir cluster addresses i
  while [ $# -gt 0 ]; do
    case "$1" in
      --fast) fast=1; shift ;;
      --crypto) keyfile=$2; shift 2 ;;
      --timestamp) timestamp=$2; shift 2 ;;
      *) break ;;
    esac
  done
  dir=$1 cluster=$2
  shift 2
  addresses=("$@")
  [ ${#addresses[@]} -gt 0 ] || addresses=(127.0.0.1)
  mkdir -p "$dir/run" "$dir/state"
  {
    printf 'totem {\n    version: 2\n    cluster_name: %s\n    transport: knet\n' "$cluster"
    [ $fast = 0 ] || printf '    token: 500\n    token_coefficient: 0\n    join: 50\n    merge: 100\n'
    if [ -n "$keyfile" ]; then
      printf '    crypto_cipher: aes256\n    crypto_hash: sha256\n    keyfile: %s\n' "$keyfile"
    else
      printf '    crypto_cipher: none\n    crypto_hash: none\n'
    fi
    printf '}\nnodelist {\n'
    for i in "${!addresses[@]}"; do
      printf '    node {\n        ring0_addr: %s\n        nodeid: %d\n        name: node%d\n    }\n' \
        "${addresses[$i]}" $((i + 1)) $((i + 1))
    done
    printf '}\n'
    cat <<CONF
logging {
    to_stderr: yes
    to_logfile: no
    to_syslog: no
    timestamp: $timestamp
    blackbox: off
}
system {
    state_dir: $dir/state
    move_to_root_cgroup: no
}
CONF
  } >"$dir/corosync.conf"
}

# corosync_netns_create NS: a network namespace with only loopback, up.
corosync_netns_create() {
  ip netns add "$1"
  ip -n "$1" link set lo up
}

# corosync_exec NS DIR: replaces the calling (sub)shell with corosync in the
# foreground, in network namespace NS and a private mount namespace with
# DIR/run over /run. ip netns exec, unshare and sh all exec in place, so a
# caller that runs `( corosync_exec NS DIR ) &` gets corosync's own pid in $!.
corosync_exec() {
  exec ip netns exec "$1" unshare --mount --propagation private \
    sh -c 'mount --bind "$1/run" /run && exec corosync -f -c "$1/corosync.conf"' sh "$2"
}

# corosync_alive PID: the process exists and is not a zombie (a zombie still
# answers kill -0).
corosync_alive() {
  kill -0 "$1" 2>/dev/null || return 1
  case "$(ps -o stat= -p "$1" 2>/dev/null)" in Z*|'') return 1 ;; esac
  return 0
}

# corosync_await_cpg NS PID TENTHS: waits until corosync-cpgtool answers in
# NS, at most TENTHS tenths of a second; fails at once if PID dies.
corosync_await_cpg() {
  local ns=$1 pid=$2 tenths=$3 _
  for _ in $(seq 1 "$tenths"); do
    corosync_alive "$pid" || return 1
    if ip netns exec "$ns" corosync-cpgtool >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  return 1
}

# corosync_await_gone PID TENTHS: waits until PID has exited (or is a zombie).
corosync_await_gone() {
  local pid=$1 tenths=$2 _
  for _ in $(seq 1 "$tenths"); do
    corosync_alive "$pid" || return 0
    sleep 0.1
  done
  return 1
}

# corosync_stop_pid PID: SIGTERM, up to 15 s for a clean exit, then SIGKILL.
corosync_stop_pid() {
  local pid=$1
  corosync_alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null
  corosync_await_gone "$pid" 150 && return 0
  kill -KILL "$pid" 2>/dev/null
  corosync_await_gone "$pid" 100
}

# corosync_clean_shm PID: removes libqb's rings of a daemon that died hard
# (they carry its pid: /dev/shm/qb-<pid>-*).
corosync_clean_shm() {
  case "$1" in ''|*[!0-9]*) return 0 ;; esac
  rm -rf /dev/shm/qb-"$1"-* 2>/dev/null || true
}
