//! The C ABI. `include/wgbert.h` is its whole contract (tests/it/capi.rs checks that the header
//! and these exports agree, and builds and runs `examples/c/embed.c` against them).
//!
//! Every function catches panics (a panic becomes `WGBERT_ERR_PANIC` and a message), checks its
//! pointers, and records a message for `wgbert_last_error` on failure (per thread). One engine
//! may be used from several threads at once.

#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)] // the header documents each function's contract

use crate::engine::{Engine, EngineOptions};
use crate::kernels::Precision;
use crate::model::{Pooling, Request};
use crate::preprocess::Input;
use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char, c_int};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

/// Success.
pub const WGBERT_OK: c_int = 0;
/// A NULL pointer, invalid UTF-8, n = 0 or another bad argument.
pub const WGBERT_ERR_INVALID_ARGUMENT: c_int = 1;
/// The engine could not do it (model, GPU, input too long for the model, …).
pub const WGBERT_ERR_ENGINE: c_int = 2;
/// A bug: a panic was caught at the boundary.
pub const WGBERT_ERR_PANIC: c_int = 3;

/// `WGBERT_PRECISION_F32`.
pub const WGBERT_PRECISION_F32: c_int = 0;
/// `WGBERT_PRECISION_F16`.
pub const WGBERT_PRECISION_F16: c_int = 1;
/// `WGBERT_POOLING_MODEL`: what the model folder says (modules.json), else mean.
pub const WGBERT_POOLING_MODEL: c_int = -1;
/// `WGBERT_POOLING_MEAN`.
pub const WGBERT_POOLING_MEAN: c_int = 0;
/// `WGBERT_POOLING_MAX`.
pub const WGBERT_POOLING_MAX: c_int = 1;
/// `WGBERT_POOLING_CLS`.
pub const WGBERT_POOLING_CLS: c_int = 2;
/// `WGBERT_POOLING_POOLER`.
pub const WGBERT_POOLING_POOLER: c_int = 3;
/// `WGBERT_POOLING_MEAN_SQRT_LEN`.
pub const WGBERT_POOLING_MEAN_SQRT_LEN: c_int = 4;

/// The header's `WGBERT_PRECISION_*` values and what each means (tests/it/capi.rs checks the
/// header's `#define`s against these constants).
const PRECISIONS: [(c_int, Precision); 2] = [
    (WGBERT_PRECISION_F32, Precision::F32),
    (WGBERT_PRECISION_F16, Precision::F16),
];

/// The header's `WGBERT_POOLING_*` values and what each means (`None`: the model folder's).
const POOLINGS: [(c_int, Option<Pooling>); 6] = [
    (WGBERT_POOLING_MODEL, None),
    (WGBERT_POOLING_MEAN, Some(Pooling::Mean)),
    (WGBERT_POOLING_MAX, Some(Pooling::Max)),
    (WGBERT_POOLING_CLS, Some(Pooling::Cls)),
    (WGBERT_POOLING_POOLER, Some(Pooling::Pooler)),
    (WGBERT_POOLING_MEAN_SQRT_LEN, Some(Pooling::MeanSqrtLen)),
];

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_error(msg: impl Into<String>) {
    let msg = msg.into().replace('\0', " ");
    LAST_ERROR.with(|e| *e.borrow_mut() = CString::new(msg).unwrap_or_default());
}

/// An engine behind an opaque pointer.
pub struct wgbert_engine {
    engine: Engine,
}

/// Options of `wgbert_engine_new_with_options` (see the header).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct wgbert_options {
    /// `WGBERT_PRECISION_F32` (0) or `WGBERT_PRECISION_F16` (1).
    pub precision: c_int,
    /// `WGBERT_POOLING_MODEL` (-1: the model folder's), or MEAN 0, MAX 1, CLS 2, POOLER 3,
    /// MEAN_SQRT_LEN 4.
    pub pooling: c_int,
    /// -1: the model folder's; 0: no; 1: L2-normalise.
    pub normalize: c_int,
    /// Packed length of `wgbert_encode` (0: 128, or the model's longest input if shorter).
    pub seq_len: usize,
    /// Longest input of `wgbert_embed` (0: the folder's `max_seq_length`, else `seq_len`).
    pub embed_seq_len: usize,
    /// A substring of the adapter's name, or NULL for the best adapter.
    pub adapter: *const c_char,
}

