// wgbert's demo page: load a model folder, embed sentences on the page's GPU (WebGPU), show their
// similarity as a heat map and a word's contextual neighbours. A static page: no server code.
// URL parameters (all optional): model=URL (load it at once), sentences=one per line,
// word=…, run=1 (embed once the model is loaded).
import init, { Engine } from "./pkg/wgbert.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
let engine = null;

function setState(state, message) {
  document.body.dataset.state = state;
  if (state === "error") {
    $("error").hidden = false;
    $("error").textContent = message;
  } else {
    $("error").hidden = true;
  }
}

function showEngine(source) {
  const info = engine.info();
  $("adapter").textContent = `GPU: ${$("adapter").dataset.browser || engine.adapter} (${engine.adapter})`;
  $("model-status").textContent =
    `${source}: ${info.modelType || "bert"}, ${engine.dim}-dimensional vectors (${info.pooling} pooling` +
    `${info.normalize ? ", L2-normalised" : ""}), loaded in ${engine.loadSeconds.toFixed(2)} s; ` +
    `kernels ${info.precision} / ${info.gemm}.`;
  $("run").disabled = false;
}

async function load(what, make) {
  $("run").disabled = true;
  setState("loading");
  $("model-status").textContent = `Loading ${what}…`;
  try {
    if (engine) engine.free();
    engine = null;
    engine = await make();
    showEngine(what);
    setState("ready");
  } catch (e) {
    $("model-status").textContent = "No model loaded.";
    setState("error", `Could not load ${what}: ${e.message || e}`);
  }
}

const loadUrl = (url) => load(url, () => Engine.fromUrl(url));

// A model folder picked or dropped: files by their path inside the folder.
const NEEDED = ["config.json", "tokenizer.json", "model.safetensors"];
async function loadFiles(files) {
  const byPath = new Map();
  for (const [path, file] of files) {
    // "all-MiniLM-L6-v2/1_Pooling/config.json" -> "1_Pooling/config.json"
    const parts = path.split("/").filter(Boolean);
    byPath.set(parts.length > 1 ? parts.slice(1).join("/") : parts[0], file);
  }
  const missing = NEEDED.filter((n) => !byPath.has(n));
  if (missing.length) {
    setState("error", `The folder has no ${missing.join(", ")}; a model folder needs config.json, tokenizer.json and model.safetensors.`);
    return;
  }
  const bytes = async (f) => new Uint8Array(await f.arrayBuffer());
  const extra = {};
  for (const [path, f] of byPath) {
    if (path.endsWith(".json") && !NEEDED.includes(path) && f.size < 1 << 20) {
      extra[path] = await bytes(f);
    }
  }
  const name = (files[0][0].split("/").filter(Boolean)[0]) || "the folder";
  await load(name, async () =>
    Engine.fromBytes(
      await bytes(byPath.get("config.json")),
      await bytes(byPath.get("tokenizer.json")),
      await bytes(byPath.get("model.safetensors")),
      extra,
    ));
}

async function entriesOf(entry, prefix = "") {
  if (entry.isFile) {
    const file = await new Promise((ok, fail) => entry.file(ok, fail));
    return [[prefix + entry.name, file]];
  }
  const reader = entry.createReader();
  const out = [];
  for (;;) {
    const batch = await new Promise((ok, fail) => reader.readEntries(ok, fail));
    if (!batch.length) break;
    for (const e of batch) out.push(...(await entriesOf(e, `${prefix}${entry.name}/`)));
  }
  return out;
}

function inputs() {
  return $("sentences").value.split("\n").map((l) => l.trim()).filter(Boolean).map((l) => {
    const pair = l.split("|||");
    return pair.length === 2 ? [pair[0].trim(), pair[1].trim()] : l;
  });
}

const label = (t) => (Array.isArray(t) ? `${t[0]} ||| ${t[1]}` : t);
const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
function cosine(a, b) {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i] * b[i];
  const n = norm(a) * norm(b);
  return n === 0 ? 0 : dot / n;
}
const escape = (s) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

function heatColor(v) {
  // -1 … 1: white at 0 up to deep blue at 1; negative values towards red.
  const t = Math.max(-1, Math.min(1, v));
  if (t >= 0) return `rgb(${Math.round(255 - 215 * t)}, ${Math.round(255 - 170 * t)}, 255)`;
  return `rgb(255, ${Math.round(255 + 150 * t)}, ${Math.round(255 + 150 * t)})`;
}

function drawHeatmap(texts, outs) {
  const n = texts.length;
  let html = `<table class="heat"><thead><tr><th></th>${texts.map((_, j) => `<th>${j + 1}</th>`).join("")}</tr></thead><tbody>`;
  for (let i = 0; i < n; i++) {
    html += `<tr><th title="${escape(label(texts[i]))}">${i + 1}. ${escape(label(texts[i]))}</th>`;
    for (let j = 0; j < n; j++) {
      const v = cosine(outs[i].embedding, outs[j].embedding);
      const fg = v > 0.6 ? "#fff" : "#1d2330";
      html += `<td data-i="${i}" data-j="${j}" data-value="${v}" style="background:${heatColor(v)};color:${fg}">${v.toFixed(2)}</td>`;
    }
    html += "</tr>";
  }
  $("heatmap").innerHTML = html + "</tbody></table>";
}

