//! The `wgbert` command line: `encode` (JSON Lines contract), `preprocess`, `info`.

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use wgbert::{Engine, EngineOptions, GpuContext, GpuOptions, Input, Pooling, Request};

mod cli;
use cli::embed::Format;

#[derive(Parser)]
#[command(
    name = "wgbert",
    version,
    about = "BERT inference on any GPU through wgpu"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct ModelArgs {
    /// Model folder (config.json, tokenizer.json, model.safetensors). Default: $WGBERT_MODEL,
    /// then assets/models/all-MiniLM-L6-v2.
    #[arg(long, value_name = "DIR")]
    model: Option<PathBuf>,
    /// Adapter to use: a substring of its name (overrides WGPU_ADAPTER_NAME).
    #[arg(long, value_name = "NAME")]
    adapter: Option<String>,
    /// Storage precision of weights and activations (f16 needs the adapter's SHADER_F16;
    /// arithmetic stays f32).
    #[arg(long, value_enum, default_value_t = PrecisionArg::F32)]
    precision: PrecisionArg,
}

/// Storage precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum PrecisionArg {
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
struct ServerArgs {
    /// Most real tokens in one forward pass (requests are merged up to it and split beyond it).
    #[arg(long, default_value_t = 16384, value_name = "N")]
    max_batch_tokens: usize,
    /// Most inputs in one request (more: 413).
    #[arg(long, default_value_t = 2048, value_name = "N")]
    max_client_batch: usize,
    /// Most requests queued or running at once (more: 429 with Retry-After).
    #[arg(long, default_value_t = 512, value_name = "N")]
    max_concurrent_requests: usize,
    /// Largest request body in bytes (more: 413).
    #[arg(long, default_value_t = 4 << 20, value_name = "N")]
    max_body_bytes: usize,
    /// A head from `wgbert train-head` for POST /predict.
    #[arg(long, value_name = "FILE")]
    head: Option<PathBuf>,
    /// Seconds to let in-flight requests finish after SIGINT/SIGTERM.
    #[arg(long, default_value_t = 30, value_name = "S")]
    drain_seconds: u64,
    /// Milliseconds the queue must be quiet before a forward pass starts, so that a burst of
    /// requests shares one pass (at most 10× this is waited; 0: never wait).
    #[arg(long, default_value_t = 2, value_name = "MS")]
    batch_wait_ms: u64,
}