enum Failure {
    Invalid(String),
    Engine(String),
}

fn guard<T>(fallback: T, f: impl FnOnce() -> Result<T, Failure>) -> (T, c_int) {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => (v, WGBERT_OK),
        Ok(Err(Failure::Invalid(m))) => {
            set_error(m);
            (fallback, WGBERT_ERR_INVALID_ARGUMENT)
        }
        Ok(Err(Failure::Engine(m))) => {
            set_error(m);
            (fallback, WGBERT_ERR_ENGINE)
        }
        Err(p) => {
            let what = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            set_error(format!(
                "internal error (a bug in wgbert, please report it): {what}"
            ));
            (fallback, WGBERT_ERR_PANIC)
        }
    }
}

fn engine_err(e: crate::Error) -> Failure {
    Failure::Engine(e.to_string())
}

unsafe fn c_str<'a>(p: *const c_char, what: &str) -> Result<&'a str, Failure> {
    if p.is_null() {
        return Err(Failure::Invalid(format!("{what} is NULL")));
    }
    // SAFETY: the caller passes a NUL-terminated string (the header's contract).
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map_err(|e| Failure::Invalid(format!("{what} is not valid UTF-8 ({e})")))
}

unsafe fn c_strs(p: *const *const c_char, n: usize, what: &str) -> Result<Vec<String>, Failure> {
    if p.is_null() {
        return Err(Failure::Invalid(format!("{what} is NULL")));
    }
    if n == 0 {
        return Err(Failure::Invalid(format!(
            "n is 0: pass at least one text in {what}"
        )));
    }
    (0..n)
        .map(|i| {
            // SAFETY: the caller passes n valid pointers.
            let s = unsafe { *p.add(i) };
            unsafe { c_str(s, &format!("{what}[{i}]")) }.map(str::to_string)
        })
        .collect()
}

unsafe fn engine_ref<'a>(e: *const wgbert_engine) -> Result<&'a Engine, Failure> {
    if e.is_null() {
        return Err(Failure::Invalid("engine is NULL".into()));
    }
    // SAFETY: a pointer from wgbert_engine_new*, not yet freed (the header's contract).
    Ok(unsafe { &(*e).engine })
}

/// The options `wgbert_engine_new` uses.
#[unsafe(no_mangle)]
pub extern "C" fn wgbert_default_options() -> wgbert_options {
    wgbert_options {
        precision: WGBERT_PRECISION_F32,
        pooling: WGBERT_POOLING_MODEL,
        normalize: -1,
        seq_len: 0,
        embed_seq_len: 0,
        adapter: std::ptr::null(),
    }
}

/// Loads a model folder with the default options; NULL on error.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wgbert_engine_new(model_dir: *const c_char) -> *mut wgbert_engine {
    let o = wgbert_default_options();
    unsafe { wgbert_engine_new_with_options(model_dir, &o) }
}

