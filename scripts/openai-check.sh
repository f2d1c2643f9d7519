#!/usr/bin/env bash
# Runs the official `openai` Python client against `wgbert serve` and checks that its vectors
# equal `wgbert embed`'s, then that SIGTERM stops the server with exit status 0.
# Needs the binary ($WGBERT_BIN, else target/debug/wgbert, built if missing), the default model
# and pip: a throwaway venv ($WGBERT_VENV, default /tmp/wgbert-venv) with openai and numpy.
set -euo pipefail
cd "$(dirname "$0")/.."
export NODEVICE_SELECT=1
bin=${WGBERT_BIN:-target/debug/wgbert}
[ -x "$bin" ] || cargo build --locked --quiet
venv=${WGBERT_VENV:-/tmp/wgbert-venv}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -c "import openai, numpy" 2>/dev/null || "$venv/bin/pip" install -q openai numpy

log=$(mktemp)
"$bin" serve --port 0 2> "$log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  grep -q "ready on" "$log" && break
  kill -0 $pid 2>/dev/null || { cat "$log"; echo "openai-check: the server exited"; exit 1; }
  sleep 0.5
done
base=$(grep -o "ready on http://[^ ]*" "$log" | head -1 | sed 's/ready on //')
[ -n "$base" ] || { cat "$log"; echo "openai-check: the server did not become ready"; exit 1; }

"$bin" embed --format jsonl "nice movie indeed" "Tom deserves a fair trial" "El zorro salta." > /tmp/wgbert-openai-want.jsonl
WGBERT_BASE="$base" "$venv/bin/python" - <<'PY'
import json, os
import numpy as np
from openai import OpenAI

client = OpenAI(base_url=os.environ["WGBERT_BASE"] + "/v1", api_key="unused")
texts = ["nice movie indeed", "Tom deserves a fair trial", "El zorro salta."]
want = np.array([json.loads(l)["embedding"] for l in open("/tmp/wgbert-openai-want.jsonl")], dtype=np.float32)
# The client asks for base64 unless told otherwise, and decodes it.
r = client.embeddings.create(model="all-MiniLM-L6-v2", input=texts)
got = np.array([d.embedding for d in r.data], dtype=np.float32)
assert got.shape == (3, 384), got.shape
assert np.array_equal(got, want), np.abs(got - want).max()
assert r.usage.prompt_tokens > 10 and r.model == "all-MiniLM-L6-v2"
f = client.embeddings.create(model="m", input=texts[0], encoding_format="float")
assert np.array_equal(np.array(f.data[0].embedding, dtype=np.float32), want[0])
d = client.embeddings.create(model="m", input=texts[1], dimensions=128)
v = np.array(d.data[0].embedding)
assert v.shape == (128,) and abs(np.linalg.norm(v) - 1) < 1e-5
try:
    client.embeddings.create(model="m", input=[])
    raise SystemExit("an empty input list was accepted")
except Exception as e:
    assert getattr(e, "status_code", None) == 400, e
print("openai client: ok", got.shape, "identical to wgbert embed; usage", r.usage.prompt_tokens, "tokens")
PY

kill -TERM $pid
status=0
wait $pid || status=$?
trap - EXIT
[ "$status" -eq 0 ] || { cat "$log"; echo "openai-check: SIGTERM exit status $status"; exit 1; }
echo "openai-check: SIGTERM: exit 0"
