//! The encoder on the GPU: weights uploaded once, and per-(batch, seq_len) plans whose buffers
//! and dispatches are built once and replayed, one compute pass per forward.

use crate::arch::{Arch, Graph, Op, Role, Slot};
use crate::config::BertConfig;
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::kernels::*;
use crate::weights::BertWeights;
use std::sync::Arc;

/// How sentence vectors are pooled from the last layer (`pooling.wgsl` MODE, or the pooler).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Pooling {
    /// Masked mean over real tokens (sentence-transformers).
    #[default]
    Mean,
    /// Masked max over real tokens.
    Max,
    /// The last layer at `[CLS]`.
    Cls,
    /// The BERT pooler output, tanh(dense(`[CLS]`)).
    Pooler,
    /// Sum over real tokens divided by √(number of real tokens) (sentence-transformers'
    /// `pooling_mode_mean_sqrt_len_tokens`).
    MeanSqrtLen,
}

impl Pooling {
    /// How `pooling.wgsl` pools for it (the pooler's output is one row per sequence, taken
    /// as `[CLS]`).
    pub fn mode(self) -> PoolMode {
        match self {
            Pooling::Mean => PoolMode::Mean,
            Pooling::Max => PoolMode::Max,
            Pooling::Cls | Pooling::Pooler => PoolMode::Cls,
            Pooling::MeanSqrtLen => PoolMode::MeanSqrtLen,
        }
    }
}

/// Which outputs a forward pass copies back to the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Request {
    /// `pooled_output` `[B, H]`.
    pub pooled_output: bool,
    /// `sequence_output` `[B, S, H]`.
    pub sequence_output: bool,
    /// `encoder_outputs`: every layer, `[L, B, S, H]`.
    pub encoder_outputs: bool,
    /// The sentence embedding `[B, H]` (pooled as `pooling`, normalised when `normalize`).
    pub embedding: bool,
    /// Pooling of `embedding`.
    pub pooling: Pooling,
    /// L2-normalise `embedding`.
    pub normalize: bool,
    /// The classification head's logits `[B, labels]` (checkpoints with `classifier.*`).
    pub logits: bool,
    /// BERT's masked-word head at every position: vocabulary logits `[B, S, V]`.
    pub mlm: bool,
    /// BERT's next-sentence head on the pooled output: logits `[B, 2]` (is next, is random).
    pub nsp: bool,
    /// SPLADE sparse vectors `[B, V]` from the masked-word head's logits, pooled on the GPU
    /// (the logits themselves stay there unless `mlm` asks for them too).
    pub sparse: Option<Splade>,
    /// One vector per position `[B, S, D]` (ColBERT): the last layer through the token
    /// projection (PyLate's Dense modules, bge-m3's `colbert_linear`) at every token, each row
    /// L2-normalised.
    pub multi_vector: bool,
    /// One weight per position `[B, S]`: bge-m3's `relu(sparse_linear(x))`.
    pub token_weights: bool,
}

/// How SPLADE turns masked-word logits into one vocabulary-wide weight vector per sequence
/// (sentence-transformers' SpladePooling): w = log(1 + relu(logit)), pooled over real tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Splade {
    /// `pooling_strategy`: max (SPLADE v2 and later) or sum.
    pub pool: crate::kernels::SpladePool,
    /// `activation_function` `log1p_relu`: log(1 + ·) applied twice (OpenSearch's models).
    pub log1p_twice: bool,
}

impl Default for Splade {
    /// Max pooling of log(1 + relu(logit)), the published SPLADE models' recipe.
    fn default() -> Self {
        Splade {
            pool: crate::kernels::SpladePool::Max,
            log1p_twice: false,
        }
    }
}

impl Default for Request {
    /// The pooled output and the normalised mean-pooled embedding.
    fn default() -> Self {
        Request {
            pooled_output: true,
            sequence_output: false,
            encoder_outputs: false,
            embedding: true,
            pooling: Pooling::Mean,
            normalize: true,
            logits: false,
            mlm: false,
            nsp: false,
            sparse: None,
            multi_vector: false,
            token_weights: false,
        }
    }
}

/// Host copies of what a forward pass produced, flat row-major.
#[derive(Clone, Debug, Default)]
pub struct ForwardOutput {
    /// `[B·H]`.
    pub pooled_output: Option<Vec<f32>>,
    /// `[B·S·H]`.
    pub sequence_output: Option<Vec<f32>>,
    /// L × `[B·S·H]`.
    pub encoder_outputs: Option<Vec<Vec<f32>>>,
    /// `[B·H]`.
    pub embedding: Option<Vec<f32>>,
    /// `[B·labels]`.
    pub logits: Option<Vec<f32>>,
    /// `[B·S·V]`.
    pub mlm_logits: Option<Vec<f32>>,
    /// `[B·2]`.
    pub nsp_logits: Option<Vec<f32>>,
    /// SPLADE weights `[B·V]` (zero where a token has none).
    pub sparse: Option<Vec<f32>>,
    /// `[B·S·D]`: every position's projected, normalised vector.
    pub token_vectors: Option<Vec<f32>>,
    /// `[B·S]`: every position's weight (bge-m3's sparse head).
    pub token_weights: Option<Vec<f32>>,
}

/// One layer's tensors on the GPU, by role.
struct GpuLayer {
    buffers: Vec<(Role, wgpu::Buffer)>,
}

impl GpuLayer {
    fn get(&self, role: Role) -> Result<&wgpu::Buffer> {
        self.buffers
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, b)| b)
            .ok_or_else(|| {
                Error::Unsupported(format!(
                    "the layer graph uses {role:?}, which the architecture's weight list lacks"
                ))
            })
    }
}

/// The encoder's weights resident on the GPU.
pub struct GpuModel {
    kernels: Arc<Kernels>,
    config: BertConfig,
    /// The word table, in pieces of consecutive rows (first row, buffer) when it is larger than
    /// one storage binding; one piece otherwise.
    word: Vec<(usize, wgpu::Buffer)>,
    position: wgpu::Buffer,
    token_type: wgpu::Buffer,
    emb_ln_g: wgpu::Buffer,
    emb_ln_b: wgpu::Buffer,
    layers: Vec<GpuLayer>,
    pooler: Option<(wgpu::Buffer, wgpu::Buffer)>,
    /// The architecture's layer graph (`crate::arch`), recorded by [`Plan`] for every layer.
    graph: Graph,
    /// The LayerNorm after the last layer (pre-norm architectures): gamma, beta.
    final_norm: Option<(wgpu::Buffer, wgpu::Buffer)>,
    /// The learned relative attention bias `[num_buckets, heads]` (MPNet), kept on the host:
    /// each plan turns it into its `[heads, 2S − 1]` table.
    relative_bias: Option<Vec<f32>>,
    /// Sequence-classification head: weight `[labels, H]`, bias, number of labels.
    classifier: Option<(wgpu::Buffer, wgpu::Buffer, usize)>,
    /// The dense layer (weight, bias, GEMM activation code) a RoBERTa or DistilBERT sequence
    /// head applies to the first token before `classifier`.
    head_dense: Option<(wgpu::Buffer, wgpu::Buffer, Act)>,
    /// sentence-transformers Dense modules after pooling, in order.
    dense: Vec<DenseLayer>,
    /// BERT's masked-word head: transform weight, bias, LayerNorm gamma, beta, decoder bias,
    /// and the decoder weight when it is not the word table.
    mlm: Option<MlmLayer>,
    /// BERT's next-sentence head: weight `[2, H]`, bias.
    nsp: Option<(wgpu::Buffer, wgpu::Buffer)>,
    /// Projection of every token for multi-vector output, in order (PyLate's Dense modules,
    /// bge-m3's `colbert_linear`).
    token_dense: Vec<DenseLayer>,
    /// One weight per token (bge-m3's `sparse_linear`, ReLU).
    token_weight: Option<DenseLayer>,
}

