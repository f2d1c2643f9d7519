//! `Engine`: text in, BERT outputs out. Owns the GPU model, the tokenizer and the plan cache;
//! shareable across threads (forward passes are serialised on one lock).

use crate::config::BertConfig;
use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuOptions};
use crate::kernels::KernelOptions;
use crate::model::{GpuModel, Plan, PlanKey, Pooling, Request};
use crate::preprocess::{Input, Packed, Preprocessor};
use crate::sentence::SentenceConfig;
use crate::weights::BertWeights;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Default `seq_length` (TF-Hub's preprocessing default).
pub const DEFAULT_SEQ_LENGTH: usize = 128;

/// Options of an `Engine`.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// Adapter choice.
    pub gpu: GpuOptions,
    /// Packed length of `encode` and `preprocess` (default 128, TF-Hub's, or the model's
    /// longest input where that is shorter; any other value above it is an error).
    pub seq_length: usize,
    /// Longest input of `embed` (longer ones are truncated): `None` takes the model folder's
    /// `sentence_bert_config.json` `max_seq_length`, else `seq_length`.
    pub embed_seq_length: Option<usize>,
    /// Most sequences per forward pass; larger inputs are split into batches.
    pub max_batch: usize,
    /// Pooling of `embed`; `None` (the default) takes what the model folder says
    /// (sentence-transformers' `modules.json`), else mean over real tokens.
    pub pooling: Option<Pooling>,
    /// L2-normalise `embed` vectors; `None` (the default) takes what the model folder says
    /// (a Normalize module in `modules.json`), else yes.
    pub normalize: Option<bool>,
    /// Storage precision of weights and activations (default f32; f16 needs SHADER_F16).
    pub precision: crate::kernels::Precision,
    /// Which GEMM and reduction kernels run (by name, or tuned on this adapter) and the folder
    /// where tuning choices and compiled pipelines are kept (default: none).
    pub kernels: KernelOptions,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            gpu: GpuOptions::default(),
            seq_length: DEFAULT_SEQ_LENGTH,
            embed_seq_length: None,
            max_batch: 32,
            pooling: None,
            normalize: None,
            precision: crate::kernels::Precision::F32,
            kernels: KernelOptions::default(),
        }
    }
}

impl EngineOptions {
    /// The defaults with what the environment says. This is the one place wgbert reads
    /// environment variables; the command line, the server and the C ABI start from it, and a
    /// program that embeds the library decides for itself (start from `Default`).
    ///
    /// | variable | field |
    /// |---|---|
    /// | `WGPU_BACKEND` (`vulkan`, `metal`, `dx12`, …) | `gpu.backends` |
    /// | `WGPU_ADAPTER_NAME` (substring of the adapter's name) | `gpu.adapter_name` |
    /// | wgpu's `WGPU_VALIDATION`, `WGPU_DEBUG`, … | `gpu.instance_flags` |
    /// | `WGBERT_COOP=0` (no cooperative matrices) | `gpu.cooperative_matrix` |
    /// | `WGBERT_GEMM` (a GEMM variant's name, or `coop`) | `kernels.gemm` |
    /// | `WGBERT_REDUCE` (`tree`, `subgroup`) | `kernels.reduction` |
    /// | `WGBERT_TUNE=0` (no timing: `tile128`, the tree) | `kernels.autotune` |
    /// | `WGBERT_CACHE_DIR`, else `$XDG_CACHE_HOME/wgbert`, else `$HOME/.cache/wgbert` | `kernels.cache_dir` |
    /// | `WGBERT_PIPELINE_CACHE=0` (tuning kept, pipelines not) | `kernels.pipeline_cache` |
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let off = |name: &str| var(name).is_some_and(|v| v == "0");
        let cache_dir = var("WGBERT_CACHE_DIR")
            .map(PathBuf::from)
            .or_else(|| var("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("wgbert")))
            .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache/wgbert")));
        EngineOptions {
            gpu: GpuOptions {
                adapter_name: var("WGPU_ADAPTER_NAME"),
                backends: wgpu::Backends::from_env(),
                cooperative_matrix: !off("WGBERT_COOP"),
                instance_flags: Some(wgpu::InstanceFlags::from_build_config().with_env()),
                ..Default::default()
            },
            kernels: KernelOptions {
                gemm: var("WGBERT_GEMM"),
                reduction: var("WGBERT_REDUCE"),
                autotune: !off("WGBERT_TUNE"),
                cache_dir,
                pipeline_cache: !off("WGBERT_PIPELINE_CACHE"),
            },
            ..Default::default()
        }
    }
}

/// The outputs of one input, as the TF-Hub tutorial names them.
#[derive(Clone, Debug)]
pub struct Encoded {
    /// Tokens and the three TF-Hub arrays.
    pub packed: Packed,
    /// Model width H.
    pub hidden: usize,
    /// tanh(dense(`[CLS]`)), `[H]`.
    pub pooled_output: Option<Vec<f32>>,
    /// Last layer, `[seq_length × H]` row-major, padding positions included.
    pub sequence_output: Option<Vec<f32>>,
    /// Every layer, each `[seq_length × H]`; the last equals `sequence_output`.
    pub encoder_outputs: Option<Vec<Vec<f32>>>,
    /// Sentence embedding, `[H]`.
    pub embedding: Option<Vec<f32>>,
    /// Logits of the checkpoint's sequence-classification head, `[labels]`.
    pub logits: Option<Vec<f32>>,
    /// Vocabulary logits of BERT's masked-word head at each position the pass ran,
    /// `[positions × vocab_size]` (at least the real tokens).
    pub mlm_logits: Option<Vec<f32>>,
    /// Logits of BERT's next-sentence head, `[is next, is random]`.
    pub nsp_logits: Option<Vec<f32>>,
    /// SPLADE weights over the vocabulary, `[vocab_size]` (zero where a token has none).
    pub sparse: Option<Vec<f32>>,
    /// Every position's projected, normalised vector, `[positions × token_dim]`.
    pub token_vectors: Option<Vec<f32>>,
    /// Every position's weight (bge-m3's sparse head), `[positions]`.
    pub token_weights: Option<Vec<f32>>,
}

/// bge-m3's three outputs for one text, from one forward pass.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct M3Embedding {
    /// The dense vector: `[CLS]`, L2-normalised (as the folder's modules.json says).
    pub dense: Vec<f32>,
    /// Lexical weights: relu(sparse_linear) per token, the largest per token id, the special
    /// and unknown tokens left out.
    pub sparse: SparseEmbedding,
    /// `colbert_linear` at every real token after the first, each L2-normalised.
    pub colbert: MultiVector,
}

/// A text's ColBERT vectors: one L2-normalised vector per kept token.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MultiVector {
    /// The kept tokens' ids, in order (a query: every position, `[MASK]` expansion included; a
    /// document: its real tokens less the skiplist).
    pub ids: Vec<u32>,
    /// Width of each vector.
    pub dim: usize,
    /// `[ids.len() × dim]`, row-major.
    pub vectors: Vec<f32>,
}

