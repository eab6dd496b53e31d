#!/usr/bin/env bash
# Usage: scripts/cluster.sh [--id ID] SUBCOMMAND [ARG...]
#
# A private multi-node corosync cluster on this machine, for tests. Every
# node is a corosync daemon in its own network namespace and its own mount
# namespace (a private directory over /run, its own system.state_dir),
# with one veth pair to a bridge that lives in a namespace of its own.
# Nothing is added to the root network namespace: both ends of every veth,
# the bridge and every address exist only inside namespaces made here.
# Transport knet; totem token 500, token_coefficient 0, join 50, merge 100;
# blackbox off. Node I (1-based) has nodeid I, name nodeI, address
# 198.18.0.I/24 (the RFC 2544 benchmarking range, inside its namespace).
#
# Subcommands (NODE is a node number, 1..N; "n2" and "node2" work too):
#   up [-n N] [--crypto] [--timeout S]
#       Starts N nodes (default 3) and waits until every node sees all N
#       members (default at most 20 s); else prints the daemons' logs, tears
#       everything down and fails. Leftovers of an earlier cluster with the
#       same id are torn down first. --crypto: crypto_cipher aes256,
#       crypto_hash sha256, a fresh authkey (corosync-keygen). Prints
#       "export JCPG_CLUSTER=ID" on stdout (eval it when several clusters
#       run; with one, the other subcommands find it without); all else
#       goes to stderr.
#   down
#       Stops every process in the cluster's namespaces (the daemons, and
#       clients started with exec, but never the caller or its ancestors;
#       SIGTERM+SIGCONT to all at once, SIGKILL after 10 s), removes the
#       libqb leftovers (/dev/shm/qb-PID-*) of every daemon it ever started,
#       its namespaces and its state directory, and waits (<= 3 s) until
#       PID 1 has reaped the daemons. Tolerates a half-built, interrupted
#       or already-dead cluster, a missing one, and reused pids (a pid is
#       only taken as ours if its command line names our config file);
#       fails loudly if something of the cluster is still there afterwards.
#       Of an id that has neither state nor namespaces it says so (not
#       "is down") and succeeds: down is idempotent.
#   kill NODE [--signal SIG] [--wait]
#       Sends SIGKILL (or SIG) to the node's daemon and returns once it is
#       dead (libqb leftovers removed; the kill time is logged with ms).
#       --signal STOP freezes it (returns at once), --signal CONT resumes
#       it. --wait: also wait until the membership has settled.
#   restart NODE [--wrong-key] [--no-wait] [--timeout S]
#       Stops the node's daemon if it runs (TERM, then KILL) and starts it
#       again; waits until the membership has settled. --wrong-key (crypto
#       clusters only): the node gets a key of its own and must NOT join;
#       a later restart without it gives the right key back.
#   partition NODE... [--link-down] [--wait]
#       Cuts the node(s) off: detaches the node's port from the bridge
#       (the node's link stays up and simply loses every packet), or with
#       --link-down sets the bridge-side port down (the node sees
#       NO-CARRIER). Each node named is isolated alone. Returns at once
#       unless --wait.
#   heal NODE... [--no-wait]
#       Reattaches the port(s) and sets them up; waits until the membership
#       has settled unless --no-wait.
#   wait [--timeout S]
#       Waits until the membership has settled: every node not killed,
#       stopped, partitioned or on the wrong key is alive and sees exactly
#       those nodes; partitioned and wrong-key nodes see only themselves.
#       A daemon that died by itself makes it fail. On failure (here and
#       in up/restart/heal) it prints the logs' tails and what differs.
#   status
#       Per node: nodeid, address, pid, daemon state, link, members seen.
#   members NODE
#       Prints the nodeids NODE's daemon sees as joined, one line,
#       space-separated ("?" and exit 1 if it does not answer).
#   exec NODE PROGRAM [ARG...]
#       Runs PROGRAM in the node's network namespace (nsenter --net, like
#       scripts/in-corosync-netns), where that node's CPG socket lives. The
#       mount namespace stays the root one (/dev/shm is shared, as libqb
#       needs). PROGRAM's exit status is ours.
#   netns NODE
#       Prints the path of the node's network namespace (/run/netns/NAME),
#       e.g. for a thread that calls setns(CLONE_NEWNET) itself.
#
# Options and environment:
#   --id ID / JCPG_CLUSTER=ID  The cluster's id ([A-Za-z0-9_]+, at most 24;
#       --id goes before the subcommand). Without one, up names the new
#       cluster "p" and the parent's pid, and every other subcommand acts on
#       the one cluster that exists, and fails if there are none or several.
#       Clusters with different ids run side by side.
#   JCPG_CLUSTER_STATE=DIR     Where the state directories are (/tmp).
#   JCPG_CLUSTER_TIMEOUT=S     Default timeout of up/restart/heal/wait (20).
#
# State: /tmp/jcpg-cluster-ID/ (under JCPG_CLUSTER_STATE) (cluster.env; authkey, wrongkey; nI/ with
# corosync.conf, authkey, run/ (over /run), state/ (state_dir), pid, pids
# (every pid it ever had), flags, corosync.log (appended, one header per
# start)). Namespaces: jcpgc-ID-nI (nodes), jcpgc-ID-sw (the bridge br0;
# port pI leads to node I's eth0).
#
# Needs root, corosync (scripts/setup.sh), and a kernel that makes bridges
# and veth pairs inside network namespaces: up says so and fails if not.
set -euo pipefail
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/corosync-lib.sh"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

