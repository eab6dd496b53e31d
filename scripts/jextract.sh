#!/usr/bin/env bash
# Usage: scripts/jextract.sh [--check]
#
# Regenerates jcpg's FFM stubs (package org.jcpg.internal.stubs) from
# native-headers/jcpg.h with the arguments in jextract/cpg.args. With
# --check it regenerates into a temporary directory and compares with the
# committed stubs instead, failing on any difference.
#
# The jextract binary is $JEXTRACT, else `jextract` on PATH, else
# /opt/jextract-0b89a46/bin/jextract. jextract is built outside this
# repository; jextract/README.md says which one and why.
set -euo pipefail
. "$(dirname "$0")/common.sh"

check=""
case "${1:-}" in
  --check) check=1 ;;
  "") ;;
  *) die "usage: $0 [--check]" ;;
esac

jextract=${JEXTRACT:-$(command -v jextract || echo /opt/jextract-0b89a46/bin/jextract)}
[ -x "$jextract" ] || die "no jextract found (set JEXTRACT). See jextract/README.md for the one that must be used."

# Our stubs must compile for --release 22. jextract master after 0b89a46
# calls SymbolLookup.findOrThrow (JDK 23); jextract's jdk22 branch does not
# build on JDK 25; libclang other than 13/14 drops the anonymous typedefs.
# So: jextract 22 from master at 0b89a46, with libclang 14.
version=$("$jextract" --version 2>&1 || true)
grep -q '^jextract 22$' <<<"$version" \
  && grep -q '^LibClang version .* 14\.' <<<"$version" \
  || die "wrong jextract: need 'jextract 22' (openjdk/jextract master at 0b89a46) with libclang 14; $jextract says:
$version"

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cd "$JCPG_ROOT"
"$jextract" --output "$out" @jextract/cpg.args native-headers/jcpg.h
generated="$out/org/jcpg/internal/stubs"

# jextract exits 0 even when a filter names nothing: check what it wrote.
[ -f "$generated/cpg_h.java" ] || die "jextract produced no cpg_h.java"
if grep -rq 'SYMBOL_LOOKUP.findOrThrow' "$generated"; then
  die "this jextract emits SymbolLookup.findOrThrow (JDK 23+): it is newer than master at 0b89a46"
fi
for symbol in cpg_model_initialize cpg_zcb_mcast_joined cpg_iteration_finalize cs_strerror; do
  grep -q "$symbol" "$generated/cpg_h.java" || die "jextract output lacks $symbol"
done
for type in cpg_model_v1_data_t cpg_callbacks_t cpg_model_data_t iovec; do
  [ -f "$generated/$type.java" ] || die "jextract output lacks $type (libclang other than 14?)"
done

committed="$JCPG_ROOT/src/main/java/org/jcpg/internal/stubs"
if [ -n "$check" ]; then
  diff -r "$generated" "$committed" >&2 || die "committed stubs differ from jextract's output"
  log "committed stubs are byte-identical to jextract's output"
else
  rm -rf "$committed"
  mkdir -p "$(dirname "$committed")"
  cp -r "$generated" "$committed"
  log "stubs regenerated into ${committed#$JCPG_ROOT/}"
fi
