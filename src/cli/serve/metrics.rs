//! Prometheus text-format metrics: requests by route and status, queue depth, batch size and
//! tokens, latency histograms, tokens per second.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Instant;

const LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
const SIZE_BUCKETS: [f64; 10] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];
const TOKEN_BUCKETS: [f64; 10] = [
    16.0, 64.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0, 16384.0, 65536.0,
];

#[derive(Clone, Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, buckets: &[f64], v: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; buckets.len()];
        }
        for (c, b) in self.counts.iter_mut().zip(buckets) {
            if v <= *b {
                *c += 1;
            }
        }
        self.sum += v;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str, buckets: &[f64]) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, b) in buckets.iter().enumerate() {
            let c = self.counts.get(i).copied().unwrap_or(0);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {c}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
    batch_size: Histogram,
    batch_tokens: Histogram,
    batches: u64,
    tokens: u64,
    gpu_seconds: f64,
    queue_depth: usize,
    started: Option<Instant>,
}

/// The server's counters, shared by handlers and the worker.
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    /// Empty counters; tokens per second are counted from now.
    pub fn new() -> Self {
        Metrics {
            inner: Mutex::new(Inner {
                started: Some(Instant::now()),
                ..Default::default()
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One answered request.
    pub fn record_request(&self, route: &str, status: u16, seconds: f64) {
        let mut m = self.lock();
        *m.requests.entry((route.to_string(), status)).or_default() += 1;
        m.latency
            .entry(route.to_string())
            .or_default()
            .observe(&LATENCY_BUCKETS, seconds);
    }

    /// One forward pass of the worker.
    pub fn record_batch(&self, inputs: usize, tokens: usize, seconds: f64) {
        let mut m = self.lock();
        m.batch_size.observe(&SIZE_BUCKETS, inputs as f64);
        m.batch_tokens.observe(&TOKEN_BUCKETS, tokens as f64);
        m.batches += 1;
        m.tokens += tokens as u64;
        m.gpu_seconds += seconds;
    }

    /// Requests waiting for the worker.
    pub fn set_queue_depth(&self, n: usize) {
        self.lock().queue_depth = n;
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let m = self.lock();
        let mut o = String::new();
        o.push_str("# HELP wgbert_requests_total Answered HTTP requests by route and status.\n");
        o.push_str("# TYPE wgbert_requests_total counter\n");
        for ((route, status), n) in &m.requests {
            let _ = writeln!(
                o,
                "wgbert_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        o.push_str("# HELP wgbert_request_duration_seconds Time from request to response.\n");
        o.push_str("# TYPE wgbert_request_duration_seconds histogram\n");
        for (route, h) in &m.latency {
            h.render(
                &mut o,
                "wgbert_request_duration_seconds",
                &format!("route=\"{route}\""),
                &LATENCY_BUCKETS,
            );
        }
        o.push_str("# HELP wgbert_queue_depth Requests waiting for the GPU worker.\n");
        o.push_str("# TYPE wgbert_queue_depth gauge\n");
        let _ = writeln!(o, "wgbert_queue_depth {}", m.queue_depth);
        o.push_str("# HELP wgbert_batch_size Inputs per forward pass.\n");
        o.push_str("# TYPE wgbert_batch_size histogram\n");
        m.batch_size
            .render(&mut o, "wgbert_batch_size", "", &SIZE_BUCKETS);
        o.push_str("# HELP wgbert_batch_tokens Real tokens per forward pass.\n");
        o.push_str("# TYPE wgbert_batch_tokens histogram\n");
        m.batch_tokens
            .render(&mut o, "wgbert_batch_tokens", "", &TOKEN_BUCKETS);
        o.push_str("# HELP wgbert_tokens_total Real tokens encoded.\n");
        o.push_str("# TYPE wgbert_tokens_total counter\n");
        let _ = writeln!(o, "wgbert_tokens_total {}", m.tokens);
        o.push_str("# HELP wgbert_forward_seconds_total Time spent in forward passes.\n");
        o.push_str("# TYPE wgbert_forward_seconds_total counter\n");
        let _ = writeln!(o, "wgbert_forward_seconds_total {}", m.gpu_seconds);
        o.push_str(
            "# HELP wgbert_tokens_per_second Real tokens per second of forward-pass time.\n",
        );
        o.push_str("# TYPE wgbert_tokens_per_second gauge\n");
        let tps = if m.gpu_seconds > 0.0 {
            m.tokens as f64 / m.gpu_seconds
        } else {
            0.0
        };
        let _ = writeln!(o, "wgbert_tokens_per_second {tps}");
        let up = m.started.map_or(0.0, |s| s.elapsed().as_secs_f64());
        o.push_str("# TYPE wgbert_uptime_seconds gauge\n");
        let _ = writeln!(o, "wgbert_uptime_seconds {up}");
        o
    }
}