# ---- ids, names, state --------------------------------------------------

state_root=${JCPG_CLUSTER_STATE:-/tmp}
# The ids of the clusters that exist: a state directory each (up makes it first, down removes it last).
existing_clusters() {
  local d
  for d in "$state_root"/jcpg-cluster-*/; do
    [ -d "$d" ] || continue
    d=${d%/}; printf '%s\n' "${d##*/jcpg-cluster-}"
  done
}
cid=${JCPG_CLUSTER:-}
if [ "${1:-}" = --id ]; then [ $# -ge 2 ] || usage; cid=$2; shift 2; fi
if [ -z "$cid" ]; then
  if [ "${1:-}" = up ]; then
    cid=p$PPID
  elif [ -n "${1:-}" ] && [ "$1" != -h ] && [ "$1" != --help ] && [ "$1" != help ]; then
    # Without an id: the one cluster there is. Never a made-up id (a newcomer's 'down' after 'up',
    # each run by its own sudo, once said "cluster 'pNNNN' is down" of a cluster that never
    # existed and left the real one running).
    mapfile -t found < <(existing_clusters)
    case ${#found[@]} in
      1) cid=${found[0]} ;;
      0) die "$1: no cluster is up (none in $state_root/jcpg-cluster-*); start one with 'up'" ;;
      *) die "$1: ${#found[@]} clusters are up (${found[*]}): name one with --id ID or JCPG_CLUSTER=ID" ;;
    esac
  fi
fi
[ -n "$cid" ] || cid=none
[[ "$cid" =~ ^[A-Za-z0-9_]{1,24}$ ]] || die "cluster id '$cid': use 1-24 of [A-Za-z0-9_]"
st=$state_root/jcpg-cluster-$cid
sw=jcpgc-$cid-sw
timeout_default=${JCPG_CLUSTER_TIMEOUT:-20}
subnet=198.18.0

ns_of() { printf 'jcpgc-%s-n%s' "$cid" "$1"; }
nd_of() { printf '%s/n%s' "$st" "$1"; }

load_env() {
  [ -f "$st/cluster.env" ] || die "no cluster '$cid' here ($st/cluster.env is missing): run 'up' first, or set JCPG_CLUSTER / --id"
  # shellcheck disable=SC1091
  . "$st/cluster.env"
}

