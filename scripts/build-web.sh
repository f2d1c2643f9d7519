#!/usr/bin/env bash
# Builds wgbert for the browser into OUT (default web/pkg): an npm package holding wgbert.js,
# wgbert_bg.wasm and wgbert.d.ts (wasm-bindgen --target web) and package.json.
#
#   bash scripts/build-web.sh [OUT]
#   python3 -m http.server -d web     # then open http://127.0.0.1:8000/ (web/index.html)
#
# Needs a Rust compiler with the wasm32-unknown-unknown standard library: the default one when it
# has it (rustup target add wasm32-unknown-unknown), else Debian's, unpacked by
# scripts/wasm-rust.sh into ~/.cache/wasm-rust (WASM_RUST_DIR). wasm-bindgen's command line must
# be the version of the wasm-bindgen crate in Cargo.lock: one on the PATH is used if it is,
# else it is installed into that folder (cargo install, about 2 minutes once).
# WGBERT_WEB_PROFILE: the cargo profile of the .wasm (default release).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:-web/pkg}
profile=${WGBERT_WEB_PROFILE:-release}
started=$SECONDS
dir=${WASM_RUST_DIR:-$HOME/.cache/wasm-rust}
target=wasm32-unknown-unknown

# The compiler: the default toolchain's if it has the wasm32 standard library.
if [ -d "$(rustc --print sysroot)/lib/rustlib/$target/lib" ]; then
  rustc_wasm=rustc
else
  eval "$(bash scripts/wasm-rust.sh)"
  rustc_wasm=$WASM_RUSTC
fi

# wasm-bindgen's command line, the version Cargo.lock pins for the crate.
want=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p')
[ -n "$want" ] || { echo "build-web: no wasm-bindgen in Cargo.lock"; exit 1; }
bindgen=""
for b in "$(command -v wasm-bindgen || true)" "$dir/bin/wasm-bindgen"; do
  if [ -n "$b" ] && [ -x "$b" ] && [ "$("$b" --version 2>/dev/null | awk '{print $2}')" = "$want" ]; then
    bindgen=$b
    break
  fi
done
if [ -z "$bindgen" ]; then
  echo "build-web: installing wasm-bindgen-cli $want into $dir"
  # Not --locked: the registry mirror here lacks one of its locked dependency versions. The debug
  # build compiles in about half the time and writes the same files (it runs for seconds).
  cargo install --quiet --debug wasm-bindgen-cli --version "$want" --root "$dir"
  bindgen=$dir/bin/wasm-bindgen
fi

# The .wasm, in its own target folder (artifacts of two compilers must not share one).
export CARGO_TARGET_DIR=${WGBERT_WEB_TARGET_DIR:-$PWD/target/wasm}
RUSTC="$rustc_wasm" cargo build --locked --quiet --target "$target" --profile "$profile" -p wgbert-web
folder=$profile
[ "$profile" = dev ] && folder=debug
wasm=$CARGO_TARGET_DIR/$target/$folder/wgbert_web.wasm

mkdir -p "$out"
"$bindgen" --target web --out-name wgbert --out-dir "$out" "$wasm"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
cat > "$out/package.json" <<JSON
{
  "name": "wgbert",
  "version": "$version",
  "description": "BERT-family embeddings in the browser on WebGPU: wgbert's WGSL kernels through wgpu, compiled to WebAssembly",
  "license": "MIT",
  "type": "module",
  "module": "wgbert.js",
  "main": "wgbert.js",
  "types": "wgbert.d.ts",
  "files": ["wgbert.js", "wgbert_bg.wasm", "wgbert.d.ts", "wgbert_bg.wasm.d.ts"],
  "sideEffects": ["./snippets/*"],
  "keywords": ["bert", "embeddings", "webgpu", "wasm", "sentence-transformers"]
}
JSON
echo "build-web: $out ($(du -k "$out/wgbert_bg.wasm" | cut -f1) KiB of wasm, $profile profile) in $((SECONDS - started)) s"
