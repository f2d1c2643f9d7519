#!/usr/bin/env bash
# wgbert in the browser against transformers.js (npm), same page, same model (all-MiniLM-L6-v2),
# in headless Chromium (WebGPU on SwiftShader): load time, first call, sentences/s on the golden
# sentences and on 8 inputs of 128 tokens, each path's vectors against the float64 goldens.
# transformers.js runs on an ONNX export of the same safetensors (benches/web/export_onnx.py),
# on its WASM path (ONNX Runtime Web) and on its WebGPU path. Results: benches/RESULTS.md.
#
#   bash scripts/build-web.sh /tmp/wgbert-web-pkg && bash benches/web-compare.sh /tmp/wgbert-web-pkg
#
# Needs npm (the machine's registry configuration), Chromium, the default model, and a Python
# with torch, transformers and onnx for the export (ONNX_PYTHON; default: a venv made in
# /tmp/wgbert-onnx-venv with pip). Not part of CI (a few minutes, large downloads).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
pkg=$(realpath "${1:-web/pkg}")
model=$PWD/assets/models/all-MiniLM-L6-v2
tjs_version=${TJS_VERSION:-4.3.2}
cache=${WGBERT_WEB_COMPARE_DIR:-/tmp/wgbert-web-compare}
mkdir -p "$cache"
if [ ! -d "$cache/node_modules/@huggingface/transformers" ]; then
  # --ignore-scripts: onnxruntime-node's install script downloads native binaries (not needed
  # in a browser).
  (cd "$cache" && npm init -y > /dev/null && npm install --silent --ignore-scripts "@huggingface/transformers@$tjs_version")
fi
if [ ! -f "$cache/models/all-MiniLM-L6-v2/onnx/model.onnx" ]; then
  py=${ONNX_PYTHON:-}
  if [ -z "$py" ]; then
    [ -x /tmp/wgbert-onnx-venv/bin/python ] || python3 -m venv /tmp/wgbert-onnx-venv
    /tmp/wgbert-onnx-venv/bin/pip install -q torch transformers onnx
    py=/tmp/wgbert-onnx-venv/bin/python
  fi
  "$py" benches/web/export_onnx.py "$model" "$cache/models/all-MiniLM-L6-v2"
fi

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
site=$work/site
mkdir -p "$site"
cp benches/web/compare.html "$site/"
ln -s "$pkg" "$site/pkg"
ln -s "$model" "$site/model"
ln -s "$cache/node_modules/@huggingface/transformers/dist" "$site/tjs"
ln -s "$cache/node_modules/onnxruntime-web/dist" "$site/ort"
ln -s "$cache/models" "$site/tjsmodels"
ln -s "$PWD/tests/data/minilm_public.json" "$site/golden.json"
port=$((20000 + RANDOM % 20000))
python3 -m http.server --bind 127.0.0.1 "$port" --directory "$site" > "$work/http.log" 2>&1 &
pids+=($!)
sleep 1
chrome=$(command -v chromium || command -v chromium-browser || command -v google-chrome)
log=$work/chrome.log
"$chrome" --headless=new --no-sandbox --enable-unsafe-webgpu --enable-logging=stderr --v=0 \
  --no-first-run --user-data-dir="$work/profile" "http://127.0.0.1:$port/compare.html" 2> "$log" > /dev/null &
pids+=($!)
deadline=$((SECONDS + ${COMPARE_TIMEOUT:-900}))
until grep -q '"COMPARE DONE' "$log"; do
  [ $SECONDS -lt $deadline ] || { echo "web-compare: no verdict in time; log ends:"; tail -20 "$log"; exit 1; }
  sleep 2
done
grep -o '"COMPARE [^"]*"' "$log" | sed 's/^"COMPARE /  /; s/"$//'