node_arg() {
  local n=${1:-}
  n=${n#node}; n=${n#n}
  [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le "$N" ] || die "no node '${1:-}' in cluster '$cid' (nodes 1..$N)"
  printf '%s\n' "$((10#$n))"
}

# Mutating subcommands hold this lock. The daemons never inherit its fd.
take_lock() { exec 9>>"$st/lock"; flock 9; }

# ---- processes ----------------------------------------------------------

# Live (not zombie) and not gone.
# (Read from /proc without forking: the membership polls call this often.)
alive() {
  local s
  { read -r s <"/proc/$1/stat"; } 2>/dev/null || return 1
  s=${s##*) }
  case "${s%% *}" in Z|X|x|'') return 1 ;; esac
}

# The pid of node I's daemon if it is alive and really ours: its command
# line names our configuration file (so a reused pid is never taken).
daemon_pid() {
  local nd pid
  nd=$(nd_of "$1")
  { read -r pid <"$nd/pid"; } 2>/dev/null || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  ours "$pid" "$nd" || return 1
  alive "$pid" || return 1
  printf '%s\n' "$pid"
}
ours() {
  local a
  { mapfile -d '' -t a <"/proc/$1/cmdline"; } 2>/dev/null || return 1
  [[ " ${a[*]} " == *" -c $2/corosync.conf "* ]]
}

# Waits until every pid given is gone or a zombie; 0 if so within $1 s.
wait_dead() {
  local limit=$1 p left; shift
  local end=$(( ${EPOCHREALTIME/./} + limit * 1000000 ))
  while :; do
    left=""
    for p in "$@"; do alive "$p" && left+=" $p"; done
    [ -z "$left" ] && return 0
    [ "${EPOCHREALTIME/./}" -ge "$end" ] && return 1
    sleep 0.05
  done
}

# TERM (or $1) to all pids at once, KILL whatever is left after 10 s.
stop_pids() {
  local sig=$1 p; shift
  [ $# -gt 0 ] || return 0
  for p in "$@"; do kill -"$sig" "$p" 2>/dev/null || true; done
  # A stopped (SIGSTOP) process only acts on the signal once continued.
  for p in "$@"; do kill -CONT "$p" 2>/dev/null || true; done
  wait_dead 10 "$@" && return 0
  for p in "$@"; do alive "$p" && { log "pid $p did not stop in 10 s: SIGKILL"; kill -KILL "$p" 2>/dev/null || true; }; done
  wait_dead 5 "$@" || { log "pids still alive after SIGKILL: $*"; return 1; }
}

# A daemon that died hard leaves its libqb rings behind, named by its pid.
# Only for a pid that no longer runs: a new owner of the pid keeps its own.
clean_shm() {
  local p
  for p in "$@"; do
    [[ "$p" =~ ^[0-9]+$ ]] || continue
    alive "$p" && continue
    rm -rf /dev/shm/qb-"$p"-* 2>/dev/null || true
  done
}

# Our pid and our ancestors': never stopped by down (it may be run by a
# program that itself runs in a node's namespace).
self_and_ancestors() {
  local p=$$
  while [ -n "$p" ] && [ "$p" -gt 1 ]; do
    printf '%s\n' "$p"
    p=$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null) || break
  done
}

# ---- network ------------------------------------------------------------

our_namespaces() {
  ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^jcpgc-${cid}-(sw|n[0-9]+)\$" || true
}

build_network() {
  local i ns err
  err=$(ip netns add "$sw" 2>&1) || die "cannot create a network namespace ('ip netns add $sw': $err). The cluster needs network namespaces (CONFIG_NET_NS) and root."
  ip -n "$sw" link set lo up
  err=$(ip -n "$sw" link add br0 type bridge 2>&1) \
    || die "the kernel cannot make a bridge inside a network namespace ('ip link add br0 type bridge': $err). The cluster needs bridge support (CONFIG_BRIDGE; 'modprobe bridge' as root on the host)."
  ip -n "$sw" link set br0 up
  for i in $(seq 1 "$N"); do
    ns=$(ns_of "$i")
    err=$(ip netns add "$ns" 2>&1) || die "cannot create network namespace $ns: $err"
    ip -n "$ns" link set lo up
    # Both ends are created in their namespaces: nothing passes through ours.
    err=$(ip -n "$sw" link add "p$i" type veth peer name eth0 netns "$ns" 2>&1) \
      || die "the kernel cannot make a veth pair between network namespaces ('ip link add type veth': $err). The cluster needs CONFIG_VETH ('modprobe veth')."
    ip -n "$sw" link set "p$i" master br0
    ip -n "$sw" link set "p$i" up
    ip -n "$ns" addr add "$subnet.$i/24" dev eth0
    ip -n "$ns" link set eth0 up
  done
}

# ---- configuration and daemons ------------------------------------------

# Node I's corosync.conf: every node's address, the short timers, crypto if on
# (the one writer, corosync_write_conf of scripts/corosync-lib.sh).
write_conf() {
  local i=$1 nd j addresses=() options=(--fast --timestamp hires)
  nd=$(nd_of "$i")
  [ "$CRYPTO" = 1 ] && options+=(--crypto "$nd/authkey")
  for j in $(seq 1 "$N"); do addresses+=("$subnet.$j"); done
  corosync_write_conf "${options[@]}" "$nd" "jcpg-$cid" "${addresses[@]}"
}

make_key() {
  rm -f "$1"
  if command -v corosync-keygen >/dev/null; then
    corosync-keygen -k "$1" >/dev/null 2>&1 || die "corosync-keygen -k $1 failed"
  else
    head -c 256 /dev/urandom >"$1"
  fi
  chmod 600 "$1"
}

# Starts node I's daemon (detached, its own session, fd 9 closed) and
# waits until it has written its pid.
start_node() {
  local i=$1 nd ns pid
  nd=$(nd_of "$i"); ns=$(ns_of "$i")
  mkdir -p "$nd/run" "$nd/state"
  rm -f "$nd/pid"
  printf '=== jcpg cluster.sh: starting node %s at %s%s\n' "$i" "$(date '+%F %T.%3N')" \
    "$([ -f "$nd/wrongkey" ] && echo ' (WRONG key)')" >>"$nd/corosync.log"
  # ip netns exec, unshare and sh all exec in place; the pid written is
  # corosync's own.
  ( setsid ip netns exec "$ns" unshare --mount --propagation private \
      sh -c 'echo $$ >"$1/pid" && mount --bind "$1/run" /run && exec corosync -f -c "$1/corosync.conf"' sh "$nd" \
      </dev/null >>"$nd/corosync.log" 2>&1 9>&- & )
  for _ in $(seq 1 100); do
    pid=$(cat "$nd/pid" 2>/dev/null || true)
    if [ -n "$pid" ]; then printf '%s\n' "$pid" >>"$nd/pids"; return 0; fi
    sleep 0.05
  done
  die "node $i: its daemon wrote no pid within 5 s (log: $nd/corosync.log)"
}

# ---- membership ---------------------------------------------------------

# Nodeids node I's daemon sees as joined, space-separated; fails if it
# does not answer (a stopped daemon must not hang us: timeout).
members_of() {
  local out
  out=$(timeout 2 nsenter --net="/run/netns/$(ns_of "$1")" -- corosync-cmapctl -b runtime.members 2>/dev/null) || return 1
  sed -n 's/^runtime\.members\.\([0-9]*\)\.status (str) = joined$/\1/p' <<<"$out" | sort -n | paste -sd' ' -
}

# Flags in nI/: killed (by kill; cleared by restart), stopped (SIGSTOP
# by kill --signal STOP; cleared by CONT or restart), partitioned,
# wrongkey. A node with none of them is meant to be a full member.
flagged() { [ -f "$(nd_of "$1")/$2" ]; }

# What the membership should be: every unflagged node alive and seeing
# exactly the unflagged nodes; partitioned and wrong-key nodes alive and
# seeing only themselves; killed and stopped nodes are not asked. 0 when
# so; prints the differences on fd 3.
membership_settled() {
  local i want seen ok=0 hset="" fine=" " ask=" "
  for i in $(seq 1 "$N"); do
    flagged "$i" killed && continue
    flagged "$i" stopped && continue
    if ! daemon_pid "$i" >/dev/null; then
      ok=1; echo "node $i: its daemon is not running (see $(nd_of "$i")/corosync.log)" >&3; continue
    fi
    ask+="$i "
    if ! flagged "$i" partitioned && ! flagged "$i" wrongkey; then hset+="$i "; fine+="$i "; fi
  done
  hset=${hset% }
  for i in $(seq 1 "$N"); do
    [[ "$ask" == *" $i "* ]] || continue
    if [[ "$fine" == *" $i "* ]]; then want=$hset; else want=$i; fi
    seen=$(members_of "$i") || seen="(no answer)"
    [ "$seen" = "$want" ] || { ok=1; echo "node $i sees [$seen], expected [$want]" >&3; }
  done
  return $ok
}

# Waits up to $1 s; on failure prints what differs and the logs' tails.
wait_settled() {
  local limit=$1 t0 end diff
  t0=${EPOCHREALTIME/./}; end=$(( t0 + limit * 1000000 ))
  while :; do
    if diff=$(membership_settled 3>&1); then
      log "membership settled after $(elapsed "$t0") s"
      return 0
    fi
    [ "${EPOCHREALTIME/./}" -ge "$end" ] && break
    sleep 0.1
  done
  print_logs
  printf '%s\n' "$diff" >&2
  log "the membership did not settle within $limit s (the daemons' logs are above)"
  return 1
}

elapsed() { local d=$(( ${EPOCHREALTIME/./} - $1 )); printf '%d.%03d' $((d / 1000000)) $(((d / 1000) % 1000)); }

print_logs() {
  local i nd
  for i in $(seq 1 "$N"); do
    nd=$(nd_of "$i")
    [ -f "$nd/corosync.log" ] || continue
    printf -- '----- node %s: last 40 lines of %s\n' "$i" "$nd/corosync.log" >&2
    tail -n 40 "$nd/corosync.log" >&2
  done
  printf -- '-----\n' >&2
}

# ---- teardown -----------------------------------------------------------

teardown() {
  set +e
  local ns i p pids=() hist=() keep
  keep=" $(self_and_ancestors | paste -sd' ' -) "
  # Every process in our namespaces (daemons, clients), plus recorded
  # daemons that are still ours even if their namespace is gone.
  for ns in $(our_namespaces); do
    for p in $(ip netns pids "$ns" 2>/dev/null); do
      [[ "$keep" == *" $p "* ]] || pids+=("$p")
    done
  done
  for i in $(ls -d "$st"/n[0-9]* 2>/dev/null | sed 's/.*\/n//'); do
    p=$(cat "$st/n$i/pid" 2>/dev/null)
    [ -n "$p" ] && hist+=("$p") && ours "$p" "$st/n$i" && alive "$p" && pids+=("$p")
    while read -r p; do hist+=("$p"); done < <(cat "$st/n$i/pids" 2>/dev/null)
  done
  if [ ${#pids[@]} -gt 0 ]; then
    mapfile -t pids < <(printf '%s\n' "${pids[@]}" | sort -un)
    hist+=("${pids[@]}")
    stop_pids TERM "${pids[@]}"
  fi
  [ ${#hist[@]} -gt 0 ] && clean_shm "${hist[@]}"
  for ns in $(our_namespaces); do ip netns del "$ns"; done
  rm -rf "$st"
  set -e
  # Check: nothing of ours may be left.
  local left
  left=$(our_namespaces | paste -sd' ' -)
  [ -z "$left" ] || die "down: namespaces still there: $left"
  for p in "${pids[@]}"; do alive "$p" && die "down: pid $p still alive"; done
  [ ! -e "$st" ] || die "down: $st is still there"
  # Our daemons were orphans: their parent (PID 1 or a subreaper) reaps
  # them, here ~1 s late. Give it 3 s so that 'ps' looks as before 'up'.
  local t
  for t in $(seq 1 60); do
    left=""
    for p in "${pids[@]}"; do
      case "$(ps -o stat= -p "$p" 2>/dev/null)" in Z*) left+=" $p" ;; esac
    done
    [ -z "$left" ] && break
    sleep 0.05
  done
  [ -z "$left" ] || log "down: dead but not yet reaped by their parent (zombies):$left"
  return 0
}

# ---- subcommands ---------------------------------------------------------

check_tools() {
  local t
  for t in corosync corosync-cmapctl ip nsenter unshare setsid flock timeout ps; do
    command -v "$t" >/dev/null || die "'$t' is missing: run scripts/setup.sh (corosync, iproute2, util-linux, procps, coreutils)"
  done
}

cmd_up() {
  local n=3 crypto=0 limit=$timeout_default i t0
  while [ $# -gt 0 ]; do
    case "$1" in
      -n) n=${2:-}; shift 2 || usage ;;
      --crypto) crypto=1; shift ;;
      --timeout) limit=${2:-}; shift 2 || usage ;;
      *) usage ;;
    esac
  done
  [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 32 ] || die "up: -n wants 1..32 nodes"
  [[ "$limit" =~ ^[0-9]+$ ]] || die "up: --timeout wants whole seconds"
  need_root "scripts/cluster.sh"
  check_tools
  if [ -e "$st" ] || [ -n "$(our_namespaces)" ]; then
    log "cluster '$cid' has leftovers: tearing them down first"
    teardown
  fi
  mkdir -p "$st"
  take_lock
  N=$n; CRYPTO=$crypto
  printf 'N=%s\nCRYPTO=%s\n' "$N" "$CRYPTO" >"$st/cluster.env"
  # From here on, any failure or interruption takes it all down again.
  trap 'status=$?; trap - EXIT; if [ "$status" != 0 ]; then log "up failed: tearing cluster $cid down"; teardown; fi; exit "$status"' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  t0=${EPOCHREALTIME/./}
  build_network
  [ "$CRYPTO" = 1 ] && { make_key "$st/authkey"; make_key "$st/wrongkey"; }
  for i in $(seq 1 "$N"); do
    mkdir -p "$(nd_of "$i")"
    [ "$CRYPTO" = 1 ] && cp "$st/authkey" "$(nd_of "$i")/authkey"
    write_conf "$i"
  done
  for i in $(seq 1 "$N"); do start_node "$i"; done
  log "cluster '$cid': $N nodes started, network built in $(elapsed "$t0") s; waiting for the membership"
  wait_settled "$limit" || die "up: cluster '$cid' did not form"
  log "cluster '$cid' formed: $N nodes, crypto $([ "$CRYPTO" = 1 ] && echo on || echo off), $(elapsed "$t0") s after up began; state in $st"
  trap - EXIT INT TERM
  printf 'export JCPG_CLUSTER=%s\n' "$cid"
}

cmd_down() {
  [ $# -eq 0 ] || usage
  need_root "scripts/cluster.sh"
  if [ ! -e "$st" ] && [ -z "$(our_namespaces)" ]; then
    log "there is no cluster '$cid' (no $st, no namespaces jcpgc-$cid-*): nothing to take down"
    return 0
  fi
  if [ -d "$st" ]; then take_lock; fi
  [ -f "$st/cluster.env" ] && . "$st/cluster.env"
  teardown
  log "cluster '$cid' is down"
}

cmd_kill() {
  local sig=KILL wait=0 node="" pid t0
  while [ $# -gt 0 ]; do
    case "$1" in
      --signal) sig=${2:-}; shift 2 || usage ;;
      --wait) wait=1; shift ;;
      --no-wait) wait=0; shift ;;
      *) [ -z "$node" ] || usage; node=$1; shift ;;
    esac
  done
  load_env; node=$(node_arg "$node"); take_lock
  pid=$(daemon_pid "$node") || die "kill: node $node's daemon is not running"
  sig=${sig#SIG}
  t0=${EPOCHREALTIME/./}
  kill -"$sig" "$pid" || die "kill: cannot send SIG$sig to $pid"
  case "$sig" in
    STOP|19)
      : >"$(nd_of "$node")/stopped"
      log "node $node: its daemon (pid $pid) is stopped; 'kill $node --signal CONT' or 'restart $node' resumes it"
      return 0 ;;
    CONT|18)
      rm -f "$(nd_of "$node")/stopped"
      log "node $node: its daemon (pid $pid) continues"
      [ "$wait" = 0 ] || wait_settled "$timeout_default"
      return ;;
  esac
  : >"$(nd_of "$node")/killed"
  wait_dead 15 "$pid" || die "kill: node $node's daemon (pid $pid) still alive 15 s after SIG$sig"
  clean_shm "$pid"
  log "node $node: SIG$sig to its daemon (pid $pid) at $(date -d "@${t0:0:10}" +%T).${t0:10:3}, dead $(elapsed "$t0") s later"
  [ "$wait" = 0 ] || wait_settled "$timeout_default"
}

