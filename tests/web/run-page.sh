#!/usr/bin/env bash
# The browser build, end to end, in headless Chromium (WebGPU on SwiftShader): tests/web/page.html
# loads the npm package scripts/build-web.sh wrote (PKG, default web/pkg) and the default model
# over HTTP, checks embed / encode / similarity against the float64 goldens of
# tests/data/minilm_public.json (1e-5), bad input, and times loading and embedding; then it opens
# the demo page (web/) as a visitor would, checks the numbers it shows, and Chromium takes a
# screenshot of it (SHOT, default /tmp/wgbert-web.png).
#
#   bash scripts/build-web.sh web/pkg && bash tests/web/run-page.sh web/pkg
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
pkg=$(realpath "${1:-web/pkg}")
shot=$(realpath -m "${2:-/tmp/wgbert-web.png}")
model=$PWD/assets/models/all-MiniLM-L6-v2
[ -f "$pkg/wgbert_bg.wasm" ] || { echo "run-page: no package in $pkg; run scripts/build-web.sh $pkg"; exit 1; }
[ -f "$model/model.safetensors" ] || { echo "run-page: no model in $model; run scripts/fetch-model.sh"; exit 1; }
chrome=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$chrome" ] || { echo "run-page: no Chromium found; install it (Debian: apt-get install chromium)"; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
site=$work/site
mkdir -p "$site/app/models"
cp web/index.html web/app.js web/style.css "$site/app/"
ln -s "$pkg" "$site/app/pkg"
ln -s "$model" "$site/app/models/all-MiniLM-L6-v2"
cp tests/web/page.html "$site/"
ln -s "$PWD/tests/data/minilm_public.json" "$site/golden.json"

# A static server, plus /__hold (answered once the page asks /__release: the page's load event,
# and so the screenshot, waits for its checks).
python3 - "$site" "$work/port" > "$work/server.log" 2>&1 <<'PY' &
import functools, http.server, sys, threading
root, port_file = sys.argv[1], sys.argv[2]
released = threading.Event()
GIF = bytes.fromhex("47494638396101000100800000ffffff00000021f90401000000002c00000000010001000002024401003b")
class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
    def do_GET(self):
        if self.path.startswith("/__release"):
            released.set()
        elif self.path.startswith("/__hold"):
            released.wait(600)
        else:
            return super().do_GET()
        self.send_response(200)
        self.send_header("Content-Type", "image/gif")
        self.send_header("Content-Length", str(len(GIF)))
        self.end_headers()
        self.wfile.write(GIF)
Handler.extensions_map[".wasm"] = "application/wasm"
Handler.extensions_map[".js"] = "text/javascript"
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=root))
open(port_file, "w").write(str(server.server_address[1]))
server.serve_forever()
PY
pids+=($!)
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
port=$(cat "$work/port")

log=$work/chrome.log
rm -f "$shot"
started=$SECONDS
query=""
[ "${PAGE_SPEED:-0}" = 1 ] && query="?speed=1"  # also the longer timings (RESULTS)
timeout "${PAGE_TIMEOUT:-480}" "$chrome" --headless=new --no-sandbox --enable-unsafe-webgpu \
  --enable-logging=stderr --v=0 --no-first-run --user-data-dir="$work/profile" \
  --window-size=1280,1150 --screenshot="$shot" "http://127.0.0.1:$port/page.html$query" 2> "$log" > /dev/null \
  || { echo "run-page: Chromium failed or ran past ${PAGE_TIMEOUT:-480} s; its log ends:"; tail -20 "$log"; exit 1; }
# Console lines look like: [..:INFO:CONSOLE(58)] "PAGE PASS ...", source: http://... (58)
lines=$(grep -o '"PAGE [^"]*"' "$log" | sed 's/^"PAGE //; s/"$//' || true)
echo "$lines" | sed 's/^/  /'
grep -o 'wgbert panicked[^"]*' "$log" || true
done_line=$(echo "$lines" | grep '^DONE' || true)
if [ -z "$done_line" ]; then
  echo "run-page: the page gave no verdict; Chromium's log ends:"; tail -20 "$log"; exit 1
fi
if [ "$done_line" != "DONE failures=0" ] || echo "$lines" | grep -q '^FAIL'; then
  echo "run-page: failed"; exit 1
fi
[ -s "$shot" ] || { echo "run-page: Chromium wrote no screenshot"; exit 1; }
echo "run-page: ok in $((SECONDS - started)) s; screenshot of the demo page: $shot ($(du -k "$shot" | cut -f1) KiB)"
