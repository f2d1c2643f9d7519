#!/usr/bin/env bash
# A Rust compiler that can build for the browser (wasm32-unknown-unknown) on this Debian bookworm
# machine, where rustup cannot download the wasm32 standard library: Debian's own rustc 1.97.1 and
# its libstd-rust-dev-wasm32 from trixie-backports (wgpu 30 needs Rust >= 1.87), unpacked into a
# private folder and started through trixie's own loader (bookworm's glibc is too old for it).
# rustup's cargo drives it. Nothing is installed system-wide.
#
#   eval "$(bash scripts/wasm-rust.sh)"        # fetch once (~200 MB of packages), print the env
#   RUSTC="$WASM_RUSTC" cargo build --target wasm32-unknown-unknown ...
# scripts/build-web.sh runs it when the default toolchain has no wasm32 standard library (a
# machine with rustup's wasm32-unknown-unknown target does not need it). Written first as the
# development machines' ../shared/wasm/setup.sh; this copy is the project's own.
#
# Prints shell `export` lines: WASM_RUSTC, WASM_RUSTDOC (wrappers), PATH (adds the wrappers' folder,
# which also holds rust-lld, the wasm linker rustc calls). Exit 1 with a reason if it cannot.
# Folder: $WASM_RUST_DIR, default ~/.cache/wasm-rust. Needs apt-get and Debian's archive keyring.
set -euo pipefail
DIR="${WASM_RUST_DIR:-$HOME/.cache/wasm-rust}"
ROOT="$DIR/root"; LIB="$ROOT/usr/lib/x86_64-linux-gnu"; BIN="$DIR/bin"
V="1.97.1+dfsg1-1~bpo13+1"
if [ ! -f "$DIR/.done-$V" ]; then
  mkdir -p "$DIR/apt/lists/partial" "$DIR/apt/cache/archives/partial" "$DIR/apt/empty.d" "$DIR/debs" "$ROOT" "$BIN"
  : > "$DIR/apt/status"
  # The archive address is the one this machine's own apt configuration uses.
  uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -1)
  [ -n "$uri" ] || uri=$(grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}' | head -1)
  [ -n "$uri" ] || { echo "echo 'wasm-rust: no Debian archive address in /etc/apt' >&2; exit 1"; exit 1; }
  key=/usr/share/keyrings/debian-archive-keyring.gpg
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
  apt-get update -qq >&2
  pkgs="rustc=$V libstd-rust-1.97=$V libstd-rust-dev=$V libstd-rust-dev-wasm32=$V
    libllvm22/trixie lld-22/trixie libc6/trixie libstdc++6/trixie libgcc-s1/trixie gcc-14-base/trixie
    libedit2/trixie libffi8/trixie libxml2/trixie libz3-4/trixie libzstd1/trixie zlib1g/trixie
    libtinfo6/trixie libbsd0/trixie libmd0/trixie liblzma5/trixie libicu76/trixie"
  (cd "$DIR/debs" && apt-get download -qq $pkgs >&2 2>/dev/null) \
    || { echo "echo 'wasm-rust: could not download the packages' >&2; exit 1"; exit 1; }
  for d in "$DIR"/debs/*.deb; do dpkg-deb -x "$d" "$ROOT"; done
  rm -rf "$ROOT"/usr/lib/rustlib/wasm32-wasip* "$DIR/debs"
  run="$LIB/ld-linux-x86-64.so.2 --library-path $LIB:$ROOT/usr/lib"
  printf '#!/bin/sh\nexec %s %s/usr/bin/rustc "$@"\n' "$run" "$ROOT" > "$BIN/rustc"
  printf '#!/bin/sh\nexec %s %s/usr/bin/rustdoc "$@"\n' "$run" "$ROOT" > "$BIN/rustdoc"
  printf '#!/bin/sh\nexec %s --argv0 rust-lld %s/usr/lib/llvm-22/bin/lld "$@"\n' "$run" "$ROOT" > "$BIN/rust-lld"
  chmod +x "$BIN"/*
  "$BIN/rustc" -vV >/dev/null || { echo "echo 'wasm-rust: the unpacked rustc does not start' >&2; exit 1"; exit 1; }
  touch "$DIR/.done-$V"
fi
echo "export WASM_RUSTC='$BIN/rustc'"
echo "export WASM_RUSTDOC='$BIN/rustdoc'"
echo "export PATH='$BIN':\"\$PATH\""
