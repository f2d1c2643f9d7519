#!/usr/bin/env bash
# Every GEMM variant this adapter runs, forced one at a time (WGBERT_GEMM), through whole
# forwards: `wgbert bench` at one shape, f32 and f16, then the per-kernel profile of a
# cooperative-matrix forward when the adapter has one. For benches/RESULTS.md.
#   scripts/bench-variants.sh [SHAPE] [BATCH] [SEQ]            # system driver
#   eval "$(scripts/lavapipe26.sh)"; RUN="$LVP26_RUN" scripts/bench-variants.sh   # Mesa 26
set -uo pipefail
shape=${1:-minilm-l6}; batch=${2:-8}; seq=${3:-128}
bin=./target/release/wgbert
run=${RUN:-}
# shellcheck disable=SC2086 # RUN is a loader and its arguments
$run $bin info | grep -E "^(adapter|driver|cooperative)"
for precision in f32 f16; do
  for v in tile128 tile128v4 tile128b16 tile64 tile32x64 direct4x4 direct16x2 coop8 coop16; do
    # shellcheck disable=SC2086
    out=$(WGBERT_GEMM=$v $run $bin bench --shape "$shape" --batch "$batch" --seq-len "$seq" \
      --precision "$precision" --iters 3 --warmup 1 --json 2>&1) \
      || { echo "$precision $v: $(echo "$out" | tail -1)"; continue; }
    echo "$out" | python3 -c "import json,sys; d=json.load(sys.stdin); print(f\"{d['precision']} {d['gemm']:10} attention {d['attention']:17} median {d['median_s']:.3f} s  {d['gflop_per_s']:.2f} GFLOP/s  first forward {d['first_forward_s']:.2f} s\")"
  done
done
# shellcheck disable=SC2086
if $run $bin info | grep -q "^cooperative matrix  .*f32"; then
  # shellcheck disable=SC2086
  WGBERT_GEMM=coop $run $bin bench --shape "$shape" --batch "$batch" --seq-len "$seq" \
    --precision f16 --iters 3 --warmup 1 --profile
fi
