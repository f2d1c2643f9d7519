//! `wgbert embed`: sentence embeddings for arguments or a file of any size, streamed in chunks
//! (memory bounded by the chunk, not the file), written as JSON Lines, CSV or `.npy`, in input
//! order, atomically when written to a file (temporary file + rename); with `--sparse`, SPLADE
//! vectors as JSON Lines.

use super::args::{Format, InputArgs, ModelArgs};
use super::common::{default_len, open_engine_opts};
use super::input::{LineReader, count_lines};
use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use wgbert::npy::NpyWriter;
use wgbert::{Engine, Input, Pooling, SparseEmbedding};

/// Inputs processed per chunk; bounds memory whatever the file size.
const CHUNK: usize = 2048;

enum Sink<W: Write> {
    Jsonl(W),
    Csv(W),
    Npy(NpyWriter<W>),
}

impl<W: Write> Sink<W> {
    fn row(&mut self, v: &[f32]) -> Result<()> {
        match self {
            Sink::Jsonl(w) => {
                w.write_all(b"{\"embedding\":")?;
                serde_json::to_writer(&mut *w, v)?;
                w.write_all(b"}\n")?;
            }
            Sink::Csv(w) => {
                for (i, x) in v.iter().enumerate() {
                    if i > 0 {
                        w.write_all(b",")?;
                    }
                    write!(w, "{x}")?;
                }
                w.write_all(b"\n")?;
            }
            Sink::Npy(w) => w.write_row(v)?,
        }
        Ok(())
    }

    /// One SPLADE vector: `{"indices": [...], "values": [...], "tokens": [...]}`.
    fn sparse_row(&mut self, v: &SparseEmbedding, engine: &Engine) -> Result<()> {
        let Sink::Jsonl(w) = self else {
            bail!("sparse vectors are written as JSON Lines; drop --format or pass --format jsonl");
        };
        let pre = engine.preprocessor()?;
        let tokens: Vec<String> = v
            .indices
            .iter()
            .map(|&i| pre.id_to_token(i).unwrap_or_default())
            .collect();
        serde_json::to_writer(
            &mut *w,
            &serde_json::json!({"indices": v.indices, "values": v.values, "tokens": tokens}),
        )?;
        w.write_all(b"\n")?;
        Ok(())
    }

    fn finish(self) -> Result<W> {
        Ok(match self {
            Sink::Jsonl(mut w) | Sink::Csv(mut w) => {
                w.flush()?;
                w
            }
            Sink::Npy(w) => w.finish()?,
        })
    }
}

/// Where inputs come from.
pub enum Source<'a> {
    /// TEXT arguments.
    Args(&'a [String]),
    /// A file, streamed.
    File { path: &'a Path, lossy: bool },
}

/// What `wgbert embed` was asked to do.
pub struct EmbedJob<'a> {
    pub source: Source<'a>,
    /// Prompt and Matryoshka width (pooling and normalisation are the engine's).
    pub embed: wgbert::EmbedOptions,
    pub format: Format,
    pub output: Option<&'a Path>,
    pub quiet: bool,
    /// SPLADE vectors instead of dense ones.
    pub sparse: Option<Sparse>,
}

/// `--multi-vector`: ColBERT vectors of queries or documents.
#[derive(Clone, Copy, Debug)]
pub struct Multi {
    pub query: bool,
}

