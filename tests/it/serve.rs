//! `wgbert serve` through HTTP: the binary is started on a free port (`--port 0`, the ready
//! line names it) and driven with a real HTTP client.

use crate::common::*;
use base64::Engine as _;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

struct Server {
    child: Child,
    base: String,
    log: mpsc::Receiver<String>,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wgbert"))
            .arg("serve")
            .args(["--port", "0"])
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("NODEVICE_SELECT", "1")
            .env_remove("WGBERT_API_KEY")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start wgbert serve");
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = Vec::new();
        let base = loop {
            match rx.recv_timeout(Duration::from_secs(300)) {
                Ok(line) => {
                    if let Some(rest) = line.split("ready on ").nth(1) {
                        break rest.split_whitespace().next().unwrap().to_string();
                    }
                    seen.push(line);
                }
                Err(_) => panic!("server did not become ready; it said:\n{}", seen.join("\n")),
            }
        };
        Server {
            child,
            base,
            log: rx,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(300)))
        .build()
        .into()
}

/// (status, Retry-After, body as JSON or as a string).
fn post_raw(url: &str, body: &[u8], headers: &[(&str, &str)]) -> (u16, Option<String>, Value) {
    let mut req = agent().post(url).header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut r = req.send(body).expect("send");
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let text = r.body_mut().read_to_string().unwrap();
    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, retry, v)
}

fn post(url: &str, body: &Value) -> (u16, Value) {
    let (s, _, v) = post_raw(url, body.to_string().as_bytes(), &[]);
    (s, v)
}

