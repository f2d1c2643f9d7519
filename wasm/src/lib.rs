//! wgbert in a browser page: the lean library on the browser's WebGPU (wgpu's `BrowserWebGpu`
//! back end, the same WGSL kernels), with a JavaScript API made by wasm-bindgen.
//!
//! ```js
//! import init, { Engine } from "./wgbert.js";
//! await init();
//! const engine = await Engine.fromUrl("models/all-MiniLM-L6-v2/");
//! const [a, b] = await engine.embed(["a fair trial", "a county fair"]); // Float32Array each
//! ```
//!
//! Nothing here blocks: the adapter, the device and every readback are awaited, and the page's
//! event loop completes them. Calls on one engine run one after another (a later call waits for
//! the earlier ones), so a page may fire several without awaiting each.

use futures_util::lock::Mutex;
use js_sys::{Array, Float32Array, Object, Promise, Reflect, Uint8Array, Uint32Array};
use std::collections::HashMap;
use std::sync::Arc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, future_to_promise};
use wgbert::kernels::GemmVariant;
use wgbert::{EngineOptions, GpuOptions, Input, Request, SentenceConfig};

/// The model files `Engine.fromUrl` fetches besides the three it needs, when the folder has
/// them (sentence-transformers' recipe: pooling, normalisation, length, prompts).
const OPTIONAL_FILES: [&str; 4] = [
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "tokenizer_config.json",
];

/// A panic is a bug in wgbert: say so in the console (the page gets an `Error` for bad input,
/// never a panic; a panic would stop the module).
#[wasm_bindgen(start)]
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        web_sys::console::error_1(
            &format!("wgbert panicked (a bug; please report it): {info}").into(),
        );
    }));
}

fn js_error(e: impl std::fmt::Display) -> JsValue {
    JsError::new(&e.to_string()).into()
}

/// An embedding model on the page's GPU.
#[wasm_bindgen]
pub struct Engine {
    core: Arc<wgbert::Engine>,
    /// Held by the call that is running; the next waits for it.
    turn: Arc<Mutex<()>>,
    load_seconds: f64,
}

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &str = r#"
/** A text, or a pair of texts (question and passage, two sentences). */
export type TextInput = string | [string, string];
/** Options of `Engine.fromBytes` / `Engine.fromUrl` (all optional). */
export interface EngineOptions {
  /** The GEMM kernel by name (tile128, tile64, tile128v4, tile128b16, tile32x64, direct4x4, direct16x2; default tile128, as without tuning). */
  gemm?: string;
  /** Most texts per forward pass (default 32); more are split into batches. */
  maxBatch?: number;
  /** The packed length of `encode` (default 128, or the model's longest input if shorter). */
  seqLength?: number;
}
/** What `Engine.encode` gives for each input (the TF-Hub BERT tutorial's outputs). */
export interface EncodeOutput {
  /** The token strings of the real tokens, special tokens included. */
  tokens: string[];
  /** Whether each of `tokens` is one the template added (`[CLS]`, `[SEP]`, `<s>`, …). */
  special: boolean[];
  /** `[CLS] … [SEP]`, padded to `seqLength`. */
  input_word_ids: Uint32Array;
  /** 1 on real tokens, 0 on padding. */
  input_mask: Uint32Array;
  /** Segment ids (0 for the first text, 1 for the second of a pair). */
  input_type_ids: Uint32Array;
  /** tanh(dense([CLS])), `[hidden]`; null where the checkpoint has no pooler. */
  pooled_output: Float32Array | null;
  /** The last layer, `[seqLength × hidden]` row-major. */
  sequence_output: Float32Array;
  /** The sentence embedding, pooled as the model folder says, `[dim]`. */
  embedding: Float32Array;
}
"#;

