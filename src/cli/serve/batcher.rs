//! The one worker that owns the GPU: handlers queue tokenised inputs; the worker merges queued
//! inputs of the same kind into forward passes bounded by a token budget, gives every request
//! its vectors back in its own order, and splits large requests across passes so that small ones
//! queued behind them are not starved (each pass first grants every waiting request an equal
//! share of the budget, then fills what is left in arrival order).

use super::metrics::Metrics;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use wgbert::{Engine, Packed, Pooling, Request};

/// What a request needs from each input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The sentence vector with this pooling, L2-normalised on the GPU when the flag is set
    /// (as `wgbert embed` computes it, so the vectors are the same bit for bit).
    Embed(Pooling, bool),
    /// Every token's vector (TEI `/embed_all`).
    Tokens,
    /// The classification head's logits (`/predict`, `/rerank`).
    Logits,
    /// SPLADE weights over the vocabulary, pooled so (`/embed_sparse`).
    Sparse(wgbert::Splade),
    /// One weight per position (bge-m3's sparse head, `/embed_sparse`).
    TokenWeights,
}

/// One result per input, in input order.
pub type Reply = Result<Vec<Vec<f32>>, String>;

struct Job {
    kind: Kind,
    items: Vec<Packed>,
    next: usize,
    results: Vec<Option<Vec<f32>>>,
    reply: Option<oneshot::Sender<Reply>>,
}

struct Queue {
    jobs: VecDeque<Job>,
    closed: bool,
    last_arrival: Instant,
    /// Requests queued since the server started.
    arrivals: u64,
}

/// The queue between handlers and the GPU worker.
pub struct Batcher {
    queue: Mutex<Queue>,
    ready: Condvar,
    max_batch_tokens: usize,
    /// How long the queue must be quiet before a pass starts (see [`Batcher::new`]).
    window: Duration,
    /// Requests accepted and being validated or tokenised, not yet queued.
    preparing: AtomicUsize,
    metrics: Arc<Metrics>,
}

/// Counts a request as on its way to the queue until dropped (see [`Batcher::preparing`]).
pub struct Preparing<'a>(&'a Batcher);

impl Drop for Preparing<'_> {
    fn drop(&mut self) {
        self.0.preparing.fetch_sub(1, Ordering::SeqCst);
        self.0.ready.notify_one();
    }
}