/// Loads a model folder; NULL on error (see `wgbert_last_error`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wgbert_engine_new_with_options(
    model_dir: *const c_char,
    options: *const wgbert_options,
) -> *mut wgbert_engine {
    guard(std::ptr::null_mut(), || {
        let dir = unsafe { c_str(model_dir, "model_dir") }?;
        let o = if options.is_null() {
            wgbert_default_options()
        } else {
            // SAFETY: the caller passes a valid options struct.
            unsafe { *options }
        };
        let precision = match PRECISIONS.iter().find(|(v, _)| *v == o.precision) {
            Some(&(_, p)) => p,
            None => {
                return Err(Failure::Invalid(format!(
                    "precision {} is not WGBERT_PRECISION_F32 (0) or WGBERT_PRECISION_F16 (1)",
                    o.precision
                )));
            }
        };
        let pooling = match POOLINGS.iter().find(|(v, _)| *v == o.pooling) {
            Some(&(_, p)) => p,
            None => {
                return Err(Failure::Invalid(format!(
                    "pooling {} is not one of WGBERT_POOLING_* (-1..4)",
                    o.pooling
                )));
            }
        };
        let normalize = match o.normalize {
            -1 => None,
            0 => Some(false),
            1 => Some(true),
            v => {
                return Err(Failure::Invalid(format!(
                    "normalize {v} is not -1 (the model's), 0 or 1"
                )));
            }
        };
        // A C host gets the command line's environment variables (WGBERT_GEMM, the cache
        // folder, ...), as users of a C library expect; what the struct says wins.
        let mut opts = EngineOptions {
            precision,
            pooling,
            normalize,
            ..EngineOptions::from_env()
        };
        if o.seq_len != 0 {
            opts.seq_length = o.seq_len;
        }
        if o.embed_seq_len != 0 {
            opts.embed_seq_length = Some(o.embed_seq_len);
        }
        if !o.adapter.is_null() {
            opts.gpu.adapter_name = Some(unsafe { c_str(o.adapter, "adapter") }?.to_string());
        }
        let engine = Engine::from_dir(Path::new(dir), opts).map_err(engine_err)?;
        Ok(Box::into_raw(Box::new(wgbert_engine { engine })))
    })
    .0
}

/// This thread's last error message ("" if none). Valid until this thread's next wgbert call.
#[unsafe(no_mangle)]
pub extern "C" fn wgbert_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// The library's version, e.g. "0.1.0" (static storage).
#[unsafe(no_mangle)]
pub extern "C" fn wgbert_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Floats per embedding vector (the model width, or the last Dense module's output); 0 for
/// NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wgbert_engine_dim(engine: *const wgbert_engine) -> usize {
    guard(0, || Ok(unsafe { engine_ref(engine) }?.embedding_dim())).0
}

/// The model width H (`wgbert_encode`'s outputs); 0 for NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wgbert_engine_hidden_size(engine: *const wgbert_engine) -> usize {
    guard(0, || {
        Ok(unsafe { engine_ref(engine) }?.config().hidden_size)
    })
    .0
}

/// The packed length `wgbert_encode` uses when given 0; 0 for NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wgbert_engine_seq_length(engine: *const wgbert_engine) -> usize {
    guard(0, || {
        Ok(unsafe { engine_ref(engine) }?.options().seq_length)
    })
    .0
}

/// Whether the model has a pooler (`pooled_output`): 1, 0, or -1 for NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wgbert_engine_has_pooler(engine: *const wgbert_engine) -> c_int {
    guard(-1, || {
        Ok(unsafe { engine_ref(engine) }?.has_pooler() as c_int)
    })
    .0
}

unsafe fn write_out(out: *mut f32, vectors: &[Vec<f32>], what: &str) -> Result<(), Failure> {
    if out.is_null() {
        return Err(Failure::Invalid(format!("{what} is NULL")));
    }
    let mut at = 0usize;
    for v in vectors {
        // SAFETY: the caller's buffer holds what the header says (n × dim, …).
        unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), out.add(at), v.len()) };
        at += v.len();
    }
    Ok(())
}

/// Sentence embeddings of `n` texts into `out` (`n × dim` floats).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wgbert_embed(
    engine: *mut wgbert_engine,
    texts: *const *const c_char,
    n: usize,
    out: *mut f32,
) -> c_int {
    // The folder's default prompt, if any, and the whole vector: what Engine::embed gives.
    unsafe { wgbert_embed_prompted(engine, texts, n, std::ptr::null(), std::ptr::null(), 0, out) }
}

