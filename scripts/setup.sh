#!/usr/bin/env bash
# Installs what jcpg's build, tests and demo need, when missing:
# corosync 3 and libcpg from Debian, iproute2 and util-linux (namespaces),
# procps, Maven.
# Safe to run again: it installs nothing that is already there.
set -euo pipefail
. "$(dirname "$0")/common.sh"

missing=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
for pkg in corosync libcpg4 libcpg-dev libcorosync-common-dev iproute2 util-linux mount procps maven; do
  have_pkg "$pkg" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  need_root "installing ${missing[*]}"
  log "installing from Debian: ${missing[*]}"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's corosync package may start a system daemon through systemd; ours
# never uses it, and we leave it alone if it runs.
jdk=$(find_jdk)
log "JDK: $jdk"
