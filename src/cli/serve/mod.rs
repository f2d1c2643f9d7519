//! `wgbert serve`: an OpenAI- and TEI-compatible embedding server (axum on tokio). Handlers
//! validate and tokenise (on blocking threads), then queue; one worker thread owns the GPU and
//! merges queued inputs into forward passes ([`batcher`]); metrics in Prometheus text.

pub mod batcher;
pub mod bench;
pub mod metrics;

use crate::cli::args::{ModelArgs, ServerArgs};
use anyhow::{Context, Result, bail};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request as HttpRequest, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use batcher::{Batcher, Kind};
use metrics::Metrics;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use wgbert::head::Head;
use wgbert::{Engine, EngineOptions, Input, Packed};

/// Everything `wgbert serve` is told.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Model folder.
    pub model_dir: PathBuf,
    /// Engine options (adapter, precision).
    pub engine: EngineOptions,
    /// Address to bind.
    pub host: String,
    /// Port (0: any free port; the ready line names it).
    pub port: u16,
    /// Bearer key every route but `/health` requires, if set.
    pub api_key: Option<String>,
    /// Real tokens per forward pass.
    pub max_batch_tokens: usize,
    /// Inputs per request.
    pub max_client_batch: usize,
    /// Requests in flight (queued or running) before 429.
    pub max_concurrent_requests: usize,
    /// Largest request body.
    pub max_body_bytes: usize,
    /// A head from `wgbert train-head` for `/predict`.
    pub head: Option<PathBuf>,
    /// Longest wait for in-flight requests after SIGINT/SIGTERM.
    pub drain: Duration,
    /// How long the queue must be quiet before a forward pass starts (see `Batcher::new`).
    pub batch_window: Duration,
    /// Whether `/v1/embeddings` takes token ids (`--accept-token-ids`).
    pub accept_token_ids: bool,
}

impl ServeOptions {
    /// The options of `wgbert serve` (and `bench-serve`) from its flags: the engine's from the
    /// environment and `--adapter` / `--precision`, the server's from `ServerArgs`.
    pub fn from_args(
        m: &ModelArgs,
        s: &ServerArgs,
        host: String,
        port: u16,
        api_key: Option<String>,
    ) -> Result<ServeOptions> {
        let dir = crate::cli::common::model_dir(m)?;
        if s.max_batch_tokens == 0 || s.max_client_batch == 0 || s.max_concurrent_requests == 0 {
            bail!(
                "--max-batch-tokens, --max-client-batch and --max-concurrent-requests must be at least 1"
            );
        }
        Ok(ServeOptions {
            engine: EngineOptions {
                max_batch: 64,
                ..crate::cli::common::engine_options(m)
            },
            model_dir: dir,
            host,
            port,
            api_key: api_key.filter(|k| !k.is_empty()),
            max_batch_tokens: s.max_batch_tokens,
            max_client_batch: s.max_client_batch,
            max_concurrent_requests: s.max_concurrent_requests,
            max_body_bytes: s.max_body_bytes,
            head: s.head.clone(),
            drain: std::time::Duration::from_secs(s.drain_seconds),
            batch_window: std::time::Duration::from_millis(s.batch_wait_ms),
            accept_token_ids: s.accept_token_ids,
        })
    }
}

/// Which API's error shape a route answers in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Api {
    OpenAi,
    Tei,
}

/// A request that cannot be answered: status, message, and the API it answers in.
struct ApiError {
    status: StatusCode,
    message: String,
    api: Api,
    param: Option<&'static str>,
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, api: Api, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            api,
            param: None,
            retry_after: None,
        }
    }
    fn bad(api: Api, message: impl Into<String>) -> Self {
        let status = match api {
            Api::OpenAi => StatusCode::BAD_REQUEST,
            Api::Tei => StatusCode::UNPROCESSABLE_ENTITY,
        };
        Self::new(status, api, message)
    }
    fn param(mut self, p: &'static str) -> Self {
        self.param = Some(p);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let s = self.status.as_u16();
        let body = match self.api {
            Api::OpenAi => {
                let ty = match s {
                    401 => "authentication_error",
                    404 => "not_found_error",
                    429 => "rate_limit_error",
                    500.. => "server_error",
                    _ => "invalid_request_error",
                };
                let code = match s {
                    401 => json!("invalid_api_key"),
                    413 => json!("request_too_large"),
                    429 => json!("rate_limit_exceeded"),
                    _ => Value::Null,
                };
                json!({"error": {"message": self.message, "type": ty, "param": self.param, "code": code}})
            }
            Api::Tei => {
                let ty = match s {
                    401 => "Unauthorized",
                    404 | 405 => "NotFound",
                    413 | 400 | 422 => "Validation",
                    429 => "Overloaded",
                    503 => "Unhealthy",
                    _ => "Backend",
                };
                json!({"error": self.message, "error_type": ty})
            }
        };
        let mut r = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        r
    }
}

