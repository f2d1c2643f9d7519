//! `wgbert bench-serve`: starts the server in this process on a free port, then drives
//! `POST /v1/embeddings` with one short sentence per request — one client at a time, then N
//! concurrent clients, each phase after one unmeasured request per client, for a few rounds —
//! and prints requests per second, p50/p99 latency and the mean number of inputs per forward
//! pass (from the server's own metrics) for each, with the engine's share of the wall time and
//! its forward time per input: when the engine is busy nearly all of a phase, the server is not
//! what limits it, and serial time per request over the concurrent phase's forward time per
//! input is the most that batching can give with this engine on that adapter. The round with
//! the median speedup (the lower middle one for an even count) is the result.

use super::{ServeOptions, serve};
use anyhow::{Context, Result, bail};
use std::time::{Duration, Instant};

/// What `bench-serve` is told.
pub struct BenchServeOptions {
    /// The server's options (its port is ignored: a free one is taken).
    pub serve: ServeOptions,
    /// Concurrent clients of the second phase.
    pub clients: usize,
    /// Requests per phase.
    pub requests: usize,
    /// Rounds of both phases, one after the other; the round with the median speedup is the
    /// result (a shared machine's speed drifts between minutes).
    pub rounds: usize,
    /// Print one JSON object instead of a table.
    pub json: bool,
}

/// One phase's numbers.
#[derive(Debug, serde::Serialize)]
pub struct Phase {
    /// Clients sending at once.
    pub clients: usize,
    /// Requests answered with 200.
    pub requests: usize,
    /// Requests per second over the phase's wall time.
    pub req_per_s: f64,
    /// Median latency, seconds.
    pub p50_s: f64,
    /// 99th-percentile latency, seconds.
    pub p99_s: f64,
    /// Mean inputs per forward pass during the phase.
    pub mean_batch: f64,
    /// Forward-pass time per input, seconds (the server's `wgbert_forward_seconds_total` over
    /// its inputs during the phase).
    pub forward_s_per_input: f64,
    /// Share of the phase's wall time spent in forward passes (one worker: at most 1).
    pub engine_busy: f64,
}

/// Both phases of one round.
#[derive(Debug, serde::Serialize)]
pub struct Round {
    /// One client at a time.
    pub serial: Phase,
    /// `clients` at once.
    pub concurrent: Phase,
    /// Concurrent over serial requests per second.
    pub speedup: f64,
    /// The most any server could get from this engine here: serial time per request over the
    /// concurrent phase's forward time per input (one worker runs the passes one after
    /// another, so the concurrent phase takes at least its inputs times that).
    #[serde(rename = "engine_bound_speedup")]
    pub bound: f64,
}

impl Round {
    fn new(serial: Phase, concurrent: Phase) -> Round {
        Round {
            speedup: concurrent.req_per_s / serial.req_per_s,
            bound: 1.0 / serial.req_per_s / concurrent.forward_s_per_input,
            serial,
            concurrent,
        }
    }
}

/// The server's counters that a phase is measured by.
#[derive(Clone, Copy)]
struct Counters {
    /// Inputs encoded (the batch-size histogram's sum).
    inputs: f64,
    /// Forward passes (its count).
    passes: f64,
    /// Seconds spent in forward passes.
    forward_s: f64,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(600)))
        .build()
        .into()
}

fn counters(base: &str) -> Result<Counters> {
    let text = agent()
        .get(format!("{base}/metrics"))
        .call()?
        .body_mut()
        .read_to_string()?;
    let get = |name: &str| {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(name)
                    .map(|v| v.trim().parse::<f64>().unwrap_or(0.0))
            })
            .unwrap_or(0.0)
    };
    Ok(Counters {
        inputs: get("wgbert_batch_size_sum "),
        passes: get("wgbert_batch_size_count "),
        forward_s: get("wgbert_forward_seconds_total "),
    })
}

/// One client's request: the `i`-th short sentence; its latency in seconds.
fn ask(a: &ureq::Agent, url: &str, c: usize, i: usize) -> Result<f64> {
    let body = serde_json::json!({
        "input": format!("client {c} asks question {i}: is this a fair trial?"),
        "model": "bench",
    })
    .to_string();
    let t = Instant::now();
    let mut r = a
        .post(url)
        .header("content-type", "application/json")
        .send(body.as_str())?;
    let status = r.status().as_u16();
    let text = r.body_mut().read_to_string()?;
    if status != 200 {
        bail!("request answered {status}: {text}");
    }
    Ok(t.elapsed().as_secs_f64())
}