impl MultiVector {
    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Vector `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.vectors[i * self.dim..(i + 1) * self.dim]
    }

    /// Late interaction (ColBERT's MaxSim): Σ over this query's vectors of the largest dot
    /// product with any of `document`'s vectors (0 against a document without vectors).
    pub fn max_sim(&self, document: &MultiVector) -> f32 {
        if document.is_empty() {
            return 0.0;
        }
        (0..self.len())
            .map(|i| {
                let q = self.row(i);
                (0..document.len())
                    .map(|j| {
                        q.iter()
                            .zip(document.row(j))
                            .map(|(a, b)| *a as f64 * *b as f64)
                            .sum::<f64>()
                    })
                    .fold(f64::NEG_INFINITY, f64::max)
            })
            .sum::<f64>() as f32
    }
}

/// A SPLADE vector: its nonzero weights by vocabulary id, ascending.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SparseEmbedding {
    /// Vocabulary ids of the nonzero weights, ascending.
    pub indices: Vec<u32>,
    /// The weights, in the order of `indices`.
    pub values: Vec<f32>,
}

impl SparseEmbedding {
    /// The nonzero entries of a vocabulary-wide weight vector, keeping the `top_k` largest
    /// (ties: the lower id) when given, as sentence-transformers' `max_active_dims`.
    pub fn from_dense(weights: &[f32], top_k: Option<usize>) -> Self {
        let indices: Vec<u32> = (0..weights.len() as u32)
            .filter(|&i| weights[i as usize] > 0.0)
            .collect();
        let v = SparseEmbedding {
            values: indices.iter().map(|&i| weights[i as usize]).collect(),
            indices,
        };
        match top_k {
            Some(k) => v.keep_largest(k),
            None => v,
        }
    }

    /// The `k` largest weights (ties: the lower id), ids still ascending.
    pub fn keep_largest(self, k: usize) -> Self {
        if k >= self.indices.len() {
            return self;
        }
        let mut order: Vec<usize> = (0..self.indices.len()).collect();
        order.select_nth_unstable_by(k, |&a, &b| {
            self.values[b]
                .total_cmp(&self.values[a])
                .then(self.indices[a].cmp(&self.indices[b]))
        });
        order.truncate(k);
        order.sort_unstable();
        SparseEmbedding {
            indices: order.iter().map(|&i| self.indices[i]).collect(),
            values: order.iter().map(|&i| self.values[i]).collect(),
        }
    }

    /// Σ over shared ids of the products of weights (SPLADE's score; sentence-transformers'
    /// `dot` similarity of sparse vectors).
    pub fn dot(&self, other: &SparseEmbedding) -> f32 {
        let (mut i, mut j, mut sum) = (0, 0, 0f64);
        while i < self.indices.len() && j < other.indices.len() {
            match self.indices[i].cmp(&other.indices[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    sum += self.values[i] as f64 * other.values[j] as f64;
                    i += 1;
                    j += 1;
                }
            }
        }
        sum as f32
    }
}

/// One answer of [`Engine::fill_mask`] at one `[MASK]`, as transformers' fill-mask pipeline
/// gives it.
#[derive(Clone, Debug, PartialEq)]
pub struct MaskFill {
    /// The token id.
    pub token: u32,
    /// The token as text (the tokenizer's decoding of this one id).
    pub token_str: String,
    /// Its probability (softmax over the vocabulary).
    pub score: f32,
    /// The input with this token in place of the mask, decoded without special tokens.
    pub sequence: String,
}

/// What `embed` does beyond pooling, as sentence-transformers' `encode` does it: a prompt put
/// before each input and Matryoshka truncation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EmbedOptions {
    /// A prompt of the folder's `config_sentence_transformers.json` (`query`, `document`, …).
    pub prompt_name: Option<String>,
    /// The prompt text itself (wins over `prompt_name`). With neither, the folder's
    /// `default_prompt_name` applies, as in sentence-transformers.
    pub prompt: Option<String>,
    /// Keep the first `dimensions` values of each vector and L2-normalise again (Matryoshka
    /// models); `None`: the whole vector.
    pub dimensions: Option<usize>,
}

/// The `k` largest entries of softmax(`logits`) as (index, probability), best first (ties:
/// lower index first), computed in f64.
fn softmax_top_k(logits: &[f32], k: usize) -> Vec<(u32, f32)> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let sum: f64 = logits.iter().map(|&z| (z as f64 - max).exp()).sum();
    let mut idx: Vec<u32> = (0..logits.len() as u32).collect();
    let k = k.min(idx.len());
    let by = |a: &u32, b: &u32| {
        logits[*b as usize]
            .total_cmp(&logits[*a as usize])
            .then(a.cmp(b))
    };
    if k < idx.len() {
        idx.select_nth_unstable_by(k, by);
        idx.truncate(k);
    }
    idx.sort_by(by);
    idx.into_iter()
        .map(|i| (i, ((logits[i as usize] as f64 - max).exp() / sum) as f32))
        .collect()
}

/// L2-normalises `v` in place (a zero vector stays zero).
pub fn l2_normalize(v: &mut [f32]) {
    let n = v
        .iter()
        .map(|x| (*x as f64) * (*x as f64))
        .sum::<f64>()
        .sqrt() as f32;
    let inv = 1.0 / n.max(1e-12);
    v.iter_mut().for_each(|x| *x *= inv);
}

/// Most plans kept alive at once; older shapes are dropped first.
const MAX_PLANS: usize = 8;

struct PlanCache {
    plans: HashMap<PlanKey, (u64, Plan)>,
    clock: u64,
}

/// A loaded model on a GPU, ready to preprocess and encode text.
pub struct Engine {
    model: GpuModel,
    ctx: Arc<GpuContext>,
    pre: Option<Preprocessor>,
    opts: EngineOptions,
    model_dir: Option<PathBuf>,
    sentence: SentenceConfig,
    plans: Mutex<PlanCache>,
    /// The thread that runs `*_async` calls (started on the first one; none in a browser).
    #[cfg(not(target_arch = "wasm32"))]
    async_worker: std::sync::OnceLock<std::sync::mpsc::Sender<AsyncJob>>,
}

#[cfg(not(target_arch = "wasm32"))]
type AsyncJob = Box<dyn FnOnce() + Send>;

#[cfg(not(target_arch = "wasm32"))]
struct Slot<T> {
    value: Option<T>,
    waker: Option<std::task::Waker>,
}

/// The result of an `*_async` call. Natively it completes when the engine's worker thread has
/// run the call: awaiting it never blocks the executor (the GPU wait happens on that thread), so
/// it can be awaited from tokio, async-std or any other executor directly. In a browser page
/// (wasm32, one thread) the call itself is the future, driven by the page's event loop.
pub struct EngineFuture<T> {
    inner: FutureState<T>,
}

enum FutureState<T> {
    #[cfg(not(target_arch = "wasm32"))]
    Worker(Arc<Mutex<Slot<T>>>),
    #[cfg(target_arch = "wasm32")]
    Local(std::pin::Pin<Box<dyn std::future::Future<Output = T>>>),
}

impl<T> std::future::Future for EngineFuture<T> {
    type Output = T;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<T> {
        match &mut self.inner {
            #[cfg(not(target_arch = "wasm32"))]
            FutureState::Worker(slot) => {
                let mut s = slot.lock().unwrap_or_else(|e| e.into_inner());
                match s.value.take() {
                    Some(v) => std::task::Poll::Ready(v),
                    None => {
                        s.waker = Some(cx.waker().clone());
                        std::task::Poll::Pending
                    }
                }
            }
            #[cfg(target_arch = "wasm32")]
            FutureState::Local(f) => f.as_mut().poll(cx),
        }
    }
}

impl Engine {
    /// Loads `config.json`, `tokenizer.json` and `model.safetensors` from `dir`.
    pub fn from_dir(dir: &Path, opts: EngineOptions) -> Result<Self> {
        if !dir.is_dir() {
            return Err(Error::ModelNotFound(format!(
                "model folder {} does not exist; run scripts/fetch-model.sh to fetch the default model, or pass --model DIR / set WGBERT_MODEL",
                dir.display()
            )));
        }
        let config_path = dir.join("config.json");
        if !config_path.exists() {
            return Err(Error::ModelNotFound(format!(
                "no config.json in {}; a model folder needs config.json, tokenizer.json and model.safetensors",
                dir.display()
            )));
        }
        let config = BertConfig::from_file(&config_path)?;
        let pre = Preprocessor::from_file(&dir.join("tokenizer.json"))?;
        let sentence = SentenceConfig::from_dir(dir)?;
        let weights = BertWeights::load(dir, &config)?;
        let ctx = Arc::new(GpuContext::new(&opts.gpu)?);
        let mut e = Self::from_parts(ctx, config, &weights, Some(pre), opts)?;
        e.model_dir = Some(dir.to_path_buf());
        e.set_sentence_config(sentence)?;
        Ok(e)
    }

    /// Builds an engine from a model held in memory — the bytes of `config.json`,
    /// `tokenizer.json` and `model.safetensors` (an app that ships its model inside its binary
    /// or an archive). Pooling is the engine options' or mean + L2 (there is no folder to read
    /// `modules.json` from; see [`Engine::set_sentence_config`]).
    pub fn from_memory(
        config_json: &[u8],
        tokenizer_json: &[u8],
        safetensors: &[u8],
        opts: EngineOptions,
    ) -> Result<Self> {
        crate::gpu::block_on(Self::from_memory_async(
            config_json,
            tokenizer_json,
            safetensors,
            opts,
        ))
    }

    /// [`Engine::from_memory`] as a future: a browser page awaits the adapter and device.
    pub async fn from_memory_async(
        config_json: &[u8],
        tokenizer_json: &[u8],
        safetensors: &[u8],
        opts: EngineOptions,
    ) -> Result<Self> {
        let config_name = Path::new("<memory>/config.json");
        let text = std::str::from_utf8(config_json).map_err(|e| Error::Config {
            path: config_name.to_path_buf(),
            message: format!("not UTF-8 ({e})"),
        })?;
        let config = BertConfig::from_json(config_name, text)?;
        let pre = Preprocessor::from_bytes(Path::new("<memory>/tokenizer.json"), tokenizer_json)?;
        let weights = crate::weights::TensorStore::from_bytes(
            Path::new("<memory>/model.safetensors"),
            safetensors,
        )?
        .into_weights(&config)?;
        let ctx = Arc::new(GpuContext::new_async(&opts.gpu).await?);
        Self::from_parts(ctx, config, &weights, Some(pre), opts)
    }

    /// Builds an engine from weights in memory (e.g. `BertWeights::random` for benchmarks).
    /// Without a preprocessor only the `*_packed` calls work.
    pub fn from_parts(
        ctx: Arc<GpuContext>,
        config: BertConfig,
        weights: &BertWeights,
        pre: Option<Preprocessor>,
        opts: EngineOptions,
    ) -> Result<Self> {
        config.validate().map_err(|message| Error::Config {
            path: PathBuf::from("<config>"),
            message,
        })?;
        let longest = config.max_seq_length();
        let mut opts = opts;
        if opts.seq_length == DEFAULT_SEQ_LENGTH {
            opts.seq_length = DEFAULT_SEQ_LENGTH.min(longest);
        }
        for (name, n) in [
            ("seq_length", Some(opts.seq_length)),
            ("embed_seq_length", opts.embed_seq_length),
        ] {
            if let Some(n) = n
                && (n == 0 || n > longest)
            {
                return Err(Error::InvalidInput(format!(
                    "{name} {n} is out of range; it must be between 2 and this model's longest input, {}",
                    config.describe_max_seq_length()
                )));
            }
        }
        if opts.max_batch == 0 {
            return Err(Error::InvalidInput("max_batch must be at least 1".into()));
        }
        let kernels = Arc::new(crate::tune::tuned_kernels(
            ctx.clone(),
            opts.precision,
            &opts.kernels,
        )?);
        let model = GpuModel::new(kernels, config, weights)?;
        Ok(Engine {
            model,
            ctx,
            pre,
            opts,
            model_dir: None,
            sentence: SentenceConfig::default(),
            #[cfg(not(target_arch = "wasm32"))]
            async_worker: std::sync::OnceLock::new(),
            plans: Mutex::new(PlanCache {
                plans: HashMap::new(),
                clock: 0,
            }),
        })
    }

    /// The model config.
    pub fn config(&self) -> &BertConfig {
        self.model.config()
    }

    /// The GPU context (adapter info, features, limits).
    pub fn gpu(&self) -> &GpuContext {
        &self.ctx
    }

    /// The kernels the engine runs (GEMM variant, attention kernel, reduction, precision).
    pub fn kernels(&self) -> &crate::kernels::Kernels {
        self.model.kernels()
    }

    /// The GEMM variant the autotuner chose for this adapter (or [`KernelOptions::gemm`]).
    pub fn gemm_variant(&self) -> crate::kernels::GemmVariant {
        self.model.kernels().gemm_variant()
    }

    /// Storage precision of weights and activations.
    pub fn precision(&self) -> crate::kernels::Precision {
        self.model.kernels().precision()
    }

    /// The options the engine was built with.
    pub fn options(&self) -> &EngineOptions {
        &self.opts
    }

    /// Where the model was loaded from, if from a folder.
    pub fn model_dir(&self) -> Option<&Path> {
        self.model_dir.as_deref()
    }

    /// How the model folder says to embed (sentence-transformers' `modules.json`), or the
    /// default (mean, L2) where it says nothing.
    pub fn sentence_config(&self) -> &SentenceConfig {
        &self.sentence
    }

    /// Replaces the embedding recipe (e.g. for an engine built with `from_parts`), uploading
    /// its Dense modules' weights.
    pub fn set_sentence_config(&mut self, sentence: SentenceConfig) -> Result<()> {
        let mut width = self.config().hidden_size;
        let mut layers = Vec::with_capacity(sentence.dense.len());
        for m in &sentence.dense {
            if m.in_features != width {
                return Err(Error::Config {
                    path: m.dir.join("config.json"),
                    message: format!(
                        "in_features is {}, but the vector it receives has {width} values (the model width, or the previous Dense module's out_features); the module does not belong to this model",
                        m.in_features
                    ),
                });
            }
            let (weight, bias) = m.load()?;
            layers.push(crate::model::DenseWeights {
                name: m
                    .dir
                    .file_name()
                    .map_or_else(|| "dense".to_string(), |n| n.to_string_lossy().into_owned()),
                weight,
                bias,
                in_features: m.in_features,
                out_features: m.out_features,
                act: m.activation,
            });
            width = m.out_features;
        }
        // A ColBERT folder's Dense modules project every token; bge-m3 brings its own two heads.
        let m3 = match &sentence.bge_m3 {
            Some(h) => Some(h.load(self.config().hidden_size)?),
            None => None,
        };
        match (&sentence.colbert, m3) {
            (Some(_), Some(_)) => {
                return Err(Error::Unsupported(
                    "the folder is both a PyLate ColBERT model and bge-m3 (colbert_linear.pt); wgbert cannot tell which token projection to use".into(),
                ));
            }
            (Some(_), None) => {
                self.model.set_dense(&[])?;
                self.model.set_token_heads(&layers, None)?;
            }
            (None, Some((colbert, sparse))) => {
                self.model.set_dense(&layers)?;
                self.model
                    .set_token_heads(std::slice::from_ref(&colbert), Some(&sparse))?;
            }
            (None, None) => {
                self.model.set_dense(&layers)?;
                self.model.set_token_heads(&[], None)?;
            }
        }
        self.plans
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .plans
            .clear();
        self.sentence = sentence;
        Ok(())
    }

    /// Packed length of the heads that read a whole input or pair (rerank, fill-mask,
    /// next-sentence): the model's longest input, at most 512 (BERT's pretraining length).
    pub fn head_seq_length(&self) -> usize {
        self.config().max_seq_length().min(512)
    }

    /// Width of `embed`'s vectors: the model width, or the last Dense module's `out_features`
    /// when the folder has Dense modules (`encode`'s `pooled_output` and `sequence_output` stay
    /// [`BertConfig::hidden_size`] wide).
    pub fn embedding_dim(&self) -> usize {
        self.model.embedding_dim()
    }

    /// Width of multi-vector output (ColBERT's projection, bge-m3's `colbert_linear`).
    pub fn token_dim(&self) -> usize {
        self.model.token_dim()
    }

    /// The pooling `embed` uses: the option if set, else the folder's.
    pub fn pooling(&self) -> Pooling {
        self.opts.pooling.unwrap_or(self.sentence.pooling)
    }

    /// Whether `embed` L2-normalises: the option if set, else the folder's.
    pub fn normalize(&self) -> bool {
        self.opts.normalize.unwrap_or(self.sentence.normalize)
    }

    /// Longest input of `embed`: the option, else the folder's `max_seq_length`, else
    /// `seq_length`; never above the model's longest input.
    pub fn embed_seq_length(&self) -> usize {
        self.opts
            .embed_seq_length
            .or(self.sentence.max_seq_length)
            .unwrap_or(self.opts.seq_length)
            .clamp(2, self.config().max_seq_length().max(2))
    }

    /// Pieces the word table is split into across storage bindings (1 unless it is larger than
    /// the adapter's `max_storage_buffer_binding_size`).
    pub fn word_table_pieces(&self) -> usize {
        self.model.word_table_pieces()
    }

    /// Whether `pooled_output` is available (the checkpoint has a pooler).
    pub fn has_pooler(&self) -> bool {
        self.model.has_pooler()
    }

    /// The tokenizer and packing template (engines built from a folder have one).
    pub fn preprocessor(&self) -> Result<&Preprocessor> {
        self.pre.as_ref().ok_or_else(|| {
            Error::Unsupported("this engine has no tokenizer; use the *_packed calls".into())
        })
    }

    /// Tokenises and packs `inputs` to `seq_length` (the engine's unless given).
    pub fn preprocess(&self, inputs: &[Input], seq_length: Option<usize>) -> Result<Vec<Packed>> {
        let s = seq_length.unwrap_or(self.opts.seq_length);
        let max = self.config().max_seq_length();
        if s > max {
            return Err(Error::InvalidInput(format!(
                "seq_length {s} is above this model's longest input, {}; use a seq_length of at most {max}",
                self.config().describe_max_seq_length()
            )));
        }
        let pre = self.preprocessor()?;
        inputs.iter().map(|i| pre.pack(i, s)).collect()
    }

    /// Encodes `inputs`: packs them to `seq_length` and returns what `request` asks for.
    pub fn encode(
        &self,
        inputs: &[Input],
        seq_length: Option<usize>,
        request: &Request,
    ) -> Result<Vec<Encoded>> {
        crate::gpu::block_on(self.encode_future(inputs, seq_length, request))
    }

    async fn encode_future(
        &self,
        inputs: &[Input],
        seq_length: Option<usize>,
        request: &Request,
    ) -> Result<Vec<Encoded>> {
        let packed = self.preprocess(inputs, seq_length)?;
        self.encode_packed_future(packed, request).await
    }

    /// Runs the call `f` makes: natively on the engine's async worker thread (where its GPU
    /// waits block), the future completing with its result; in a browser as the future itself.
    fn spawn_async<T: Send + 'static, F>(
        self: &Arc<Self>,
        f: impl FnOnce(Arc<Engine>) -> F + Send + 'static,
    ) -> EngineFuture<Result<T>>
    where
        F: std::future::Future<Output = Result<T>> + 'static,
    {
        #[cfg(target_arch = "wasm32")]
        return EngineFuture {
            inner: FutureState::Local(Box::pin(f(self.clone()))),
        };
        #[cfg(not(target_arch = "wasm32"))]
        {
            let slot = Arc::new(Mutex::new(Slot {
                value: None,
                waker: None,
            }));
            let done = slot.clone();
            let engine = self.clone();
            let job: AsyncJob = Box::new(move || {
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    crate::gpu::block_on(f(engine))
                }))
                .unwrap_or_else(|_| Err(Error::Device("an async engine call panicked".into())));
                let mut s = done.lock().unwrap_or_else(|e| e.into_inner());
                s.value = Some(r);
                if let Some(w) = s.waker.take() {
                    w.wake();
                }
            });
            let sender = self.async_worker.get_or_init(|| {
                let (tx, rx) = std::sync::mpsc::channel::<AsyncJob>();
                // The thread ends when the engine (and with it the sender) is dropped.
                let _ = std::thread::Builder::new()
                    .name("wgbert-async".into())
                    .spawn(move || {
                        for job in rx {
                            job();
                        }
                    });
                tx
            });
            if let Err(e) = sender.send(job) {
                // The worker could not start: run the call here rather than lose it.
                (e.0)();
            }
            EngineFuture {
                inner: FutureState::Worker(slot),
            }
        }
    }

    /// [`Engine::embed`] as a future: the work runs on the engine's worker thread, so awaiting
    /// it does not block the executor (no `spawn_blocking` needed).
    pub fn embed_async(
        self: &Arc<Self>,
        inputs: Vec<Input>,
    ) -> EngineFuture<Result<Vec<Vec<f32>>>> {
        self.spawn_async(move |e| async move {
            e.embed_opts_future(&inputs, &EmbedOptions::default()).await
        })
    }

    /// [`Engine::encode`] as a future (see [`Engine::embed_async`]).
    pub fn encode_async(
        self: &Arc<Self>,
        inputs: Vec<Input>,
        seq_length: Option<usize>,
        request: Request,
    ) -> EngineFuture<Result<Vec<Encoded>>> {
        self.spawn_async(
            move |e| async move { e.encode_future(&inputs, seq_length, &request).await },
        )
    }

    /// Sentence embeddings of `inputs`, pooled and normalised as the engine's options say, else
    /// as the model folder says, truncated to [`Engine::embed_seq_length`]; the folder's default
    /// prompt (`default_prompt_name`), if it names one, is put before each input.
    pub fn embed(&self, inputs: &[Input]) -> Result<Vec<Vec<f32>>> {
        self.embed_opts(inputs, &EmbedOptions::default())
    }

    /// [`Engine::embed`] with a prompt and Matryoshka truncation ([`EmbedOptions`]).
    pub fn embed_opts(&self, inputs: &[Input], opts: &EmbedOptions) -> Result<Vec<Vec<f32>>> {
        crate::gpu::block_on(self.embed_opts_future(inputs, opts))
    }

    async fn embed_opts_future(
        &self,
        inputs: &[Input],
        opts: &EmbedOptions,
    ) -> Result<Vec<Vec<f32>>> {
        self.check_dimensions(opts)?;
        let inputs =
            self.with_prompt(inputs, opts.prompt_name.as_deref(), opts.prompt.as_deref())?;
        let mut out = self
            .embed_with_future(&inputs, self.pooling(), self.normalize())
            .await?;
        if let Some(d) = opts.dimensions {
            for v in &mut out {
                v.truncate(d);
                l2_normalize(v);
            }
        }
        Ok(out)
    }

    /// `opts.dimensions`, if given, is a width the vectors have (1 ..= [`Engine::embedding_dim`]).
    fn check_dimensions(&self, opts: &EmbedOptions) -> Result<()> {
        let h = self.embedding_dim();
        match opts.dimensions {
            Some(d) if d == 0 || d > h => Err(Error::InvalidInput(format!(
                "dimensions {d} is outside 1..={h} (the width of this model's vectors); ask for at most {h}"
            ))),
            _ => Ok(()),
        }
    }

    /// `inputs` with the prompt sentence-transformers would use put before each text (the first
    /// text of a pair): `prompt`, else the folder's prompt `prompt_name`, else its default
    /// prompt, else none (see [`SentenceConfig::prompt`]).
    pub fn with_prompt(
        &self,
        inputs: &[Input],
        prompt_name: Option<&str>,
        prompt: Option<&str>,
    ) -> Result<Vec<Input>> {
        let Some(p) = self
            .sentence
            .prompt(prompt_name, prompt)?
            .filter(|p| !p.is_empty())
        else {
            return Ok(inputs.to_vec());
        };
        Ok(inputs
            .iter()
            .map(|i| match i {
                Input::Single(a) => Input::Single(format!("{p}{a}")),
                Input::Pair(a, b) => Input::Pair(format!("{p}{a}"), b.clone()),
            })
            .collect())
    }

    /// Sentence embeddings of `inputs` (pooled as `pooling`, L2-normalised when `normalize`).
    pub fn embed_with(
        &self,
        inputs: &[Input],
        pooling: Pooling,
        normalize: bool,
    ) -> Result<Vec<Vec<f32>>> {
        crate::gpu::block_on(self.embed_with_future(inputs, pooling, normalize))
    }

    async fn embed_with_future(
        &self,
        inputs: &[Input],
        pooling: Pooling,
        normalize: bool,
    ) -> Result<Vec<Vec<f32>>> {
        self.check_modules()?;
        if self.sentence.colbert.is_some() {
            return Err(Error::Unsupported(
                "this is a ColBERT model (PyLate): it gives one vector per token, not one per text; use `embed --multi-vector`, Engine::embed_multi, or `rerank` (MaxSim)".into(),
            ));
        }
        if self.sentence.splade.is_some() {
            return Err(Error::Unsupported(
                "this is a sparse model (a sentence-transformers SparseEncoder folder with SpladePooling): its vectors are SPLADE's vocabulary-wide weights, not dense ones; use `embed --sparse`, Engine::embed_sparse or the server's /embed_sparse".into(),
            ));
        }
        let request = Request {
            pooled_output: false,
            sequence_output: false,
            encoder_outputs: false,
            embedding: true,
            pooling,
            normalize,
            ..Default::default()
        };
        let out = self
            .encode_future(inputs, Some(self.embed_seq_length()), &request)
            .await?;
        Ok(out
            .into_iter()
            .map(|e| e.embedding.unwrap_or_default())
            .collect())
    }

    /// A module in the folder's modules.json that wgbert does not run is an error naming it.
    fn check_modules(&self) -> Result<()> {
        match &self.sentence.unsupported {
            Some(module) => Err(Error::Unsupported(format!(
                "the model folder's modules.json has a module wgbert does not run after the encoder: {module}; its vectors would differ from sentence-transformers', so wgbert refuses. encode gives the encoder outputs"
            ))),
            None => Ok(()),
        }
    }

    /// bge-m3's dense, sparse and multi-vector outputs of `inputs` from one forward pass, as
    /// FlagEmbedding's `BGEM3FlagModel.encode` gives them: the dense vector as the folder's
    /// modules.json pools it (`[CLS]`, normalised), lexical weights relu(sparse_linear(x)) per
    /// token keeping the largest per id (special tokens and the unknown token dropped), and
    /// colbert_linear(x) at each real token after the first, normalised. Prompts and
    /// `dimensions` (on the dense vector) as in [`Engine::embed_opts`].
    pub fn embed_m3(&self, inputs: &[Input], opts: &EmbedOptions) -> Result<Vec<M3Embedding>> {
        self.m3_outputs(inputs, opts, true, true, true)
    }

    /// bge-m3's lexical weights of one packed input from its per-position weights: the largest
    /// positive weight per token id, the template's special tokens, padding and the unknown
    /// token left out (FlagEmbedding's `_process_token_weights`).
    pub fn lexical_weights(&self, packed: &Packed, weights: &[f32]) -> Result<SparseEmbedding> {
        let pre = self.preprocessor()?;
        let unk = ["<unk>", "[UNK]"].iter().find_map(|t| pre.token_to_id(t));
        let pad = self.config().pad_id() as u32;
        let mut best: std::collections::BTreeMap<u32, f32> = Default::default();
        for (j, (&id, &w)) in packed
            .input_word_ids
            .iter()
            .zip(weights)
            .take(packed.len())
            .enumerate()
        {
            let unused =
                packed.special.get(j).copied().unwrap_or(false) || Some(id) == unk || id == pad;
            if !unused && w > 0.0 {
                let b = best.entry(id).or_insert(0.0);
                *b = b.max(w);
            }
        }
        Ok(SparseEmbedding {
            indices: best.keys().copied().collect(),
            values: best.values().copied().collect(),
        })
    }

    fn m3_outputs(
        &self,
        inputs: &[Input],
        opts: &EmbedOptions,
        dense: bool,
        sparse: bool,
        colbert: bool,
    ) -> Result<Vec<M3Embedding>> {
        self.check_modules()?;
        if self.sentence.bge_m3.is_none() {
            return Err(Error::Unsupported(
                "this folder is not bge-m3: its colbert_linear.pt and sparse_linear.pt are missing"
                    .into(),
            ));
        }
        self.check_dimensions(opts)?;
        let inputs =
            self.with_prompt(inputs, opts.prompt_name.as_deref(), opts.prompt.as_deref())?;
        let request = Request {
            pooled_output: false,
            embedding: dense,
            pooling: self.pooling(),
            normalize: self.normalize(),
            multi_vector: colbert,
            token_weights: sparse,
            ..Default::default()
        };
        let td = self.token_dim();
        let out = self.encode(&inputs, Some(self.embed_seq_length()), &request)?;
        out.into_iter()
            .map(|e| {
                let n = e.packed.len();
                let ids = &e.packed.input_word_ids[..n];
                let mut m3 = M3Embedding::default();
                if let Some(mut v) = e.embedding {
                    if let Some(d) = opts.dimensions {
                        v.truncate(d);
                        l2_normalize(&mut v);
                    }
                    m3.dense = v;
                }
                if let Some(w) = &e.token_weights {
                    m3.sparse = self.lexical_weights(&e.packed, w)?;
                }
                if let Some(v) = e.token_vectors {
                    m3.colbert = MultiVector {
                        ids: ids.get(1..).unwrap_or_default().to_vec(),
                        dim: td,
                        vectors: v.get(td..n * td).unwrap_or_default().to_vec(),
                    };
                }
                Ok(m3)
            })
            .collect()
    }

    /// ColBERT vectors (late interaction) of `inputs`, as PyLate encodes them from a folder it
    /// saved: `[CLS]`, the query or document prefix token, the text, `[SEP]`; queries padded
    /// with `[MASK]` to `query_length` (not attended to unless `attend_to_expansion_tokens`) and
    /// every position kept; documents cut at `document_length`, their padding and skiplist
    /// tokens (punctuation) dropped. Each token's last-layer vector goes through the Dense
    /// modules and is L2-normalised, on the GPU.
    pub fn embed_multi(&self, inputs: &[Input], is_query: bool) -> Result<Vec<MultiVector>> {
        self.check_modules()?;
        if self.sentence.bge_m3.is_some() {
            // bge-m3 encodes queries and documents alike.
            return Ok(self
                .m3_outputs(inputs, &EmbedOptions::default(), false, false, true)?
                .into_iter()
                .map(|m| m.colbert)
                .collect());
        }
        let cb = self.sentence.colbert.as_ref().ok_or_else(|| {
            Error::Unsupported(
                "this folder is not a ColBERT model (PyLate writes query_prefix, query_length and document_length to config_sentence_transformers.json, and a Dense module after the encoder); multi-vector output needs one".into(),
            )
        })?;
        let pre = self.preprocessor()?;
        let prefix = if is_query {
            &cb.query_prefix
        } else {
            &cb.document_prefix
        };
        let prefix_id = match prefix.as_str() {
            "" => None,
            p => Some(pre.token_to_id(p).ok_or_else(|| {
                Error::Unsupported(format!(
                    "the tokenizer has no token {p:?}, the {} prefix of config_sentence_transformers.json; add it to tokenizer.json's added_tokens (PyLate does when it saves the folder)",
                    if is_query { "query" } else { "document" }
                ))
            })?),
        };
        let length = if is_query {
            cb.query_length
        } else {
            cb.document_length
        }
        .min(self.config().max_seq_length());
        let mask_id = pre.mask_id();
        let expand = is_query && cb.do_query_expansion;
        if expand && mask_id.is_none() {
            return Err(Error::Unsupported(
                "query expansion pads queries with the mask token, and this tokenizer has none; set do_query_expansion to false".into(),
            ));
        }
        // convert_tokens_to_ids: a word outside the vocabulary stands for the unknown token.
        let unk = ["[UNK]", "<unk>"].iter().find_map(|t| pre.token_to_id(t));
        let skip: Vec<u32> = cb
            .skiplist_words
            .iter()
            .filter_map(|w| pre.token_to_id(w).or(unk))
            .collect();
        let inner = length - prefix_id.is_some() as usize;
        // (ids, types, mask, kept positions) of each input, `length` long.
        let mut rows = Vec::with_capacity(inputs.len());
        for (i, input) in inputs.iter().enumerate() {
            if matches!(input, Input::Pair(..)) {
                return Err(Error::InvalidInput(format!(
                    "input {i} is a pair; ColBERT encodes queries and documents one text at a time"
                )));
            }
            let p = pre.pack(input, inner)?;
            let mut ids = p.input_word_ids.clone();
            let mut mask = p.input_mask.clone();
            if let Some(id) = prefix_id {
                ids.insert(1, id);
                mask.insert(1, 1);
            }
            let real = mask.iter().filter(|&&m| m != 0).count();
            let keep: Vec<usize> = if expand {
                for j in real..length {
                    ids[j] = mask_id.unwrap_or(ids[j]);
                    if cb.attend_to_expansion_tokens {
                        mask[j] = 1;
                    }
                }
                (0..length).collect()
            } else if is_query {
                (0..real).collect()
            } else {
                (0..real).filter(|&j| !skip.contains(&ids[j])).collect()
            };
            let run = if expand { length } else { real };
            rows.push((ids, mask, keep, run));
        }
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by_key(|&i| rows[i].3);
        let dim = self.token_dim();
        let request = Request {
            pooled_output: false,
            embedding: false,
            multi_vector: true,
            ..Default::default()
        };
        let mut out: Vec<MultiVector> = vec![MultiVector::default(); rows.len()];
        for batch in order.chunks(self.batch_limit(length)) {
            let longest = batch.iter().map(|&i| rows[i].3).max().unwrap_or(1);
            let seq = longest.div_ceil(8).saturating_mul(8).clamp(1, length);
            let b = batch.len();
            let (mut ids, mut mask) = (Vec::with_capacity(b * seq), Vec::with_capacity(b * seq));
            for &i in batch {
                ids.extend_from_slice(&rows[i].0[..seq]);
                mask.extend_from_slice(&rows[i].1[..seq]);
            }
            let packed = Packed {
                input_word_ids: ids.clone(),
                input_mask: mask.clone(),
                input_type_ids: vec![0; ids.len()],
                tokens: Vec::new(),
                offsets: Vec::new(),
                special: Vec::new(),
            };
            self.check_ids(&packed)?;
            let fwd = self.run(b, seq, &ids, &packed.input_type_ids, &mask, &request)?;
            let v = fwd
                .token_vectors
                .ok_or_else(|| Error::Device("the token vectors did not come back".into()))?;
            for (r, &i) in batch.iter().enumerate() {
                let keep = &rows[i].2;
                let mut vectors = Vec::with_capacity(keep.len() * dim);
                for &j in keep {
                    vectors.extend_from_slice(&v[(r * seq + j) * dim..(r * seq + j + 1) * dim]);
                }
                out[i] = MultiVector {
                    ids: keep.iter().map(|&j| rows[i].0[j]).collect(),
                    dim,
                    vectors,
                };
            }
        }
        Ok(out)
    }

    /// SPLADE sparse vectors of `inputs` (sentence-transformers' SparseEncoder): the
    /// masked-word head's logits at every position, w = log(1 + relu(logit)), max (or sum) over
    /// each input's real tokens — pooled as the folder's SpladePooling says, else max/relu. The
    /// vocabulary-wide GEMM and the pooling run on the GPU in row chunks; only the `[V]` vector
    /// of each input comes back. Each keeps its nonzero weights, at most `max_active_dims` of
    /// them (the largest; else the folder's `max_active_dims`, else all). Prompts as in
    /// [`Engine::embed_opts`]; `dimensions` does not apply to sparse vectors.
    pub fn embed_sparse(
        &self,
        inputs: &[Input],
        opts: &EmbedOptions,
        max_active_dims: Option<usize>,
    ) -> Result<Vec<SparseEmbedding>> {
        self.check_modules()?;
        if !self.model.has_mlm() && self.sentence.bge_m3.is_none() {
            return Err(Error::Unsupported(
                "this checkpoint has no masked-word head (BERT's cls.predictions.*, DistilBERT's vocab_*, RoBERTa's lm_head.*), which SPLADE vectors are made from, nor bge-m3's sparse_linear.pt; use a SPLADE model, another *ForMaskedLM checkpoint or bge-m3".into(),
            ));
        }
        if opts.dimensions.is_some() {
            return Err(Error::InvalidInput(
                "dimensions (Matryoshka truncation) applies to dense vectors; a sparse vector is cut to its largest weights with max_active_dims (--top-k)".into(),
            ));
        }
        if max_active_dims == Some(0) {
            return Err(Error::InvalidInput(
                "max_active_dims is 0; keep at least one weight per vector".into(),
            ));
        }
        let top_k = max_active_dims.or(self.sentence.max_active_dims);
        if self.sentence.bge_m3.is_some() {
            return Ok(self
                .m3_outputs(inputs, opts, false, true, false)?
                .into_iter()
                .map(|m| match top_k {
                    Some(k) => m.sparse.keep_largest(k),
                    None => m.sparse,
                })
                .collect());
        }
        let inputs =
            self.with_prompt(inputs, opts.prompt_name.as_deref(), opts.prompt.as_deref())?;
        let request = Request {
            pooled_output: false,
            embedding: false,
            sparse: Some(self.sentence.splade.unwrap_or_default()),
            ..Default::default()
        };
        let out = self.encode(&inputs, Some(self.embed_seq_length()), &request)?;
        out.iter()
            .map(|e| {
                let w = e
                    .sparse
                    .as_deref()
                    .ok_or_else(|| Error::Device("the SPLADE vectors did not come back".into()))?;
                Ok(SparseEmbedding::from_dense(w, top_k))
            })
            .collect()
    }

    /// Label names of the checkpoint's sequence-classification head (`id2label`), if it has one.
    pub fn labels(&self) -> Option<Vec<String>> {
        self.model
            .classifier_labels()
            .map(|n| self.config().labels(n))
    }

    /// Scores of the checkpoint's sequence-classification head (BertForSequenceClassification:
    /// `classifier` on `pooled_output`; RoBERTa / XLM-R: `classifier.dense` + tanh +
    /// `classifier.out_proj` on the first token; DistilBERT: `pre_classifier` + ReLU +
    /// `classifier`; all on the GPU after the encoder): softmax probabilities, or independent
    /// sigmoids when `problem_type` is `multi_label_classification` or there is one label.
    pub fn classify(&self, inputs: &[Input]) -> Result<Vec<Vec<f32>>> {
        if !self.model.sequence_head() {
            return Err(Error::Unsupported(
                "this model has no sequence-classification head (classifier.* on a pooler, RoBERTa's classifier.dense/out_proj or DistilBERT's pre_classifier); use a *ForSequenceClassification checkpoint or `wgbert train-head`".into(),
            ));
        }
        let request = Request {
            pooled_output: false,
            embedding: false,
            logits: true,
            ..Default::default()
        };
        Ok(self
            .encode(inputs, None, &request)?
            .into_iter()
            .map(|e| self.head_scores(&e.logits.unwrap_or_default()))
            .collect())
    }

    /// The classification head's scores from its logits: independent sigmoids when
    /// `problem_type` is `multi_label_classification` or there is one label (a regression or
    /// cross-encoder score, as transformers' pipelines and sentence-transformers' CrossEncoder
    /// give it), else a softmax.
    pub fn head_scores(&self, z: &[f32]) -> Vec<f32> {
        let multi = self.config().problem_type.as_deref() == Some("multi_label_classification")
            || self.model.classifier_labels() == Some(1);
        if multi {
            z.iter().map(|v| 1.0 / (1.0 + (-v).exp())).collect()
        } else {
            let m = z.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            let ex: Vec<f32> = z.iter().map(|v| (v - m).exp()).collect();
            let s: f32 = ex.iter().sum();
            ex.iter().map(|v| v / s).collect()
        }
    }

    /// Cross-encoder relevance of each document to `query`: the raw logit of a one-label
    /// sequence-classification head (BertForSequenceClassification,
    /// XLMRobertaForSequenceClassification, …) on the pair `(query, doc)`, in document order.
    /// `seq_length` (default: the model's longest input, at most 512) bounds each pair; longer
    /// pairs are truncated round-robin. Apply a sigmoid for sentence-transformers' CrossEncoder
    /// scores.
    pub fn rerank(
        &self,
        query: &str,
        docs: &[String],
        seq_length: Option<usize>,
    ) -> Result<Vec<f32>> {
        match self.model.classifier_labels() {
            Some(1) if self.model.sequence_head() => {}
            Some(n) if self.model.sequence_head() => {
                return Err(Error::Unsupported(format!(
                    "this model's classification head has {n} labels; reranking needs a cross-encoder with one (num_labels 1), such as an ms-marco or bge-reranker checkpoint"
                )));
            }
            _ => {
                return Err(Error::Unsupported(
                    "this model has no sequence-classification head, so it cannot rerank; use a cross-encoder folder (a *ForSequenceClassification checkpoint with one label)".into(),
                ));
            }
        }
        let s = seq_length.unwrap_or_else(|| self.head_seq_length());
        let inputs: Vec<Input> = docs
            .iter()
            .map(|d| Input::Pair(query.to_string(), d.clone()))
            .collect();
        let request = Request {
            pooled_output: false,
            embedding: false,
            logits: true,
            ..Default::default()
        };
        Ok(self
            .encode(&inputs, Some(s), &request)?
            .into_iter()
            .map(|e| {
                e.logits
                    .and_then(|l| l.first().copied())
                    .unwrap_or(f32::NAN)
            })
            .collect())
    }

    /// BERT's masked-word task: for each input, for each mask token in it (`[MASK]`), the
    /// `top_k` most likely tokens with their probabilities, best first — transformers'
    /// fill-mask pipeline. The head (transform, LayerNorm and the vocabulary GEMM) runs on the
    /// GPU after the encoder; the softmax and the choice of the best run on the host, over the
    /// mask rows only. Inputs are packed to the model's longest input (at most 512).
    pub fn fill_mask(&self, inputs: &[Input], top_k: usize) -> Result<Vec<Vec<Vec<MaskFill>>>> {
        if !self.model.has_mlm() {
            return Err(Error::Unsupported(
                "this checkpoint has no masked-word head (cls.predictions.*); fill-mask needs a BertForMaskedLM or BertForPreTraining checkpoint".into(),
            ));
        }
        if top_k == 0 {
            return Err(Error::InvalidInput(
                "top_k is 0; ask for at least one answer per mask".into(),
            ));
        }
        let pre = self.preprocessor()?;
        let mask_id = pre.mask_id().ok_or_else(|| {
            Error::Unsupported(
                "this tokenizer has no mask token ([MASK] or <mask>), so there is nothing to fill"
                    .into(),
            )
        })?;
        let mask_str = pre.decode(&[mask_id], false)?;
        let seq = self.head_seq_length();
        let packed = self.preprocess(inputs, Some(seq))?;
        let mut masks = Vec::with_capacity(packed.len());
        for (i, p) in packed.iter().enumerate() {
            let at: Vec<usize> = (0..p.len())
                .filter(|&j| p.input_word_ids[j] == mask_id)
                .collect();
            if at.is_empty() {
                return Err(Error::InvalidInput(format!(
                    "input {i} has no {mask_str} token (after truncation to {seq} tokens); put {mask_str} where the word to guess is"
                )));
            }
            masks.push(at);
        }
        let request = Request {
            pooled_output: false,
            embedding: false,
            mlm: true,
            ..Default::default()
        };
        let out = self.encode_packed(packed, &request)?;
        let v = self.config().vocab_size;
        let k = top_k.min(v);
        out.iter()
            .zip(&masks)
            .map(|(e, at)| {
                let logits = e.mlm_logits.as_deref().unwrap_or(&[]);
                let real = &e.packed.input_word_ids[..e.packed.len()];
                at.iter()
                    .map(|&pos| {
                        let row = logits.get(pos * v..(pos + 1) * v).ok_or_else(|| {
                            Error::Device("the masked-word logits came back short".into())
                        })?;
                        let top = softmax_top_k(row, k);
                        top.into_iter()
                            .map(|(token, score)| {
                                let mut ids = real.to_vec();
                                ids[pos] = token;
                                Ok(MaskFill {
                                    token,
                                    token_str: pre.decode(&[token], false)?,
                                    score,
                                    // As the pipeline: special tokens are dropped when the
                                    // input has one mask, kept (other masks shown) otherwise.
                                    sequence: pre.decode(&ids, at.len() == 1)?,
                                })
                            })
                            .collect::<Result<Vec<_>>>()
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .collect()
    }

    /// BERT's next-sentence task: P(`b` follows `a`) for each pair, from the checkpoint's
    /// `cls.seq_relationship` on the pooled output (on the GPU after the encoder); a softmax
    /// over its two logits, as BertForNextSentencePrediction (index 0: is next).
    pub fn next_sentence(&self, pairs: &[(String, String)]) -> Result<Vec<f32>> {
        if !self.model.has_nsp() {
            return Err(Error::Unsupported(
                "this checkpoint has no next-sentence head (cls.seq_relationship.* and a pooler); use a BertForPreTraining or BertForNextSentencePrediction checkpoint".into(),
            ));
        }
        let inputs: Vec<Input> = pairs
            .iter()
            .map(|(a, b)| Input::Pair(a.clone(), b.clone()))
            .collect();
        let seq = self.head_seq_length();
        let request = Request {
            pooled_output: false,
            embedding: false,
            nsp: true,
            ..Default::default()
        };
        self.encode(&inputs, Some(seq), &request)?
            .into_iter()
            .map(|e| {
                let z = e.nsp_logits.unwrap_or_default();
                match z.as_slice() {
                    [a, b] => Ok(1.0 / (1.0 + (b - a).exp())),
                    _ => Err(Error::Device(
                        "the next-sentence logits came back short".into(),
                    )),
                }
            })
            .collect()
    }

    /// Named entities of each input with the checkpoint's token-classification head
    /// (BertForTokenClassification, on the GPU after the encoder): labels per WordPiece, the
    /// first sub-token's label for each word, B-/I- tags merged into entities ("simple"
    /// aggregation), character offsets into the input text.
    pub fn ner(&self, inputs: &[Input]) -> Result<Vec<Vec<crate::ner::Entity>>> {
        let Some(n) = self
            .model
            .classifier_labels()
            .filter(|_| self.model.token_head())
        else {
            return Err(Error::Unsupported(
                "this model has no token-classification head; use a BertForTokenClassification checkpoint (architectures and classifier.*)".into(),
            ));
        };
        let labels = self.config().labels(n);
        let request = Request {
            pooled_output: false,
            embedding: false,
            logits: true,
            ..Default::default()
        };
        let out = self.encode(inputs, None, &request)?;
        Ok(out
            .iter()
            .zip(inputs)
            .map(|(e, input)| {
                let text = match input {
                    Input::Single(a) | Input::Pair(a, _) => a.as_str(),
                };
                let logits = e.logits.as_deref().unwrap_or(&[]);
                crate::ner::aggregate(text, &e.packed, logits, &labels)
            })
            .collect())
    }

    fn check_ids(&self, p: &Packed) -> Result<()> {
        let c = self.config();
        if let Some(&id) = p
            .input_word_ids
            .iter()
            .find(|&&id| id as usize >= c.vocab_size)
        {
            return Err(Error::InvalidInput(format!(
                "token id {id} is outside the embedding table (vocab_size {}); tokenizer.json and the weights do not belong together",
                c.vocab_size
            )));
        }
        if let Some(&t) = p
            .input_type_ids
            .iter()
            .find(|&&t| t as usize >= c.type_vocab_size && c.uses_token_types())
        {
            return Err(Error::InvalidInput(format!(
                "token type {t} needs type_vocab_size > {t}, but this model has {}; it cannot encode sentence pairs — pass single sentences",
                c.type_vocab_size
            )));
        }
        Ok(())
    }

    /// Encodes packed inputs (all of one length). Batches of `max_batch`; when neither
    /// `sequence_output` nor `encoder_outputs` is asked for, each batch runs only as long as its
    /// longest input (padding keys are masked out exactly, so the vectors are the same up to
    /// float rounding: bit for bit unless trimming moves a GEMM to the small-M kernel).
    pub fn encode_packed(&self, packed: Vec<Packed>, request: &Request) -> Result<Vec<Encoded>> {
        crate::gpu::block_on(self.encode_packed_future(packed, request))
    }

    async fn encode_packed_future(
        &self,
        packed: Vec<Packed>,
        request: &Request,
    ) -> Result<Vec<Encoded>> {
        if request.pooled_output && !self.has_pooler() {
            return Err(Error::Unsupported(
                "this checkpoint has no pooler (pooler.dense.*), so pooled_output is unavailable; ask for sequence_output or the embedding".into(),
            ));
        }
        let Some(first) = packed.first() else {
            return Ok(Vec::new());
        };
        let seq = first.input_word_ids.len();
        if packed.iter().any(|p| p.input_word_ids.len() != seq) {
            return Err(Error::Shape(
                "all packed inputs must have the same length".into(),
            ));
        }
        for p in &packed {
            self.check_ids(p)?;
        }
        let h = self.config().hidden_size;
        let full = request.sequence_output || request.encoder_outputs;
        // Vectors only: sort by length so each batch holds inputs of similar length and runs
        // only as long as its longest (padding keys are masked out exactly, so the vectors do
        // not change); results go back in input order. Full outputs keep TF-Hub's fixed padding.
        let mut order: Vec<usize> = (0..packed.len()).collect();
        if !full {
            order.sort_by_key(|&i| packed[i].len());
        }
        let mut slots: Vec<Option<Packed>> = packed.into_iter().map(Some).collect();
        let mut out: Vec<Option<Encoded>> = (0..slots.len()).map(|_| None).collect();
        for batch in order.chunks(self.batch_limit(seq)) {
            let chunk: Vec<Packed> = batch.iter().filter_map(|&i| slots[i].take()).collect();
            let run_seq = if full {
                seq
            } else {
                let longest = chunk.iter().map(|p| p.len()).max().unwrap_or(1);
                // Round up to a multiple of 8 so that similar lengths share a plan.
                longest.div_ceil(8).saturating_mul(8).clamp(1, seq)
            };
            let b = chunk.len();
            let mut ids = Vec::with_capacity(b * run_seq);
            let mut types = Vec::with_capacity(b * run_seq);
            let mut mask = Vec::with_capacity(b * run_seq);
            let use_types = self.config().uses_token_types();
            for p in &chunk {
                ids.extend_from_slice(&p.input_word_ids[..run_seq]);
                if use_types {
                    types.extend_from_slice(&p.input_type_ids[..run_seq]);
                } else {
                    // One token type (RoBERTa, DistilBERT): type 0 everywhere, as transformers.
                    types.extend(std::iter::repeat_n(0, run_seq));
                }
                mask.extend_from_slice(&p.input_mask[..run_seq]);
            }
            let fwd = self
                .run_future(b, run_seq, &ids, &types, &mask, request)
                .await?;
            for (i, (p, &slot)) in chunk.into_iter().zip(batch).enumerate() {
                let row = |v: &Option<Vec<f32>>, width: usize| {
                    v.as_ref().map(|v| v[i * width..(i + 1) * width].to_vec())
                };
                out[slot] = Some(Encoded {
                    packed: p,
                    hidden: h,
                    pooled_output: row(&fwd.pooled_output, h),
                    sequence_output: row(&fwd.sequence_output, run_seq * h),
                    encoder_outputs: fwd.encoder_outputs.as_ref().map(|ls| {
                        ls.iter()
                            .map(|l| l[i * run_seq * h..(i + 1) * run_seq * h].to_vec())
                            .collect()
                    }),
                    embedding: row(&fwd.embedding, self.model.embedding_dim()),
                    mlm_logits: row(&fwd.mlm_logits, run_seq * self.config().vocab_size),
                    nsp_logits: row(&fwd.nsp_logits, 2),
                    sparse: row(&fwd.sparse, self.config().vocab_size),
                    token_vectors: row(&fwd.token_vectors, run_seq * self.model.token_dim()),
                    token_weights: row(&fwd.token_weights, run_seq),
                    logits: self.model.classifier_labels().and_then(|l| {
                        row(
                            &fwd.logits,
                            if self.model.token_head() {
                                run_seq * l
                            } else {
                                l
                            },
                        )
                    }),
                });
            }
        }
        let out: Vec<Encoded> = out.into_iter().flatten().collect();
        if out.len() != slots.len() {
            return Err(Error::Device("an input was lost while batching".into()));
        }
        Ok(out)
    }

    /// Most sequences of `seq` tokens one forward pass may hold: `max_batch`, lowered so that no
    /// activation buffer exceeds the adapter's storage binding limit (larger requests are split
    /// into several passes; results are the same as for smaller batches).
    pub fn batch_limit(&self, seq: usize) -> usize {
        let c = self.config();
        // The masked-word logits, vocabulary-wide, are split into row chunks by the plan; the
        // SPLADE output keeps one vocabulary-wide row per sequence.
        let widest = (3 * c.hidden_size).max(c.intermediate_size) as u64; // qkv or intermediate row
        let sparse_row = if self.model.has_mlm() {
            c.vocab_size as u64
        } else {
            0
        };
        let per_seq = (widest * seq as u64).max(sparse_row) * 4;
        let fit = (self.ctx.max_activation_bytes() / per_seq.max(1)).max(1) as usize;
        self.opts
            .max_batch
            .min(fit)
            .min(crate::kernels::MAX_GROUPS_PER_DIM as usize)
    }

    /// The plan cache, locked. Natively a second thread waits for it; a browser page has one
    /// thread, where a held lock means a call that is still awaiting the GPU: an error, not a
    /// deadlock.
    fn lock_plans(&self) -> Result<std::sync::MutexGuard<'_, PlanCache>> {
        let poisoned = |_| Error::Device("plan cache poisoned by an earlier panic".into());
        #[cfg(not(target_arch = "wasm32"))]
        return self.plans.lock().map_err(poisoned);
        #[cfg(target_arch = "wasm32")]
        return self.plans.try_lock().map_err(|e| match e {
            std::sync::TryLockError::Poisoned(p) => poisoned(p),
            std::sync::TryLockError::WouldBlock => Error::InvalidInput(
                "this engine is still running an earlier call: await it before the next".into(),
            ),
        });
    }

    /// The cached plan for `b × s` (built on first use).
    fn plan<'a>(
        &self,
        cache: &'a mut PlanCache,
        b: usize,
        s: usize,
        request: &Request,
    ) -> Result<&'a mut Plan> {
        let key = PlanKey::new(b, s, request);
        cache.clock += 1;
        let now = cache.clock;
        if !cache.plans.contains_key(&key) {
            if cache.plans.len() >= MAX_PLANS
                && let Some(oldest) = cache
                    .plans
                    .iter()
                    .min_by_key(|(_, (t, _))| *t)
                    .map(|(k, _)| *k)
            {
                cache.plans.remove(&oldest);
            }
            let plan = self.model.plan(b, s, request)?;
            cache.plans.insert(key, (now, plan));
        }
        let (t, plan) = cache
            .plans
            .get_mut(&key)
            .ok_or_else(|| Error::Device("plan vanished from the cache".into()))?;
        *t = now;
        Ok(plan)
    }

    /// Kernel dispatches of one forward pass of `b` sequences of `s` tokens for `request` (the
    /// plan's recorded calls, built on first use; a pass is one compute pass and one
    /// submission).
    pub fn dispatches(&self, b: usize, s: usize, request: &Request) -> Result<usize> {
        let mut cache = self.lock_plans()?;
        Ok(self.plan(&mut cache, b, s, request)?.dispatches().len())
    }

    /// One forward pass of `b` packed sequences with a GPU timestamp around every kernel call;
    /// returns each call's time in plan order (adapters with timestamp queries in passes).
    pub fn profile(
        &self,
        b: usize,
        s: usize,
        ids: &[u32],
        types: &[u32],
        mask: &[u32],
        request: &Request,
    ) -> Result<Vec<crate::model::KernelTime>> {
        let mut cache = self.lock_plans()?;
        self.plan(&mut cache, b, s, request)?
            .profile(&self.ctx, ids, types, mask)
    }

    /// One forward pass of `b` packed sequences of `s` tokens, through the plan cache.
    pub fn run(
        &self,
        b: usize,
        s: usize,
        ids: &[u32],
        types: &[u32],
        mask: &[u32],
        request: &Request,
    ) -> Result<crate::model::ForwardOutput> {
        crate::gpu::block_on(self.run_future(b, s, ids, types, mask, request))
    }

    // The plan stays locked until its staging buffers are read: another pass on it meanwhile
    // would reuse them. Natively this future runs under `block_on` on one thread, so the wait
    // is the blocking one it always was; in a page a second call finds the lock taken and gets
    // an error (the JavaScript API queues calls, so it never sees one).
    #[allow(clippy::await_holding_lock)]
    async fn run_future(
        &self,
        b: usize,
        s: usize,
        ids: &[u32],
        types: &[u32],
        mask: &[u32],
        request: &Request,
    ) -> Result<crate::model::ForwardOutput> {
        let mut cache = self.lock_plans()?;
        self.plan(&mut cache, b, s, request)?
            .forward_async(&self.ctx, ids, types, mask, request)
            .await
    }
}

impl Encoded {
    /// Row `s` of `sequence_output`, if it was requested.
    pub fn sequence_row(&self, s: usize) -> Option<&[f32]> {
        self.sequence_output
            .as_ref()
            .map(|v| &v[s * self.hidden..(s + 1) * self.hidden])
    }
}
