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
# Folder: $WASM_RUST_DIR, default ~/.cache/wasm-rust. Needs apt-get and Debian's archive keyring
# (scripts/trixie-unpack.sh does the unpacking).
set -euo pipefail
DIR="${WASM_RUST_DIR:-$HOME/.cache/wasm-rust}"
ROOT="$DIR/root"; LIB="$ROOT/usr/lib/x86_64-linux-gnu"; BIN="$DIR/bin"
V="1.97.1+dfsg1-1~bpo13+1"
if [ ! -f "$DIR/.done-$V" ]; then
  pkgs="rustc=$V libstd-rust-1.97=$V libstd-rust-dev=$V libstd-rust-dev-wasm32=$V
    libllvm22/trixie lld-22/trixie libc6/trixie libstdc++6/trixie libgcc-s1/trixie gcc-14-base/trixie
    libedit2/trixie libffi8/trixie libxml2/trixie libz3-4/trixie libzstd1/trixie zlib1g/trixie
    libtinfo6/trixie libbsd0/trixie libmd0/trixie liblzma5/trixie libicu76/trixie"
  # shellcheck disable=SC2086 # one word a package
  bash "$(dirname "${BASH_SOURCE[0]}")/trixie-unpack.sh" "$DIR" $pkgs >&2 \
    || { echo "echo 'wasm-rust: could not unpack rustc $V (the reason is above)' >&2; exit 1"; exit 1; }
  rm -rf "$ROOT"/usr/lib/rustlib/wasm32-wasip*
  mkdir -p "$BIN"
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