struct MlmLayer {
    dense_w: wgpu::Buffer,
    dense_b: wgpu::Buffer,
    ln_g: wgpu::Buffer,
    ln_b: wgpu::Buffer,
    bias: wgpu::Buffer,
    decoder: Option<wgpu::Buffer>,
    /// The decoder bias cut like the word table when the decoder is a split table: one slice
    /// per piece, in order (empty otherwise).
    bias_pieces: Vec<wgpu::Buffer>,
}

/// One block of masked-word logits: rows `[row0, row0 + rows)` of the B·S token rows,
/// vocabulary columns `[col0, col0 + cols)`.
struct LogitsBlock {
    buf: wgpu::Buffer,
    row0: usize,
    rows: usize,
    col0: usize,
    cols: usize,
}

/// A linear layer after pooling (a sentence-transformers Dense module) in host memory.
#[derive(Clone, Debug)]
pub struct DenseWeights {
    /// Its name in buffer labels, e.g. `2_Dense`.
    pub name: String,
    /// `[out_features, in_features]`, row-major.
    pub weight: Vec<f32>,
    /// `[out_features]` (zeros for a layer without bias).
    pub bias: Vec<f32>,
    /// Width of its input.
    pub in_features: usize,
    /// Width of its output.
    pub out_features: usize,
    /// Its activation.
    pub act: Act,
}

/// A Dense module on the GPU: weight `[out, in]`, bias `[out]`, activation.
struct DenseLayer {
    w: wgpu::Buffer,
    b: wgpu::Buffer,
    in_features: usize,
    out_features: usize,
    act: Act,
}

/// (first row, rows, buffer) of each piece of a word table of `vocab` rows uploaded as `word`
/// (pieces of consecutive rows, each starting at its first row).
fn word_pieces(
    word: &[(usize, wgpu::Buffer)],
    vocab: usize,
) -> impl Iterator<Item = (usize, usize, &wgpu::Buffer)> {
    word.iter().enumerate().map(move |(i, (first, buf))| {
        let end = word.get(i + 1).map_or(vocab, |p| p.0);
        (*first, end - first, buf)
    })
}

impl GpuModel {
    /// Uploads `weights` (checked against `config` when loaded). Q, K and V are fused into one
    /// `[3H, H]` projection so a layer needs one GEMM for all three.
    pub fn new(kernels: Arc<Kernels>, config: BertConfig, weights: &BertWeights) -> Result<Self> {
        let ctx = kernels.ctx().clone();
        let max = ctx.max_binding_bytes();
        let elem = kernels.precision().bytes() as u64;
        let up = |label: &str, t: &[f32]| {
            let bytes = t.len() as u64 * elem;
            if bytes > max {
                return Err(Error::Shape(format!(
                    "weight tensor {label} is {bytes} bytes, above this adapter's storage binding limit of {max} bytes; \
                     wgbert splits only the word-embedding table across bindings, so this model cannot run on this adapter"
                )));
            }
            kernels.upload(label, t)
        };
        let mut layers = Vec::with_capacity(weights.layers.len());
        for (l, w) in weights.layers.iter().enumerate() {
            let buffers = w
                .iter()
                .map(|(role, label, t)| Ok((role, up(&format!("layer{l}:{label}"), &t.data)?)))
                .collect::<Result<Vec<_>>>()?;
            layers.push(GpuLayer { buffers });
        }
        let pooler = match &weights.pooler {
            Some((w, b)) => Some((
                up("pooler.dense.weight", &w.data)?,
                up("pooler.dense.bias", &b.data)?,
            )),
            None => None,
        };
        let classifier = match &weights.classifier {
            Some((w, b)) => Some((
                up("classifier.weight", &w.data)?,
                up("classifier.bias", &b.data)?,
                b.data.len(),
            )),
            None => None,
        };
        let head_dense = match &weights.head_dense {
            Some((w, b)) => Some((
                up("head.dense.weight", &w.data)?,
                up("head.dense.bias", &b.data)?,
                // RoBERTa's classifier.dense is followed by tanh, DistilBERT's pre_classifier by ReLU.
                match config.family() {
                    Some(crate::config::Family::DistilBert) => Act::Relu,
                    _ => Act::Tanh,
                },
            )),
            None => None,
        };
        // The word table may be larger than one binding (multilingual vocabularies): split it
        // into pieces of whole rows, each within the limit.
        let h = config.hidden_size;
        let row_bytes = (h * kernels.precision().bytes()) as u64;
        let rows_per_piece = (max / row_bytes.max(1)).max(1) as usize;
        let word_data = &weights.word_embeddings.data;
        let vocab = word_data.len() / h.max(1);
        let mut word = Vec::new();
        for first in (0..vocab.max(1)).step_by(rows_per_piece) {
            let rows = rows_per_piece.min(vocab - first);
            let label = if rows == vocab {
                "embeddings.word_embeddings.weight".to_string()
            } else {
                format!(
                    "embeddings.word_embeddings.weight[{first}..{}]",
                    first + rows
                )
            };
            word.push((
                first,
                kernels.upload(&label, &word_data[first * h..(first + rows) * h])?,
            ));
        }
        if word.len() > 1 {
            log::info!(
                "word table split into {} pieces of at most {rows_per_piece} rows (storage binding limit {max} bytes)",
                word.len()
            );
        }
        let mlm = match &weights.mlm {
            Some(m) => Some(MlmLayer {
                dense_w: up("cls.predictions.transform.dense.weight", &m.dense_w.data)?,
                dense_b: up("cls.predictions.transform.dense.bias", &m.dense_b.data)?,
                ln_g: up("cls.predictions.transform.LayerNorm.weight", &m.ln_g.data)?,
                ln_b: up("cls.predictions.transform.LayerNorm.bias", &m.ln_b.data)?,
                bias: up("cls.predictions.bias", &m.bias.data)?,
                decoder: match &m.decoder_w {
                    Some(w) => Some(up("cls.predictions.decoder.weight", &w.data)?),
                    None => None,
                },
                bias_pieces: if m.decoder_w.is_none() && word.len() > 1 {
                    word_pieces(&word, config.vocab_size)
                        .enumerate()
                        .map(|(i, (first, rows, _))| {
                            up(
                                &format!("cls.predictions.bias{i}"),
                                &m.bias.data[first..first + rows],
                            )
                        })
                        .collect::<Result<Vec<_>>>()?
                } else {
                    Vec::new()
                },
            }),
            None => None,
        };
        let nsp = match &weights.nsp {
            Some((w, b)) => Some((
                up("cls.seq_relationship.weight", &w.data)?,
                up("cls.seq_relationship.bias", &b.data)?,
            )),
            None => None,
        };
        let model = GpuModel {
            classifier,
            head_dense,
            dense: Vec::new(),
            token_dense: Vec::new(),
            token_weight: None,
            mlm,
            nsp,
            word,
            // A rotary model has no position table: one zero row the kernel never indexes past.
            position: match &weights.position_embeddings {
                Some(p) => up("embeddings.position_embeddings.weight", &p.data)?,
                None => up("embeddings.position_embeddings(none)", &vec![0.0; h])?,
            },
            graph: Arch::of(&config).graph(&config),
            relative_bias: weights.relative_bias.as_ref().map(|t| t.data.clone()),
            final_norm: match &weights.final_norm {
                Some((g, b)) => Some((
                    up("final_norm.weight", &g.data)?,
                    up("final_norm.bias", &b.data)?,
                )),
                None => None,
            },
            token_type: up(
                "embeddings.token_type_embeddings.weight",
                &weights.token_type_embeddings.data,
            )?,
            emb_ln_g: up("embeddings.LayerNorm.weight", &weights.emb_ln_g.data)?,
            emb_ln_b: up("embeddings.LayerNorm.bias", &weights.emb_ln_b.data)?,
            layers,
            pooler,
            kernels,
            config,
        };
        ctx.check_errors()?;
        Ok(model)
    }