type ApiResult = std::result::Result<Response, ApiError>;

struct App {
    opts: ServeOptions,
    engine: OnceLock<Arc<Engine>>,
    head: OnceLock<Option<Head>>,
    ready: AtomicBool,
    batcher: Arc<Batcher>,
    metrics: Arc<Metrics>,
    in_flight: AtomicUsize,
    model_id: String,
}

/// Holds one of `--max-concurrent-requests` places until the response is built, and counts the
/// request as on its way to the GPU queue until [`App::run`] queues it.
struct Slot<'a>(&'a AtomicUsize, Option<batcher::Preparing<'a>>);
impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl App {
    fn engine(&self, api: Api) -> std::result::Result<Arc<Engine>, ApiError> {
        match self.engine.get() {
            Some(e) if self.ready.load(Ordering::SeqCst) => Ok(e.clone()),
            _ => Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                api,
                "the model is still loading; retry when GET /health answers 200",
            )),
        }
    }

    fn slot(&self, api: Api) -> std::result::Result<Slot<'_>, ApiError> {
        let n = self.in_flight.fetch_add(1, Ordering::SeqCst);
        let mut slot = Slot(&self.in_flight, None);
        if n >= self.opts.max_concurrent_requests {
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                api,
                format!(
                    "the server has {} requests in flight (--max-concurrent-requests); retry shortly",
                    self.opts.max_concurrent_requests
                ),
            );
            e.retry_after = Some(1);
            return Err(e);
        }
        slot.1 = Some(self.batcher.preparing());
        Ok(slot)
    }

    async fn json_body(&self, body: Body, api: Api) -> std::result::Result<Value, ApiError> {
        let limit = self.opts.max_body_bytes;
        let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                api,
                format!("the request body is larger than {limit} bytes (--max-body-bytes)"),
            )
        })?;
        serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad(api, format!("the body is not valid JSON: {e}")))
    }

    /// What every POST handler does first: the engine (503 while loading), a place among
    /// `--max-concurrent-requests` (429), and the body as a JSON object (413, 400/422).
    async fn begin(
        &self,
        body: Body,
        api: Api,
    ) -> std::result::Result<(Arc<Engine>, Slot<'_>, Value), ApiError> {
        let engine = self.engine(api)?;
        let slot = self.slot(api)?;
        let body = self.json_body(body, api).await?;
        if !body.is_object() {
            return Err(ApiError::bad(api, "the body must be a JSON object"));
        }
        Ok((engine, slot, body))
    }

    /// Runs `kind` over `packed` on the GPU worker.
    async fn run(
        &self,
        slot: &mut Slot<'_>,
        kind: Kind,
        packed: Vec<Packed>,
        api: Api,
    ) -> std::result::Result<Vec<Vec<f32>>, ApiError> {
        let rx = self.batcher.submit(kind, packed);
        slot.1 = None; // queued: no longer on its way
        let rx = rx;
        match rx.await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(msg)) => Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                api,
                format!("the forward pass failed: {msg}"),
            )),
            Err(_) => Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                api,
                "the GPU worker stopped (the server is shutting down)",
            )),
        }
    }
}

/// Texts of a JSON `input`/`inputs` value: a string or an array of strings.
fn texts_of(v: &Value, api: Api, name: &'static str) -> std::result::Result<Vec<String>, ApiError> {
    let texts = match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, x)| {
                x.as_str().map(str::to_string).ok_or_else(|| {
                    ApiError::bad(api, format!("{name}[{i}] is not a string")).param(name)
                })
            })
            .collect::<std::result::Result<_, _>>()?,
        Value::Null => {
            return Err(ApiError::bad(api, format!("`{name}` is missing")).param(name));
        }
        _ => {
            return Err(ApiError::bad(
                api,
                format!("`{name}` must be a string or an array of strings"),
            )
            .param(name));
        }
    };
    Ok(texts)
}

fn check_count(
    app: &App,
    n: usize,
    api: Api,
    name: &'static str,
) -> std::result::Result<(), ApiError> {
    if n == 0 {
        return Err(ApiError::bad(
            api,
            format!("`{name}` is an empty list; send at least one input"),
        )
        .param(name));
    }
    if n > app.opts.max_client_batch {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            api,
            format!(
                "{n} inputs is more than the {} one request may hold (--max-client-batch); split the request",
                app.opts.max_client_batch
            ),
        )
        .param(name));
    }
    Ok(())
}