cmd_restart() {
  local wrong=0 wait=1 limit=$timeout_default node="" pid nd
  while [ $# -gt 0 ]; do
    case "$1" in
      --wrong-key) wrong=1; shift ;;
      --wait) wait=1; shift ;;
      --no-wait) wait=0; shift ;;
      --timeout) limit=${2:-}; shift 2 || usage ;;
      *) [ -z "$node" ] || usage; node=$1; shift ;;
    esac
  done
  load_env; node=$(node_arg "$node"); take_lock
  nd=$(nd_of "$node")
  [ "$wrong" = 0 ] || [ "$CRYPTO" = 1 ] || die "restart --wrong-key: cluster '$cid' runs without crypto (up --crypto)"
  if pid=$(daemon_pid "$node"); then
    stop_pids TERM "$pid" || die "restart: node $node's daemon (pid $pid) would not stop"
    clean_shm "$pid"
  fi
  if [ "$CRYPTO" = 1 ]; then
    if [ "$wrong" = 1 ]; then cp "$st/wrongkey" "$nd/authkey"; : >"$nd/wrongkey"
    else cp "$st/authkey" "$nd/authkey"; rm -f "$nd/wrongkey"; fi
  fi
  rm -f "$nd/killed" "$nd/stopped"
  start_node "$node"
  log "node $node: restarted (pid $(cat "$nd/pid"))$([ "$wrong" = 1 ] && echo ' with the WRONG key')"
  [ "$wait" = 0 ] || wait_settled "$limit"
}