/// `--multi-vector`: each input's token vectors as one JSON line, or one `.npy` per input in
/// the folder `output` (written whole into a temporary folder, renamed when complete).
fn run_multi(
    engine: &Engine,
    source: &Source,
    multi: Multi,
    format: Format,
    output: Option<&Path>,
) -> Result<()> {
    let texts: Vec<String> = match source {
        Source::Args(t) => t.to_vec(),
        Source::File { path, lossy } => {
            LineReader::open(path, *lossy)?.collect::<Result<Vec<String>>>()?
        }
    };
    if texts.is_empty() {
        bail!(
            "no inputs: the input file is empty; pass TEXT arguments or a file with one input per line"
        );
    }
    let pre = engine.preprocessor()?;
    match format {
        Format::Jsonl => {
            let mut lines = Vec::new();
            for chunk in texts.chunks(CHUNK) {
                let inputs: Vec<Input> = chunk.iter().map(|t| Input::from(t.as_str())).collect();
                for v in engine.embed_multi(&inputs, multi.query)? {
                    let tokens: Vec<String> = v
                        .ids
                        .iter()
                        .map(|&i| pre.id_to_token(i).unwrap_or_default())
                        .collect();
                    let vectors: Vec<&[f32]> = (0..v.len()).map(|i| v.row(i)).collect();
                    lines.push(serde_json::to_string(
                        &serde_json::json!({"ids": v.ids, "tokens": tokens, "vectors": vectors}),
                    )?);
                }
            }
            let text = lines.join("\n") + "\n";
            match output {
                None => std::io::stdout().lock().write_all(text.as_bytes())?,
                Some(p) => {
                    let tmp = temp_path(p);
                    std::fs::write(&tmp, text)
                        .with_context(|| format!("cannot write {}", tmp.display()))?;
                    std::fs::rename(&tmp, p)
                        .with_context(|| format!("cannot move the result to {}", p.display()))?;
                }
            }
        }
        Format::Npy => {
            let Some(dir) = output else {
                bail!(
                    "--multi-vector --format npy writes one .npy per input: pass --output FOLDER"
                );
            };
            if dir.exists() {
                bail!(
                    "{} exists; --multi-vector --format npy writes a new folder (remove it or pick another name)",
                    dir.display()
                );
            }
            let tmp = temp_path(dir);
            let result = (|| -> Result<()> {
                std::fs::create_dir_all(&tmp)
                    .with_context(|| format!("cannot create {}", tmp.display()))?;
                let mut n = 0usize;
                for chunk in texts.chunks(CHUNK) {
                    let inputs: Vec<Input> =
                        chunk.iter().map(|t| Input::from(t.as_str())).collect();
                    for v in engine.embed_multi(&inputs, multi.query)? {
                        let f = std::fs::File::create(tmp.join(format!("{n:05}.npy")))?;
                        let mut w = NpyWriter::new(BufWriter::new(f), v.len(), v.dim)?;
                        for i in 0..v.len() {
                            w.write_row(v.row(i))?;
                        }
                        w.finish()?.flush()?;
                        n += 1;
                    }
                }
                std::fs::rename(&tmp, dir)
                    .with_context(|| format!("cannot move the result to {}", dir.display()))?;
                Ok(())
            })();
            if result.is_err() {
                let _ = std::fs::remove_dir_all(&tmp);
            }
            result?;
        }
        Format::Csv => bail!(
            "token vectors are written as JSON Lines or .npy files; pass --format jsonl or --format npy --output FOLDER"
        ),
    }
    Ok(())
}

/// `--sparse`: SPLADE vectors, each cut to its `top_k` largest weights when given.
#[derive(Clone, Copy, Debug)]
pub struct Sparse {
    pub top_k: Option<usize>,
}

fn progress(total: usize, quiet: bool) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
    if quiet || !std::io::stderr().is_terminal() {
        pb.set_draw_target(ProgressDrawTarget::hidden());
    }
    pb.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} rows  {per_sec}  ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb
}

fn run_into<W: Write>(engine: &Engine, job: &EmbedJob, total: usize, out: W) -> Result<W> {
    let h = job.embed.dimensions.unwrap_or(engine.embedding_dim());
    let mut sink = match job.format {
        Format::Jsonl => Sink::Jsonl(out),
        Format::Csv => Sink::Csv(out),
        Format::Npy => Sink::Npy(NpyWriter::new(out, total, h)?),
    };
    let pb = progress(total, job.quiet);
    let mut chunk: Vec<Input> = Vec::with_capacity(CHUNK);
    let flush = |chunk: &mut Vec<Input>, sink: &mut Sink<W>| -> Result<()> {
        match job.sparse {
            Some(sp) => {
                for v in engine.embed_sparse(chunk, &job.embed, sp.top_k)? {
                    sink.sparse_row(&v, engine)?;
                }
            }
            None => {
                for v in engine.embed_opts(chunk, &job.embed)? {
                    sink.row(&v)?;
                }
            }
        }
        pb.inc(chunk.len() as u64);
        chunk.clear();
        Ok(())
    };
    match &job.source {
        Source::Args(texts) => {
            for t in texts.iter() {
                chunk.push(Input::parse(t));
                if chunk.len() == CHUNK {
                    flush(&mut chunk, &mut sink)?;
                }
            }
        }
        Source::File { path, lossy } => {
            let mut seen = 0usize;
            for line in LineReader::open(path, *lossy)? {
                chunk.push(Input::parse(&line?));
                seen += 1;
                if chunk.len() == CHUNK {
                    flush(&mut chunk, &mut sink)?;
                }
            }
            if seen != total {
                bail!(
                    "{} changed while it was being read ({total} lines counted, {seen} read)",
                    path.display()
                );
            }
        }
    }
    if !chunk.is_empty() {
        flush(&mut chunk, &mut sink)?;
    }
    pb.finish_and_clear();
    sink.finish()
}