/// Tokenises and packs on a blocking thread: too-long inputs are 413 unless `truncate`.
async fn pack(
    engine: Arc<Engine>,
    inputs: Vec<Input>,
    seq: usize,
    truncate: bool,
    keep_end: bool,
    api: Api,
) -> std::result::Result<Vec<Packed>, ApiError> {
    let done = tokio::task::spawn_blocking(move || {
        let pre = engine.preprocessor().map_err(|e| (500, e.to_string()))?;
        inputs
            .iter()
            .enumerate()
            .map(|(i, input)| {
                let empty = match input {
                    Input::Single(a) => a.is_empty(),
                    Input::Pair(a, b) => a.is_empty() || b.is_empty(),
                };
                if empty {
                    return Err((400, format!("input {i} is an empty string")));
                }
                let n = pre.count_tokens(input).map_err(|e| (400, e.to_string()))?;
                if n > seq && !truncate {
                    return Err((
                        413,
                        format!(
                            "input {i} is {n} tokens, more than the {seq} this model takes; shorten it or send \"truncate\": true"
                        ),
                    ));
                }
                let p = if keep_end {
                    pre.pack_keep_end(input, seq)
                } else {
                    pre.pack(input, seq)
                };
                p.map_err(|e| (400, e.to_string()))
            })
            .collect::<std::result::Result<Vec<_>, _>>()
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, api, e.to_string()))?;
    done.map_err(|(code, msg)| match code {
        413 => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, api, msg),
        500 => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, api, msg),
        _ => ApiError::bad(api, msg),
    })
}

/// `inputs` with the prompt the request names (`prompt_name`, TEI's field: a prompt of the
/// folder's `config_sentence_transformers.json`), else the folder's default prompt, put before
/// each text, as sentence-transformers does.
fn prompted(
    engine: &Engine,
    body: &Value,
    inputs: Vec<Input>,
    api: Api,
) -> std::result::Result<Vec<Input>, ApiError> {
    let name = match body.get("prompt_name") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => {
            return Err(ApiError::bad(api, "`prompt_name` must be a string").param("prompt_name"));
        }
    };
    engine
        .with_prompt(&inputs, name, None)
        .map_err(|e| ApiError::bad(api, e.to_string()).param("prompt_name"))
}

fn bool_field(
    body: &Value,
    name: &'static str,
    default: bool,
    api: Api,
) -> std::result::Result<bool, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ApiError::bad(api, format!("`{name}` must be true or false")).param(name)),
    }
}

// ---------------------------------------------------------------- OpenAI

async fn openai_embeddings(State(app): State<Arc<App>>, body: Body) -> ApiResult {
    let api = Api::OpenAi;
    let (engine, mut slot, body) = app.begin(body, api).await?;
    dense_model(&engine, api)?;
    let model = match body.get("model") {
        None | Some(Value::Null) => app.model_id.clone(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(ApiError::bad(api, "`model` must be a string").param("model")),
    };
    let base64 = match body.get("encoding_format") {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) if s == "float" => false,
        Some(Value::String(s)) if s == "base64" => true,
        Some(other) => {
            return Err(ApiError::bad(
                api,
                format!("encoding_format {other} is not supported; use \"float\" or \"base64\""),
            )
            .param("encoding_format"));
        }
    };
    let hidden = engine.embedding_dim();
    let dims = match body.get("dimensions") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(d) if d >= 1 && d as usize <= hidden => Some(d as usize),
            _ => {
                return Err(ApiError::bad(
                    api,
                    format!(
                        "dimensions must be an integer from 1 to {hidden} (this model's width)"
                    ),
                )
                .param("dimensions"));
            }
        },
    };
    let seq = engine.embed_seq_length();
    let input = body.get("input").unwrap_or(&Value::Null);
    // A string, strings, token ids, or arrays of token ids.
    let is_ids = |v: &Value| {
        v.as_array()
            .is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_u64))
    };
    let packed = match input {
        Value::Array(a) if !a.is_empty() && a.iter().all(Value::is_number) => {
            if !is_ids(input) {
                return Err(
                    ApiError::bad(api, "token ids must be non-negative integers").param("input"),
                );
            }
            vec![input.clone()]
        }
        Value::Array(a) if !a.is_empty() && a.iter().all(Value::is_array) => {
            if let Some(i) = a.iter().position(|x| !is_ids(x)) {
                return Err(ApiError::bad(
                    api,
                    format!(
                        "input[{i}] must be a non-empty array of non-negative integer token ids"
                    ),
                )
                .param("input"));
            }
            a.clone()
        }
        _ => Vec::new(),
    };
    if !packed.is_empty() && !app.opts.accept_token_ids {
        return Err(ApiError::bad(
            api,
            "`input` holds token ids, and this server takes text only: ids made by another tokenizer would be read as this model's vocabulary and give wrong vectors without an error. LangChain's OpenAIEmbeddings sends tiktoken ids unless you pass check_embedding_ctx_length=False; pass it (or send the text). If your ids come from this model's tokenizer.json, start the server with --accept-token-ids",
        )
        .param("input"));
    }
    let packed = if !packed.is_empty() {
        check_count(&app, packed.len(), api, "input")?;
        let vocab = engine.config().vocab_size;
        let pre = engine
            .preprocessor()
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, api, e.to_string()))?;
        packed
            .iter()
            .map(|ids| {
                let ids: Vec<u32> = ids
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|v| v.as_u64().unwrap_or(u64::MAX).min(u32::MAX as u64) as u32)
                    .collect();
                pre.pack_ids(&ids, seq, vocab).map_err(|e| {
                    let msg = e.to_string();
                    if msg.contains("more than") {
                        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, api, msg).param("input")
                    } else {
                        ApiError::bad(api, msg).param("input")
                    }
                })
            })
            .collect::<std::result::Result<Vec<_>, _>>()?
    } else {
        let texts = texts_of(input, api, "input")?;
        check_count(&app, texts.len(), api, "input")?;
        let inputs = texts.into_iter().map(Input::Single).collect();
        let inputs = prompted(&engine, &body, inputs, api)?;
        pack(engine.clone(), inputs, seq, false, false, api).await?
    };
    let tokens: usize = packed.iter().map(Packed::len).sum();
    let kind = Kind::Embed(engine.pooling(), engine.normalize());
    let vectors = app.run(&mut slot, kind, packed, api).await?;
    let data: Vec<Value> = vectors
        .into_iter()
        .enumerate()
        .map(|(i, mut v)| {
            if let Some(d) = dims {
                v.truncate(d);
                wgbert::engine::l2_normalize(&mut v);
            }
            let embedding = if base64 {
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(v)
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    Ok(axum::Json(json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }))
    .into_response())
}