    /// The model's config.
    pub fn config(&self) -> &BertConfig {
        &self.config
    }

    /// Uploads Dense layers to run after pooling, before normalisation; each one's input must
    /// be the previous one's output, the first one's the model width.
    pub fn set_dense(&mut self, layers: &[DenseWeights]) -> Result<()> {
        self.dense = self.upload_dense(layers)?;
        self.kernels.ctx().check_errors()
    }

    /// Uploads the per-token heads: `projection` (layers in a row from the model width, for
    /// multi-vector output) and `weight` (one value per token).
    pub fn set_token_heads(
        &mut self,
        projection: &[DenseWeights],
        weight: Option<&DenseWeights>,
    ) -> Result<()> {
        self.token_dense = self.upload_dense(projection)?;
        self.token_weight = match weight {
            Some(w) => self.upload_dense(std::slice::from_ref(w))?.pop(),
            None => None,
        };
        self.kernels.ctx().check_errors()
    }

    /// Width of multi-vector output: the last projection's `out_features`, else the model width.
    pub fn token_dim(&self) -> usize {
        self.token_dense
            .last()
            .map_or(self.config.hidden_size, |d| d.out_features)
    }

    /// Whether a per-token weight head is loaded.
    pub fn has_token_weight(&self) -> bool {
        self.token_weight.is_some()
    }

    fn upload_dense(&self, layers: &[DenseWeights]) -> Result<Vec<DenseLayer>> {
        let mut width = self.config.hidden_size;
        let mut gpu = Vec::with_capacity(layers.len());
        for l in layers {
            if l.in_features != width
                || l.weight.len() != l.in_features * l.out_features
                || l.bias.len() != l.out_features
            {
                return Err(Error::Shape(format!(
                    "Dense layer {} is {}→{} with {} weights and {} biases, after a vector of {width} values",
                    l.name,
                    l.in_features,
                    l.out_features,
                    l.weight.len(),
                    l.bias.len()
                )));
            }
            gpu.push(DenseLayer {
                w: self
                    .kernels
                    .upload(&format!("{}.linear.weight", l.name), &l.weight)?,
                b: self
                    .kernels
                    .upload(&format!("{}.linear.bias", l.name), &l.bias)?,
                in_features: l.in_features,
                out_features: l.out_features,
                act: l.act,
            });
            width = l.out_features;
        }
        Ok(gpu)
    }

    /// Width of the sentence embedding: the last Dense module's `out_features`, else the model
    /// width.
    pub fn embedding_dim(&self) -> usize {
        self.dense
            .last()
            .map_or(self.config.hidden_size, |d| d.out_features)
    }

    /// Pieces the word table is split into (1 unless it is larger than one storage binding).
    pub fn word_table_pieces(&self) -> usize {
        self.word.len()
    }

    /// Whether the checkpoint has BERT's masked-word head (`cls.predictions`).
    pub fn has_mlm(&self) -> bool {
        self.mlm.is_some()
    }

    /// Whether the checkpoint has BERT's next-sentence head (`cls.seq_relationship`) and the
    /// pooler it reads.
    pub fn has_nsp(&self) -> bool {
        self.nsp.is_some() && self.pooler.is_some()
    }

    /// Whether the checkpoint has a pooler (`pooled_output` available).
    pub fn has_pooler(&self) -> bool {
        self.pooler.is_some()
    }

    /// Whether the classification head is per token (BertForTokenClassification) rather than on
    /// the pooled output.
    pub fn token_head(&self) -> bool {
        self.classifier.is_some()
            && self
                .config
                .architectures
                .as_ref()
                .is_some_and(|a| a.iter().any(|n| n.contains("TokenClassification")))
    }

    /// Whether a sequence-classification head can run: `classifier` on the pooler (BERT) or on
    /// its own dense layer (RoBERTa, DistilBERT).
    pub fn sequence_head(&self) -> bool {
        self.classifier.is_some()
            && !self.token_head()
            && (self.pooler.is_some() || self.head_dense.is_some())
    }

    /// Number of labels of the classification head, if the checkpoint has one.
    pub fn classifier_labels(&self) -> Option<usize> {
        self.classifier.as_ref().map(|c| c.2)
    }

    /// The kernels (and through them the GPU context).
    pub fn kernels(&self) -> &Arc<Kernels> {
        &self.kernels
    }

    /// Builds the buffers and dispatches of a forward pass for `batch` × `seq` tokens.
    pub fn plan(&self, batch: usize, seq: usize, request: &Request) -> Result<Plan> {
        Plan::new(self, batch, seq, request)
    }
}

/// GPU time of one dispatch of a profiled forward.
#[derive(Clone, Debug)]
pub struct KernelTime {
    /// The dispatch label, e.g. `layer3.attention.output.layernorm`.
    pub label: String,
    /// Which kernel ran.
    pub kernel: Kernel,
    /// Seconds between the timestamps around it.
    pub seconds: f64,
}