/// Runs the job; on error no output file is left behind (the temporary file is removed).
pub fn run(engine: &Engine, job: &EmbedJob) -> Result<()> {
    let total = match &job.source {
        Source::Args(t) => t.len(),
        Source::File { path, .. } => count_lines(path)?,
    };
    if total == 0 {
        bail!(
            "no inputs: the input file is empty; pass TEXT arguments or a file with one input per line"
        );
    }
    match job.output {
        None => {
            if job.format == Format::Npy && std::io::stdout().is_terminal() {
                bail!(
                    "refusing to write binary .npy to a terminal; pass --output FILE or redirect stdout"
                );
            }
            let stdout = std::io::stdout();
            run_into(engine, job, total, BufWriter::new(stdout.lock()))?;
        }
        Some(path) => {
            let tmp = temp_path(path);
            let result = (|| -> Result<()> {
                let f = std::fs::File::create(&tmp)
                    .with_context(|| format!("cannot create {}", tmp.display()))?;
                let w = run_into(engine, job, total, BufWriter::new(f))?;
                let f = w.into_inner().map_err(|e| e.into_error())?;
                f.sync_all()?;
                std::fs::rename(&tmp, path)
                    .with_context(|| format!("cannot move the result to {}", path.display()))?;
                Ok(())
            })();
            if result.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            result?;
        }
    }
    Ok(())
}

/// `dir/.name.tmp-PID` beside the destination, so the final rename stays on one file system.
fn temp_path(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    dest.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

#[allow(clippy::too_many_arguments)]
pub fn command(
    model: &ModelArgs,
    inputs: &InputArgs,
    pooling: Option<Pooling>,
    normalize: Option<bool>,
    format: Format,
    output: Option<&Path>,
    seq_len: Option<usize>,
    batch_size: usize,
    quiet: bool,
    embed: wgbert::EmbedOptions,
    sparse: Option<Sparse>,
    multi: Option<Multi>,
) -> Result<()> {
    if inputs.input.is_some() && !inputs.texts.is_empty() {
        bail!("pass either TEXT arguments or --input FILE, not both");
    }
    if multi.is_some()
        && (pooling.is_some() || normalize.is_some() || embed != wgbert::EmbedOptions::default())
    {
        bail!(
            "--pooling, --normalize, --dimensions and prompts shape one vector per text; --multi-vector gives a ColBERT model's vector per token (PyLate's markers and lengths): drop them"
        );
    }
    if sparse.is_some() {
        if format != Format::Jsonl {
            bail!("sparse vectors are written as JSON Lines; drop --format or pass --format jsonl");
        }
        if pooling.is_some() || normalize.is_some() {
            bail!(
                "--pooling and --normalize shape dense vectors; a SPLADE vector is pooled as the model folder's SpladePooling says (max of log(1 + relu(logit)) otherwise); drop them with --sparse"
            );
        }
    }
    // Standard input (`--input -`, or piped with no other input) is read whole first: .npy
    // needs the row count up front. Files are streamed.
    let stdin_lines = if super::input::from_stdin(inputs.input.as_deref(), &inputs.texts) {
        Some(super::input::read_lines(
            std::io::stdin().lock(),
            "standard input",
            inputs.lossy,
        )?)
    } else {
        None
    };
    if inputs.input.is_none() && inputs.texts.is_empty() && stdin_lines.is_none() {
        bail!(
            "no inputs: pass TEXT arguments, --input FILE (- for standard input), or pipe lines to standard input"
        );
    }
    if let (Some(p), None) = (&inputs.input, &stdin_lines) {
        // Fail on a missing input before spending time on the model.
        std::fs::metadata(p).with_context(|| format!("cannot open input file {}", p.display()))?;
    }
    let engine = open_engine_opts(model, default_len(model), batch_size, |o| {
        o.pooling = pooling;
        o.normalize = normalize;
        o.embed_seq_length = seq_len;
    })?;
    if engine.pooling() == Pooling::Pooler && !engine.has_pooler() {
        bail!(
            "this checkpoint has no pooler (pooler.dense.*), so it has no pooled_output; use --pooling mean, cls, max or mean-sqrt-len"
        );
    }
    let source = match (&stdin_lines, &inputs.input) {
        (Some(lines), _) => Source::Args(lines),
        (None, Some(p)) => Source::File {
            path: p,
            lossy: inputs.lossy,
        },
        (None, None) => Source::Args(&inputs.texts),
    };
    if let Some(m) = multi {
        engine.embed_multi(&[], m.query)?;
        return run_multi(&engine, &source, m, format, output);
    }
    // A width, prompt name or head the model cannot give fails here, before any input is read.
    match sparse {
        Some(sp) => {
            engine.embed_sparse(&[], &embed, sp.top_k)?;
        }
        None => {
            engine.embed_opts(&[], &embed)?;
        }
    }
    let job = EmbedJob {
        source,
        embed,
        format,
        output,
        quiet,
        sparse,
    };
    run(&engine, &job)
}