async fn openai_models(State(app): State<Arc<App>>) -> ApiResult {
    Ok(axum::Json(json!({
        "object": "list",
        "data": [{"id": app.model_id, "object": "model", "created": 0, "owned_by": "wgbert"}],
    }))
    .into_response())
}

// ---------------------------------------------------------------- TEI

/// TEI's `inputs` with `truncate` / `truncation_direction`, packed to the embedding length.
async fn tei_inputs(
    app: &App,
    engine: &Arc<Engine>,
    body: &Value,
    seq: usize,
) -> std::result::Result<(Vec<Packed>, Value), ApiError> {
    let api = Api::Tei;
    let inputs_v = body.get("inputs").unwrap_or(&Value::Null);
    let texts = texts_of(inputs_v, api, "inputs")?;
    check_count(app, texts.len(), api, "inputs")?;
    let truncate = bool_field(body, "truncate", false, api)?;
    let keep_end = match body.get("truncation_direction") {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("right") => false,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("left") => true,
        Some(other) => {
            return Err(ApiError::bad(
                api,
                format!("truncation_direction {other} is not one of \"Right\", \"Left\""),
            ));
        }
    };
    let inputs = prompted(
        engine,
        body,
        texts.into_iter().map(Input::Single).collect(),
        api,
    )?;
    let packed = pack(engine.clone(), inputs, seq, truncate, keep_end, api).await?;
    Ok((packed, inputs_v.clone()))
}

/// A SPLADE folder's vectors are sparse and a ColBERT folder's are per token: the dense routes
/// refuse them, naming what to use.
fn dense_model(engine: &Engine, api: Api) -> std::result::Result<(), ApiError> {
    if engine.sentence_config().splade.is_some() {
        return Err(ApiError::bad(
            api,
            "this is a sparse model (a SparseEncoder folder with SpladePooling): its vectors are SPLADE's vocabulary-wide weights; POST /embed_sparse",
        ));
    }
    if engine.sentence_config().colbert.is_some() {
        return Err(ApiError::bad(
            api,
            "this is a ColBERT model (PyLate): it gives one vector per token, not one per text; use `wgbert embed --multi-vector` or `wgbert rerank`",
        ));
    }
    Ok(())
}

/// TEI's `/embed_sparse`: SPLADE vectors of `inputs`, each `[{"index", "value"}]` over its
/// nonzero weights, ids ascending (the folder's `max_active_dims` keeps the largest).
async fn tei_embed_sparse(State(app): State<Arc<App>>, body: Body) -> ApiResult {
    let api = Api::Tei;
    let (engine, mut slot, body) = app.begin(body, api).await?;
    // No masked-word head, or a module wgbert does not run: the engine's own message.
    engine
        .embed_sparse(&[], &wgbert::EmbedOptions::default(), None)
        .map_err(|e| ApiError::bad(api, e.to_string()))?;
    let (packed, _) = tei_inputs(&app, &engine, &body, engine.embed_seq_length()).await?;
    let top_k = engine.sentence_config().max_active_dims;
    // bge-m3: a weight per token, folded per token id here; SPLADE: the pooled vocabulary.
    let m3 = engine.sentence_config().bge_m3.is_some();
    let kind = match engine.sentence_config().splade {
        _ if m3 => Kind::TokenWeights,
        splade => Kind::Sparse(splade.unwrap_or_default()),
    };
    let weights = app.run(&mut slot, kind, packed.clone(), api).await?;
    let vectors = weights
        .iter()
        .zip(&packed)
        .map(|(w, p)| {
            if m3 {
                engine
                    .lexical_weights(p, w)
                    .map_err(|e| ApiError::bad(api, e.to_string()))
            } else {
                Ok(wgbert::SparseEmbedding::from_dense(w, top_k))
            }
        })
        .collect::<std::result::Result<Vec<_>, ApiError>>()?;
    let out: Vec<Vec<Value>> = vectors
        .iter()
        .map(|v| {
            v.indices
                .iter()
                .zip(&v.values)
                .map(|(i, x)| json!({"index": i, "value": x}))
                .collect()
        })
        .collect();
    Ok(axum::Json(out).into_response())
}