fn serve_options(
    m: &ModelArgs,
    s: &ServerArgs,
    host: String,
    port: u16,
    api_key: Option<String>,
) -> Result<cli::serve::ServeOptions> {
    let dir = wgbert::resolve_model_dir(m.model.as_deref());
    if !dir.is_dir() {
        bail!(
            "model folder {} not found; fetch the default model with scripts/fetch-model.sh, or pass --model DIR / set WGBERT_MODEL",
            dir.display()
        );
    }
    if s.max_batch_tokens == 0 || s.max_client_batch == 0 || s.max_concurrent_requests == 0 {
        bail!(
            "--max-batch-tokens, --max-client-batch and --max-concurrent-requests must be at least 1"
        );
    }
    Ok(cli::serve::ServeOptions {
        engine: EngineOptions {
            gpu: GpuOptions {
                adapter_name: m.adapter.clone(),
                ..Default::default()
            },
            precision: m.precision.into(),
            max_batch: 64,
            ..Default::default()
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
    })
}

#[derive(Args, Clone)]
struct InputArgs {
    /// Read inputs from FILE, one per line (only \n separates; a trailing \r is dropped).
    /// `A ||| B` is a sentence pair.
    #[arg(long, value_name = "FILE")]
    input: Option<PathBuf>,
    /// Inputs as arguments; `A ||| B` is a sentence pair.
    #[arg(value_name = "TEXT")]
    texts: Vec<String>,
    /// Replace invalid UTF-8 in the input file with U+FFFD instead of stopping with an error.
    #[arg(long)]
    lossy: bool,
}

/// Pooling of sentence embeddings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum PoolingArg {
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
enum Command {
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
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
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
        /// Random weights of this shape (no files needed): bert-base or minilm-l6.
        #[arg(long, default_value = "minilm-l6", conflicts_with = "model", value_parser = ["bert-base", "minilm-l6"])]
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

fn gather_inputs(args: &InputArgs) -> Result<Vec<Input>> {
    let lines = cli::input::gather(args.input.as_deref(), &args.texts, args.lossy)?;
    Ok(lines.iter().map(|l| Input::parse(l)).collect())
}

fn gather_texts(args: &InputArgs) -> Result<Vec<String>> {
    cli::input::gather(args.input.as_deref(), &args.texts, args.lossy)
}

fn open_engine(m: &ModelArgs, seq_len: usize) -> Result<Engine> {
    open_engine_with(m, seq_len, 32)
}

/// TF-Hub's 128, or the model's longest input if that is shorter.
fn default_len(m: &ModelArgs) -> usize {
    let dir = wgbert::resolve_model_dir(m.model.as_deref());
    let max = wgbert::BertConfig::from_file(&dir.join("config.json"))
        .map_or(wgbert::DEFAULT_SEQ_LENGTH, |c| c.max_seq_length());
    wgbert::DEFAULT_SEQ_LENGTH.min(max)
}

/// For commands without a --seq-len: [`default_len`].
fn open_engine_default_len(m: &ModelArgs) -> Result<Engine> {
    open_engine(m, default_len(m))
}

fn open_engine_with(m: &ModelArgs, seq_len: usize, max_batch: usize) -> Result<Engine> {
    open_engine_opts(m, seq_len, max_batch, |_| {})
}

fn open_engine_opts(
    m: &ModelArgs,
    seq_len: usize,
    max_batch: usize,
    adjust: impl FnOnce(&mut EngineOptions),
) -> Result<Engine> {
    let dir = wgbert::resolve_model_dir(m.model.as_deref());
    if !dir.is_dir() {
        bail!(
            "model folder {} not found; fetch the default model with scripts/fetch-model.sh, or pass --model DIR / set WGBERT_MODEL",
            dir.display()
        );
    }
    let opts = EngineOptions {
        gpu: GpuOptions {
            adapter_name: m.adapter.clone(),
            backends: None,
            ..Default::default()
        },
        seq_length: seq_len.max(2),
        max_batch: max_batch.max(1),
        precision: m.precision.into(),
        ..Default::default()
    };
    let mut opts = opts;
    adjust(&mut opts);
    Ok(Engine::from_dir(&dir, opts)?)
}

fn write_floats(w: &mut impl Write, v: &[f32]) -> std::io::Result<()> {
    w.write_all(b"[")?;
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        // serde_json prints the shortest string that round-trips the f32.
        w.write_all(
            serde_json::to_string(x)
                .unwrap_or_else(|_| "null".into())
                .as_bytes(),
        )?;
    }
    w.write_all(b"]")
}

fn write_matrix(w: &mut impl Write, v: &[f32], width: usize) -> std::io::Result<()> {
    w.write_all(b"[")?;
    for (i, row) in v.chunks(width.max(1)).enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        write_floats(w, row)?;
    }
    w.write_all(b"]")
}

fn fmt_head(v: &[f32], n: usize) -> String {
    let head: Vec<String> = v.iter().take(n).map(|x| format!("{x:.4}")).collect();
    format!(
        "[{}{}]",
        head.join(", "),
        if v.len() > n { ", …" } else { "" }
    )
}

/// The tutorial's view of the outputs: keys, shapes, first values.
fn print_summary(engine: &Engine, enc: &[wgbert::Encoded], seq_len: usize) {
    let (b, h, l) = (
        enc.len(),
        engine.config().hidden_size,
        engine.config().num_hidden_layers,
    );
    let mut keys = vec!["sequence_output", "encoder_outputs", "embedding"];
    if engine.has_pooler() {
        keys.insert(0, "pooled_output");
    }
    println!("Keys                     : {keys:?}");
    if let Some(p) = enc[0].pooled_output.as_ref() {
        println!("Pooled Outputs Shape     : [{b}, {h}]");
        println!("Pooled Outputs Values    : {}", fmt_head(p, 6));
    }
    println!("Sequence Outputs Shape   : [{b}, {seq_len}, {h}]");
    for s in 0..3.min(seq_len) {
        let row = enc[0].sequence_row(s).unwrap_or(&[]);
        println!("Sequence Outputs [0, {s}]  : {}", fmt_head(row, 6));
    }
    println!(
        "Encoder Outputs          : {l} layers, each [{b}, {seq_len}, {h}]; the last equals sequence_output"
    );
    if let Some(e) = enc[0].embedding.as_ref() {
        println!("Embedding Shape          : [{b}, {h}] (mean pooled, L2-normalised)");
        println!("Embedding Values         : {}", fmt_head(e, 6));
    }
}

