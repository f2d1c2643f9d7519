#!/usr/bin/env bash
# The architectures' cases for a lent GPU, in the style of ../shared/device/gpu-bench.sh: run it
# from the project root on the device machine after that script has set up the Vulkan driver
# (same environment: VK_DRIVER_FILES, WGPU_BACKEND=vulkan), with a release build present.
# Writes one `wgbert bench --json` per case into $OUT (default /tmp/gpu-out).
#
#   shape            batch seq  precision
#   every shape      16    128  f32 and f16   (RESULTS' tokens/s per architecture)
#   long-input ones  1     2048 f16           (mpnet-base stops at 512)
#   nomic-v1.5, modernbert-base, jina-v2-base 1 8192 f16 (their longest input)
set -u
out="${OUT:-/tmp/gpu-out}"; mkdir -p "$out"
bin=./target/release/wgbert
cases=()
for s in bert-base nomic-v1.5 modernbert-base mpnet-base gte-base-v1.5 jina-v2-base; do
  cases+=("$s 16 128 f32" "$s 16 128 f16")
done
for s in nomic-v1.5 modernbert-base gte-base-v1.5 jina-v2-base; do
  cases+=("$s 1 2048 f16")
done
cases+=("mpnet-base 1 512 f16")
for s in nomic-v1.5 modernbert-base jina-v2-base; do
  cases+=("$s 1 8192 f16")
done
for c in "${cases[@]}"; do
  set -- $c
  tag="$1-b$2-s$3-$4"
  echo "== $tag"
  timeout 300 "$bin" bench --shape "$1" --batch "$2" --seq-len "$3" --precision "$4" --json \
    > "$out/arch-$tag.json" && cat "$out/arch-$tag.json" || echo "wgbert bench $tag failed"
done
echo "done"