#[wasm_bindgen]
impl Engine {
    /// An engine from the bytes of `config.json`, `tokenizer.json` and `model.safetensors`;
    /// `files` optionally maps sentence-transformers' files by their path in the folder
    /// (`modules.json`, `1_Pooling/config.json`, `sentence_bert_config.json`, …) to their
    /// bytes or text, for pooling as the folder says (else mean pooling and L2).
    #[wasm_bindgen(js_name = fromBytes)]
    pub async fn from_bytes(
        config_json: Uint8Array,
        tokenizer_json: Uint8Array,
        model_safetensors: Uint8Array,
        #[wasm_bindgen(unchecked_param_type = "Record<string, Uint8Array | string> | undefined")]
        files: Option<Object>,
        #[wasm_bindgen(unchecked_param_type = "EngineOptions | undefined")] options: Option<Object>,
    ) -> Result<Engine, JsValue> {
        let started = js_sys::Date::now();
        let mut extra = HashMap::new();
        if let Some(files) = files {
            for entry in Object::entries(&files).iter() {
                let entry = Array::from(&entry);
                let name = entry.get(0).as_string().unwrap_or_default();
                let value = entry.get(1);
                let bytes = if let Some(text) = value.as_string() {
                    text.into_bytes()
                } else if value.is_instance_of::<Uint8Array>() {
                    Uint8Array::from(value).to_vec()
                } else {
                    return Err(js_error(format!(
                        "files[\"{name}\"] must be a Uint8Array or a string (the file's contents)"
                    )));
                };
                extra.insert(name.trim_start_matches("./").to_string(), bytes);
            }
        }
        let opts = engine_options(options.as_ref())?;
        let mut core = wgbert::Engine::from_memory_async(
            &config_json.to_vec(),
            &tokenizer_json.to_vec(),
            &model_safetensors.to_vec(),
            opts,
        )
        .await
        .map_err(js_error)?;
        if !extra.is_empty() {
            let sentence = SentenceConfig::from_files(&extra).map_err(js_error)?;
            core.set_sentence_config(sentence).map_err(js_error)?;
        }
        Ok(Engine {
            core: Arc::new(core),
            turn: Arc::new(Mutex::new(())),
            load_seconds: (js_sys::Date::now() - started) / 1e3,
        })
    }

    /// An engine from a model folder served at `base_url` (`config.json`, `tokenizer.json`,
    /// `model.safetensors`, and sentence-transformers' files where the folder has them).
    #[wasm_bindgen(js_name = fromUrl)]
    pub async fn from_url(
        base_url: String,
        #[wasm_bindgen(unchecked_param_type = "EngineOptions | undefined")] options: Option<Object>,
    ) -> Result<Engine, JsValue> {
        engine_options(options.as_ref())?; // bad options fail before the downloads
        let base = if base_url.ends_with('/') || base_url.is_empty() {
            base_url
        } else {
            format!("{base_url}/")
        };
        let config = fetch(&base, "config.json", true).await?;
        let tokenizer = fetch(&base, "tokenizer.json", true).await?;
        let model = fetch(&base, "model.safetensors", true).await?;
        let files = Object::new();
        for name in OPTIONAL_FILES {
            if let Some(bytes) = fetch(&base, name, false).await? {
                if name == "modules.json" {
                    for path in module_paths(&bytes) {
                        let file = format!("{path}/config.json");
                        if let Some(b) = fetch(&base, &file, false).await? {
                            Reflect::set(&files, &file.into(), &b)?;
                        }
                    }
                }
                Reflect::set(&files, &name.into(), &bytes)?;
            }
        }
        let (Some(config), Some(tokenizer), Some(model)) = (config, tokenizer, model) else {
            return Err(js_error("a model file was not fetched"));
        };
        Engine::from_bytes(config, tokenizer, model, Some(files), options).await
    }

    /// Width of the vectors `embed` gives.
    #[wasm_bindgen(getter)]
    pub fn dim(&self) -> usize {
        self.core.embedding_dim()
    }

    /// Model width H (of `pooled_output` and each row of `sequence_output`).
    #[wasm_bindgen(getter)]
    pub fn hidden(&self) -> usize {
        self.core.config().hidden_size
    }

    /// The packed length of `encode` (128, TF-Hub's, or the model's longest input if shorter).
    #[wasm_bindgen(getter, js_name = seqLength)]
    pub fn seq_length(&self) -> usize {
        self.core.options().seq_length
    }