const bare = (t) => t.replace(/^##|^▁|^Ġ/, "").toLowerCase();

function drawNeighbours(word, texts, outs, hidden) {
  const w = word.trim().toLowerCase();
  const tokens = []; // every real, non-special token: sentence, position, text, vector
  outs.forEach((o, s) => o.tokens.forEach((t, p) => {
    if (!o.special[p]) tokens.push({ s, p, t, v: o.sequence_output.subarray(p * hidden, (p + 1) * hidden) });
  }));
  const hits = tokens.filter((x) => bare(x.t) === w);
  if (!w || !hits.length) {
    $("neighbours").innerHTML = `<p>“${escape(word)}” is not a token of these sentences (a word split into pieces has no single vector here).</p>`;
    return;
  }
  let html = "";
  if (hits.length > 1) {
    html += '<div class="pairwise">';
    for (let a = 0; a < hits.length; a++) {
      for (let b = a + 1; b < hits.length; b++) {
        const v = cosine(hits[a].v, hits[b].v);
        html += `<div data-a="${hits[a].s}" data-b="${hits[b].s}" data-value="${v}">“${escape(w)}” in sentence ${hits[a].s + 1} vs sentence ${hits[b].s + 1}: cosine <b>${v.toFixed(3)}</b></div>`;
      }
    }
    html += "</div>";
  }
  for (const h of hits) {
    const sentence = outs[h.s].tokens.map((t, p) => (p === h.p ? `<b>${escape(t)}</b>` : escape(t)))
      .filter((_, p) => !outs[h.s].special[p]).join(" ");
    const near = tokens.filter((x) => x !== h)
      .map((x) => ({ x, v: cosine(h.v, x.v) }))
      .sort((a, b) => b.v - a.v).slice(0, 8);
    html += `<div class="occurrence"><div>Sentence ${h.s + 1}: ${sentence}</div><ol>` +
      near.map(({ x, v }) => `<li>${escape(x.t)} <small>(sentence ${x.s + 1})</small> ${v.toFixed(3)}</li>`).join("") +
      "</ol></div>";
  }
  $("neighbours").innerHTML = html;
}

async function run() {
  const texts = inputs();
  if (!engine || !texts.length) return;
  $("run").disabled = true;
  setState("running");
  try {
    const t0 = performance.now();
    const outs = await engine.encode(texts);
    const ms = performance.now() - t0;
    drawHeatmap(texts, outs);
    drawNeighbours($("word").value, texts, outs, engine.hidden);
    $("timing").textContent = `${texts.length} inputs in ${ms.toFixed(0)} ms (${(texts.length / (ms / 1e3)).toFixed(1)} per second)`;
    setState("done");
  } catch (e) {
    setState("error", e.message || String(e));
  } finally {
    $("run").disabled = false;
  }
}

$("load-url").onclick = () => loadUrl($("model-url").value.trim());
$("model-files").onchange = (ev) =>
  loadFiles([...ev.target.files].map((f) => [f.webkitRelativePath || f.name, f]));
$("run").onclick = run;
const drop = $("drop");
drop.ondragover = (ev) => { ev.preventDefault(); drop.classList.add("over"); };
drop.ondragleave = () => drop.classList.remove("over");
drop.ondrop = async (ev) => {
  ev.preventDefault();
  drop.classList.remove("over");
  const entries = [...ev.dataTransfer.items].map((i) => i.webkitGetAsEntry && i.webkitGetAsEntry()).filter(Boolean);
  const files = [];
  for (const e of entries) files.push(...(await entriesOf(e)));
  if (files.length) await loadFiles(files);
};

try {
  await init();
  if (!navigator.gpu) {
    setState("error", "This browser has no WebGPU (navigator.gpu). Use a recent Chrome, Edge or Safari, or Firefox with WebGPU enabled.");
  } else {
    // What the browser says about its adapter (wgpu's adapter info is empty on the web).
    const a = await navigator.gpu.requestAdapter();
    const i = a && a.info ? a.info : {};
    const what = [i.vendor, i.architecture, i.description].filter(Boolean).join(" / ");
    $("adapter").dataset.browser = what || "WebGPU";
    $("adapter").textContent = `GPU: ${what || "WebGPU available"}`;
  }
  if (params.has("sentences")) $("sentences").value = params.get("sentences");
  if (params.has("word")) $("word").value = params.get("word");
  if (params.has("model")) {
    $("model-url").value = params.get("model");
    await loadUrl(params.get("model"));
    if (engine && params.get("run") === "1") await run();
  }
} catch (e) {
  setState("error", `wgbert could not start: ${e.message || e}`);
}