fn cmd_encode(
    model: &ModelArgs,
    inputs: &InputArgs,
    seq_len: usize,
    all_layers: bool,
    summary: bool,
) -> Result<()> {
    let inputs = gather_inputs(inputs)?;
    let engine = open_engine(model, seq_len)?;
    if summary {
        let request = Request {
            pooled_output: engine.has_pooler(),
            sequence_output: true,
            ..Default::default()
        };
        let enc = engine.encode(&inputs, Some(seq_len), &request)?;
        print_summary(&engine, &enc, seq_len);
        return Ok(());
    }
    let request = Request {
        pooled_output: engine.has_pooler(),
        sequence_output: true,
        encoder_outputs: all_layers,
        embedding: true,
        ..Default::default()
    };
    let stdout = std::io::stdout();
    let mut w = BufWriter::new(stdout.lock());
    // Encode in slices so memory stays bounded on large files; output stays in input order.
    for chunk in inputs.chunks(256) {
        let packed = engine.preprocess(chunk, Some(seq_len))?;
        let encoded = engine.encode_packed(packed, &request)?;
        for e in &encoded {
            let p = &e.packed;
            w.write_all(b"{\"tokens\":")?;
            serde_json::to_writer(&mut w, &p.tokens)?;
            w.write_all(b",\"input_word_ids\":")?;
            serde_json::to_writer(&mut w, &p.input_word_ids)?;
            w.write_all(b",\"input_mask\":")?;
            serde_json::to_writer(&mut w, &p.input_mask)?;
            w.write_all(b",\"input_type_ids\":")?;
            serde_json::to_writer(&mut w, &p.input_type_ids)?;
            if let Some(v) = &e.pooled_output {
                w.write_all(b",\"pooled_output\":")?;
                write_floats(&mut w, v)?;
            }
            if let Some(v) = &e.sequence_output {
                w.write_all(b",\"sequence_output\":")?;
                write_matrix(&mut w, v, e.hidden)?;
            }
            if let Some(v) = &e.embedding {
                w.write_all(b",\"embedding\":")?;
                write_floats(&mut w, v)?;
            }
            if let Some(layers) = &e.encoder_outputs {
                w.write_all(b",\"encoder_outputs\":[")?;
                for (i, l) in layers.iter().enumerate() {
                    if i > 0 {
                        w.write_all(b",")?;
                    }
                    write_matrix(&mut w, l, e.hidden)?;
                }
                w.write_all(b"]")?;
            }
            w.write_all(b"}\n")?;
        }
    }
    w.flush()?;
    Ok(())
}

