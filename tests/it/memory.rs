//! File-scale embedding keeps memory bounded: peak RSS of `wgbert embed` on a file 10× larger
//! grows by far less than the output (chunks are streamed, not collected). Each run's peak is
//! its own (`wait4` on that child), so the other tests' processes do not count.

use crate::common;
use std::process::{Command, Stdio};

/// Waits for `child` and returns its exit status and its own peak RSS in KiB.
#[cfg(unix)]
fn wait_max_rss_kib(child: std::process::Child) -> (i32, i64) {
    let mut status = 0;
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `child` was spawned by us and not waited for; wait4 writes into values we own.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut u) };
    assert_eq!(pid, child.id() as libc::pid_t, "wait4 failed");
    (status, u.ru_maxrss)
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
        let err = tmp.path().join("stderr.txt");
        let child = Command::new(env!("CARGO_BIN_EXE_wgbert"))
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
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        let (status, rss) = wait_max_rss_kib(child);
        assert_eq!(
            status,
            0,
            "wgbert embed failed: {}",
            std::fs::read_to_string(&err).unwrap_or_default()
        );
        (std::fs::metadata(&out).unwrap().len(), rss)
    };
    let (small, large) = (write(3_000), write(30_000));
    let (_, after_small) = run(&small);
    let (bytes, after_large) = run(&large);
    let growth_kib = after_large - after_small;
    // 30 000 × 60 floats is 7 MiB of output; holding the inputs and vectors would grow RSS by
    // more than that. Streaming keeps the growth to noise.
    assert!(bytes > 7_000_000);
    assert!(
        growth_kib < 6 * 1024,
        "peak RSS grew by {growth_kib} KiB from 3k to 30k lines ({after_small} → {after_large} KiB)"
    );
}
