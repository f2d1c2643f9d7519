#!/usr/bin/env bash
# A second WGSL compiler for every shader: writes each variant the engine can build
# (`wgbert shaders --dump`), opens tests/web/tint.html on them in headless Chromium (WebGPU on
# SwiftShader; Chrome's compiler is Tint, which applies the WGSL specification's uniformity
# rules strictly where naga is lenient), and reads the verdicts from Chromium's console log.
# Fails naming the variant, line and message of any error; lists the variants it skipped
# (needs the adapter lacks: shader-f16, cooperative matrices). Also runs a small GEMM and the
# attention kernel in the page against the Rust CPU references' answers (check.js).
#
#   tests/web/run-tint.sh              # every variant; exit 1 on any failure
#   tests/web/run-tint.sh --self-test  # also a deliberately broken shader (a barrier in a
#                                      # data-dependent branch) that must be reported with its line
# Needs: chromium (Debian: apt-get install chromium); the binary is $WGBERT_BIN, else
# target/debug/wgbert (built if missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
self_test=0
[ "${1:-}" = "--self-test" ] && self_test=1
bin=${WGBERT_BIN:-target/debug/wgbert}
[ -x "$bin" ] || cargo build --locked --quiet
chrome=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$chrome" ] || { echo "run-tint: no Chromium found; install it (Debian: apt-get install chromium)"; exit 1; }

work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
dir="$work/shaders"
"$bin" shaders --dump "$dir" > /dev/null
cp tests/web/tint.html "$dir/"
if [ "$self_test" = 1 ]; then
  # Valid for naga (wgpu 30 accepts it), invalid WGSL: workgroupBarrier() under a branch that
  # depends on storage data. Line 6 of this source is the barrier.
  cat > "$dir/extra.js" <<'JS'
const WGBERT_EXTRA = [{
  name: "self-test.barrier-in-data-dependent-branch",
  constants: {}, needs: [], entry_point: "main",
  browser_source: "@group(0) @binding(0) var<storage, read_write> a: array<f32>;\n" +
    "@compute @workgroup_size(64)\n" +
    "fn main(@builtin(local_invocation_index) i: u32) {\n" +
    "    if (a[i] > 0.0) {\n" +
    "        a[i] = a[i] * 2.0;\n" +
    "        workgroupBarrier();\n" +
    "    }\n" +
    "}\n",
}];
JS
else
  echo "const WGBERT_EXTRA = [];" > "$dir/extra.js"
fi

log="$work/chrome.log"
"$chrome" --headless=new --no-sandbox --enable-unsafe-webgpu --enable-logging=stderr --v=0 \
  --no-first-run --user-data-dir="$work/profile" "file://$dir/tint.html" 2> "$log" > /dev/null &
pid=$!
deadline=$((SECONDS + ${TINT_TIMEOUT:-300}))
until grep -q '"TINT DONE' "$log" 2>/dev/null; do
  if [ $SECONDS -ge $deadline ] || ! kill -0 "$pid" 2>/dev/null; then
    echo "run-tint: no verdict from Chromium within the time limit; its log ends:"
    tail -20 "$log"
    exit 1
  fi
  sleep 1
done
kill "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
pid=""

# Console lines look like: [..:INFO:CONSOLE(58)] "TINT PASS gemm.f32", source: file:///... (58)
verdicts=$(grep -o '"TINT [^"]*"' "$log" | sed 's/^"TINT //; s/"$//')
echo "$verdicts" | grep '^ADAPTER' || true
pass=$(echo "$verdicts" | grep -c '^PASS ' || true)
echo "passed: $pass variants"
echo "$verdicts" | grep '^SKIP ' | sed 's/^/  /' || true
echo "$verdicts" | grep '^RUN ' | sed 's/^/  /' || true
failures=$(echo "$verdicts" | grep -E '^(FAIL|RUN FAIL) ' || true)
done_line=$(echo "$verdicts" | grep '^DONE')
echo "$done_line"

if [ "$self_test" = 1 ]; then
  # Exactly the planted shader must fail, at its barrier's line.
  echo "$failures" | sed 's/^/  /'
  if [ "$(echo "$failures" | grep -c .)" -ne 1 ] \
    || ! echo "$failures" | grep -q '^FAIL self-test.barrier-in-data-dependent-branch 6:'; then
    echo "run-tint: the self-test expected exactly the planted shader to fail at line 6"
    exit 1
  fi
  echo "run-tint: self-test ok (the broken shader is reported with its line)"
  exit 0
fi
if [ -n "$failures" ]; then
  echo "run-tint: Tint rejects these:"
  echo "$failures" | sed 's/^/  /'
  exit 1
fi
echo "run-tint: every variant the adapter supports compiles under Tint"