    /// The adapter the engine runs on, e.g. `SwiftShader (BrowserWebGpu, Cpu)`.
    #[wasm_bindgen(getter)]
    pub fn adapter(&self) -> String {
        let i = &self.core.gpu().info;
        let name = if i.name.is_empty() {
            "WebGPU adapter"
        } else {
            &i.name
        };
        format!("{name} ({:?}, {:?})", i.backend, i.device_type)
    }

    /// Seconds `fromBytes` took: parsing, uploading the weights, building the pipelines.
    #[wasm_bindgen(getter, js_name = loadSeconds)]
    pub fn load_seconds(&self) -> f64 {
        self.load_seconds
    }

    /// What the engine runs: adapter, vendor/driver, precision, GEMM variant, pooling,
    /// normalisation, the embedding length and config.json's `model_type`.
    pub fn info(&self) -> Result<Object, JsValue> {
        let c = &self.core;
        let i = &c.gpu().info;
        let o = Object::new();
        let set = |k: &str, v: JsValue| Reflect::set(&o, &k.into(), &v).map(|_| ());
        set("adapter", self.adapter().into())?;
        set(
            "driver",
            format!("{} {}", i.driver, i.driver_info).trim().into(),
        )?;
        set("precision", c.precision().name().into())?;
        set("gemm", c.gemm_variant().name().into())?;
        set(
            "pooling",
            wgbert::sentence::pooling_name(c.pooling()).into(),
        )?;
        set("normalize", c.normalize().into())?;
        set("embedSeqLength", c.embed_seq_length().into())?;
        set(
            "modelType",
            c.config().model_type.clone().unwrap_or_default().into(),
        )?;
        Ok(o)
    }

    /// Kernel dispatches of one embedding pass over `batch` texts of `seq` tokens (one compute
    /// pass, one submission).
    pub fn dispatches(&self, batch: usize, seq: usize) -> Result<usize, JsValue> {
        let request = Request {
            pooled_output: false,
            pooling: self.core.pooling(),
            normalize: self.core.normalize(),
            ..Default::default()
        };
        self.core.dispatches(batch, seq, &request).map_err(js_error)
    }

    /// One vector per text (`Float32Array`s of `dim`), pooled and normalised as the model
    /// folder says. Pairs are `[a, b]`.
    #[wasm_bindgen(unchecked_return_type = "Promise<Float32Array[]>")]
    pub fn embed(
        &self,
        #[wasm_bindgen(unchecked_param_type = "TextInput[]")] texts: JsValue,
    ) -> Promise {
        self.in_turn(texts, |core, inputs| async move {
            let vectors = core.embed_async(inputs).await.map_err(js_error)?;
            Ok(float_rows(&vectors))
        })
    }

    /// The TF-Hub tutorial's outputs of each input ([`EncodeOutput`]): tokens and the three
    /// id arrays, `pooled_output`, `sequence_output` (padded to `seqLength`), the embedding.
    #[wasm_bindgen(unchecked_return_type = "Promise<EncodeOutput[]>")]
    pub fn encode(
        &self,
        #[wasm_bindgen(unchecked_param_type = "TextInput[]")] texts: JsValue,
    ) -> Promise {
        self.in_turn(texts, |core, inputs| async move {
            let request = Request {
                pooled_output: core.has_pooler(),
                sequence_output: true,
                embedding: true,
                pooling: core.pooling(),
                normalize: core.normalize(),
                ..Default::default()
            };
            let out = core
                .encode_async(inputs, None, request)
                .await
                .map_err(js_error)?;
            let all = Array::new();
            for e in out {
                let o = Object::new();
                let set = |k: &str, v: JsValue| Reflect::set(&o, &k.into(), &v).map(|_| ());
                let p = &e.packed;
                let tokens: Array = p.tokens.iter().map(|t| JsValue::from_str(t)).collect();
                set("tokens", tokens.into())?;
                let special: Array = p.special.iter().map(|&b| JsValue::from_bool(b)).collect();
                set("special", special.into())?;
                set(
                    "input_word_ids",
                    Uint32Array::from(&p.input_word_ids[..]).into(),
                )?;
                set("input_mask", Uint32Array::from(&p.input_mask[..]).into())?;
                set(
                    "input_type_ids",
                    Uint32Array::from(&p.input_type_ids[..]).into(),
                )?;
                let floats = |v: &Option<Vec<f32>>| {
                    v.as_ref()
                        .map_or(JsValue::NULL, |v| Float32Array::from(&v[..]).into())
                };
                set("pooled_output", floats(&e.pooled_output))?;
                set("sequence_output", floats(&e.sequence_output))?;
                set("embedding", floats(&e.embedding))?;
                all.push(&o);
            }
            Ok(all.into())
        })
    }