async fn tei_embed(State(app): State<Arc<App>>, body: Body) -> ApiResult {
    let api = Api::Tei;
    let (engine, mut slot, body) = app.begin(body, api).await?;
    dense_model(&engine, api)?;
    let (packed, _) = tei_inputs(&app, &engine, &body, engine.embed_seq_length()).await?;
    let normalize = bool_field(&body, "normalize", true, api)?;
    let vectors = app
        .run(
            &mut slot,
            Kind::Embed(engine.pooling(), normalize),
            packed,
            api,
        )
        .await?;
    Ok(axum::Json(vectors).into_response())
}

async fn tei_embed_all(State(app): State<Arc<App>>, body: Body) -> ApiResult {
    let api = Api::Tei;
    let (engine, mut slot, body) = app.begin(body, api).await?;
    let (packed, _) = tei_inputs(&app, &engine, &body, engine.embed_seq_length()).await?;
    let h = engine.config().hidden_size;
    let seqs = app.run(&mut slot, Kind::Tokens, packed, api).await?;
    let out: Vec<Vec<&[f32]>> = seqs.iter().map(|s| s.chunks(h).collect()).collect();
    Ok(axum::Json(out).into_response())
}

async fn tei_tokenize(State(app): State<Arc<App>>, body: Body) -> ApiResult {
    let api = Api::Tei;
    let engine = app.engine(api)?;
    let mut slot = app.slot(api)?;
    slot.1 = None; // never queued for the GPU
    let body = app.json_body(body, api).await?;
    if !body.is_object() {
        return Err(ApiError::bad(api, "the body must be a JSON object"));
    }
    let texts = texts_of(body.get("inputs").unwrap_or(&Value::Null), api, "inputs")?;
    check_count(&app, texts.len(), api, "inputs")?;
    let specials = bool_field(&body, "add_special_tokens", true, api)?;
    let out = tokio::task::spawn_blocking(move || -> std::result::Result<Value, String> {
        let pre = engine.preprocessor().map_err(|e| e.to_string())?;
        let mut all = Vec::new();
        for t in &texts {
            let (ids, toks, offs, special) = if specials {
                let n = pre
                    .count_tokens(&Input::Single(t.clone()))
                    .map_err(|e| e.to_string())?;
                let p = pre
                    .pack(&Input::Single(t.clone()), n)
                    .map_err(|e| e.to_string())?;
                let n = p.len();
                (
                    p.input_word_ids[..n].to_vec(),
                    p.tokens,
                    p.offsets,
                    p.special,
                )
            } else {
                let (ids, toks, offs) = pre.tokenize_with_offsets(t).map_err(|e| e.to_string())?;
                let n = ids.len();
                (ids, toks, offs, vec![false; n])
            };
            let row: Vec<Value> = (0..ids.len())
                .map(|i| {
                    json!({"id": ids[i], "text": toks[i], "special": special[i],
                           "start": if special[i] { Value::Null } else { json!(offs[i].0) },
                           "stop": if special[i] { Value::Null } else { json!(offs[i].1) }})
                })
                .collect();
            all.push(Value::Array(row));
        }
        Ok(Value::Array(all))
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, api, e.to_string()))?
    .map_err(|m| ApiError::bad(api, m))?;
    Ok(axum::Json(out).into_response())
}

fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