/// What makes two plans interchangeable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PlanKey {
    /// Sequences per forward.
    pub batch: usize,
    /// Positions per sequence.
    pub seq: usize,
    /// Every layer kept in its own buffer (for `encoder_outputs`).
    pub all_layers: bool,
    /// Pooling of the embedding output.
    pub pooling: Pooling,
    /// L2 normalisation of the embedding output.
    pub normalize: bool,
    /// The masked-word head's logits at every position.
    pub mlm: bool,
    /// The next-sentence head.
    pub nsp: bool,
    /// SPLADE pooling of the masked-word logits.
    pub sparse: Option<Splade>,
    /// One vector per position (ColBERT).
    pub multi_vector: bool,
    /// One weight per position (bge-m3).
    pub token_weights: bool,
}

impl PlanKey {
    /// The key a request needs at this shape.
    pub fn new(batch: usize, seq: usize, r: &Request) -> Self {
        PlanKey {
            batch,
            seq,
            all_layers: r.encoder_outputs,
            pooling: r.pooling,
            normalize: r.normalize,
            mlm: r.mlm,
            nsp: r.nsp,
            sparse: r.sparse,
            multi_vector: r.multi_vector,
            token_weights: r.token_weights,
        }
    }
}

/// Buffers allocated once for one (batch, seq_len) and the recorded sequence of kernel calls.
pub struct Plan {
    key: PlanKey,
    kernels: Arc<Kernels>,
    hidden: usize,
    /// Width of `embedding` (the model width, or the last Dense module's output).
    emb_dim: usize,
    /// Vocabulary size (the masked-word logits' width).
    vocab: usize,
    ids: wgpu::Buffer,
    types: wgpu::Buffer,
    mask: wgpu::Buffer,
    /// Output of each layer (all layers, or two ping-pong buffers).
    layer_out: Vec<wgpu::Buffer>,
    last: usize,
    /// The final LayerNorm's output (pre-norm architectures): `sequence_output`.
    final_out: Option<wgpu::Buffer>,
    pooled: Option<wgpu::Buffer>,
    logits: Option<(wgpu::Buffer, usize)>,
    /// The masked-word head's logits `[B·S, V]` in row chunks (each within one storage
    /// binding), when the key asks for them: (buffer, rows).
    mlm_logits: Vec<LogitsBlock>,
    /// The next-sentence head's logits `[B, 2]`, when the key asks for them.
    nsp_logits: Option<wgpu::Buffer>,
    /// SPLADE weights `[B, V]`, when the key asks for them.
    sparse: Option<wgpu::Buffer>,
    /// Every position's vector `[B·S, D]` (ColBERT), when the key asks for them.
    token_vectors: Option<wgpu::Buffer>,
    /// Every position's weight `[B·S]` (bge-m3), when the key asks for them.
    token_weights: Option<wgpu::Buffer>,
    /// Width of `token_vectors`.
    token_dim: usize,
    embedding: wgpu::Buffer,
    dispatches: Vec<Dispatch>,
    staging: Vec<wgpu::Buffer>,
    _scratch: Vec<wgpu::Buffer>,
}