    /// The cosine similarity of every two texts' embeddings: one `Float32Array` row per text.
    #[wasm_bindgen(unchecked_return_type = "Promise<Float32Array[]>")]
    pub fn similarity(
        &self,
        #[wasm_bindgen(unchecked_param_type = "TextInput[]")] texts: JsValue,
    ) -> Promise {
        self.in_turn(texts, |core, inputs| async move {
            let vectors = core.embed_async(inputs).await.map_err(js_error)?;
            Ok(float_rows(&cosine_matrix(&vectors)))
        })
    }
}

impl Engine {
    /// A promise of `call` on the engine and `texts` (checked first), run once the calls made
    /// before it have finished.
    fn in_turn<F, Fut>(&self, texts: JsValue, call: F) -> Promise
    where
        F: FnOnce(Arc<wgbert::Engine>, Vec<Input>) -> Fut + 'static,
        Fut: std::future::Future<Output = Result<JsValue, JsValue>> + 'static,
    {
        let (core, turn) = (self.core.clone(), self.turn.clone());
        future_to_promise(async move {
            let inputs = inputs(&texts)?;
            let _turn = turn.lock().await;
            call(core, inputs).await
        })
    }
}

/// Rows as an array of `Float32Array`s.
fn float_rows(rows: &[Vec<f32>]) -> JsValue {
    rows.iter()
        .map(|r| Float32Array::from(&r[..]))
        .collect::<Array>()
        .into()
}

/// Cosine similarity of every two vectors (a zero vector is similar to nothing: 0).
pub fn cosine_matrix(vectors: &[Vec<f32>]) -> Vec<Vec<f32>> {
    let norms: Vec<f64> = vectors
        .iter()
        .map(|v| v.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt())
        .collect();
    vectors
        .iter()
        .zip(&norms)
        .map(|(a, na)| {
            vectors
                .iter()
                .zip(&norms)
                .map(|(b, nb)| {
                    let dot: f64 = a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum();
                    if *na == 0.0 || *nb == 0.0 {
                        0.0
                    } else {
                        (dot / (na * nb)) as f32
                    }
                })
                .collect()
        })
        .collect()
}

/// The inputs of a call: an array of strings or `[a, b]` pairs, else an error saying so.
fn inputs(texts: &JsValue) -> Result<Vec<Input>, JsValue> {
    let wrong = |what: String| {
        js_error(format!(
            "expected an array of texts (strings, or [a, b] pairs of strings); {what}"
        ))
    };
    if !Array::is_array(texts) {
        return Err(wrong(format!("got {}", describe(texts))));
    }
    let mut out = Vec::new();
    for (i, t) in Array::from(texts).iter().enumerate() {
        if let Some(s) = t.as_string() {
            out.push(Input::Single(s));
            continue;
        }
        let pair = Array::is_array(&t).then(|| Array::from(&t));
        match pair.map(|p| (p.length(), p.get(0).as_string(), p.get(1).as_string())) {
            Some((2, Some(a), Some(b))) => out.push(Input::Pair(a, b)),
            _ => return Err(wrong(format!("item {i} is {}", describe(&t)))),
        }
    }
    Ok(out)
}

fn describe(v: &JsValue) -> String {
    if v.is_undefined() || v.is_null() {
        format!("{v:?}")
    } else if Array::is_array(v) {
        format!("an array of {}", Array::from(v).length())
    } else {
        v.js_typeof().as_string().unwrap_or_default()
    }
}

