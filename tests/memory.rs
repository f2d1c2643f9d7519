//! File-scale embedding keeps memory bounded: peak RSS of `wgbert embed` on a file 10× larger
//! grows by far less than the output (chunks are streamed, not collected).
//! Alone in its own test binary so that no other child process skews `RUSAGE_CHILDREN`.

mod common;
use std::process::Command;

#[cfg(unix)]
fn children_max_rss_kib() -> i64 {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct we own.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) };
    assert_eq!(rc, 0);
    u.ru_maxrss
}

#[cfg(unix)]
#[test]
fn embed_memory_does_not_grow_with_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let words = [
        "the", "movie", "was", "great", "terrible", "plot", "fair", "trial", "county", "judge",
    ];
    let write = |n: usize| {
        let p = tmp.path().join(format!("in{n}.txt"));
        let text: String = (0..n)
            .map(|i| {
                format!(
                    "{} {} {}\n",
                    words[i % 10],
                    words[(i / 10) % 10],
                    words[(i / 100) % 10]
                )
            })
            .collect();
        std::fs::write(&p, text).unwrap();
        p
    };
    let run = |input: &std::path::Path| {
        let out = tmp.path().join("v.npy");
        let o = Command::new(env!("CARGO_BIN_EXE_wgbert"))
            .args([
                "embed",
                "--model",
                common::data("tiny-bert").to_str().unwrap(),
                "--seq-len",
                "16",
                "--batch-size",
                "128",
                "--format",
                "npy",
                "-o",
            ])
            .arg(&out)
            .arg("--input")
            .arg(input)
            .env("NODEVICE_SELECT", "1")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::metadata(&out).unwrap().len()
    };
    let (small, large) = (write(3_000), write(30_000));
    run(&small);
    let after_small = children_max_rss_kib();
    let bytes = run(&large);
    let after_large = children_max_rss_kib();
    let growth_kib = after_large - after_small;
    // 30 000 × 60 floats is 7 MiB of output; holding the inputs and vectors would grow RSS by
    // more than that. Streaming keeps the growth to noise.
    assert!(bytes > 7_000_000);
    assert!(
        growth_kib < 6 * 1024,
        "peak RSS grew by {growth_kib} KiB from 3k to 30k lines ({after_small} → {after_large} KiB)"
    );
}
