//! The fuzzing harness shared by `examples/fuzz.rs` (the long runs) and
//! `tests/it/fuzz_regressions.rs` (saved crashes and a short deterministic run in CI).
#![allow(dead_code)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Instant;
use wgbert::reference::SplitMix64;
use wgbert::weights::TensorStore;
use wgbert::{BertConfig, Input, Preprocessor};

pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");

pub fn random_text(rng: &mut SplitMix64) -> String {
    // Mix of ASCII, separators, controls, combining marks, CJK, emoji, invalid-looking pieces.
    const PIECES: &[&str] = &[
        "a",
        "the",
        " ",
        "  ",
        "|||",
        "||",
        "|",
        "\0",
        "\u{1}",
        "\t",
        "\r",
        "\n",
        "\u{200b}",
        "\u{feff}",
        "é",
        "e\u{301}",
        "ß",
        "İ",
        "中",
        "文",
        "한",
        "ガ",
        "😀",
        "👩‍👩‍👧",
        "[CLS]",
        "[SEP]",
        "[PAD]",
        "[UNK]",
        "##",
        "💩",
        "\u{10ffff}",
        "ﷺ",
        "x",
        "supercalifragilistic",
        ".",
        ",",
        "?",
    ];
    let n = rng.below(64);
    let mut s = String::new();
    for _ in 0..n {
        if rng.below(10) == 0 {
            s.extend(std::iter::repeat_n('z', rng.below(300)));
        } else {
            s.push_str(PIECES[rng.below(PIECES.len())]);
        }
    }
    s
}

pub fn mutate(rng: &mut SplitMix64, base: &[u8]) -> Vec<u8> {
    let mut b = base.to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(6) {
            0 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] ^= 1 << rng.below(8);
            }
            1 => b.truncate(rng.below(b.len() + 1)),
            2 if b.len() > 8 => {
                // Corrupt the header length or the start of the JSON header.
                let i = rng.below(16.min(b.len()));
                b[i] = rng.below(256) as u8;
            }
            3 => b.extend((0..rng.below(64)).map(|_| rng.below(256) as u8)),
            4 if b.len() > 16 => {
                let i = 8 + rng.below(b.len().min(400) - 8);
                const JSONISH: &[u8] = b"{}[]\":,0123456789eE-";
                b[i] = JSONISH[rng.below(JSONISH.len())];
            }
            _ => b = (0..rng.below(256)).map(|_| rng.below(256) as u8).collect(),
        }
    }
    b
}

pub fn save(kind: &str, bytes: &[u8]) -> PathBuf {
    let dir = Path::new(ROOT).join("fuzz/crashes");
    let _ = std::fs::create_dir_all(&dir);
    let p = dir.join(format!(
        "{kind}-{:016x}",
        bytes
            .iter()
            .fold(0xcbf29ce484222325u64, |h, b| (h ^ *b as u64)
                .wrapping_mul(0x100000001b3))
    ));
    let _ = std::fs::write(&p, bytes);
    p
}

/// The inputs every target starts from.
pub struct Corpus {
    pub pre: Preprocessor,
    pub weights: Vec<u8>,
    pub config: Vec<u8>,
    pub cfg: BertConfig,
}

impl Corpus {
    /// Loads the tiny test model's files.
    pub fn load() -> Corpus {
        let dir = Path::new(ROOT).join("tests/data/tiny-bert");
        let pre = Preprocessor::from_file(&dir.join("tokenizer.json")).expect("tokenizer");
        let weights = std::fs::read(dir.join("model.safetensors")).expect("weights");
        let config = std::fs::read(dir.join("config.json")).expect("config");
        let cfg = BertConfig::from_json(
            Path::new("config.json"),
            std::str::from_utf8(&config).unwrap(),
        )
        .unwrap();
        Corpus {
            pre,
            weights,
            config,
            cfg,
        }
    }
}

/// Packs `text` at `seq`; checks the invariants of a successful pack. Panics are the bug.
pub fn check_pack(pre: &Preprocessor, seq: usize, text: &str) {
    if let Ok(p) = pre.pack(&Input::parse(text), seq) {
        assert_eq!(p.input_word_ids.len(), seq);
        assert_eq!(
            p.input_mask.iter().filter(|&&m| m == 1).count(),
            p.tokens.len()
        );
    }
}

/// Loads weights from `bytes` and checks them against the config.
pub fn check_weights(cfg: &BertConfig, bytes: &[u8]) {
    if let Ok(store) = TensorStore::from_bytes(Path::new("model.safetensors"), bytes) {
        let _ = store.into_weights(cfg);
    }
}

/// Parses config JSON.
pub fn check_config(text: &str) {
    let _ = BertConfig::from_json(Path::new("config.json"), text);
}

/// Runs `iterations` rounds of every target from `seed`; returns the saved crash files.
pub fn run(
    c: &Corpus,
    seed: u64,
    target: &str,
    deadline: Option<Instant>,
    iterations: u64,
) -> ([u64; 3], Vec<PathBuf>) {
    let mut rng = SplitMix64::new(seed);
    let (mut runs, mut crashes) = ([0u64; 3], Vec::new());
    let mut i = 0;
    while deadline.map_or(i < iterations, |d| Instant::now() < d) {
        i += 1;
        if target == "all" || target == "pack" {
            let text = random_text(&mut rng);
            let seq = rng.below(40);
            if catch_unwind(AssertUnwindSafe(|| check_pack(&c.pre, seq, &text))).is_err() {
                crashes.push(save("pack", format!("{seq}\n{text}").as_bytes()));
            }
            runs[0] += 1;
        }
        if target == "all" || target == "weights" {
            let bytes = mutate(&mut rng, &c.weights);
            if catch_unwind(AssertUnwindSafe(|| check_weights(&c.cfg, &bytes))).is_err() {
                crashes.push(save("weights", &bytes));
            }
            runs[1] += 1;
        }
        if target == "all" || target == "config" {
            let bytes = mutate(&mut rng, &c.config);
            let text = String::from_utf8_lossy(&bytes).into_owned();
            if catch_unwind(AssertUnwindSafe(|| check_config(&text))).is_err() {
                crashes.push(save("config", text.as_bytes()));
            }
            runs[2] += 1;
        }
    }
    (runs, crashes)
}