/// `clients` clients each send one unmeasured request (so that the server's batching has
/// settled to this load), then all start together and send `requests / clients` more, each
/// waiting for its answer before the next.
fn phase(base: &str, clients: usize, requests: usize) -> Result<Phase> {
    let url = format!("{base}/v1/embeddings");
    let per = requests.div_ceil(clients);
    let warmed = std::sync::Barrier::new(clients + 1);
    let go = std::sync::Barrier::new(clients + 1);
    let (before, started, results) = std::thread::scope(|s| -> Result<_> {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let (url, warmed, go) = (url.as_str(), &warmed, &go);
                s.spawn(move || -> Result<Vec<f64>> {
                    let a = agent();
                    // Every client reaches both barriers, whatever its warm-up request did.
                    let warm = ask(&a, url, c, per);
                    warmed.wait();
                    go.wait();
                    warm?;
                    (0..per).map(|i| ask(&a, url, c, i)).collect()
                })
            })
            .collect();
        warmed.wait();
        let before = counters(base);
        let started = Instant::now();
        go.wait();
        let results: Vec<Result<Vec<f64>>> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("client panicked")))
            })
            .collect();
        Ok((before?, started, results))
    })?;
    let wall = started.elapsed().as_secs_f64();
    let mut lat: Vec<f64> = Vec::new();
    for r in results {
        lat.extend(r?);
    }
    lat.sort_by(f64::total_cmp);
    let after = counters(base)?;
    let q = |p: f64| lat[((lat.len() as f64 - 1.0) * p).round() as usize];
    let inputs = (after.inputs - before.inputs).max(1.0);
    let forward_s = after.forward_s - before.forward_s;
    Ok(Phase {
        clients,
        requests: lat.len(),
        req_per_s: lat.len() as f64 / wall,
        p50_s: q(0.5),
        p99_s: q(0.99),
        mean_batch: inputs / (after.passes - before.passes).max(1.0),
        forward_s_per_input: forward_s / inputs,
        engine_busy: forward_s / wall,
    })
}

/// Runs both phases and prints them.
pub fn run(o: BenchServeOptions) -> Result<()> {
    if o.clients == 0 || o.requests == 0 || o.rounds == 0 {
        bail!("--clients, --requests and --rounds must be at least 1");
    }
    let mut opts = o.serve;
    opts.port = 0;
    opts.host = "127.0.0.1".into();
    opts.api_key = None;
    opts.max_concurrent_requests = opts.max_concurrent_requests.max(o.clients + 2);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = std::thread::spawn(move || serve(opts, Some(ready_tx), Some(stop_rx)));
    let addr = match ready_rx.recv_timeout(Duration::from_secs(900)) {
        Ok(a) => a,
        Err(_) => {
            let _ = stop_tx.send(true);
            return match server.join() {
                Ok(Err(e)) => Err(e),
                _ => bail!("the server did not become ready"),
            };
        }
    };
    let base = format!("http://{addr}");
    let run = || -> Result<Vec<Round>> {
        // A few unmeasured requests first (plans for the shapes both phases use).
        phase(&base, 1, 2)?;
        phase(&base, o.clients.min(4), o.clients.min(4))?;
        (0..o.rounds)
            .map(|_| {
                let serial = phase(&base, 1, o.requests).context("serial phase")?;
                let concurrent = phase(&base, o.clients, o.requests).context("concurrent phase")?;
                Ok(Round::new(serial, concurrent))
            })
            .collect()
    };
    let result = run();
    let _ = stop_tx.send(true);
    match server.join() {
        Ok(r) => r?,
        Err(_) => bail!("the server thread panicked"),
    }
    let rounds = result?;
    let mut order: Vec<usize> = (0..rounds.len()).collect();
    order.sort_by(|&a, &b| rounds[a].speedup.total_cmp(&rounds[b].speedup));
    let median = &rounds[order[(order.len() - 1) / 2]];
    if o.json {
        println!(
            "{}",
            serde_json::json!({
                "serial": median.serial,
                "concurrent": median.concurrent,
                "speedup": median.speedup,
                "engine_bound_speedup": median.bound,
                "rounds": rounds,
            })
        );
    } else {
        println!(
            "round  clients  requests  req/s     p50 ms    p99 ms    mean batch  forward ms/input  engine busy"
        );
        for (i, r) in rounds.iter().enumerate() {
            for p in [&r.serial, &r.concurrent] {
                println!(
                    "{:<6} {:<8} {:<9} {:<9.2} {:<9.1} {:<9.1} {:<11.1} {:<17.2} {:.0} %",
                    i + 1,
                    p.clients,
                    p.requests,
                    p.req_per_s,
                    p.p50_s * 1e3,
                    p.p99_s * 1e3,
                    p.mean_batch,
                    p.forward_s_per_input * 1e3,
                    p.engine_busy * 100.0
                );
            }
        }
        let each = |f: fn(&Round) -> f64| {
            rounds
                .iter()
                .map(|r| format!("{:.2}x", f(r)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!(
            "speedup  {:.2}x, the median of {} rounds ({}): {} concurrent clients vs one at a time",
            median.speedup,
            rounds.len(),
            each(|r| r.speedup),
            o.clients
        );
        println!(
            "bound    {:.2}x in that round ({}): serial time per request / forward time per input \
             at a mean batch of {:.1}, the most batching gives with this engine on this adapter",
            median.bound,
            each(|r| r.bound),
            median.concurrent.mean_batch
        );
    }
    Ok(())
}