impl Plan {
    fn new(model: &GpuModel, batch: usize, seq: usize, request: &Request) -> Result<Self> {
        let c = &model.config;
        let k = &model.kernels;
        let ctx = k.ctx();
        if batch == 0 || seq == 0 {
            return Err(Error::Shape(format!(
                "empty plan: batch {batch}, seq {seq}"
            )));
        }
        if seq > c.max_position_embeddings {
            return Err(Error::InvalidInput(format!(
                "sequence length {seq} is above max_position_embeddings {}",
                c.max_position_embeddings
            )));
        }
        let key = PlanKey::new(batch, seq, request);
        let (h, heads, dh) = (c.hidden_size, c.num_attention_heads, c.head_dim());
        let m = batch * seq; // token rows
        let (mu, hu) = (m as u32, h as u32);
        let eps = c.layer_norm_eps as f32;

        let ids = ctx.storage("input_word_ids", m)?;
        let types = ctx.storage("input_type_ids", m)?;
        let mask = ctx.storage("input_mask", m)?;
        let n_out = if key.all_layers {
            c.num_hidden_layers.max(1)
        } else {
            2
        };
        let layer_out = (0..n_out)
            .map(|i| k.float_buffer(&format!("hidden{i}"), m * h))
            .collect::<Result<Vec<_>>>()?;
        // One buffer per intermediate of the layer graph, as wide as its widest value.
        let graph = &model.graph;
        let slots = graph
            .slot_widths(h)
            .into_iter()
            .map(|(slot, w)| Ok((slot, k.float_buffer(&format!("{slot:?}"), m * w)?)))
            .collect::<Result<Vec<_>>>()?;
        // One cos/sin table per distinct rotary embedding (ModernBERT: global and local thetas).
        let rope_tables = graph
            .rotaries()
            .into_iter()
            .map(|r| {
                let table = rope_table(seq, r.dims, r.base_for(seq), r.pos_scale);
                Ok((
                    r,
                    ctx.storage_from(&format!("rope.table.{}", r.base), &table)?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        // The relative attention bias, by offset j − i, for this length (shared by the layers).
        let relative = match &graph.relative_bias {
            Some(rb) => {
                let table = crate::arch::relative_bias_table(
                    *rb,
                    model.relative_bias.as_deref(),
                    heads,
                    seq,
                );
                Some(ctx.storage_from("attention.relative_bias", &table)?)
            }
            None => None,
        };
        let emb_out = k.float_buffer("embedding_output", m * h)?;
        let emb_dim = model.embedding_dim();
        let embedding = k.float_buffer("sentence_embedding", batch * emb_dim)?;
        let pooled = if model.pooler.is_some() {
            Some(k.float_buffer("pooled_output", batch * h)?)
        } else {
            None
        };

        let mut d = Vec::new();
        // A word table in pieces: gather each token's row from its piece first.
        let word_rows = if model.word.len() > 1 {
            let rows = k.float_buffer("word_rows", m * h)?;
            for (i, (first, count, piece)) in word_pieces(&model.word, c.vocab_size).enumerate() {
                d.push(k.dispatch(
                    format!("embeddings.gather{i}"),
                    Kernel::GatherRows,
                    0,
                    &GatherRowsParams {
                        rows: mu,
                        hidden: hu,
                        first: first as u32,
                        count: count as u32,
                    },
                    &[&ids, piece, &rows],
                    row_grid(mu),
                )?);
            }
            Some(rows)
        } else {
            None
        };
        let word = word_rows.as_ref().unwrap_or(&model.word[0].1);
        // (B·S, H) ← LayerNorm(word[ids] + position + token_type[types])
        d.push(k.dispatch(
            "embeddings",
            Kernel::Embeddings,
            0,
            &EmbeddingsParams {
                rows: mu,
                seq: seq as u32,
                hidden: hu,
                vocab: c.vocab_size as u32,
                type_vocab: c.type_vocab_size as u32,
                eps,
                pos_offset: c.position_offset() as u32,
                pad_position: if c.roberta_positions() {
                    c.pad_id() as u32
                } else {
                    NO_PAD_POSITION
                },
                gathered: word_rows.is_some() as u32,
                positions: graph.positions as u32,
                _pad1: 0,
                _pad2: 0,
            },
            &[
                &ids,
                &types,
                word,
                &model.position,
                &model.token_type,
                &model.emb_ln_g,
                &model.emb_ln_b,
                &emb_out,
            ],
            row_grid(mu),
        )?);

        // The architecture's layer graph, one dispatch per op (see `crate::arch`); every
        // token row is independent except inside attention.
        let attention_params = AttentionParams::new(batch, seq, heads, dh);
        let mut x = &emb_out;
        let mut last = 0;
        for (l, w) in model.layers.iter().enumerate() {
            let out_idx = if key.all_layers { l } else { l % 2 };
            let y = &layer_out[out_idx];
            let buf = |slot: Slot| -> Result<&wgpu::Buffer> {
                match slot {
                    Slot::Input => Ok(x),
                    Slot::Output => Ok(y),
                    _ => slots
                        .iter()
                        .find(|(s, _)| *s == slot)
                        .map(|(_, b)| b)
                        .ok_or_else(|| {
                            Error::Unsupported(format!(
                                "layer graph reads {slot:?} before writing it"
                            ))
                        }),
                }
            };
            let ops = graph
                .layers
                .get(l)
                .ok_or_else(|| Error::Unsupported(format!("the layer graph has no layer {l}")))?;
            for op in ops {
                d.push(match op {
                    Op::Linear {
                        name,
                        x: a,
                        weight,
                        bias,
                        out,
                        n,
                        k: kd,
                        act,
                        glu,
                        accumulate,
                    } => {
                        let mut params = if *glu {
                            GemmParams::glu(m, *n, *kd, *act)
                        } else {
                            GemmParams::new(m, *n, *kd, *act)
                        };
                        if *accumulate {
                            params = params.accumulating();
                        }
                        k.gemm(
                            format!("layer{l}.{name}"),
                            &params,
                            [buf(*a)?, w.get(*weight)?, w.get(*bias)?, buf(*out)?],
                        )?
                    }
                    Op::AddNorm {
                        name,
                        x: a,
                        residual,
                        weight,
                        bias,
                        out,
                        sum,
                    } => k.layernorm(
                        format!("layer{l}.{name}"),
                        m,
                        h,
                        eps,
                        buf(*a)?,
                        residual.map(buf).transpose()?,
                        [w.get(*weight)?, w.get(*bias)?],
                        buf(*out)?,
                        sum.map(buf).transpose()?,
                    )?,
                    Op::Rope { name, qkv, rotary } => {
                        let table = rope_tables
                            .iter()
                            .find(|(r, _)| r == rotary)
                            .map(|(_, t)| t)
                            .ok_or_else(|| {
                                Error::Unsupported("a rotary op without its table".into())
                            })?;
                        k.dispatch(
                            format!("layer{l}.{name}"),
                            Kernel::Rope,
                            0,
                            &RopeParams {
                                rows: mu,
                                seq: seq as u32,
                                heads: heads as u32,
                                head_dim: dh as u32,
                                rot_dim: rotary.dims as u32,
                                stride: 3 * hu,
                                parts: 2,
                                _pad: 0,
                            },
                            &[buf(*qkv)?, table],
                            row_grid(mu),
                        )?
                    }
                    Op::Attention {
                        name,
                        qkv,
                        out,
                        window,
                        relative: rel,
                    } => k.attention_biased(
                        format!("layer{l}.{name}"),
                        &attention_params.windowed(*window),
                        [buf(*qkv)?, &mask, buf(*out)?],
                        if *rel { relative.as_ref() } else { None },
                    )?,
                });
            }
            x = y;
            last = out_idx;
        }
        // Pre-norm models end in a LayerNorm: sequence_output is its output (each layer's own
        // output stays in encoder_outputs).
        let final_out = match (&model.final_norm, graph.final_norm) {
            (Some((g, b)), true) => {
                let out = k.float_buffer("final_norm", m * h)?;
                d.push(k.layernorm("final_norm", m, h, eps, x, None, [g, b], &out, None)?);
                Some(out)
            }
            (None, true) => {
                return Err(Error::Unsupported(
                    "the architecture ends in a final LayerNorm the weights lack".into(),
                ));
            }
            _ => None,
        };
        let x = final_out.as_ref().unwrap_or(x);

        // (B, H) ← tanh([CLS] · Wpᵀ + bp): a GEMM over every S-th row (the [CLS] rows)
        if let (Some((pw, pb)), Some(pooled)) = (&model.pooler, &pooled) {
            let params = GemmParams {
                a_stride: (seq * h) as u32,
                ..GemmParams::new(batch, h, h, Act::Tanh)
            };
            d.push(k.gemm("pooler", &params, [x, pw, pb, pooled])?);
        }
        // (B, H) ← pool(x) over real tokens, optionally L2-normalised
        let pool_src = match (request.pooling, &pooled) {
            (Pooling::Pooler, Some(p)) => p,
            (Pooling::Pooler, None) => {
                return Err(Error::Unsupported(
                    "this checkpoint has no pooler (pooler.dense.*), so pooler pooling is unavailable; use mean, max or cls".into(),
                ));
            }
            _ => x,
        };
        let pool_seq = if request.pooling == Pooling::Pooler {
            1
        } else {
            seq
        };
        // With Dense modules: pool (not normalised), then each module as a GEMM with its
        // activation, then the normalisation as a one-row "pooling" of the last output.
        let mut dense_bufs = Vec::with_capacity(model.dense.len() + 1);
        let pool_dst = if model.dense.is_empty() {
            &embedding
        } else {
            dense_bufs.push(k.float_buffer("pooled_embedding", batch * h)?);
            &dense_bufs[0]
        };
        d.push(k.dispatch(
            "pooling",
            Kernel::Pooling,
            request.pooling.mode() as u32,
            &PoolingParams {
                batch: batch as u32,
                seq: pool_seq as u32,
                hidden: hu,
                normalize: (request.normalize && model.dense.is_empty()) as u32,
            },
            &[pool_src, &mask, pool_dst],
            row_grid(batch as u32),
        )?);
        for (i, dl) in model.dense.iter().enumerate() {
            let out = k.float_buffer(&format!("dense{i}"), batch * dl.out_features)?;
            d.push(k.gemm(
                format!("dense{i}"),
                &GemmParams::new(batch, dl.out_features, dl.in_features, dl.act),
                [&dense_bufs[i], &dl.w, &dl.b, &out],
            )?);
            dense_bufs.push(out);
        }
        if let Some(last) = dense_bufs.last().filter(|_| !model.dense.is_empty()) {
            d.push(k.dispatch(
                "dense.normalize",
                Kernel::Pooling,
                PoolMode::Cls as u32,
                &PoolingParams {
                    batch: batch as u32,
                    seq: 1,
                    hidden: emb_dim as u32,
                    normalize: request.normalize as u32,
                },
                &[last, &mask, &embedding],
                row_grid(batch as u32),
            )?);
        }

        // ColBERT: (B·S, D) ← normalise_rows(Dense_n(… Dense_1(x))) at every position.
        let mut token_scratch = Vec::new();
        let token_vectors = if key.multi_vector {
            let mut src = x;
            for (i, dl) in model.token_dense.iter().enumerate() {
                let out = k.float_buffer(&format!("tokens.dense{i}"), m * dl.out_features)?;
                d.push(k.gemm(
                    format!("tokens.dense{i}"),
                    &GemmParams::new(m, dl.out_features, dl.in_features, dl.act),
                    [src, &dl.w, &dl.b, &out],
                )?);
                token_scratch.push(out);
                src = token_scratch.last().unwrap_or(x);
            }
            let out = k.float_buffer("token_vectors", m * model.token_dim())?;
            d.push(k.dispatch(
                "tokens.normalize",
                Kernel::Pooling,
                PoolMode::Cls as u32,
                &PoolingParams {
                    batch: mu,
                    seq: 1,
                    hidden: model.token_dim() as u32,
                    normalize: 1,
                },
                &[src, &mask, &out],
                row_grid(mu),
            )?);
            Some(out)
        } else {
            None
        };
        // bge-m3: (B·S, 1) ← relu(x · wᵀ + b)
        let token_weights = match (&model.token_weight, key.token_weights) {
            (Some(tw), true) => {
                let out = k.float_buffer("token_weights", m)?;
                d.push(k.gemm(
                    "tokens.weight",
                    &GemmParams::new(m, 1, h, tw.act),
                    [x, &tw.w, &tw.b, &out],
                )?);
                Some(out)
            }
            (None, true) => {
                return Err(Error::Unsupported(
                    "this model has no per-token weight head (bge-m3's sparse_linear.pt)".into(),
                ));
            }
            _ => None,
        };

        // The classification head, on the GPU after the encoder:
        //   token head     (B·S, labels) ← x · Wcᵀ + bc      (BertForTokenClassification)
        //   sequence head  (B, labels)   ← pooled · Wcᵀ + bc (BertForSequenceClassification)
        //   RoBERTa / DistilBERT (B, labels) ← act(x[first] · Wdᵀ + bd) · Wcᵀ + bc
        let head_hidden = match (&model.classifier, &model.head_dense) {
            (Some(_), Some((dw, db, dact))) if !model.token_head() => {
                let out = k.float_buffer("head_dense", batch * h)?;
                let params = GemmParams {
                    a_stride: (seq * h) as u32,
                    ..GemmParams::new(batch, h, h, *dact)
                };
                d.push(k.gemm("head.dense", &params, [x, dw, db, &out])?);
                Some(out)
            }
            _ => None,
        };
        let head_input = match (&model.classifier, &head_hidden, &pooled) {
            (Some(_), _, _) if model.token_head() => Some((x, m, seq)), // rows, rows per sequence
            (Some(_), Some(hidden), _) => Some((hidden, batch, 1)),
            (Some(_), None, Some(pooled)) => Some((pooled, batch, 1)),
            _ => None,
        };
        let logits = match (&model.classifier, head_input) {
            (Some((cw, cb, labels)), Some((input, rows, per_seq))) => {
                let out = k.float_buffer("logits", rows * labels)?;
                d.push(k.gemm(
                    "classifier",
                    &GemmParams::new(rows, *labels, h, Act::Identity),
                    [input, cw, cb, &out],
                )?);
                Some((out, per_seq * labels))
            }
            _ => None,
        };

        // BERT's pretraining heads:
        //   masked words  (B·S, V) ← LayerNorm(act(x · Wtᵀ + bt)) · Eᵀ + bias  (E: the word table
        //                 unless the checkpoint has its own decoder)
        //   next sentence (B, 2)   ← pooled · Wnᵀ + bn
        //   SPLADE        (B, V)   ← pool over real tokens of log(1 + relu(masked-word logits)),
        //                 folded in after each row chunk's decoder GEMM
        let mut head_scratch = Vec::new();
        let mut sparse = None;
        let mlm_logits = match (&model.mlm, key.mlm || key.sparse.is_some()) {
            (Some(mh), true) => {
                // The decoder: its own weight, else the word table, in the pieces it was
                // uploaded in (first column, columns, weight, bias) when it is split.
                let v = c.vocab_size;
                let pieces: Vec<(usize, usize, &wgpu::Buffer, &wgpu::Buffer)> = match &mh.decoder {
                    Some(w) => vec![(0, v, w, &mh.bias)],
                    None if model.word.len() == 1 => vec![(0, v, &model.word[0].1, &mh.bias)],
                    None => word_pieces(&model.word, v)
                        .zip(&mh.bias_pieces)
                        .map(|((first, cols, w), b)| (first, cols, w, b))
                        .collect(),
                };
                let widest = pieces.iter().map(|p| p.1).max().unwrap_or(v);
                let t1 = k.float_buffer("mlm.transform", m * h)?;
                let zeros = k.float_buffer("mlm.zeros", m * h)?;
                let t2 = k.float_buffer("mlm.transform.layernorm", m * h)?;
                d.push(k.gemm(
                    "mlm.transform.dense",
                    &GemmParams::new(m, h, h, c.activation().act()),
                    [x, &mh.dense_w, &mh.dense_b, &t1],
                )?);
                d.push(k.add_layernorm(
                    "mlm.transform.layernorm",
                    m,
                    h,
                    eps,
                    [&t1, &zeros, &mh.ln_g, &mh.ln_b, &t2],
                )?);
                // The logits of all B·S rows are vocabulary-wide (500 MB for BERT at 32×128), more
                // than one storage binding: the decoder runs over row chunks that each fit, the
                // chunk's rows gathered from the transform output first.
                let elem = k.precision().bytes() as u64;
                let per_chunk = ((ctx.max_activation_bytes() / (widest as u64 * elem).max(1))
                    as usize)
                    .clamp(1, m);
                // Logits kept for the host get a buffer per chunk; SPLADE alone reuses one chunk's
                // buffers, as each chunk is pooled before the next is computed.
                let keep = key.mlm;
                let shared = if keep || (per_chunk == m && pieces.len() == 1) {
                    None
                } else {
                    Some((
                        k.float_buffer("mlm.logits", per_chunk * widest)?,
                        k.float_buffer("mlm.chunk", per_chunk * h)?,
                    ))
                };
                if let Some(sp) = key.sparse {
                    let bytes = (batch * v) as u64 * elem;
                    if bytes > ctx.max_activation_bytes() {
                        return Err(Error::Unsupported(format!(
                            "SPLADE vectors of {batch} sequences × {v} vocabulary entries ({bytes} bytes) exceed this adapter's storage binding limit ({} bytes); embed fewer texts per batch",
                            ctx.max_activation_bytes()
                        )));
                    }
                    sparse = Some((k.float_buffer("splade", batch * v)?, sp));
                }
                let mut chunks = Vec::new();
                for (ci, r0) in (0..m).step_by(per_chunk).enumerate() {
                    let rows = per_chunk.min(m - r0);
                    let a = if rows == m {
                        &t2
                    } else {
                        let idx: Vec<u32> = (r0 as u32..(r0 + rows) as u32).collect();
                        let idx = ctx.storage_from(&format!("mlm.rows{ci}"), &idx)?;
                        let a = match &shared {
                            Some((_, a)) => a.clone(),
                            None => k.float_buffer(&format!("mlm.chunk{ci}"), rows * h)?,
                        };
                        d.push(k.dispatch(
                            format!("mlm.gather{ci}"),
                            Kernel::GatherRows,
                            0,
                            &GatherRowsParams {
                                rows: rows as u32,
                                hidden: hu,
                                first: 0,
                                count: mu,
                            },
                            &[&idx, &t2, &a],
                            row_grid(rows as u32),
                        )?);
                        head_scratch.push(idx);
                        head_scratch.push(a);
                        head_scratch.last().unwrap_or(&t2)
                    };
                    for (pi, &(col0, cols, w, bias)) in pieces.iter().enumerate() {
                        let own;
                        let logits = match &shared {
                            Some((l, _)) => l,
                            None => {
                                own =
                                    k.float_buffer(&format!("mlm.logits{ci}.{pi}"), rows * cols)?;
                                &own
                            }
                        };
                        d.push(k.gemm(
                            format!("mlm.decoder{ci}.{pi}"),
                            &GemmParams::new(rows, cols, h, Act::Identity),
                            [a, w, bias, logits],
                        )?);
                        if let Some((out, sp)) = &sparse {
                            d.push(k.dispatch(
                                format!("splade{ci}.{pi}"),
                                Kernel::Splade,
                                sp.pool as u32,
                                &SpladeParams {
                                    batch: batch as u32,
                                    seq: seq as u32,
                                    vocab: cols as u32,
                                    row0: r0 as u32,
                                    rows: rows as u32,
                                    init: (ci == 0) as u32,
                                    twice: sp.log1p_twice as u32,
                                    col0: col0 as u32,
                                    stride: v as u32,
                                    _pad0: 0,
                                    _pad1: 0,
                                    _pad2: 0,
                                },
                                &[logits, &mask, out],
                                [(cols as u32).div_ceil(64), batch as u32, 1],
                            )?);
                        }
                        if keep {
                            chunks.push(LogitsBlock {
                                buf: logits.clone(),
                                row0: r0,
                                rows,
                                col0,
                                cols,
                            });
                        }
                    }
                }
                head_scratch.extend([t1, zeros, t2]);
                head_scratch.extend(shared.map(|(l, _)| l));
                chunks
            }
            (None, true) => {
                return Err(Error::Unsupported(
                    "this checkpoint has no masked-word head (BERT's cls.predictions.*, DistilBERT's vocab_*, RoBERTa's lm_head.*), which fill-mask and SPLADE sparse vectors need; use a *ForMaskedLM or BertForPreTraining checkpoint (SPLADE models are saved as one)".into(),
                ));
            }
            _ => Vec::new(),
        };
        let sparse = sparse.map(|(buf, _)| buf);
        let nsp_logits = match (&model.nsp, &pooled, key.nsp) {
            (Some((w, b)), Some(pooled), true) => {
                let out = k.float_buffer("nsp.logits", batch * 2)?;
                d.push(k.gemm(
                    "nsp",
                    &GemmParams::new(batch, 2, h, Act::Identity),
                    [pooled, w, b, &out],
                )?);
                Some(out)
            }
            (_, _, true) => {
                return Err(Error::Unsupported(
                    "this checkpoint has no next-sentence head (cls.seq_relationship.* on a pooler); use a BertForPreTraining or BertForNextSentencePrediction checkpoint".into(),
                ));
            }
            _ => None,
        };

        let mut scratch: Vec<wgpu::Buffer> = slots.into_iter().map(|(_, b)| b).collect();
        scratch.push(emb_out);
        scratch.extend(rope_tables.into_iter().map(|(_, t)| t));
        scratch.extend(relative);
        scratch.extend(head_scratch);
        scratch.extend(token_scratch);
        scratch.extend(dense_bufs);
        scratch.extend(head_hidden);
        scratch.extend(word_rows);
        ctx.check_errors()?;
        Ok(Plan {
            key,
            kernels: model.kernels.clone(),
            hidden: h,
            emb_dim,
            vocab: c.vocab_size,
            ids,
            types,
            mask,
            layer_out,
            last,
            final_out,
            pooled,
            embedding,
            logits,
            mlm_logits,
            nsp_logits,
            sparse,
            token_vectors,
            token_weights,
            token_dim: model.token_dim(),
            dispatches: d,
            staging: Vec::new(),
            _scratch: scratch,
        })
    }

    /// The key this plan serves.
    pub fn key(&self) -> PlanKey {
        self.key
    }

    /// The recorded kernel calls, in order.
    pub fn dispatches(&self) -> &[Dispatch] {
        &self.dispatches
    }

    fn upload(&self, ctx: &GpuContext, ids: &[u32], types: &[u32], mask: &[u32]) -> Result<()> {
        let m = self.key.batch * self.key.seq;
        if ids.len() != m || types.len() != m || mask.len() != m {
            return Err(Error::Shape(format!(
                "plan is for {} x {} = {m} tokens, got ids {}, types {}, mask {}",
                self.key.batch,
                self.key.seq,
                ids.len(),
                types.len(),
                mask.len()
            )));
        }
        ctx.queue
            .write_buffer(&self.ids, 0, bytemuck::cast_slice(ids));
        ctx.queue
            .write_buffer(&self.types, 0, bytemuck::cast_slice(types));
        ctx.queue
            .write_buffer(&self.mask, 0, bytemuck::cast_slice(mask));
        Ok(())
    }

    /// Runs one forward pass with a GPU timestamp around every dispatch and returns the time
    /// of each, in plan order. Needs TIMESTAMP_QUERY and TIMESTAMP_QUERY_INSIDE_PASSES.
    pub fn profile(
        &mut self,
        ctx: &GpuContext,
        ids: &[u32],
        types: &[u32],
        mask: &[u32],
    ) -> Result<Vec<KernelTime>> {
        let needed =
            wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES;
        if !ctx.features.contains(needed) {
            return Err(Error::Unsupported(format!(
                "{} has no timestamp queries inside compute passes, so per-kernel GPU times are unavailable",
                ctx.info.name
            )));
        }
        self.upload(ctx, ids, types, mask)?;
        let n = self.dispatches.len() as u32 + 1;
        let qs = ctx.device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("profile"),
            ty: wgpu::QueryType::Timestamp,
            count: n,
        });
        let size = n as u64 * 8;
        let resolve = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("profile.resolve"),
            size,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let staging = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("profile.staging"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("profile"),
            });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("profile"),
                timestamp_writes: None,
            });
            for (i, d) in self.dispatches.iter().enumerate() {
                pass.write_timestamp(&qs, i as u32);
                d.record(&mut pass);
            }
            pass.write_timestamp(&qs, n - 1);
        }
        encoder.resolve_query_set(&qs, 0..n, &resolve, 0);
        encoder.copy_buffer_to_buffer(&resolve, 0, &staging, 0, size);
        let index = ctx.queue.submit(Some(encoder.finish()));
        let bytes = ctx
            .wait_bytes(index, &[(&staging, size as usize)])?
            .pop()
            .unwrap_or_default();
        let ticks: Vec<u64> = bytemuck::pod_collect_to_vec(&bytes);
        let period_ns = ctx.queue.get_timestamp_period() as f64;
        Ok(self
            .dispatches
            .iter()
            .enumerate()
            .map(|(i, d)| KernelTime {
                label: d.label.clone(),
                kernel: d.kernel,
                seconds: ticks
                    .get(i + 1)
                    .zip(ticks.get(i))
                    .map_or(0.0, |(b, a)| b.saturating_sub(*a) as f64 * period_ns * 1e-9),
            })
            .collect())
    }

    /// Runs one forward pass on packed ids (`batch·seq` each) and copies back what `request`
    /// asks for. One compute pass, one submission, no host read between layers.
    pub fn forward(
        &mut self,
        ctx: &GpuContext,
        ids: &[u32],
        types: &[u32],
        mask: &[u32],
        request: &Request,
    ) -> Result<ForwardOutput> {
        crate::gpu::block_on(self.forward_async(ctx, ids, types, mask, request))
    }

    /// [`Plan::forward`] as a future: the readback is awaited ([`GpuContext::read_bytes`]).
    pub async fn forward_async(
        &mut self,
        ctx: &GpuContext,
        ids: &[u32],
        types: &[u32],
        mask: &[u32],
        request: &Request,
    ) -> Result<ForwardOutput> {
        let (b, s, h) = (self.key.batch, self.key.seq, self.hidden);
        let m = b * s;
        if request.encoder_outputs && !self.key.all_layers {
            return Err(Error::Shape(
                "this plan does not keep every layer; build it with encoder_outputs".into(),
            ));
        }
        if request.pooled_output && self.pooled.is_none() {
            return Err(Error::Unsupported(
                "this checkpoint has no pooler (pooler.dense.*), so pooled_output is unavailable; ask for sequence_output or the embedding".into(),
            ));
        }
        self.upload(ctx, ids, types, mask)?;

        // Sources to copy back, in a fixed order.
        let mut sources: Vec<(&wgpu::Buffer, usize)> = Vec::new();
        if request.pooled_output {
            sources.push((self.pooled.as_ref().unwrap_or(&self.embedding), b * h));
        }
        if request.embedding {
            sources.push((&self.embedding, b * self.emb_dim));
        }
        if request.sequence_output {
            sources.push((
                self.final_out
                    .as_ref()
                    .unwrap_or(&self.layer_out[self.last]),
                m * h,
            ));
        }
        if request.encoder_outputs {
            for buf in &self.layer_out {
                sources.push((buf, m * h));
            }
        }
        if request.logits {
            let (buf, labels) = self.logits.as_ref().ok_or_else(|| {
                Error::Unsupported(
                    "this checkpoint has no sequence-classification head (classifier.*) and pooler"
                        .into(),
                )
            })?;
            sources.push((buf, b * labels));
        }
        if request.mlm {
            if self.mlm_logits.is_empty() {
                return Err(Error::Device(
                    "plan without the masked-word head's output".into(),
                ));
            }
            for blk in &self.mlm_logits {
                sources.push((&blk.buf, blk.rows * blk.cols));
            }
        }
        if request.nsp {
            let buf = self.nsp_logits.as_ref().ok_or_else(|| {
                Error::Device("plan without the next-sentence head's output".into())
            })?;
            sources.push((buf, b * 2));
        }
        if request.multi_vector {
            let buf = self
                .token_vectors
                .as_ref()
                .ok_or_else(|| Error::Device("plan without the token vectors".into()))?;
            sources.push((buf, m * self.token_dim));
        }
        if request.token_weights {
            let buf = self
                .token_weights
                .as_ref()
                .ok_or_else(|| Error::Device("plan without the token weights".into()))?;
            sources.push((buf, m));
        }
        if request.sparse.is_some() {
            let buf = self
                .sparse
                .as_ref()
                .ok_or_else(|| Error::Device("plan without the SPLADE output".into()))?;
            sources.push((buf, b * self.vocab));
        }
        let e = self.kernels.precision().bytes();
        let bytes_of = |len: usize| (len * e).next_multiple_of(4);
        // Staging buffers are kept between calls; one is replaced when a later request needs more.
        self.staging.truncate(sources.len());
        for (i, (_, len)) in sources.iter().enumerate() {
            if self
                .staging
                .get(i)
                .is_some_and(|b| b.size() < bytes_of(*len) as u64)
            {
                self.staging.truncate(i);
            }
        }
        while self.staging.len() < sources.len() {
            let i = self.staging.len();
            let size = bytes_of(sources[i].1);
            self.staging
                .push(ctx.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(&format!("staging{i}")),
                    size: size.max(4) as u64,
                    usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                }));
        }

        let mut encoder = ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("forward"),
            });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("forward"),
                timestamp_writes: None,
            });
            for d in &self.dispatches {
                d.record(&mut pass);
            }
        }
        for ((src, len), st) in sources.iter().zip(&self.staging) {
            encoder.copy_buffer_to_buffer(src, 0, st, 0, bytes_of(*len) as u64);
        }
        let index = ctx.queue.submit(Some(encoder.finish()));
        let staged: Vec<(&wgpu::Buffer, usize)> = sources
            .iter()
            .zip(&self.staging)
            .map(|((_, l), st)| (st, l * e))
            .collect();
        let mut got = ctx
            .read_bytes(index, &staged)
            .await?
            .into_iter()
            .map(|b| self.kernels.decode(&b));

        let mut out = ForwardOutput::default();
        if request.pooled_output {
            out.pooled_output = got.next();
        }
        if request.embedding {
            out.embedding = got.next();
        }
        if request.sequence_output {
            out.sequence_output = got.next();
        }
        if request.encoder_outputs {
            let layers = self.layer_out.len();
            out.encoder_outputs = Some(got.by_ref().take(layers).collect());
        }
        if request.logits {
            out.logits = got.next();
        }
        if request.mlm {
            // Blocks of rows × vocabulary columns back into `[B·S, V]`.
            let v = self.vocab;
            let mut all = vec![0f32; m * v];
            for (blk, data) in self.mlm_logits.iter().zip(got.by_ref()) {
                for r in 0..blk.rows {
                    let dst = (blk.row0 + r) * v + blk.col0;
                    all[dst..dst + blk.cols]
                        .copy_from_slice(&data[r * blk.cols..(r + 1) * blk.cols]);
                }
            }
            out.mlm_logits = Some(all);
        }
        if request.nsp {
            out.nsp_logits = got.next();
        }
        if request.multi_vector {
            out.token_vectors = got.next();
        }
        if request.token_weights {
            out.token_weights = got.next();
        }
        if request.sparse.is_some() {
            out.sparse = got.next();
        }
        Ok(out)
    }
}