async fn tei_predict(State(app): State<Arc<App>>, body: Body) -> ApiResult {
    let api = Api::Tei;
    let (engine, mut slot, body) = app.begin(body, api).await?;
    let raw = bool_field(&body, "raw_scores", false, api)?;
    let truncate = bool_field(&body, "truncate", false, api)?;
    let inputs_v = body.get("inputs").unwrap_or(&Value::Null);
    // A string, an array of strings, or an array of [a, b] pairs.
    let single = inputs_v.is_string();
    let inputs: Vec<Input> = match inputs_v {
        Value::Array(a) if a.iter().all(Value::is_array) => a
            .iter()
            .enumerate()
            .map(|(i, p)| match p.as_array().map(Vec::as_slice) {
                Some([Value::String(x), Value::String(y)]) => Ok(Input::Pair(x.clone(), y.clone())),
                _ => Err(ApiError::bad(
                    api,
                    format!("inputs[{i}] must be a string or a pair [a, b] of strings"),
                )),
            })
            .collect::<std::result::Result<_, _>>()?,
        v => texts_of(v, api, "inputs")?
            .into_iter()
            .map(Input::Single)
            .collect(),
    };
    check_count(&app, inputs.len(), api, "inputs")?;
    let head = app.head.get().and_then(Option::as_ref);
    let (labels, scores) = if let Some(head) = head {
        let packed = pack(
            engine.clone(),
            inputs,
            engine.embed_seq_length(),
            truncate,
            false,
            api,
        )
        .await?;
        let v = app
            .run(
                &mut slot,
                Kind::Embed(head.pooling, head.normalize),
                packed,
                api,
            )
            .await?;
        (
            head.labels.clone(),
            v.iter().map(|x| head.predict(x)).collect::<Vec<_>>(),
        )
    } else if let Some(labels) = engine.labels() {
        let seq = engine.head_seq_length();
        let packed = pack(engine.clone(), inputs, seq, truncate, false, api).await?;
        let logits = app.run(&mut slot, Kind::Logits, packed, api).await?;
        let scores = logits
            .iter()
            .map(|z| {
                if raw {
                    z.clone()
                } else {
                    engine.head_scores(z)
                }
            })
            .collect();
        (labels, scores)
    } else {
        return Err(ApiError::bad(
            api,
            "this model has no classification head; serve a *ForSequenceClassification checkpoint or pass --head FILE from `wgbert train-head`",
        ));
    };
    let rows: Vec<Value> = scores
        .iter()
        .map(|p| {
            let mut r: Vec<(usize, f32)> = p.iter().copied().enumerate().collect();
            r.sort_by(|a, b| b.1.total_cmp(&a.1));
            Value::Array(
                r.into_iter()
                    .map(|(i, s)| json!({"score": s, "label": labels.get(i).cloned().unwrap_or_default()}))
                    .collect(),
            )
        })
        .collect();
    Ok(if single {
        axum::Json(rows.into_iter().next().unwrap_or(Value::Null)).into_response()
    } else {
        axum::Json(rows).into_response()
    })
}

async fn tei_rerank(State(app): State<Arc<App>>, body: Body) -> ApiResult {
    let api = Api::Tei;
    let (engine, mut slot, body) = app.begin(body, api).await?;
    if engine.labels().map(|l| l.len()) != Some(1) {
        return Err(ApiError::bad(
            api,
            "this model is not a cross-encoder (a *ForSequenceClassification checkpoint with one label), so it cannot rerank",
        ));
    }
    let query = match body.get("query") {
        Some(Value::String(q)) => q.clone(),
        _ => return Err(ApiError::bad(api, "`query` must be a string")),
    };
    let texts = match body.get("texts") {
        Some(v @ Value::Array(_)) => texts_of(v, api, "texts")?,
        _ => return Err(ApiError::bad(api, "`texts` must be an array of strings")),
    };
    check_count(&app, texts.len(), api, "texts")?;
    let raw = bool_field(&body, "raw_scores", false, api)?;
    let return_text = bool_field(&body, "return_text", false, api)?;
    let truncate = bool_field(&body, "truncate", false, api)?;
    let seq = engine.head_seq_length();
    let inputs = texts
        .iter()
        .map(|t| Input::Pair(query.clone(), t.clone()))
        .collect();
    let packed = pack(engine.clone(), inputs, seq, truncate, false, api).await?;
    let logits = app.run(&mut slot, Kind::Logits, packed, api).await?;
    let mut rows: Vec<(usize, f32)> = logits
        .iter()
        .map(|z| {
            let z = z.first().copied().unwrap_or(f32::NAN);
            if raw { z } else { sigmoid(z) }
        })
        .enumerate()
        .collect();
    rows.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let out: Vec<Value> = rows
        .into_iter()
        .map(|(i, s)| {
            if return_text {
                json!({"index": i, "score": s, "text": texts[i]})
            } else {
                json!({"index": i, "score": s})
            }
        })
        .collect();
    Ok(axum::Json(out).into_response())
}