fn get(url: &str) -> (u16, String) {
    let mut r = agent().get(url).call().expect("get");
    (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
}

fn floats(v: &Value) -> Vec<f32> {
    f32s(v)
}

const TEXTS: [&str; 3] = [
    "nice movie indeed",
    "Tom deserves a fair trial",
    "The county fair opens on Saturday, with rides and games for everyone.",
];

/// The vectors of `wgbert embed` for TEXTS.
fn cli_vectors(extra: &[&str]) -> Vec<Vec<f32>> {
    let mut args = vec!["embed", "--format", "jsonl"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&TEXTS);
    ok_stdout(&run_wgbert(&args))
        .lines()
        .map(|l| floats(&serde_json::from_str::<Value>(l).unwrap()["embedding"]))
        .collect()
}

#[test]
fn openai_and_tei_vectors_equal_wgbert_embed() {
    let s = Server::start(&["--accept-token-ids"]);
    let want = cli_vectors(&[]);

    let (st, v) = post(
        &s.url("/v1/embeddings"),
        &json!({"input": TEXTS, "model": "my-model"}),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["object"], "list");
    assert_eq!(v["model"], "my-model");
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    for (i, d) in data.iter().enumerate() {
        assert_eq!(d["object"], "embedding");
        assert_eq!(d["index"], i);
        assert_eq!(floats(&d["embedding"]), want[i], "input {i}");
    }
    let tokens = v["usage"]["prompt_tokens"].as_u64().unwrap();
    assert!(tokens > 10 && v["usage"]["total_tokens"] == tokens, "{v}");

    // base64: little-endian f32 bytes of the same vectors.
    let (st, b) = post(
        &s.url("/v1/embeddings"),
        &json!({"input": TEXTS, "encoding_format": "base64"}),
    );
    assert_eq!(st, 200);
    for (i, d) in b["data"].as_array().unwrap().iter().enumerate() {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(d["embedding"].as_str().unwrap())
            .unwrap();
        let got: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(got, want[i]);
    }

    // One string; dimensions truncate and re-normalise.
    let (st, d) = post(
        &s.url("/v1/embeddings"),
        &json!({"input": TEXTS[0], "dimensions": 64}),
    );
    assert_eq!(st, 200);
    let v64 = floats(&d["data"][0]["embedding"]);
    assert_eq!(v64.len(), 64);
    let norm: f32 = v64.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-5);
    let n: f32 = want[0][..64].iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((v64[5] - want[0][5] / n).abs() < 1e-6);

    // Token ids: the ids of `preprocess` without [CLS]/[SEP] give the same vector.
    let (st, t) = post(
        &s.url("/tokenize"),
        &json!({"inputs": TEXTS[0], "add_special_tokens": false}),
    );
    assert_eq!(st, 200);
    let ids: Vec<u64> = t[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, vec![3835, 3185, 5262]);
    let (st, d) = post(&s.url("/v1/embeddings"), &json!({"input": ids}));
    assert_eq!(st, 200, "{d}");
    let v = floats(&d["data"][0]["embedding"]);
    let diff = v
        .iter()
        .zip(&want[0])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(diff < 1e-6, "{diff}");
    let (st, d) = post(
        &s.url("/v1/embeddings"),
        &json!({"input": [ids.clone(), ids]}),
    );
    assert_eq!(st, 200);
    assert_eq!(d["data"].as_array().unwrap().len(), 2);
    let (st, d) = post(&s.url("/v1/embeddings"), &json!({"input": [101, 99999999]}));
    assert_eq!(st, 400, "{d}");
    assert!(d.to_string().contains("outside the vocabulary"), "{d}");

    // TEI /embed: the same vectors; normalize false gives the pooled vectors.
    let (st, e) = post(&s.url("/embed"), &json!({"inputs": TEXTS}));
    assert_eq!(st, 200);
    for (i, row) in e.as_array().unwrap().iter().enumerate() {
        assert_eq!(floats(row), want[i]);
    }
    let (st, e) = post(
        &s.url("/embed"),
        &json!({"inputs": TEXTS[1], "normalize": false}),
    );
    assert_eq!(st, 200);
    assert_eq!(floats(&e[0]), cli_vectors(&["--no-normalize"])[1]);

    // /embed_all: one 384-vector per token.
    let (st, a) = post(
        &s.url("/embed_all"),
        &json!({"inputs": [TEXTS[0], TEXTS[1]]}),
    );
    assert_eq!(st, 200);
    assert_eq!(a[0].as_array().unwrap().len(), 5); // [CLS] nice movie indeed [SEP]
    assert_eq!(a[0][0].as_array().unwrap().len(), 384);

    // /tokenize with special tokens and offsets.
    let (st, t) = post(&s.url("/tokenize"), &json!({"inputs": ["nice movie"]}));
    assert_eq!(st, 200);
    assert_eq!(t[0][0]["text"], "[CLS]");
    assert_eq!(t[0][0]["special"], true);
    assert_eq!(t[0][2]["text"], "movie");
    assert_eq!(
        (t[0][2]["start"].as_u64(), t[0][2]["stop"].as_u64()),
        (Some(5), Some(10))
    );

    // /info, /v1/models, /health, /metrics.
    let (st, info) = get(&s.url("/info"));
    assert_eq!(st, 200);
    let info: Value = serde_json::from_str(&info).unwrap();
    assert_eq!(info["dims"], 384);
    assert_eq!(info["max_input_length"], 256);
    assert_eq!(info["model_id"], "all-MiniLM-L6-v2");
    assert!(
        info["adapter"].is_string() && info["version"].is_string(),
        "{info}"
    );
    let (st, m) = get(&s.url("/v1/models"));
    assert_eq!(st, 200);
    assert!(m.contains("all-MiniLM-L6-v2"));
    assert_eq!(get(&s.url("/health")).0, 200);
    let (st, metrics) = get(&s.url("/metrics"));
    assert_eq!(st, 200);
    for needle in [
        "wgbert_requests_total{route=\"/v1/embeddings\",status=\"200\"}",
        "wgbert_batch_size_count",
        "wgbert_request_duration_seconds_bucket{route=\"/embed\"",
        "wgbert_queue_depth",
        "wgbert_tokens_per_second",
    ] {
        assert!(metrics.contains(needle), "{needle} missing:\n{metrics}");
    }
}

