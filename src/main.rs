//! The `wgbert` command line: parses the flags and dispatches to the command's module in
//! `src/cli/`.

use clap::Parser;
use cli::args::{Cli, Command};
use cli::common::*;

mod cli;

fn main() {
    // Mesa's device-select layer prints "error: XDG_RUNTIME_DIR is invalid or not set…" twice on
    // machines without a session runtime folder; wgpu orders the adapters itself, so the layer
    // is switched off unless the user set NODEVICE_SELECT. Real driver errors still show.
    if std::env::var_os("NODEVICE_SELECT").is_none() {
        // SAFETY: first thing in main, before any thread or the Vulkan instance exists.
        unsafe { std::env::set_var("NODEVICE_SELECT", "1") };
    }
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
        } => cli::encode::run(model, inputs, *seq_len, *all_layers, *summary),
        Command::Preprocess {
            model,
            inputs,
            seq_len,
        } => cli::preprocess::run(model, inputs, *seq_len),
        Command::FetchModel { dest } => cli::fetch::run(dest.as_deref()),
        Command::Info { model } => cli::info::run(model),
        Command::Shaders { dump } => cli::shaders::run(dump.as_deref()),
        Command::Serve {
            model,
            server,
            host,
            port,
            api_key,
        } => {
            cli::serve::ServeOptions::from_args(model, server, host.clone(), *port, api_key.clone())
                .and_then(|o| cli::serve::serve(o, None, None))
        }
        Command::BenchServe {
            model,
            server,
            clients,
            requests,
            rounds,
            json,
        } => cli::serve::ServeOptions::from_args(model, server, "127.0.0.1".into(), 0, None)
            .and_then(|o| {
                cli::serve::bench::run(cli::serve::bench::BenchServeOptions {
                    serve: o,
                    clients: *clients,
                    requests: *requests,
                    rounds: *rounds,
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
        Command::FillMask {
            model,
            inputs,
            top_k,
            format,
        } => (|| {
            let inputs = gather_inputs(inputs)?;
            let engine = open_engine_default_len(model)?;
            cli::pretraining::fill_mask(&engine, &inputs, *top_k, format == "jsonl")
        })(),
        Command::NextSentence {
            model,
            a,
            b,
            format,
        } => (|| {
            let engine = open_engine_default_len(model)?;
            cli::pretraining::next_sentence(&engine, a, b, format == "jsonl")
        })(),
        Command::Ner {
            model,
            inputs,
            format,
        } => cli::ner::run(model, inputs, format == "jsonl"),
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
            prompt,
            dimensions,
            sparse,
            top_k,
            multi_vector,
            query,
            pooling,
            normalize,
            no_normalize,
            format,
            output,
            seq_len,
            batch_size,
            quiet,
        } => cli::embed::command(
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
            prompt.embed_options(*dimensions),
            sparse.then_some(cli::embed::Sparse { top_k: *top_k }),
            multi_vector.then_some(cli::embed::Multi { query: *query }),
        ),
        Command::Similarity {
            model,
            inputs,
            prompt,
        } => (|| {
            let texts = gather_texts(inputs)?;
            let engine = open_engine_default_len(model)?;
            cli::explore::similarity(&engine, &texts, &prompt.embed_options(None))
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
            mlm,
            sparse,
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
                engine: engine_options_with(adapter.as_deref(), *precision),
                mlm: *mlm,
                sparse: *sparse,
            };
            cli::bench::run(&cfg, *json)
        }
    };
    if let Err(e) = r {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