async fn tei_info(State(app): State<Arc<App>>) -> ApiResult {
    let engine = app.engine(Api::Tei)?;
    let c = engine.config();
    Ok(axum::Json(json!({
        "model_id": app.model_id,
        "model_dir": app.opts.model_dir.display().to_string(),
        "model_type": c.model_type.clone().unwrap_or_else(|| "bert".into()),
        "dims": match engine.sentence_config().splade {
            Some(_) => c.vocab_size,
            None => engine.embedding_dim(),
        },
        "max_input_length": engine.embed_seq_length(),
        "pooling": match engine.sentence_config().splade {
            Some(_) => "splade",
            None => wgbert::sentence::pooling_name(engine.pooling()),
        },
        "normalize": engine.normalize(),
        "max_batch_tokens": app.opts.max_batch_tokens,
        "max_client_batch_size": app.opts.max_client_batch,
        "max_concurrent_requests": app.opts.max_concurrent_requests,
        "max_body_bytes": app.opts.max_body_bytes,
        "adapter": engine.gpu().info.name,
        "backend": format!("{:?}", engine.gpu().info.backend),
        "precision": format!("{:?}", engine.precision()).to_lowercase(),
        "gemm": engine.gemm_variant().name(),
        "labels": engine.labels(),
        "version": env!("CARGO_PKG_VERSION"),
    }))
    .into_response())
}

async fn health(State(app): State<Arc<App>>) -> Response {
    if app.ready.load(Ordering::SeqCst) {
        axum::Json(json!({"status": "ok"})).into_response()
    } else {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            Api::Tei,
            "the model is still loading",
        )
        .into_response()
    }
}

async fn prometheus(State(app): State<Arc<App>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(),
    )
        .into_response()
}

fn api_of(path: &str) -> Api {
    if path.starts_with("/v1/") {
        Api::OpenAi
    } else {
        Api::Tei
    }
}

async fn not_found(req: HttpRequest) -> Response {
    let path = req.uri().path().to_string();
    ApiError::new(
        StatusCode::NOT_FOUND,
        api_of(&path),
        format!("no route {path}; see GET /info and the README's Serve section"),
    )
    .into_response()
}

async fn wrong_method(req: HttpRequest) -> Response {
    let path = req.uri().path().to_string();
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        api_of(&path),
        format!("{} is not allowed on {path}", req.method()),
    )
    .into_response()
}

/// API key check (every route but /health) and per-route metrics.
async fn around(State(app): State<Arc<App>>, req: HttpRequest, next: Next) -> Response {
    let started = Instant::now();
    let path = req.uri().path().to_string();
    if let Some(key) = &app.opts.api_key
        && path != "/health"
    {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if given != Some(key.as_str()) {
            let r = ApiError::new(
                StatusCode::UNAUTHORIZED,
                api_of(&path),
                "missing or wrong API key: send `Authorization: Bearer KEY`",
            )
            .into_response();
            app.metrics
                .record_request(&path, 401, started.elapsed().as_secs_f64());
            return r;
        }
    }
    let r = next.run(req).await;
    let known = [
        "/v1/embeddings",
        "/v1/models",
        "/embed",
        "/embed_sparse",
        "/embed_all",
        "/tokenize",
        "/predict",
        "/rerank",
        "/info",
        "/health",
        "/metrics",
    ];
    let route = if known.contains(&path.as_str()) {
        path.as_str()
    } else {
        "other"
    };
    app.metrics
        .record_request(route, r.status().as_u16(), started.elapsed().as_secs_f64());
    r
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/v1/embeddings", post(openai_embeddings))
        .route("/v1/models", get(openai_models))
        .route("/embed", post(tei_embed))
        .route("/embed_sparse", post(tei_embed_sparse))
        .route("/embed_all", post(tei_embed_all))
        .route("/tokenize", post(tei_tokenize))
        .route("/predict", post(tei_predict))
        .route("/rerank", post(tei_rerank))
        .route("/info", get(tei_info))
        .route("/health", get(health))
        .route("/metrics", get(prometheus))
        .fallback(not_found)
        .method_not_allowed_fallback(wrong_method)
        .layer(middleware::from_fn_with_state(app.clone(), around))
        .with_state(app)
}

/// Resolves on SIGINT or SIGTERM.
async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Runs the server until SIGINT/SIGTERM (or `stop` turns true): binds, loads the model,
/// warms it up, logs `ready on http://ADDR`, serves, then drains in-flight requests (at most
/// `drain`) and returns. `on_ready` receives the bound address once /health is 200.
pub fn serve(
    opts: ServeOptions,
    on_ready: Option<std::sync::mpsc::Sender<SocketAddr>>,
    stop: Option<tokio::sync::watch::Receiver<bool>>,
) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(serve_async(opts, on_ready, stop))
}

