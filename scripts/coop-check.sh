#!/usr/bin/env bash
# The cooperative-matrix path through the command line: under Mesa 26 lavapipe (VK_ICD_FILENAMES
# and LVP26_RUN from scripts/lavapipe26.sh) `wgbert info` lists the configurations and
# `WGBERT_GEMM=coop` runs encode and bench on them; under the system driver (no cooperative
# matrices) the same request is a clear error. Run from the repository root; .ci/run calls it.
# The binary: $WGBERT_BIN, else target/debug/wgbert (built if missing; `cargo test` builds it).
set -euo pipefail
: "${LVP26_RUN:?run eval \"\$(scripts/lavapipe26.sh)\" first}"
bin=${WGBERT_BIN:-target/debug/wgbert}
[ -x "$bin" ] || cargo build --locked --quiet
text="nice movie indeed"

# shellcheck disable=SC2086 # LVP26_RUN is a loader and its arguments
info=$($LVP26_RUN $bin info)
echo "$info" | grep "^cooperative matrix"
echo "$info" | grep -q "^cooperative matrix  .*8x8x8 f16\*f16+f32" \
  || { echo "coop-check: Mesa 26 should list 8x8x8 f16*f16+f32"; exit 1; }

# shellcheck disable=SC2086
WGBERT_GEMM=coop $LVP26_RUN $bin encode --precision f16 "$text" > /tmp/wgbert-coop.jsonl
test "$(wc -l < /tmp/wgbert-coop.jsonl)" -eq 1
# shellcheck disable=SC2086
bench=$(WGBERT_GEMM=coop $LVP26_RUN $bin bench --shape minilm-l6 --batch 2 --seq-len 32 \
  --iters 1 --warmup 0 --precision f16 --json)
echo "$bench" | grep -o '"gemm": *"[a-z0-9]*"'
echo "$bench" | grep -q '"gemm": *"coop8"' || { echo "coop-check: bench did not run coop8"; exit 1; }

# The system driver has no cooperative matrices: a clear error, not a fallback.
if out=$(env -u VK_ICD_FILENAMES WGBERT_GEMM=coop $bin encode --precision f16 "$text" 2>&1); then
  echo "coop-check: WGBERT_GEMM=coop succeeded on the system driver: $out"; exit 1
fi
echo "system driver: $out"
echo "$out" | grep -q "cooperative-matrix" || { echo "coop-check: unclear error"; exit 1; }
echo "coop-check: ok"
