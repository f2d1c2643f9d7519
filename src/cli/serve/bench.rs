//! `wgbert bench-serve`: starts the server in this process on a free port, then drives
//! `POST /v1/embeddings` with one short sentence per request — first one client at a time, then
//! N concurrent clients — and prints requests per second, p50/p99 latency and the mean number
//! of inputs per forward pass (from the server's own metrics) for each.

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
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(600)))
        .build()
        .into()
}

/// (sum, count) of the server's batch-size histogram.
fn batch_counts(base: &str) -> Result<(f64, f64)> {
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
    Ok((
        get("wgbert_batch_size_sum "),
        get("wgbert_batch_size_count "),
    ))
}

fn phase(base: &str, clients: usize, requests: usize) -> Result<Phase> {
    let url = format!("{base}/v1/embeddings");
    let before = batch_counts(base)?;
    let started = Instant::now();
    let per = requests.div_ceil(clients);
    let results: Vec<Result<Vec<f64>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let url = url.clone();
                s.spawn(move || -> Result<Vec<f64>> {
                    let a = agent();
                    let mut lat = Vec::with_capacity(per);
                    for i in 0..per {
                        let body = serde_json::json!({
                            "input": format!("client {c} asks question {i}: is this a fair trial?"),
                            "model": "bench",
                        })
                        .to_string();
                        let t = Instant::now();
                        let mut r = a
                            .post(&url)
                            .header("content-type", "application/json")
                            .send(body.as_str())?;
                        let status = r.status().as_u16();
                        let text = r.body_mut().read_to_string()?;
                        if status != 200 {
                            bail!("request answered {status}: {text}");
                        }
                        lat.push(t.elapsed().as_secs_f64());
                    }
                    Ok(lat)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("client panicked")))
            })
            .collect()
    });
    let wall = started.elapsed().as_secs_f64();
    let mut lat: Vec<f64> = Vec::new();
    for r in results {
        lat.extend(r?);
    }
    lat.sort_by(f64::total_cmp);
    let after = batch_counts(base)?;
    let q = |p: f64| lat[((lat.len() as f64 - 1.0) * p).round() as usize];
    Ok(Phase {
        clients,
        requests: lat.len(),
        req_per_s: lat.len() as f64 / wall,
        p50_s: q(0.5),
        p99_s: q(0.99),
        mean_batch: (after.0 - before.0) / (after.1 - before.1).max(1.0),
    })
}

/// Runs both phases and prints them.
pub fn run(o: BenchServeOptions) -> Result<()> {
    if o.clients == 0 || o.requests == 0 {
        bail!("--clients and --requests must be at least 1");
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
    let run = || -> Result<(Phase, Phase)> {
        // A few unmeasured requests first (plans for the shapes both phases use).
        phase(&base, 1, 2)?;
        phase(&base, o.clients.min(4), o.clients.min(4))?;
        let serial = phase(&base, 1, o.requests).context("serial phase")?;
        let concurrent = phase(&base, o.clients, o.requests).context("concurrent phase")?;
        Ok((serial, concurrent))
    };
    let result = run();
    let _ = stop_tx.send(true);
    match server.join() {
        Ok(r) => r?,
        Err(_) => bail!("the server thread panicked"),
    }
    let (serial, concurrent) = result?;
    let speedup = concurrent.req_per_s / serial.req_per_s;
    if o.json {
        println!(
            "{}",
            serde_json::json!({"serial": serial, "concurrent": concurrent, "speedup": speedup})
        );
    } else {
        println!("clients  requests  req/s     p50 ms    p99 ms    mean batch");
        for p in [&serial, &concurrent] {
            println!(
                "{:<8} {:<9} {:<9.2} {:<9.1} {:<9.1} {:.1}",
                p.clients,
                p.requests,
                p.req_per_s,
                p.p50_s * 1e3,
                p.p99_s * 1e3,
                p.mean_batch
            );
        }
        println!(
            "speedup  {speedup:.2}x ({} concurrent clients vs one at a time)",
            concurrent.clients
        );
    }
    Ok(())
}
