//! Inputs the fuzzer (`cargo run --release --example fuzz`) ever crashed on, replayed, and a short
//! deterministic fuzz run of every target, so a regression shows up in `cargo test`.

#[path = "../../fuzz/harness.rs"]
mod harness;

use std::path::Path;

#[test]
fn saved_crash_inputs_no_longer_panic() {
    let c = harness::Corpus::load();
    let dir = Path::new(harness::ROOT).join("fuzz/regressions");
    let mut replayed = Vec::new();
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e} (the saved inputs are committed)", dir.display()));
    for entry in entries {
        let p = entry.unwrap().path();
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
        } else if name != "README.md" {
            panic!("{name}: a saved input is named pack-*, weights-* or config-* (its target)");
        } else {
            continue;
        }
        replayed.push(name);
    }
    assert!(
        replayed.len() >= 3,
        "fuzz/regressions holds too few saved inputs: {replayed:?}"
    );
    println!("replayed {} saved inputs: {replayed:?}", replayed.len());
}

#[test]
fn short_deterministic_fuzz_run() {
    let c = harness::Corpus::load();
    let (runs, crashes) = harness::run(&c, 7, "all", None, 300);
    assert_eq!(runs, [300, 300, 300]);
    assert!(crashes.is_empty(), "fuzz crashes saved: {crashes:?}");
}
