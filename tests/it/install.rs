//! The command as installed on a PATH: it finds the default model from any directory (the
//! per-user model folder), says where it looked when it cannot, reads standard input, and
//! prints no Mesa device-select noise.

use crate::common::*;
use std::io::Write;
use std::process::{Command, Stdio};

/// A home folder whose per-user model folder holds the default model (a symlink).
fn home_with_model() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let models = home.path().join(".local/share/wgbert/models");
    std::fs::create_dir_all(&models).unwrap();
    std::os::unix::fs::symlink(
        minilm_dir().canonicalize().unwrap(),
        models.join("all-MiniLM-L6-v2"),
    )
    .unwrap();
    home
}

/// The tuning and pipeline cache the other runs of the binary use (the homes here are fresh
/// each time, and what is tested is where the model is found, not the tuning).
fn shared_cache() -> &'static std::path::Path {
    static D: std::sync::OnceLock<(std::path::PathBuf, Option<tempfile::TempDir>)> =
        std::sync::OnceLock::new();
    let (dir, _keep) =
        D.get_or_init(
            || match wgbert::EngineOptions::from_env().kernels.cache_dir {
                Some(d) => (d, None),
                None => {
                    let t = tempfile::tempdir().unwrap();
                    (t.path().to_path_buf(), Some(t))
                }
            },
        );
    dir
}

fn wgbert_in(dir: &std::path::Path, home: &std::path::Path, args: &[&str]) -> Command {
    let mut c = Command::new(wgbert_bin());
    c.args(args)
        .env("WGBERT_CACHE_DIR", shared_cache())
        .current_dir(dir)
        .env("HOME", home)
        .env_remove("XDG_DATA_HOME")
        .env_remove("XDG_CACHE_HOME")
        .env_remove("WGBERT_MODEL")
        .env("NODEVICE_SELECT", "1");
    c
}

#[test]
fn finds_the_model_from_any_directory_and_reads_stdin() {
    let home = home_with_model();
    let cwd = tempfile::tempdir().unwrap();
    let o = wgbert_in(cwd.path(), home.path(), &["embed", "hi"])
        .output()
        .unwrap();
    let out = ok_stdout(&o);
    assert_eq!(out.lines().count(), 1, "{out}");

    // Piped standard input, one input a line; and `--input -`.
    for args in [vec!["embed"], vec!["embed", "--input", "-"]] {
        let mut child = wgbert_in(cwd.path(), home.path(), &args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"first line\nsecond line\r\nthird")
            .unwrap();
        let o = child.wait_with_output().unwrap();
        let out = ok_stdout(&o);
        assert_eq!(out.lines().count(), 3, "{args:?}: {out}");
    }
    let mut child = wgbert_in(cwd.path(), home.path(), &["encode"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"a ||| b\n").unwrap();
    let out = ok_stdout(&child.wait_with_output().unwrap());
    assert!(out.contains("\"input_type_ids\""), "{out}");

    // XDG_DATA_HOME is honoured.
    let o = wgbert_in(cwd.path(), cwd.path(), &["embed", "hi"])
        .env("XDG_DATA_HOME", home.path().join(".local/share"))
        .output()
        .unwrap();
    ok_stdout(&o);
}

#[test]
fn a_missing_model_names_every_place_looked() {
    let home = tempfile::tempdir().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let o = wgbert_in(cwd.path(), home.path(), &["embed", "hi"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    for needle in [
        "assets/models/all-MiniLM-L6-v2",
        ".local/share/wgbert/models/all-MiniLM-L6-v2",
        ".cache/wgbert/models/all-MiniLM-L6-v2",
        "fetch-model",
    ] {
        assert!(e.contains(needle), "{needle:?} not in {e}");
    }
    assert_eq!(e.lines().count(), 1, "{e}");
}

#[test]
fn no_device_select_noise_on_a_plain_run() {
    let o = Command::new(wgbert_bin())
        .args(["embed", "hi"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("NODEVICE_SELECT")
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{e}");
    assert!(!e.contains("XDG_RUNTIME_DIR"), "device-select noise: {e}");
    assert!(e.trim().is_empty(), "stderr of a plain run: {e}");
}

/// Runs a shell command with its stdout on a pseudo-terminal (`script` from util-linux).
fn in_pty(cmd: &str) -> std::process::Output {
    Command::new("script")
        .args(["-qec", cmd, "/dev/null"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NODEVICE_SELECT", "1")
        .env("WGBERT_CACHE_DIR", shared_cache())
        .stdin(Stdio::null())
        .output()
        .expect("run script(1) from util-linux to get a terminal")
}

/// `.npy` is binary: refused when stdout is a terminal, accepted with --output.
#[test]
fn npy_is_refused_on_a_terminal_unless_output_is_given() {
    let tmp = tempfile::tempdir().unwrap();
    let o = in_pty(&format!(
        "{} embed --format npy hi; echo \"exit=$?\"",
        wgbert_bin()
    ));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("refusing to write binary .npy to a terminal"),
        "{out}"
    );
    assert!(out.contains("exit=1"), "{out}");
    let dest = tmp.path().join("v.npy");
    let o = in_pty(&format!(
        "{} embed --format npy --output {} hi",
        wgbert_bin(),
        dest.display()
    ));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    assert!(std::fs::read(&dest).unwrap().starts_with(b"\x93NUMPY"));
}
