//! The C ABI: `include/wgbert.h` agrees with the library's exports, and `examples/c/embed.c`,
//! compiled with the system C compiler against the header and the built library, embeds text
//! equal to the goldens, gets clear errors for bad input and the same vectors from 4 threads.

use crate::common::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn header() -> String {
    std::fs::read_to_string(root().join("include/wgbert.h")).unwrap()
}

/// Function names declared in the header.
fn header_functions() -> BTreeSet<String> {
    let text = header();
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let l = line.trim_start();
        if l.starts_with('#') || l.starts_with("/*") || l.starts_with('*') {
            continue;
        }
        // The identifier right before the first '(' of a declaration line.
        if let Some(j) = l.find('(') {
            let name = l[..j]
                .rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .next()
                .unwrap_or_default();
            if name.starts_with("wgbert_") {
                out.insert(name.to_string());
            }
        }
    }
    out
}

/// `extern "C"` functions of src/capi.rs.
fn rust_exports() -> BTreeSet<String> {
    let text = std::fs::read_to_string(root().join("src/capi.rs")).unwrap();
    text.lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let rest = l
                .strip_prefix("pub unsafe extern \"C\" fn ")
                .or_else(|| l.strip_prefix("pub extern \"C\" fn "))?;
            Some(rest.split('(').next()?.to_string())
        })
        .collect()
}

#[test]
fn header_and_exports_agree() {
    let h = header_functions();
    let r = rust_exports();
    assert!(h.len() >= 12, "{h:?}");
    assert_eq!(
        h, r,
        "include/wgbert.h and src/capi.rs declare different functions"
    );
    for f in [
        "wgbert_engine_new",
        "wgbert_last_error",
        "wgbert_engine_dim",
        "wgbert_embed",
        "wgbert_engine_free",
        "wgbert_default_options",
    ] {
        assert!(h.contains(f), "{f} missing");
    }
    // The error codes, precisions and poolings of the header are the library's.
    let text = header();
    use wgbert::capi as c;
    for (name, value) in [
        ("WGBERT_OK", c::WGBERT_OK),
        (
            "WGBERT_ERR_INVALID_ARGUMENT",
            c::WGBERT_ERR_INVALID_ARGUMENT,
        ),
        ("WGBERT_ERR_ENGINE", c::WGBERT_ERR_ENGINE),
        ("WGBERT_ERR_PANIC", c::WGBERT_ERR_PANIC),
        ("WGBERT_PRECISION_F32", c::WGBERT_PRECISION_F32),
        ("WGBERT_PRECISION_F16", c::WGBERT_PRECISION_F16),
        ("WGBERT_POOLING_MODEL", c::WGBERT_POOLING_MODEL),
        ("WGBERT_POOLING_MEAN", c::WGBERT_POOLING_MEAN),
        ("WGBERT_POOLING_MAX", c::WGBERT_POOLING_MAX),
        ("WGBERT_POOLING_CLS", c::WGBERT_POOLING_CLS),
        ("WGBERT_POOLING_POOLER", c::WGBERT_POOLING_POOLER),
        (
            "WGBERT_POOLING_MEAN_SQRT_LEN",
            c::WGBERT_POOLING_MEAN_SQRT_LEN,
        ),
    ] {
        // `#define NAME VALUE`, negative values in parentheses.
        let shown = if value < 0 {
            format!("({value})")
        } else {
            value.to_string()
        };
        let want = format!("#define {name} {shown}");
        assert!(text.contains(&want), "header lacks {want:?}");
    }
    // The exact prototypes the contract promises.
    for proto in [
        "typedef struct wgbert_engine wgbert_engine;",
        "wgbert_engine *wgbert_engine_new(const char *model_dir);",
        "const char *wgbert_last_error(void);",
        "size_t wgbert_engine_dim(const wgbert_engine *engine);",
        "int wgbert_embed(wgbert_engine *engine, const char *const *texts, size_t n, float *out);",
        "void wgbert_engine_free(wgbert_engine *engine);",
    ] {
        assert!(text.contains(proto), "header lacks {proto:?}");
    }
}

/// The folder holding libwgbert.so as `cargo test` built it (the library's cdylib is built
/// with the test binary, in the same profile): no second cargo inside a test.
fn built_library() -> PathBuf {
    // This test binary is target/<profile>/deps/it-<hash>; the cdylib is in deps/ and, uplifted,
    // in target/<profile>.
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    for d in [deps, deps.parent().unwrap()] {
        if d.join("libwgbert.so").exists() {
            return d.to_path_buf();
        }
    }
    panic!(
        "libwgbert.so not found next to {}: the library's cdylib is built by `cargo test` \
         (crate-type cdylib in Cargo.toml)",
        exe.display()
    );
}

fn compile_example(lib: &Path, out: &Path) {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let o = Command::new(&cc)
        .arg("-std=c99")
        .arg("-Wall")
        .arg("-Werror")
        .arg("-I")
        .arg(root().join("include"))
        .arg(root().join("examples/c/embed.c"))
        .arg("-L")
        .arg(lib)
        .arg("-lwgbert")
        .arg("-lpthread")
        .arg("-lm")
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-o")
        .arg(out)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C compiler {cc}: {e}"));
    assert!(
        o.status.success(),
        "{cc} failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn the_c_example_embeds_like_the_goldens() {
    let lib = built_library();
    // The shared library exports exactly the header's functions.
    let nm = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(lib.join("libwgbert.so"))
        .output()
        .expect("run nm (binutils)");
    let exported: BTreeSet<String> = String::from_utf8_lossy(&nm.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .filter(|s| s.starts_with("wgbert_"))
        .map(str::to_string)
        .collect();
    assert_eq!(exported, header_functions(), "libwgbert.so exports");
    let tmp = tempfile::tempdir().unwrap();
    let exe = tmp.path().join("embed");
    compile_example(&lib, &exe);

    let golden: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data("minilm_public.json")).unwrap())
            .unwrap();
    let items: Vec<&serde_json::Value> = golden["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["segments"].as_array().map(Vec::len) == Some(1))
        .take(4)
        .collect();
    let texts: Vec<String> = items
        .iter()
        .map(|i| i["segments"][0].as_str().unwrap().to_string())
        .collect();
    let o = Command::new(&exe)
        .arg(minilm_dir())
        .args(&texts)
        .env("NODEVICE_SELECT", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "embed.c failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let vectors: Vec<Vec<f32>> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("vector "))
        .map(|l| l.split(' ').map(|x| x.parse().unwrap()).collect())
        .collect();
    assert_eq!(vectors.len(), texts.len(), "{stdout}");
    for (v, item) in vectors.iter().zip(&items) {
        let want = f32s(&item["mean_pooled_normalized"]);
        assert_eq!(v.len(), 384);
        let diff = v
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(diff < 1e-5, "{:?}: max diff {diff}", item["segments"]);
    }
    for needle in [
        "error invalid-utf8: code 1: texts[0] is not valid UTF-8",
        "error null-texts: code 1: texts is NULL",
        "error null-text: code 1: texts[1] is NULL",
        "error n-zero: code 1: n is 0",
        "error null-out: code 1: out is NULL",
        "error null-engine: code 1: engine is NULL",
        "threads: ok",
        "prompted 0 1.0000",
        "error bad-prompt-name: code 2: prompt name \"nope\" is not in",
        "pooled 0 ",
        "version 0.",
    ] {
        assert!(stdout.contains(needle), "{needle:?} not in:\n{stdout}");
    }
    assert!(
        stdout.contains("error no-model") && stdout.contains("/nonexistent/model"),
        "{stdout}"
    );
}