impl Batcher {
    /// A batcher whose passes hold at most `max_batch_tokens` real tokens (at least one input).
    /// Before a pass starts, the worker lets a burst of arrivals finish, so that clients
    /// answered by one pass, who send again at once, share the next pass instead of splitting
    /// into a small and a large one: it starts as soon as as many requests are queued as the
    /// last pass answered (none still being tokenised) — one client at a time never waits —
    /// and otherwise once the queue has been quiet for `window`, or when fewer came back than
    /// were answered, after 10 × `window` at most. `Duration::ZERO` never waits.
    pub fn new(max_batch_tokens: usize, window: Duration, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Batcher {
            queue: Mutex::new(Queue {
                jobs: VecDeque::new(),
                closed: false,
                last_arrival: Instant::now(),
                arrivals: 0,
            }),
            ready: Condvar::new(),
            max_batch_tokens: max_batch_tokens.max(1),
            window,
            preparing: AtomicUsize::new(0),
            metrics,
        })
    }

    /// Marks a request as on its way to the queue while it is validated and tokenised.
    pub fn preparing(&self) -> Preparing<'_> {
        self.preparing.fetch_add(1, Ordering::SeqCst);
        Preparing(self)
    }

    /// Queues `items` (all packed to the same length) and returns where the answer will come.
    pub fn submit(&self, kind: Kind, items: Vec<Packed>) -> oneshot::Receiver<Reply> {
        let (tx, rx) = oneshot::channel();
        let n = items.len();
        let job = Job {
            kind,
            results: vec![None; n],
            items,
            next: 0,
            reply: Some(tx),
        };
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if q.closed {
            if let Some(tx) = job.reply {
                let _ = tx.send(Err("the server is shutting down".into()));
            }
            return rx;
        }
        q.jobs.push_back(job);
        q.last_arrival = Instant::now();
        q.arrivals += 1;
        self.metrics.set_queue_depth(q.jobs.len());
        drop(q);
        self.ready.notify_one();
        rx
    }

    /// Stops the worker once the queue is empty.
    pub fn close(&self) {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
        self.ready.notify_all();
    }

    /// Picks the next pass: (kind, [(job index, item index)]).
    fn pick(&self, q: &Queue) -> (Kind, Vec<(usize, usize)>) {
        let kind = q.jobs[0].kind;
        let same: Vec<usize> = (0..q.jobs.len())
            .filter(|&j| q.jobs[j].kind == kind && q.jobs[j].next < q.jobs[j].items.len())
            .collect();
        let budget = self.max_batch_tokens;
        let share = (budget / same.len().max(1)).max(1);
        let mut taken: Vec<usize> = same.iter().map(|&j| q.jobs[j].next).collect();
        let mut pass = Vec::new();
        let mut tokens = 0usize;
        // Round 1: an equal share for every waiting request; round 2: fill in arrival order.
        for round in 0..2 {
            for (k, &j) in same.iter().enumerate() {
                let job = &q.jobs[j];
                let mut mine = 0usize;
                while taken[k] < job.items.len() {
                    let len = job.items[taken[k]].len();
                    let fits = tokens + len <= budget && (round == 1 || mine + len <= share);
                    if !(fits || pass.is_empty()) {
                        break;
                    }
                    pass.push((j, taken[k]));
                    taken[k] += 1;
                    tokens += len;
                    mine += len;
                }
            }
        }
        (kind, pass)
    }

    /// The worker loop: runs until [`Batcher::close`] and an empty queue.
    pub fn run(&self, engine: &Engine) {
        // Requests the last pass completed (the burst that is coming back), and the arrival
        // count when it ended.
        let mut answered = 0u64;
        let mut arrivals_then = 0u64;
        loop {
            let (kind, packed, picked) = {
                let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
                while q.jobs.is_empty() && !q.closed {
                    q = self.ready.wait(q).unwrap_or_else(|e| e.into_inner());
                }
                if q.jobs.is_empty() {
                    return;
                }
                // Let a burst of arrivals finish before the pass starts.
                let deadline = Instant::now() + self.window * 10;
                loop {
                    let now = Instant::now();
                    let queued: usize = q
                        .jobs
                        .iter()
                        .flat_map(|j| &j.items[j.next..])
                        .map(Packed::len)
                        .sum();
                    // The burst is in once every request the last pass answered is back and
                    // none is still being tokenised; with no pass to go by, once the queue has
                    // been quiet for `window`. Fewer back than answered: on a busy CPU the
                    // others can be a few milliseconds apart, so only the deadline ends that.
                    let burst_in = self.preparing.load(Ordering::SeqCst) == 0
                        && q.arrivals - arrivals_then >= answered
                        && (answered > 0 || now.duration_since(q.last_arrival) >= self.window);
                    if burst_in || now >= deadline || queued >= self.max_batch_tokens || q.closed {
                        break;
                    }
                    let wait = self.window.min(deadline - now);
                    q = self
                        .ready
                        .wait_timeout(q, wait)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
                let (kind, picked) = self.pick(&q);
                // Trim every input of the pass to the longest real length (rounded up to 8):
                // the rest is padding, masked out exactly.
                let longest = picked
                    .iter()
                    .map(|&(j, i)| q.jobs[j].items[i].len())
                    .max()
                    .unwrap_or(1);
                let full = q.jobs[picked[0].0].items[picked[0].1].input_word_ids.len();
                let run = longest.div_ceil(8).saturating_mul(8).clamp(1, full);
                let packed: Vec<Packed> = picked
                    .iter()
                    .map(|&(j, i)| {
                        let mut p = q.jobs[j].items[i].clone();
                        p.input_word_ids.truncate(run);
                        p.input_mask.truncate(run);
                        p.input_type_ids.truncate(run);
                        p
                    })
                    .collect();
                for &(j, _) in &picked {
                    q.jobs[j].next += 1;
                }
                (kind, packed, picked)
            };
            let tokens: usize = packed.iter().map(|p| p.len()).sum();
            let lens: Vec<usize> = packed.iter().map(|p| p.len()).collect();
            let request = Request {
                pooled_output: false,
                sequence_output: kind == Kind::Tokens,
                encoder_outputs: false,
                embedding: matches!(kind, Kind::Embed(..)),
                pooling: match kind {
                    Kind::Embed(p, _) => p,
                    _ => engine.pooling(),
                },
                normalize: matches!(kind, Kind::Embed(_, true)),
                logits: kind == Kind::Logits,
                sparse: match kind {
                    Kind::Sparse(sp) => Some(sp),
                    _ => None,
                },
                token_weights: kind == Kind::TokenWeights,
                ..Default::default()
            };
            let started = Instant::now();
            let out = engine.encode_packed(packed, &request);
            self.metrics
                .record_batch(lens.len(), tokens, started.elapsed().as_secs_f64());
            let h = engine.config().hidden_size;
            let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
            match out {
                Ok(encoded) => {
                    for ((&(j, i), e), n) in picked.iter().zip(encoded).zip(&lens) {
                        let v = match kind {
                            Kind::Embed(..) => e.embedding.unwrap_or_default(),
                            Kind::Logits => e.logits.unwrap_or_default(),
                            Kind::Sparse(_) => e.sparse.unwrap_or_default(),
                            Kind::TokenWeights => e.token_weights.unwrap_or_default(),
                            Kind::Tokens => {
                                let mut s = e.sequence_output.unwrap_or_default();
                                s.truncate(n * h);
                                s
                            }
                        };
                        q.jobs[j].results[i] = Some(v);
                    }
                }
                Err(err) => {
                    // The whole pass failed: every request with an input in it gets the error.
                    let msg = err.to_string();
                    for &(j, _) in &picked {
                        if let Some(tx) = q.jobs[j].reply.take() {
                            let _ = tx.send(Err(msg.clone()));
                        }
                        q.jobs[j].next = q.jobs[j].items.len();
                        q.jobs[j].results.iter_mut().for_each(|r| {
                            r.get_or_insert_with(Vec::new);
                        });
                    }
                }
            }
            // Answer the requests that are complete, keep the others in order.
            let mut keep = VecDeque::with_capacity(q.jobs.len());
            answered = 0;
            arrivals_then = q.arrivals;
            while let Some(mut job) = q.jobs.pop_front() {
                if job.results.iter().all(Option::is_some) {
                    answered += 1;
                    if let Some(tx) = job.reply.take() {
                        let _ = tx.send(Ok(job.results.into_iter().flatten().collect()));
                    }
                } else {
                    keep.push_back(job);
                }
            }
            q.jobs = keep;
            self.metrics.set_queue_depth(q.jobs.len());
        }
    }
}