/// Sentence embeddings of `n` texts as sentence-transformers' `encode` gives them with a
/// prompt (`prompt` text, else the folder's prompt `prompt_name`, else its default prompt; both
/// may be NULL) and, when `dimensions` > 0, Matryoshka truncation to `dimensions` values
/// re-normalised. `out` receives `n × (dimensions or dim)` floats.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wgbert_embed_prompted(
    engine: *mut wgbert_engine,
    texts: *const *const c_char,
    n: usize,
    prompt_name: *const c_char,
    prompt: *const c_char,
    dimensions: usize,
    out: *mut f32,
) -> c_int {
    guard((), || {
        let e = unsafe { engine_ref(engine) }?;
        let texts = unsafe { c_strs(texts, n, "texts") }?;
        let opt = |p: *const c_char, what: &str| -> Result<Option<String>, Failure> {
            if p.is_null() {
                Ok(None)
            } else {
                Ok(Some(unsafe { c_str(p, what) }?.to_string()))
            }
        };
        let opts = crate::EmbedOptions {
            prompt_name: opt(prompt_name, "prompt_name")?,
            prompt: opt(prompt, "prompt")?,
            dimensions: (dimensions > 0).then_some(dimensions),
        };
        if out.is_null() {
            return Err(Failure::Invalid("out is NULL".into()));
        }
        let inputs: Vec<Input> = texts.into_iter().map(Input::Single).collect();
        let v = e.embed_opts(&inputs, &opts).map_err(engine_err)?;
        unsafe { write_out(out, &v, "out") }
    })
    .1
}

/// Sentence embeddings of `n` pairs (`a[i]`, `b[i]`) into `out` (`n × dim` floats).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wgbert_embed_pairs(
    engine: *mut wgbert_engine,
    a: *const *const c_char,
    b: *const *const c_char,
    n: usize,
    out: *mut f32,
) -> c_int {
    guard((), || {
        let e = unsafe { engine_ref(engine) }?;
        let a = unsafe { c_strs(a, n, "a") }?;
        let b = unsafe { c_strs(b, n, "b") }?;
        if out.is_null() {
            return Err(Failure::Invalid("out is NULL".into()));
        }
        let inputs: Vec<Input> = a
            .into_iter()
            .zip(b)
            .map(|(x, y)| Input::Pair(x, y))
            .collect();
        let v = e.embed(&inputs).map_err(engine_err)?;
        unsafe { write_out(out, &v, "out") }
    })
    .1
}

/// The TF-Hub outputs of `n` texts packed to `seq_len` (0: the engine's): `pooled_output`
/// (`n × dim`) and `sequence_output` (`n × seq_len × dim`, padding positions included) into
/// the buffers that are not NULL (at least one must be given).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wgbert_encode(
    engine: *mut wgbert_engine,
    texts: *const *const c_char,
    n: usize,
    seq_len: usize,
    pooled_output: *mut f32,
    sequence_output: *mut f32,
) -> c_int {
    guard((), || {
        let e = unsafe { engine_ref(engine) }?;
        let texts = unsafe { c_strs(texts, n, "texts") }?;
        if pooled_output.is_null() && sequence_output.is_null() {
            return Err(Failure::Invalid(
                "pooled_output and sequence_output are both NULL: pass at least one".into(),
            ));
        }
        let request = Request {
            pooled_output: !pooled_output.is_null(),
            sequence_output: !sequence_output.is_null(),
            embedding: false,
            ..Default::default()
        };
        let seq = (seq_len != 0).then_some(seq_len);
        let inputs: Vec<Input> = texts.into_iter().map(Input::Single).collect();
        let out = e.encode(&inputs, seq, &request).map_err(engine_err)?;
        if !pooled_output.is_null() {
            let v: Vec<Vec<f32>> = out
                .iter()
                .map(|x| x.pooled_output.clone().unwrap_or_default())
                .collect();
            unsafe { write_out(pooled_output, &v, "pooled_output") }?;
        }
        if !sequence_output.is_null() {
            let v: Vec<Vec<f32>> = out
                .iter()
                .map(|x| x.sequence_output.clone().unwrap_or_default())
                .collect();
            unsafe { write_out(sequence_output, &v, "sequence_output") }?;
        }
        Ok(())
    })
    .1
}

/// Frees an engine; NULL is a no-op.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wgbert_engine_free(engine: *mut wgbert_engine) {
    if engine.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: a pointer from wgbert_engine_new*, freed once (the header's contract).
        drop(unsafe { Box::from_raw(engine) });
    }));
}