async fn serve_async(
    opts: ServeOptions,
    on_ready: Option<std::sync::mpsc::Sender<SocketAddr>>,
    stop: Option<tokio::sync::watch::Receiver<bool>>,
) -> Result<()> {
    let bind = format!("{}:{}", opts.host, opts.port);
    let listener = tokio::net::TcpListener::bind(&bind)
        .await
        .with_context(|| format!("cannot listen on {bind}; pick another --port or --host"))?;
    let addr = listener.local_addr()?;
    let metrics = Arc::new(Metrics::new());
    let model_id = opts.model_dir.file_name().map_or_else(
        || "wgbert".to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let app = Arc::new(App {
        batcher: Batcher::new(opts.max_batch_tokens, opts.batch_window, metrics.clone()),
        metrics,
        opts,
        engine: OnceLock::new(),
        head: OnceLock::new(),
        ready: AtomicBool::new(false),
        in_flight: AtomicUsize::new(0),
        model_id,
    });
    eprintln!(
        "wgbert serve: loading {} on http://{addr} (GET /health answers 503 until the model is ready)",
        app.opts.model_dir.display()
    );

    // One shutdown signal for the server, the drain deadline and the loader.
    let (down_tx, down_rx) = tokio::sync::watch::channel(false);
    {
        let down_tx = down_tx.clone();
        let mut stop = stop;
        tokio::spawn(async move {
            match stop.as_mut() {
                Some(s) => {
                    tokio::select! {
                        _ = signal() => {},
                        _ = s.wait_for(|v| *v) => {},
                    }
                }
                None => signal().await,
            }
            let _ = down_tx.send(true);
        });
    }

    // Load, start the GPU worker, warm up: off the async threads.
    let loader = {
        let app = app.clone();
        tokio::task::spawn_blocking(move || -> Result<std::thread::JoinHandle<()>> {
            let engine = Arc::new(Engine::from_dir(
                &app.opts.model_dir,
                app.opts.engine.clone(),
            )?);
            let head = match &app.opts.head {
                Some(p) => {
                    let h = Head::load(p)?;
                    anyhow::ensure!(
                        h.hidden == engine.embedding_dim(),
                        "{} was trained on {}-wide embeddings, but this model's are {}-wide",
                        p.display(),
                        h.hidden,
                        engine.embedding_dim()
                    );
                    Some(h)
                }
                None => None,
            };
            let _ = app.head.set(head);
            let _ = app.engine.set(engine.clone());
            let worker = {
                let batcher = app.batcher.clone();
                let engine = engine.clone();
                std::thread::Builder::new()
                    .name("wgbert-gpu".into())
                    .spawn(move || batcher.run(&engine))?
            };
            // Warm-up: a real forward through the worker (compiles the pipelines).
            let warm = engine
                .preprocessor()?
                .pack(&Input::from("warm up"), engine.embed_seq_length())?;
            let kind = match engine.sentence_config().splade {
                Some(sp) => Kind::Sparse(sp),
                None => Kind::Embed(engine.pooling(), engine.normalize()),
            };
            let rx = app.batcher.submit(kind, vec![warm]);
            match rx.blocking_recv() {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => anyhow::bail!("the warm-up forward pass failed: {e}"),
                Err(_) => anyhow::bail!("the GPU worker stopped during warm-up"),
            }
            Ok(worker)
        })
    };

    let server = {
        let mut down = down_rx.clone();
        axum::serve(listener, router(app.clone()))
            .with_graceful_shutdown(async move {
                let _ = down.wait_for(|v| *v).await;
            })
            .into_future()
    };
    let server = tokio::spawn(server);

    let worker = tokio::select! {
        r = loader => match r {
            Ok(Ok(w)) => Some(w),
            Ok(Err(e)) => {
                let _ = down_tx.send(true);
                app.batcher.close();
                return Err(e.context(format!("cannot serve {}", app.opts.model_dir.display())));
            }
            Err(e) => {
                let _ = down_tx.send(true);
                app.batcher.close();
                anyhow::bail!("the model loader crashed: {e}");
            }
        },
        _ = async { let mut d = down_rx.clone(); let _ = d.wait_for(|v| *v).await; } => None,
    };
    if worker.is_some() {
        app.ready.store(true, Ordering::SeqCst);
        eprintln!(
            "wgbert serve: ready on http://{addr} (model {}, {} dims, POST /v1/embeddings, /embed, /embed_sparse, /embed_all, /tokenize, /predict, /rerank; GET /health, /info, /metrics, /v1/models)",
            app.model_id,
            app.engine.get().map_or(0, |e| e.embedding_dim())
        );
        if let Some(tx) = on_ready {
            let _ = tx.send(addr);
        }
    }

    // Wait for the signal, then let in-flight requests finish, at most `drain`.
    let mut d = down_rx.clone();
    let _ = d.wait_for(|v| *v).await;
    eprintln!(
        "wgbert serve: shutting down; finishing in-flight requests (at most {} s)",
        app.opts.drain.as_secs()
    );
    match tokio::time::timeout(app.opts.drain, server).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => eprintln!("wgbert serve: server error while stopping: {e}"),
        Ok(Err(e)) => eprintln!("wgbert serve: server task failed: {e}"),
        Err(_) => eprintln!("wgbert serve: drain deadline passed; stopping with requests open"),
    }
    app.batcher.close();
    if let Some(w) = worker {
        let _ = tokio::task::spawn_blocking(move || w.join()).await;
    }
    eprintln!("wgbert serve: stopped");
    Ok(())
}
