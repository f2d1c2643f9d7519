//! Inputs the fuzzer (`cargo run --release --example fuzz`) ever crashed on, replayed, and a short
//! deterministic fuzz run of every target, so a regression shows up in `cargo test`.

#[path = "../fuzz/harness.rs"]
mod harness;

use std::path::Path;

#[test]
fn saved_crash_inputs_no_longer_panic() {
    let c = harness::Corpus::load();
    let dir = Path::new(harness::ROOT).join("fuzz/regressions");
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let p = entry.path();
        let bytes = std::fs::read(&p).unwrap();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("pack-") {
            let text = String::from_utf8_lossy(&bytes);
            let (seq, rest) = text.split_once('\n').unwrap_or(("16", &text));
            harness::check_pack(&c.pre, seq.parse().unwrap_or(16), rest);
        } else if name.starts_with("weights-") {
            harness::check_weights(&c.cfg, &bytes);
        } else if name.starts_with("config-") {
            harness::check_config(&String::from_utf8_lossy(&bytes));
        }
    }
}

#[test]
fn short_deterministic_fuzz_run() {
    let c = harness::Corpus::load();
    let (runs, crashes) = harness::run(&c, 7, "all", None, 300);
    assert_eq!(runs, [300, 300, 300]);
    assert!(crashes.is_empty(), "fuzz crashes saved: {crashes:?}");
}