#[test]
fn bad_requests_get_clear_4xx_and_the_server_keeps_serving() {
    let s = Server::start(&["--max-client-batch", "4", "--max-body-bytes", "4000"]);
    let oa = s.url("/v1/embeddings");
    let tei = s.url("/embed");
    let long = "word ".repeat(400);
    let nested = format!("{}1{}", "[".repeat(5000), "]".repeat(5000));
    let cases: Vec<(&str, String, Vec<u8>, u16, &str)> = vec![
        (
            "malformed",
            oa.clone(),
            b"{\"input\": ".to_vec(),
            400,
            "not valid JSON",
        ),
        (
            "malformed tei",
            tei.clone(),
            b"{inputs}".to_vec(),
            422,
            "not valid JSON",
        ),
        (
            "wrong type",
            oa.clone(),
            br#"{"input": 5}"#.to_vec(),
            400,
            "input",
        ),
        (
            "wrong type tei",
            tei.clone(),
            br#"{"inputs": {"a": 1}}"#.to_vec(),
            422,
            "inputs",
        ),
        (
            "missing",
            oa.clone(),
            br#"{"model": "x"}"#.to_vec(),
            400,
            "missing",
        ),
        (
            "empty list",
            oa.clone(),
            br#"{"input": []}"#.to_vec(),
            400,
            "empty list",
        ),
        (
            "empty list tei",
            tei.clone(),
            br#"{"inputs": []}"#.to_vec(),
            422,
            "empty list",
        ),
        (
            "empty string",
            oa.clone(),
            br#"{"input": ["a", ""]}"#.to_vec(),
            400,
            "input 1 is an empty string",
        ),
        (
            "mixed",
            oa.clone(),
            br#"{"input": ["a", 3]}"#.to_vec(),
            400,
            "input[1]",
        ),
        (
            "invalid utf-8",
            oa.clone(),
            b"{\"input\": \"\xff\xfe\"}".to_vec(),
            400,
            "not valid JSON",
        ),
        (
            // Without --accept-token-ids: LangChain's default sends tiktoken ids.
            "token ids",
            oa.clone(),
            br#"{"input": [[8586, 374, 264, 1296]]}"#.to_vec(),
            400,
            "check_embedding_ctx_length=False",
        ),
        (
            "negative ids",
            oa.clone(),
            br#"{"input": [1, -2]}"#.to_vec(),
            400,
            "non-negative",
        ),
        (
            "encoding_format",
            oa.clone(),
            br#"{"input": "a", "encoding_format": "int8"}"#.to_vec(),
            400,
            "encoding_format",
        ),
        (
            "dimensions",
            oa.clone(),
            br#"{"input": "a", "dimensions": 385}"#.to_vec(),
            400,
            "dimensions",
        ),
        (
            "nested",
            oa.clone(),
            format!("{{\"input\": {nested}}}").into_bytes(),
            413,
            "larger than 4000 bytes",
        ),
        (
            "deep",
            oa.clone(),
            format!("{{\"input\": {}}}", &nested[4700..5300]).into_bytes(),
            400,
            "not valid JSON",
        ),
        (
            "too many inputs",
            oa.clone(),
            br#"{"input": ["a","b","c","d","e"]}"#.to_vec(),
            413,
            "--max-client-batch",
        ),
        (
            "body too large",
            tei.clone(),
            format!("{{\"inputs\": \"{}\"}}", "a ".repeat(2500)).into_bytes(),
            413,
            "--max-body-bytes",
        ),
        (
            "too long",
            tei.clone(),
            json!({"inputs": long}).to_string().into_bytes(),
            413,
            "more than the 256",
        ),
        (
            "too long openai",
            oa.clone(),
            json!({"input": long}).to_string().into_bytes(),
            413,
            "more than the 256",
        ),
        (
            "direction",
            tei.clone(),
            br#"{"inputs": "a", "truncate": true, "truncation_direction": "up"}"#.to_vec(),
            422,
            "truncation_direction",
        ),
        (
            "normalize type",
            tei.clone(),
            br#"{"inputs": "a", "normalize": "yes"}"#.to_vec(),
            422,
            "normalize",
        ),
        (
            "no head",
            s.url("/predict"),
            br#"{"inputs": "a"}"#.to_vec(),
            422,
            "no classification head",
        ),
        (
            "not a reranker",
            s.url("/rerank"),
            br#"{"query": "a", "texts": ["b"]}"#.to_vec(),
            422,
            "cannot rerank",
        ),
    ];
    for (name, url, body, status, needle) in cases {
        let (st, _, v) = post_raw(&url, &body, &[]);
        assert_eq!(st, status, "{name}: {v}");
        let msg = if url.contains("/v1/") {
            assert!(v["error"]["type"].is_string(), "{name}: OpenAI shape {v}");
            v["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        } else {
            assert!(v["error_type"].is_string(), "{name}: TEI shape {v}");
            v["error"].as_str().unwrap_or_default().to_string()
        };
        assert!(msg.contains(needle), "{name}: {msg:?} lacks {needle:?}");
    }
    // truncate: true embeds the long input; left truncation keeps its end.
    let (st, v) = post(&tei, &json!({"inputs": long, "truncate": true}));
    assert_eq!(st, 200, "{v}");
    let (st, _) = post(
        &tei,
        &json!({"inputs": long, "truncate": true, "truncation_direction": "Left"}),
    );
    assert_eq!(st, 200);
    // Unknown path, wrong method: JSON too.
    let (st, _, v) = post_raw(&s.url("/v2/nothing"), b"{}", &[]);
    assert_eq!(st, 404, "{v}");
    assert!(v["error"].is_string());
    let (st, body) = get(&tei);
    assert_eq!(st, 405, "{body}");
    assert!(body.contains("not allowed"));
    let (st, body) = get(&s.url("/v1/embeddings"));
    assert_eq!(st, 405);
    assert!(body.contains("\"type\""), "{body}");
    // Still serving.
    let (st, _) = post(&oa, &json!({"input": "still here"}));
    assert_eq!(st, 200);
}

#[test]
fn an_api_key_is_required_when_set() {
    let s = Server::start(&[
        "--model",
        data("family/tiny-rerank-bert").to_str().unwrap(),
        "--api-key",
        "sekret",
    ]);
    let body = br#"{"input": "hello"}"#;
    let (st, _, v) = post_raw(&s.url("/v1/embeddings"), body, &[]);
    assert_eq!(st, 401, "{v}");
    assert_eq!(v["error"]["code"], "invalid_api_key");
    let (st, _, _) = post_raw(
        &s.url("/v1/embeddings"),
        body,
        &[("authorization", "Bearer nope")],
    );
    assert_eq!(st, 401);
    let (st, _, v) = post_raw(&s.url("/embed"), br#"{"inputs": "a"}"#, &[]);
    assert_eq!(st, 401);
    assert_eq!(v["error_type"], "Unauthorized");
    let (st, _, v) = post_raw(
        &s.url("/v1/embeddings"),
        body,
        &[("authorization", "Bearer sekret")],
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(get(&s.url("/health")).0, 200, "health needs no key");
    // A cross-encoder: /rerank and /predict.
    let auth = [("authorization", "Bearer sekret")];
    let q = json!({"query": "What is the capital of France?", "texts": ["nice movie", "The capital of France is Paris."], "return_text": true});
    let (st, _, r) = post_raw(&s.url("/rerank"), q.to_string().as_bytes(), &auth);
    assert_eq!(st, 200, "{r}");
    let rows = r.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows[0]["score"].as_f64() >= rows[1]["score"].as_f64());
    assert!(rows[0]["text"].is_string());
    let (st, _, p) = post_raw(
        &s.url("/predict"),
        br#"{"inputs": [["a question", "an answer"]]}"#,
        &auth,
    );
    assert_eq!(st, 200, "{p}");
    assert_eq!(p[0][0]["label"], "LABEL_0");
}

#[test]
fn predict_with_the_model_s_head() {
    let s = Server::start(&["--model", data("tiny-cls").to_str().unwrap()]);
    let want: Vec<Vec<f32>> = ok_stdout(&run_wgbert(&[
        "classify",
        "--model",
        data("tiny-cls").to_str().unwrap(),
        "--format",
        "jsonl",
        "a great film",
    ]))
    .lines()
    .map(|l| {
        let v: Value = serde_json::from_str(l).unwrap();
        let mut s: Vec<f32> = v["scores"]
            .as_object()
            .unwrap()
            .values()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        s.sort_by(|a, b| b.total_cmp(a));
        s
    })
    .collect();
    let (st, p) = post(&s.url("/predict"), &json!({"inputs": "a great film"}));
    assert_eq!(st, 200, "{p}");
    let got: Vec<f32> = p
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["score"].as_f64().unwrap() as f32)
        .collect();
    for (g, w) in got.iter().zip(&want[0]) {
        assert!((g - w).abs() < 1e-5, "{got:?} vs {want:?}");
    }
    let (st, p) = post(&s.url("/predict"), &json!({"inputs": ["a", "b"]}));
    assert_eq!(st, 200);
    assert_eq!(p.as_array().unwrap().len(), 2);
}

#[test]
fn a_flood_gets_429_and_concurrent_requests_are_batched() {
    let s = Server::start(&["--max-concurrent-requests", "2"]);
    let url = s.url("/v1/embeddings");
    let results: Vec<(u16, Option<String>, Value)> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..16)
            .map(|i| {
                let url = url.clone();
                sc.spawn(move || {
                    let body = json!({"input": format!("request number {i} is a short sentence")});
                    post_raw(&url, body.to_string().as_bytes(), &[])
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let limited: Vec<_> = results.iter().filter(|r| r.0 == 429).collect();
    assert!(
        !limited.is_empty(),
        "no 429 among {:?}",
        results.iter().map(|r| r.0).collect::<Vec<_>>()
    );
    assert!(results.iter().all(|r| r.0 == 200 || r.0 == 429));
    for r in &limited {
        assert_eq!(r.1.as_deref(), Some("1"), "Retry-After");
        assert_eq!(r.2["error"]["code"], "rate_limit_exceeded");
    }
    assert_eq!(post(&url, &json!({"input": "after the flood"})).0, 200);

    // Without the limit, 8 concurrent clients share forward passes and each gets its own answer.
    let s = Server::start(&[]);
    let url = s.url("/v1/embeddings");
    let texts: Vec<String> = (0..8)
        .map(|i| format!("sentence {i} for the batcher"))
        .collect();
    let got: Vec<Vec<f32>> = std::thread::scope(|sc| {
        let hs: Vec<_> = texts
            .iter()
            .map(|t| {
                let url = url.clone();
                sc.spawn(move || {
                    floats(&post(&url, &json!({"input": t})).1["data"][0]["embedding"])
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut args = vec!["embed", "--format", "jsonl"];
    args.extend(texts.iter().map(String::as_str));
    let want: Vec<Vec<f32>> = ok_stdout(&run_wgbert(&args))
        .lines()
        .map(|l| floats(&serde_json::from_str::<Value>(l).unwrap()["embedding"]))
        .collect();
    for (g, w) in got.iter().zip(&want) {
        // Merged passes may run another GEMM kernel than one request alone: float rounding.
        let cos: f32 = g.iter().zip(w).map(|(a, b)| a * b).sum();
        assert!(cos > 0.99999, "{cos}");
    }
    let (_, metrics) = get(&s.url("/metrics"));
    let count = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().parse().unwrap()))
            .unwrap()
    };
    // The warm-up pass plus fewer passes than requests.
    assert!(count("wgbert_batch_size_count ") < 9.0, "{metrics}");
}

#[test]
fn one_client_at_a_time_does_not_wait_for_the_batch_window() {
    // A long quiet window: a pass that waited for it would take five seconds. The first
    // request has no earlier pass to go by and waits for it; after that, the pass starts as
    // soon as the one request the last pass answered is back.
    let s = Server::start(&["--batch-wait-ms", "5000"]);
    let url = s.url("/v1/embeddings");
    assert_eq!(post(&url, &json!({"input": "the first request"})).0, 200);
    for i in 0..3 {
        let t = std::time::Instant::now();
        assert_eq!(post(&url, &json!({"input": format!("request {i}")})).0, 200);
        let took = t.elapsed();
        assert!(took < Duration::from_secs(4), "request {i} took {took:?}");
    }
}

#[test]
fn sigterm_drains_in_flight_requests_and_exits_0() {
    let mut s = Server::start(&[]);
    let url = s.url("/embed");
    let texts: Vec<String> = (0..48)
        .map(|i| format!("in flight request {i} with a few words"))
        .collect();
    let pid = s.child.id();
    let t0 = std::time::Instant::now();
    let mut killed_at = Duration::ZERO;
    let done: Vec<(u16, Duration)> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..6)
            .map(|c| {
                let url = url.clone();
                let chunk = texts[c * 8..(c + 1) * 8].to_vec();
                sc.spawn(move || (post(&url, &json!({"inputs": chunk})).0, t0.elapsed()))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        let ok = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        killed_at = t0.elapsed();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let statuses: Vec<u16> = done.iter().map(|d| d.0).collect();
    // Some requests were still being answered when the signal came, and were answered.
    assert!(
        done.iter().any(|d| d.1 > killed_at),
        "every request finished before SIGTERM; the drain was not exercised"
    );
    assert!(statuses.iter().all(|&st| st == 200), "{statuses:?}");
    let status = s.child.wait().unwrap();
    assert!(status.success(), "exit status {status:?}");
    let log: Vec<String> = s.log.try_iter().collect();
    assert!(log.iter().any(|l| l.contains("shutting down")), "{log:?}");
    assert!(log.iter().any(|l| l.contains("stopped")), "{log:?}");
}

#[test]
fn bench_serve_reports_both_phases_and_the_engine_bound() {
    let out = run_wgbert(&[
        "bench-serve",
        "--clients",
        "4",
        "--requests",
        "8",
        "--rounds",
        "2",
        "--json",
    ]);
    let v: Value = serde_json::from_str(ok_stdout(&out).trim()).expect("one JSON object");
    let rounds = v["rounds"].as_array().expect("rounds");
    assert_eq!(rounds.len(), 2, "{v}");
    for r in rounds {
        for (name, clients) in [("serial", 1), ("concurrent", 4)] {
            let p = &r[name];
            assert_eq!(p["clients"], clients, "{v}");
            assert_eq!(p["requests"], 8, "{v}");
            let f = |k: &str| p[k].as_f64().unwrap_or_else(|| panic!("{name}.{k} in {v}"));
            assert!(f("req_per_s") > 0.0 && f("p50_s") > 0.0 && f("p50_s") <= f("p99_s"));
            assert!(f("forward_s_per_input") > 0.0, "{v}");
            // One worker: forward passes never take more than the phase's wall time.
            assert!(f("engine_busy") > 0.0 && f("engine_busy") <= 1.0, "{v}");
            assert!(
                f("mean_batch") >= 1.0 && f("mean_batch") <= clients as f64,
                "{v}"
            );
        }
        // One client at a time: one input per pass.
        assert_eq!(r["serial"]["mean_batch"], 1.0, "{v}");
        let speedup = r["speedup"].as_f64().unwrap();
        let serial = r["serial"]["req_per_s"].as_f64().unwrap();
        let concurrent = r["concurrent"]["req_per_s"].as_f64().unwrap();
        assert!((speedup - concurrent / serial).abs() < 1e-9, "{v}");
        // The concurrent phase's wall time holds all its forward passes: no server beats it.
        assert!(
            speedup <= r["engine_bound_speedup"].as_f64().unwrap() * 1.000001,
            "{v}"
        );
    }
    // The reported round is the median one (of two: the lower).
    let speedups: Vec<f64> = rounds
        .iter()
        .map(|r| r["speedup"].as_f64().unwrap())
        .collect();
    let low = speedups.iter().copied().fold(f64::INFINITY, f64::min);
    assert_eq!(v["speedup"].as_f64().unwrap(), low, "{v}");
    let picked = &rounds[speedups.iter().position(|&x| x == low).unwrap()];
    assert_eq!(v["serial"], picked["serial"], "{v}");
    assert_eq!(
        v["engine_bound_speedup"], picked["engine_bound_speedup"],
        "{v}"
    );
}

#[test]
fn prompt_name_picks_the_folder_s_prompt() {
    let tmp = tempfile::tempdir().unwrap();
    let m = crate::prompts::prompted_model(
        tmp.path(),
        &json!({"prompts": {"query": "query: ", "document": ""}}),
    );
    let s = Server::start(&["--model", m.to_str().unwrap()]);
    let oa = |body: Value| {
        let (st, d) = post(&s.url("/v1/embeddings"), &body);
        assert_eq!(st, 200, "{d}");
        floats(&d["data"][0]["embedding"])
    };
    let want = oa(json!({"input": "query: a fair trial"}));
    assert_eq!(
        oa(json!({"input": "a fair trial", "prompt_name": "query"})),
        want
    );
    assert_ne!(oa(json!({"input": "a fair trial"})), want);
    let (st, e) = post(
        &s.url("/embed"),
        &json!({"inputs": ["a fair trial"], "prompt_name": "query"}),
    );
    assert_eq!(st, 200, "{e}");
    assert_eq!(floats(&e[0]), want);
    let (st, d) = post(
        &s.url("/embed"),
        &json!({"inputs": "x", "prompt_name": "passage"}),
    );
    assert_eq!(st, 422); // TEI's status for a bad request
    assert!(d.to_string().contains("document, query"), "{d}");
    let (st, _) = post(
        &s.url("/v1/embeddings"),
        &json!({"input": "x", "prompt_name": 3}),
    );
    assert_eq!(st, 400);
}

#[test]
fn a_folder_with_dense_modules_serves_their_vectors() {
    let s = Server::start(&["--model", data("tiny-st-dense").to_str().unwrap()]);
    let golden: Value =
        serde_json::from_str(&std::fs::read_to_string(data("dense_golden.json")).unwrap()).unwrap();
    // The last golden input is longer than the folder's 24 tokens, which the OpenAI route
    // refuses (413) rather than cut.
    let items = &golden["tiny-st-dense"]["items"].as_array().unwrap()[..4];
    let texts: Vec<&str> = items.iter().map(|i| i["text"].as_str().unwrap()).collect();
    let (st, d) = post(&s.url("/v1/embeddings"), &json!({ "input": texts }));
    assert_eq!(st, 200, "{d}");
    for (row, item) in d["data"].as_array().unwrap().iter().zip(items) {
        let v = floats(&row["embedding"]);
        assert_close("server", &v, &f32s(&item["embedding"]), 1e-5, 0.0);
    }
    let (_, info) = get(&s.url("/info"));
    assert!(info.contains("\"dims\":16"), "{info}");
    let (st, _) = post(
        &s.url("/v1/embeddings"),
        &json!({"input": "x", "dimensions": 17}),
    );
    assert_eq!(st, 400);
}

#[test]
fn a_splade_folder_serves_sparse_vectors_on_embed_sparse() {
    let s = Server::start(&["--model", data("tiny-splade-distil").to_str().unwrap()]);
    let golden: Value =
        serde_json::from_str(&std::fs::read_to_string(data("splade_golden.json")).unwrap())
            .unwrap();
    let items = golden["tiny-splade-distil"]["items"].as_array().unwrap();
    let texts: Vec<&str> = items.iter().map(|i| i["text"].as_str().unwrap()).collect();
    // TEI's shape: one list of {"index", "value"} per input; the last input is cut to 24 tokens.
    let (st, d) = post(
        &s.url("/embed_sparse"),
        &json!({ "inputs": texts, "truncate": true }),
    );
    assert_eq!(st, 200, "{d}");
    for (row, item) in d.as_array().unwrap().iter().zip(items) {
        let row = row.as_array().unwrap();
        let want = item["indices"].as_array().unwrap();
        assert_eq!(row.len(), want.len(), "max_active_dims 8: {row:?}");
        for ((e, i), v) in row.iter().zip(want).zip(item["values"].as_array().unwrap()) {
            assert_eq!(e["index"], *i);
            assert!((e["value"].as_f64().unwrap() - v.as_f64().unwrap()).abs() < 1e-5);
        }
    }
    let (st, one) = post(&s.url("/embed_sparse"), &json!({ "inputs": texts[0] }));
    assert_eq!((st, &one[0]), (200, &d[0]));
    // The dense routes name the sparse one.
    // (TEI's routes answer a validation error with 422, OpenAI's with 400.)
    for (path, body, code) in [
        ("/embed", json!({"inputs": "x"}), 422),
        ("/v1/embeddings", json!({"input": "x"}), 400),
    ] {
        let (st, e) = post(&s.url(path), &body);
        assert_eq!(st, code, "{path}: {e}");
        assert!(e.to_string().contains("/embed_sparse"), "{path}: {e}");
    }
    let (_, info) = get(&s.url("/info"));
    assert!(info.contains("\"pooling\":\"splade\""), "{info}");
    // A model without a masked-word head cannot give sparse vectors.
    drop(s);
    let s = Server::start(&["--model", data("tiny-st-dense").to_str().unwrap()]);
    let (st, e) = post(&s.url("/embed_sparse"), &json!({"inputs": "x"}));
    assert_eq!(st, 422);
    assert!(e.to_string().contains("no masked-word head"), "{e}");
}

#[test]
fn bge_m3_serves_its_lexical_weights_on_embed_sparse() {
    let s = Server::start(&["--model", data("tiny-bge-m3").to_str().unwrap()]);
    let g: Value =
        serde_json::from_str(&std::fs::read_to_string(data("bge_m3_golden.json")).unwrap())
            .unwrap();
    let items = g["items"].as_array().unwrap();
    let texts: Vec<&str> = items[..3]
        .iter()
        .map(|i| i["text"].as_str().unwrap())
        .collect();
    let (st, d) = post(
        &s.url("/embed_sparse"),
        &json!({ "inputs": texts, "truncate": true }),
    );
    assert_eq!(st, 200, "{d}");
    for (row, item) in d.as_array().unwrap().iter().zip(items) {
        let got: Vec<&Value> = row
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["index"])
            .collect();
        let want: Vec<&Value> = item["sparse_indices"].as_array().unwrap().iter().collect();
        assert_eq!(got, want);
        for (e, v) in row
            .as_array()
            .unwrap()
            .iter()
            .zip(item["sparse_values"].as_array().unwrap())
        {
            assert!((e["value"].as_f64().unwrap() - v.as_f64().unwrap()).abs() < 1e-5);
        }
    }
    // Its dense vector is served as any embedding model's.
    let (st, d) = post(&s.url("/embed"), &json!({ "inputs": texts[0] }));
    assert_eq!(st, 200);
    assert_close(
        "m3 dense",
        &floats(&d[0]),
        &f32s(&items[0]["dense"]),
        1e-5,
        0.0,
    );
}

#[test]
fn a_colbert_folder_is_refused_on_the_dense_routes() {
    let s = Server::start(&["--model", data("tiny-colbert").to_str().unwrap()]);
    for (path, body, code) in [
        ("/v1/embeddings", json!({"input": "x"}), 400),
        ("/embed", json!({"inputs": "x"}), 422),
    ] {
        let (st, e) = post(&s.url(path), &body);
        assert_eq!(st, code, "{path}: {e}");
        assert!(e.to_string().contains("--multi-vector"), "{path}: {e}");
    }
}
