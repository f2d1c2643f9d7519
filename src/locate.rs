//! Where the default model is looked for when no folder is given. The library reads no
//! environment: the caller passes a lookup (`|name| std::env::var_os(name)` in the command line
//! and the Python package), so the search path is one piece of code for every front end.

use std::ffi::OsString;
use std::path::PathBuf;

/// A lookup of environment-like variables (`WGBERT_MODEL`, `HOME`, `XDG_DATA_HOME`,
/// `XDG_CACHE_HOME`); empty values count as unset.
pub type Vars<'a> = &'a dyn Fn(&str) -> Option<OsString>;

fn var(vars: Vars, name: &str) -> Option<OsString> {
    vars(name).filter(|v| !v.is_empty())
}

/// The per-user folders models are installed into and searched in, in order:
/// `$XDG_DATA_HOME/wgbert/models` (default `~/.local/share/wgbert/models`), then
/// `$XDG_CACHE_HOME/wgbert/models` (default `~/.cache/wgbert/models`).
pub fn user_model_dirs(vars: Vars) -> Vec<PathBuf> {
    let home = var(vars, "HOME").map(PathBuf::from);
    let xdg = |name: &str, fallback: &str| -> Option<PathBuf> {
        match var(vars, name) {
            Some(v) => Some(v.into()),
            None => home.as_ref().map(|h| h.join(fallback)),
        }
    };
    [
        xdg("XDG_DATA_HOME", ".local/share"),
        xdg("XDG_CACHE_HOME", ".cache"),
    ]
    .into_iter()
    .flatten()
    .map(|d| d.join("wgbert").join("models"))
    .collect()
}

/// Every place the default model is looked for when no folder is given, in order:
/// `WGBERT_MODEL`, `./assets/models/all-MiniLM-L6-v2`, then [`user_model_dirs`] /
/// `all-MiniLM-L6-v2`.
pub fn model_search_path(vars: Vars) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(v) = var(vars, "WGBERT_MODEL") {
        out.push(v.into());
    }
    out.push(crate::DEFAULT_MODEL_DIR.into());
    out.extend(
        user_model_dirs(vars)
            .into_iter()
            .map(|d| d.join(crate::DEFAULT_MODEL_NAME)),
    );
    out
}

/// The model folder to use: `explicit`, else `WGBERT_MODEL` (not second-guessed), else the
/// first folder of [`model_search_path`] that holds a `config.json`, else `DEFAULT_MODEL_DIR`
/// (for the error).
pub fn resolve_model_dir(explicit: Option<&std::path::Path>, vars: Vars) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    if let Some(v) = var(vars, "WGBERT_MODEL") {
        return v.into();
    }
    model_search_path(vars)
        .into_iter()
        .find(|d| d.join("config.json").is_file())
        .unwrap_or_else(|| crate::DEFAULT_MODEL_DIR.into())
}

/// Whether a folder was asked for (explicitly or by `WGBERT_MODEL`) rather than searched.
pub fn model_given(explicit: Option<&std::path::Path>, vars: Vars) -> bool {
    explicit.is_some() || var(vars, "WGBERT_MODEL").is_some()
}

/// "model not found" for the default model: every place looked, and how to install it.
/// `how_to_pass` names the front end's way to give a folder (`--model DIR`, `model_name_or_path`).
pub fn model_not_found_message(vars: Vars, how_to_pass: &str) -> String {
    let places: Vec<String> = model_search_path(vars)
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    format!(
        "the default model was not found; looked in: {}. Install it with scripts/fetch-model.sh --user (or `wgbert fetch-model`), or pass {how_to_pass} / set WGBERT_MODEL",
        places.join(", ")
    )
}
