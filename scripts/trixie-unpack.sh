#!/usr/bin/env bash
# Unpacks Debian trixie / trixie-backports packages into a private folder on this Debian bookworm
# machine, installing nothing system-wide: a private apt configuration (its own lists, cache and an
# empty dpkg status) under DIR/apt, the archive address this machine's own apt configuration uses,
# Debian's archive keyring; `apt-get download`, then `dpkg-deb -x` of each package into DIR/root.
# What the packages need from trixie (its glibc, above all) must be in the list: nothing is
# resolved. Shared by scripts/lavapipe26.sh (Mesa 26) and scripts/wasm-rust.sh (rustc for wasm32).
#
#   bash scripts/trixie-unpack.sh DIR PACKAGE[=VERSION|/trixie] ...
#
# Output goes to stderr (the callers print shell code on stdout). Exit 1 with a reason if it cannot.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: trixie-unpack.sh DIR PACKAGE..." >&2; exit 1; }
DIR=$1; shift
mkdir -p "$DIR/apt/lists/partial" "$DIR/apt/cache/archives/partial" "$DIR/apt/empty.d" "$DIR/debs" "$DIR/root"
: > "$DIR/apt/status"
# The archive address is the one this machine's own apt configuration uses.
uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -1 || true)
[ -n "$uri" ] || uri=$(grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}' | head -1 || true)
[ -n "$uri" ] || { echo "trixie-unpack: no Debian archive address in /etc/apt" >&2; exit 1; }
key=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$key" ] || { echo "trixie-unpack: $key is missing (apt-get install debian-archive-keyring)" >&2; exit 1; }
printf 'deb [signed-by=%s] %s trixie main\ndeb [signed-by=%s] %s trixie-backports main\n' \
  "$key" "$uri" "$key" "$uri" > "$DIR/apt/sources.list"
cat > "$DIR/apt/apt.conf" <<CONF
Dir::Etc::SourceList "$DIR/apt/sources.list";
Dir::Etc::SourceParts "$DIR/apt/empty.d";
Dir::State::Lists "$DIR/apt/lists";
Dir::State::status "$DIR/apt/status";
Dir::Cache "$DIR/apt/cache";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT::Architecture "amd64";
Acquire::Languages "none";
CONF
export APT_CONFIG="$DIR/apt/apt.conf"
apt-get update -qq >&2 || { echo "trixie-unpack: apt-get update failed (is the archive reachable?)" >&2; exit 1; }
(cd "$DIR/debs" && apt-get download -qq "$@" >&2 2>/dev/null) \
  || { echo "trixie-unpack: could not download: $*" >&2; exit 1; }
for d in "$DIR"/debs/*.deb; do dpkg-deb -x "$d" "$DIR/root"; done
rm -rf "$DIR/debs"