port_cmd() { # partition|heal
  local what=$1 mode=detach wait nodes=() i; shift
  if [ "$what" = partition ]; then wait=0; else wait=1; fi
  while [ $# -gt 0 ]; do
    case "$1" in
      --link-down) mode=down; shift ;;
      --wait) wait=1; shift ;;
      --no-wait) wait=0; shift ;;
      *) nodes+=("$1"); shift ;;
    esac
  done
  [ ${#nodes[@]} -gt 0 ] || usage
  load_env
  for i in "${!nodes[@]}"; do nodes[$i]=$(node_arg "${nodes[$i]}"); done
  take_lock
  for i in "${nodes[@]}"; do
    if [ "$what" = partition ]; then
      if [ "$mode" = down ]; then ip -n "$sw" link set "p$i" down
      else ip -n "$sw" link set "p$i" nomaster; fi
      : >"$(nd_of "$i")/partitioned"
      log "node $i: partitioned ($([ "$mode" = down ] && echo 'port down' || echo 'detached from the bridge'))"
    else
      ip -n "$sw" link set "p$i" master br0
      ip -n "$sw" link set "p$i" up
      rm -f "$(nd_of "$i")/partitioned"
      log "node $i: healed"
    fi
  done
  [ "$wait" = 0 ] || wait_settled "$timeout_default"
}

cmd_wait() {
  local limit=$timeout_default
  case "${1:-}" in --timeout) limit=${2:-}; [ $# -eq 2 ] || usage ;; '') ;; *) usage ;; esac
  load_env
  wait_settled "$limit"
}

cmd_status() {
  local i nd pid state link seen
  load_env
  printf 'cluster %s: %s nodes, crypto %s, state %s, bridge namespace %s\n' \
    "$cid" "$N" "$([ "$CRYPTO" = 1 ] && echo on || echo off)" "$st" "$sw"
  printf '%-4s %-6s %-12s %-8s %-14s %-11s %s\n' node nodeid address pid daemon link members
  for i in $(seq 1 "$N"); do
    nd=$(nd_of "$i")
    pid=$(cat "$nd/pid" 2>/dev/null || echo -)
    if ! daemon_pid "$i" >/dev/null; then
      state=dead; seen=-
    elif [ -f "$nd/stopped" ]; then
      state=stopped; seen=-
    else
      state=alive; seen=$(members_of "$i") || seen="(no answer)"
    fi
    [ -f "$nd/wrongkey" ] && state+=",wrongkey"
    if [ -f "$nd/partitioned" ]; then link=partitioned; else link=attached; fi
    printf '%-4s %-6s %-12s %-8s %-14s %-11s %s\n' "$i" "$i" "$subnet.$i" "$pid" "$state" "$link" "$seen"
  done
}

cmd_members() {
  [ $# -eq 1 ] || usage
  load_env
  local node; node=$(node_arg "$1")
  members_of "$node" || { echo "?"; return 1; }
}

cmd_exec() {
  [ $# -ge 2 ] || usage
  load_env
  local node ns; node=$(node_arg "$1"); shift
  ns=$(ns_of "$node")
  [ -e "/run/netns/$ns" ] || die "exec: no network namespace $ns"
  exec nsenter --net="/run/netns/$ns" -- "$@"
}

cmd_netns() {
  [ $# -eq 1 ] || usage
  load_env
  printf '/run/netns/%s\n' "$(ns_of "$(node_arg "$1")")"
}

[ $# -gt 0 ] || usage
sub=$1; shift
case "$sub" in
  up) cmd_up "$@" ;;
  down) cmd_down "$@" ;;
  kill) cmd_kill "$@" ;;
  restart) cmd_restart "$@" ;;
  partition) port_cmd partition "$@" ;;
  heal) port_cmd heal "$@" ;;
  wait) cmd_wait "$@" ;;
  status) cmd_status "$@" ;;
  members) cmd_members "$@" ;;
  exec) cmd_exec "$@" ;;
  netns) cmd_netns "$@" ;;
  -h|--help|help) usage ;;
  *) usage ;;
esac