/// The paths of the modules `modules.json` lists (for their `config.json`).
fn module_paths(modules_json: &Uint8Array) -> Vec<String> {
    let text = String::from_utf8_lossy(&modules_json.to_vec()).into_owned();
    let Ok(list) = js_sys::JSON::parse(&text) else {
        return Vec::new(); // SentenceConfig::from_files reports the bad JSON
    };
    if !Array::is_array(&list) {
        return Vec::new();
    }
    Array::from(&list)
        .iter()
        .filter_map(|m| Reflect::get(&m, &"path".into()).ok()?.as_string())
        .map(|p| p.trim_start_matches("./").trim_end_matches('/').to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

#[wasm_bindgen]
extern "C" {
    /// The global `fetch` (a window's or a worker's).
    #[wasm_bindgen(js_name = fetch)]
    fn fetch_url(url: &str) -> Promise;
}

/// `base` + `name`, fetched: its bytes; `None` for a missing optional file (HTTP 404); an error
/// naming the URL otherwise.
async fn fetch(base: &str, name: &str, required: bool) -> Result<Option<Uint8Array>, JsValue> {
    let url = format!("{base}{name}");
    let failed = |why: String| {
        js_error(format!(
            "could not fetch {url} ({why}); a model folder needs config.json, tokenizer.json and model.safetensors, served with the page or from a server that allows it (CORS)"
        ))
    };
    let response: web_sys::Response = JsFuture::from(fetch_url(&url))
        .await
        .map_err(|e| failed(js_message(&e)))?
        .into();
    if !response.ok() {
        if !required && response.status() == 404 {
            return Ok(None);
        }
        return Err(failed(format!("HTTP {}", response.status())));
    }
    let buffer = JsFuture::from(response.array_buffer()?)
        .await
        .map_err(|e| failed(js_message(&e)))?;
    Ok(Some(Uint8Array::new(&buffer)))
}

fn js_message(e: &JsValue) -> String {
    Reflect::get(e, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}

/// The engine options a page may set (`EngineOptions` in the TypeScript types); unknown keys
/// and wrong types are errors naming them.
fn engine_options(options: Option<&Object>) -> Result<EngineOptions, JsValue> {
    let mut opts = EngineOptions {
        gpu: GpuOptions {
            backends: Some(wgpu_backends()),
            ..Default::default()
        },
        kernels: wgbert::kernels::KernelOptions {
            // Timing kernel variants needs blocking waits; the defaults suit every adapter.
            autotune: false,
            ..Default::default()
        },
        ..Default::default()
    };
    let Some(options) = options else {
        return Ok(opts);
    };
    for entry in Object::entries(options).iter() {
        let entry = Array::from(&entry);
        let key = entry.get(0).as_string().unwrap_or_default();
        let value = entry.get(1);
        let count = || {
            value
                .as_f64()
                .filter(|n| n.fract() == 0.0 && *n >= 1.0)
                .map(|n| n as usize)
                .ok_or_else(|| js_error(format!("option {key} must be a positive whole number")))
        };
        match key.as_str() {
            "gemm" => {
                // The variants a browser can run (cooperative matrices have no WebGPU form).
                let names: Vec<&str> = GemmVariant::PORTABLE.iter().map(|v| v.name()).collect();
                let name = value
                    .as_string()
                    .filter(|n| names.contains(&n.as_str()))
                    .ok_or_else(|| {
                        js_error(format!(
                            "option gemm must name a GEMM kernel a browser runs: one of {}",
                            names.join(", ")
                        ))
                    })?;
                opts.kernels.gemm = Some(name);
            }
            "maxBatch" => opts.max_batch = count()?,
            "seqLength" => opts.seq_length = count()?,
            _ => {
                return Err(js_error(format!(
                    "unknown option {key}; the options are gemm, maxBatch and seqLength"
                )));
            }
        }
    }
    Ok(opts)
}

/// The browser's WebGPU (the only back end a page has).
fn wgpu_backends() -> wgpu::Backends {
    wgpu::Backends::BROWSER_WEBGPU
}