fn cmd_preprocess(model: &ModelArgs, inputs: &InputArgs, seq_len: usize) -> Result<()> {
    let inputs = gather_inputs(inputs)?;
    let dir = wgbert::resolve_model_dir(model.model.as_deref());
    let tok = dir.join("tokenizer.json");
    if !tok.exists() {
        bail!(
            "no tokenizer.json in {}; fetch the default model with scripts/fetch-model.sh, or pass --model DIR",
            dir.display()
        );
    }
    let config = wgbert::BertConfig::from_file(&dir.join("config.json"))?;
    if seq_len > config.max_seq_length() {
        bail!(
            "--seq-len {seq_len} is above this model's longest input, {}; use at most {}",
            config.describe_max_seq_length(),
            config.max_seq_length()
        );
    }
    let pre = wgbert::Preprocessor::from_file(&tok)?;
    let mut out = std::io::stdout().lock();
    let specials: Vec<String> = pre
        .template()
        .pair
        .iter()
        .map(|p| match p {
            wgbert::preprocess::Piece::Special { token, id, .. } => format!("{token}={id}"),
            wgbert::preprocess::Piece::Segment { index, .. } => ["A", "B"][*index].to_string(),
        })
        .collect();
    let pad = pre.pad_id();
    writeln!(out, "template: {}; padding id {pad}", specials.join(" "))?;
    for input in &inputs {
        let p = pre.pack(input, seq_len)?;
        let n = p.len();
        let show = |v: &[u32]| format!("{:?}", &v[..n]);
        match input {
            Input::Single(a) => writeln!(out, "{a:?}")?,
            Input::Pair(a, b) => writeln!(out, "{a:?} ||| {b:?}")?,
        }
        writeln!(out, "  tokens          {:?}", p.tokens)?;
        writeln!(
            out,
            "  input_word_ids  {} + {} x {pad}",
            show(&p.input_word_ids),
            seq_len - n
        )?;
        writeln!(
            out,
            "  input_mask      {} + {} x 0",
            show(&p.input_mask),
            seq_len - n
        )?;
        writeln!(
            out,
            "  input_type_ids  {} + {} x 0",
            show(&p.input_type_ids),
            seq_len - n
        )?;
        writeln!(
            out,
            "  shape           [1, {seq_len}] each; {n} real tokens"
        )?;
    }
    Ok(())
}

fn cmd_shaders(dump: Option<&Path>) -> Result<()> {
    match dump {
        Some(dir) => {
            let written = wgbert::shaders::dump(dir)?;
            println!(
                "wrote {} shader variants to {}",
                written.len(),
                dir.display()
            );
        }
        None => {
            for v in wgbert::kernels::ShaderVariant::all() {
                let d = wgbert::shaders::describe(&v, false);
                println!("{}  needs [{}]", d.name, d.needs.join(", "));
            }
        }
    }
    Ok(())
}

fn cmd_info(model: &ModelArgs) -> Result<()> {
    let ctx = GpuContext::new(&GpuOptions {
        adapter_name: model.adapter.clone(),
        backends: None,
        ..Default::default()
    })?;
    let i = &ctx.info;
    println!("adapter      {}", i.name);
    println!("backend      {:?}", i.backend);
    println!("device type  {:?}", i.device_type);
    println!("driver       {} {}", i.driver, i.driver_info);
    println!("features     {:?}", ctx.features);
    println!("cooperative matrix  {}", ctx.coop_summary());
    println!(
        "subgroups    {}",
        if ctx.has(wgpu::Features::SUBGROUP) {
            format!(
                "{}..{} invocations",
                i.subgroup_min_size, i.subgroup_max_size
            )
        } else {
            "none".to_string()
        }
    );
    let l = &ctx.limits;
    println!(
        "limits       max_storage_buffer_binding_size {} B, max_buffer_size {} B,",
        l.max_storage_buffer_binding_size, l.max_buffer_size
    );
    println!(
        "             max_compute_workgroup_storage_size {} B, max_compute_invocations_per_workgroup {}, max_compute_workgroups_per_dimension {}",
        l.max_compute_workgroup_storage_size,
        l.max_compute_invocations_per_workgroup,
        l.max_compute_workgroups_per_dimension
    );
    let dir = wgbert::resolve_model_dir(model.model.as_deref());
    match wgbert::BertConfig::from_file(&dir.join("config.json")) {
        Ok(c) => println!(
            "model        {}: {}, {} layers, hidden {}, {} heads, intermediate {}, vocab {}, max positions {}, {}",
            dir.display(),
            c.model_type.as_deref().unwrap_or("bert"),
            c.num_hidden_layers,
            c.hidden_size,
            c.num_attention_heads,
            c.intermediate_size,
            c.vocab_size,
            c.max_position_embeddings,
            c.hidden_act
        ),
        Err(e) => println!("model        {} ({e})", dir.display()),
    }
    match wgbert::SentenceConfig::from_dir(&dir) {
        Ok(s) => println!("embedding    {}", s.describe()),
        Err(e) => println!("embedding    ({e})"),
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn cmd_embed(
    model: &ModelArgs,
    inputs: &InputArgs,
    pooling: Option<Pooling>,
    normalize: Option<bool>,
    format: Format,
    output: Option<&Path>,
    seq_len: Option<usize>,
    batch_size: usize,
    quiet: bool,
) -> Result<()> {
    if inputs.input.is_some() && !inputs.texts.is_empty() {
        bail!("pass either TEXT arguments or --input FILE, not both");
    }
    if inputs.input.is_none() && inputs.texts.is_empty() {
        bail!("no inputs: pass TEXT arguments or --input FILE");
    }
    if let Some(p) = &inputs.input {
        // Fail on a missing input before spending time on the model.
        std::fs::metadata(p).with_context(|| format!("cannot open input file {}", p.display()))?;
    }
    let engine = open_engine_opts(model, default_len(model), batch_size, |o| {
        o.pooling = pooling;
        o.normalize = normalize;
        o.embed_seq_length = seq_len;
    })?;
    let (pooling, normalize) = (engine.pooling(), engine.normalize());
    if pooling == Pooling::Pooler && !engine.has_pooler() {
        bail!(
            "this checkpoint has no pooler (pooler.dense.*), so it has no pooled_output; use --pooling mean, cls, max or mean-sqrt-len"
        );
    }
    let source = match &inputs.input {
        Some(p) => cli::embed::Source::File {
            path: p,
            lossy: inputs.lossy,
        },
        None => cli::embed::Source::Args(&inputs.texts),
    };
    let job = cli::embed::EmbedJob {
        source,
        pooling,
        normalize,
        format,
        output,
        quiet,
    };
    cli::embed::run(&engine, &job)
}

fn cmd_bench(cfg: &wgbert::bench::BenchConfig, json: bool) -> Result<()> {
    let r = wgbert::bench::run(cfg)?;
    if json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!("adapter        {} ({}, {})", r.adapter, r.backend, r.driver);
        println!(
            "kernels        gemm {} (small M: {}), {}, {} reductions",
            r.gemm, r.gemm_small_m, r.attention, r.reduce
        );
        println!(
            "model          {} {} (batch {} x seq {}, fill {}, {} padding, ran seq {})",
            r.shape, r.precision, r.batch, r.seq_len, r.fill, r.padding, r.run_seq_len
        );
        println!(
            "load           {:.3} s; first forward {:.3} s",
            r.load_s, r.first_forward_s
        );
        println!(
            "median         {:.4} s (min {:.4} s, {} iters)",
            r.median_s, r.min_s, r.iters
        );
        println!(
            "throughput     {:.2} seq/s, {:.1} real tokens/s, {:.2} GFLOP/s",
            r.seq_per_s, r.real_tokens_per_s, r.gflop_per_s
        );
        if let Some(rows) = &r.profile {
            println!("profile        GPU time of one forward, by kernel:");
            for row in rows {
                println!(
                    "  {:<40} {:>4} calls {:>10.3} ms {:>6.1} %",
                    row.kernel,
                    row.calls,
                    row.seconds * 1e3,
                    row.share * 100.0
                );
            }
        }
    }
    Ok(())
}

fn main() {
    // Like other Unix filters, end quietly when the reader of stdout goes away (`| head`)
    // instead of panicking on the broken pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("warn,wgpu_hal=off"),
    )
    .init();
    let cli = Cli::parse();
    let r = match &cli.command {
        Command::Encode {
            model,
            inputs,
            seq_len,
            all_layers,
            summary,
        } => cmd_encode(model, inputs, *seq_len, *all_layers, *summary),
        Command::Preprocess {
            model,
            inputs,
            seq_len,
        } => cmd_preprocess(model, inputs, *seq_len),
        Command::Info { model } => cmd_info(model),
        Command::Shaders { dump } => cmd_shaders(dump.as_deref()),
        Command::Serve {
            model,
            server,
            host,
            port,
            api_key,
        } => serve_options(model, server, host.clone(), *port, api_key.clone())
            .and_then(|o| cli::serve::serve(o, None, None)),
        Command::BenchServe {
            model,
            server,
            clients,
            requests,
            json,
        } => serve_options(model, server, "127.0.0.1".into(), 0, None).and_then(|o| {
            cli::serve::bench::run(cli::serve::bench::BenchServeOptions {
                serve: o,
                clients: *clients,
                requests: *requests,
                json: *json,
            })
        }),
        Command::Rerank {
            model,
            query,
            docs,
            input,
            lossy,
            format,
            raw_scores,
            seq_len,
        } => (|| {
            let docs = cli::input::gather(input.as_deref(), docs, *lossy)?;
            let engine = open_engine_default_len(model)?;
            cli::rerank::run(
                &engine,
                &cli::rerank::RerankJob {
                    query,
                    docs: &docs,
                    jsonl: format == "jsonl",
                    raw: *raw_scores,
                    seq_len: *seq_len,
                },
            )
        })(),
        Command::Ner {
            model,
            inputs,
            format,
        } => (|| {
            let texts = gather_texts(inputs)?;
            let engine = open_engine_default_len(model)?;
            let inputs: Vec<Input> = texts.iter().map(|t| Input::Single(t.clone())).collect();
            let found = engine.ner(&inputs)?;
            let mut o = std::io::stdout().lock();
            for (i, (text, ents)) in texts.iter().zip(&found).enumerate() {
                if format == "jsonl" {
                    serde_json::to_writer(&mut o, ents)?;
                    writeln!(o)?;
                    continue;
                }
                writeln!(o, "[{i}] {text}")?;
                for e in ents {
                    writeln!(
                        o,
                        "  {:<8} {:?} {}..{} {:.4}",
                        e.entity_group, e.word, e.start, e.end, e.score
                    )?;
                }
            }
            Ok(())
        })(),
        Command::TrainHead {
            model,
            data,
            out,
            holdout,
            seed,
            epochs,
        } => (|| {
            let engine = open_engine_default_len(model)?;
            cli::head::train(&engine, data, out, *holdout, *seed, *epochs)
        })(),
        Command::Classify {
            model,
            inputs,
            head,
            format,
        } => (|| {
            let texts = gather_texts(inputs)?;
            let engine = open_engine_default_len(model)?;
            match head {
                Some(head) => cli::head::classify(&engine, head, &texts, format == "jsonl"),
                None => cli::head::classify_checkpoint(&engine, &texts, format == "jsonl"),
            }
        })(),
        Command::Embed {
            model,
            inputs,
            pooling,
            normalize,
            no_normalize,
            format,
            output,
            seq_len,
            batch_size,
            quiet,
        } => cmd_embed(
            model,
            inputs,
            pooling.map(Into::into),
            match (normalize, no_normalize) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            },
            *format,
            output.as_deref(),
            *seq_len,
            *batch_size,
            *quiet,
        ),
        Command::Similarity { model, inputs } => (|| {
            let texts = gather_texts(inputs)?;
            let engine = open_engine_default_len(model)?;
            cli::explore::similarity(&engine, &texts)
        })(),
        Command::Words {
            model,
            inputs,
            word,
            json,
        } => (|| {
            let texts = gather_texts(inputs)?;
            let engine = open_engine_default_len(model)?;
            cli::explore::words(&engine, &texts, word, *json)
        })(),
        Command::Bench {
            shape,
            model,
            batch,
            seq_len,
            fill,
            iters,
            warmup,
            full_padding,
            adapter,
            json,
            profile,
            precision,
        } => {
            let cfg = wgbert::bench::BenchConfig {
                model: match model {
                    Some(d) => wgbert::bench::BenchModel::Dir(d.clone()),
                    None => wgbert::bench::BenchModel::Shape(shape.clone()),
                },
                batch: *batch,
                seq_len: *seq_len,
                fill: *fill,
                iters: *iters,
                warmup: *warmup,
                full_padding: *full_padding,
                profile: *profile,
                precision: (*precision).into(),
                gpu: GpuOptions {
                    adapter_name: adapter.clone(),
                    backends: None,
                    ..Default::default()
                },
            };
            cmd_bench(&cfg, *json)
        }
    };
    if let Err(e) = r {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
