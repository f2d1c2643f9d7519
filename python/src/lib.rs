//! `wgbert._wgbert`: the engine for Python. The Python package (`python/wgbert`) builds
//! sentence-transformers' and TF-Hub's APIs on the one class here, `Model`.
//!
//! Every call that tokenises or touches the GPU releases the GIL (`Python::detach`), so other
//! Python threads run meanwhile; the engine is shared between threads (its forward passes take
//! turns on one lock). Errors become `ValueError` (bad input, unsupported model),
//! `FileNotFoundError` (missing folder or file), `TypeError` (wrong argument types, from pyo3)
//! or `RuntimeError` (the GPU), with the engine's one-line message; a panic is caught here and
//! raised as `RuntimeError`, so none crosses into Python.

use numpy::{PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::{PyFileNotFoundError, PyOSError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use std::path::PathBuf;
use std::sync::Arc;
use wgbert::{Engine, EngineOptions, Error, Input, Packed, Request};

/// A SPLADE vector for Python: (uint32 vocabulary ids ascending, float32 weights).
type SparsePair<'py> = (Bound<'py, PyArray1<u32>>, Bound<'py, PyArray1<f32>>);

/// Multi-vector output for Python: (uint32 kept token ids, float32 `[tokens, dim]`).
type TokenVectors<'py> = (Bound<'py, PyArray1<u32>>, Bound<'py, PyArray2<f32>>);

/// The Python exception for an engine error.
fn py_err(e: Error) -> PyErr {
    let msg = e.to_string();
    match &e {
        Error::ModelNotFound(_) => PyFileNotFoundError::new_err(msg),
        Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            PyFileNotFoundError::new_err(msg)
        }
        Error::Io { .. } | Error::Write { .. } => PyOSError::new_err(msg),
        Error::NoAdapter { .. } | Error::AdapterNotFound { .. } | Error::Device(_) => {
            PyRuntimeError::new_err(msg)
        }
        _ => PyValueError::new_err(msg),
    }
}

/// Runs `f` without the GIL and with panics caught: the engine's work never holds up other
/// Python threads, and a bug raises `RuntimeError` instead of aborting or unwinding into
/// Python.
fn run<T: Send>(py: Python<'_>, f: impl FnOnce() -> wgbert::Result<T> + Send) -> PyResult<T> {
    py.detach(|| std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)))
        .map_err(|p| {
            let what = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            PyRuntimeError::new_err(format!(
                "wgbert failed inside ({what}); this is a bug, please report it with the input that caused it"
            ))
        })?
        .map_err(py_err)
}

/// `str` → one input, `(a, b)` / `[a, b]` → a pair; anything else is a `TypeError` that says
/// what is accepted.
fn input(item: &Bound<'_, PyAny>, i: usize) -> PyResult<Input> {
    if let Ok(s) = item.cast::<PyString>() {
        return Ok(Input::Single(s.to_cow()?.into_owned()));
    }
    if (item.is_instance_of::<PyTuple>() || item.is_instance_of::<PyList>())
        && let Ok((a, b)) = item.extract::<(String, String)>()
    {
        return Ok(Input::Pair(a, b));
    }
    Err(PyTypeError::new_err(format!(
        "input {i} is a {}; each input must be a str or a pair (str, str)",
        item.get_type().name()?
    )))
}

/// A list (or any sequence) of inputs; a lone `str` is refused here (the Python layer wraps it).
fn inputs(obj: &Bound<'_, PyAny>) -> PyResult<Vec<Input>> {
    if obj.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(
            "expected a list of texts, got one str; pass [text]",
        ));
    }
    let mut out = Vec::new();
    for (i, item) in obj.try_iter()?.enumerate() {
        out.push(input(&item?, i)?);
    }
    Ok(out)
}

fn matrix<'py>(
    py: Python<'py>,
    rows: Vec<Vec<f32>>,
    width: usize,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let n = rows.len();
    let flat: Vec<f32> = rows.into_iter().flatten().collect();
    PyArray1::from_vec(py, flat).reshape([n, width])
}

fn matrix_u32<'py, 'a>(
    py: Python<'py>,
    rows: impl Iterator<Item = &'a [u32]>,
    n: usize,
    width: usize,
) -> PyResult<Bound<'py, PyArray2<i32>>> {
    let flat: Vec<i32> = rows.flat_map(|r| r.iter().map(|&v| v as i32)).collect();
    PyArray1::from_vec(py, flat).reshape([n, width])
}

/// A loaded model on a GPU adapter.
#[pyclass(module = "wgbert._wgbert", frozen)]
struct Model {
    engine: Arc<Engine>,
    dir: PathBuf,
}

fn env(name: &str) -> Option<std::ffi::OsString> {
    std::env::var_os(name)
}

#[pymethods]
impl Model {
    #[new]
    #[pyo3(signature = (path=None, device=None, precision="f32", seq_length=None, max_batch=32, max_seq_length=None))]
    fn new(
        py: Python<'_>,
        path: Option<PathBuf>,
        device: Option<String>,
        precision: &str,
        seq_length: Option<usize>,
        max_batch: usize,
        max_seq_length: Option<usize>,
    ) -> PyResult<Self> {
        let given = wgbert::locate::model_given(path.as_deref(), &env);
        let dir = wgbert::locate::resolve_model_dir(path.as_deref(), &env);
        if !dir.is_dir() {
            return Err(PyFileNotFoundError::new_err(if given {
                format!(
                    "model folder {} not found; pass an existing folder (config.json, tokenizer.json, model.safetensors) as model_name_or_path / WGBERT_MODEL, or install the default model with scripts/fetch-model.sh --user",
                    dir.display()
                )
            } else {
                wgbert::locate::model_not_found_message(&env, "model_name_or_path")
            }));
        }
        let precision = wgbert::kernels::Precision::from_name(precision).ok_or_else(|| {
            PyValueError::new_err(format!(
                "precision {precision:?} is not one wgbert stores in; use \"f32\" or \"f16\""
            ))
        })?;
        if max_batch == 0 {
            return Err(PyValueError::new_err("max_batch must be at least 1"));
        }
        // Like the command line: the environment's adapter, backend and kernel choices, then
        // what the caller asked for.
        let mut opts = EngineOptions::from_env();
        if device.is_some() {
            opts.gpu.adapter_name = device;
        }
        opts.precision = precision;
        opts.max_batch = max_batch;
        opts.embed_seq_length = max_seq_length;
        let d = dir.clone();
        let engine = run(py, move || {
            // TF-Hub's 128, or the model's longest input where that is shorter.
            let longest = wgbert::BertConfig::from_file(&d.join("config.json"))?.max_seq_length();
            let s = seq_length.unwrap_or(wgbert::DEFAULT_SEQ_LENGTH.min(longest));
            if s < 2 || s > longest {
                return Err(Error::InvalidInput(format!(
                    "seq_length {s} is outside 2..={longest} (this model's longest input); pick one in that range"
                )));
            }
            opts.seq_length = s;
            Engine::from_dir(&d, opts)
        })?;
        Ok(Model {
            engine: Arc::new(engine),
            dir,
        })
    }

    /// The model folder.
    #[getter]
    fn path(&self) -> PathBuf {
        self.dir.clone()
    }

    /// Width of the sentence embeddings (the hidden size, or the last Dense module's output).
    #[getter]
    fn dim(&self) -> usize {
        self.engine.embedding_dim()
    }

    /// The model width H (`pooled_output`, `sequence_output`, token embeddings).
    #[getter]
    fn hidden_size(&self) -> usize {
        self.engine.config().hidden_size
    }

    /// Number of encoder layers.
    #[getter]
    fn num_layers(&self) -> usize {
        self.engine.config().num_hidden_layers
    }

    /// Inputs of `embed` are truncated to this many tokens (the folder's
    /// `sentence_bert_config.json` `max_seq_length`, else `seq_length`).
    #[getter]
    fn max_seq_length(&self) -> usize {
        self.engine.embed_seq_length()
    }

    /// Packed length of `preprocess` / `encode` (TF-Hub's 128 unless asked otherwise).
    #[getter]
    fn seq_length(&self) -> usize {
        self.engine.options().seq_length
    }

    /// The model's longest input (position table).
    #[getter]
    fn model_max_length(&self) -> usize {
        self.engine.config().max_seq_length()
    }

    /// Pooling of `embed` as the folder says (`mean`, `cls`, `max`, …).
    #[getter]
    fn pooling(&self) -> &'static str {
        wgbert::sentence::pooling_name(self.engine.pooling())
    }

    /// Whether `embed` vectors are L2-normalised by the folder's modules.
    #[getter]
    fn normalize(&self) -> bool {
        self.engine.normalize()
    }

    /// `config_sentence_transformers.json` prompts (name → text).
    #[getter]
    fn prompts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in &self.engine.sentence_config().prompts {
            d.set_item(k, v)?;
        }
        Ok(d)
    }

    /// `default_prompt_name` of `config_sentence_transformers.json`.
    #[getter]
    fn default_prompt_name(&self) -> Option<String> {
        self.engine.sentence_config().default_prompt_name.clone()
    }

    /// `similarity_fn_name` of `config_sentence_transformers.json` (`None`: cosine).
    #[getter]
    fn similarity_fn_name(&self) -> Option<String> {
        self.engine.sentence_config().similarity_fn_name.clone()
    }

    /// Whether the checkpoint has BERT's pooler (`pooled_output`).
    #[getter]
    fn has_pooler(&self) -> bool {
        self.engine.has_pooler()
    }

    /// Label names of the checkpoint's sequence-classification head; `None` without one.
    #[getter]
    fn labels(&self) -> Option<Vec<String>> {
        self.engine.labels()
    }

    /// The GPU adapter: name, backend and driver.
    #[getter]
    fn adapter(&self) -> String {
        let i = &self.engine.gpu().info;
        format!(
            "{} ({:?}, {} {})",
            i.name, i.backend, i.driver, i.driver_info
        )
        .trim_end()
        .to_string()
    }

    /// The prompt text sentence-transformers would put before each input: `prompt`, else the
    /// prompt named `prompt_name`, else the folder's default; `None` for none.
    #[pyo3(signature = (prompt_name=None, prompt=None))]
    fn resolve_prompt(
        &self,
        prompt_name: Option<&str>,
        prompt: Option<&str>,
    ) -> PyResult<Option<String>> {
        self.engine
            .sentence_config()
            .prompt(prompt_name, prompt)
            .map(|p| p.map(str::to_string))
            .map_err(py_err)
    }

    /// Sentence embeddings `[n, dim]` (float32), pooled as the folder says; L2-normalised when
    /// the folder says so or `normalize` is true.
    #[pyo3(signature = (texts, normalize=false))]
    fn embed<'py>(
        &self,
        py: Python<'py>,
        texts: &Bound<'py, PyAny>,
        normalize: bool,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let inputs = inputs(texts)?;
        let engine = &self.engine;
        let pooling = engine.pooling();
        let norm = normalize || engine.normalize();
        let rows = run(py, || engine.embed_with(&inputs, pooling, norm))?;
        matrix(py, rows, self.dim())
    }

    /// The last layer's vector of each real token (special tokens included, padding left out):
    /// one `[tokens, dim]` array per input, as sentence-transformers' `token_embeddings`.
    fn token_embeddings<'py>(
        &self,
        py: Python<'py>,
        texts: &Bound<'py, PyAny>,
    ) -> PyResult<Vec<Bound<'py, PyArray2<f32>>>> {
        let inputs = inputs(texts)?;
        let engine = &self.engine;
        let request = Request {
            pooled_output: false,
            sequence_output: true,
            embedding: false,
            ..Default::default()
        };
        let s = engine.embed_seq_length();
        let out = run(py, || engine.encode(&inputs, Some(s), &request))?;
        let h = self.hidden_size();
        out.into_iter()
            .map(|e| {
                let n = e.packed.len();
                let mut seq = e.sequence_output.unwrap_or_default();
                seq.truncate(n * h);
                PyArray1::from_vec(py, seq).reshape([n, h])
            })
            .collect()
    }

    /// The encoder on TF-Hub's three arrays (int32 `[n, S]`): `(pooled_output [n, H] or None,
    /// sequence_output [n, S, H], encoder_outputs: list of L arrays [n, S, H])`.
    #[allow(clippy::type_complexity)]
    fn encode_arrays<'py>(
        &self,
        py: Python<'py>,
        input_word_ids: PyReadonlyArray2<'py, i32>,
        input_mask: PyReadonlyArray2<'py, i32>,
        input_type_ids: PyReadonlyArray2<'py, i32>,
    ) -> PyResult<(
        Option<Bound<'py, PyArray2<f32>>>,
        Bound<'py, PyAny>,
        Vec<Bound<'py, PyAny>>,
    )> {
        let shape = input_word_ids.shape().to_vec();
        for (name, a) in [
            ("input_mask", input_mask.shape()),
            ("input_type_ids", input_type_ids.shape()),
        ] {
            if a != shape.as_slice() {
                return Err(PyValueError::new_err(format!(
                    "{name} has shape {a:?} but input_word_ids has {shape:?}; the three arrays must have one shape [batch, seq_length]"
                )));
            }
        }
        let (n, s) = (shape[0], shape[1]);
        let longest = self.model_max_length();
        if s < 2 || s > longest {
            return Err(PyValueError::new_err(format!(
                "the arrays are [{n}, {s}]: seq_length {s} is outside 2..={longest} (this model's longest input); preprocess to a seq_length in that range"
            )));
        }
        let ids = input_word_ids.as_array();
        let mask = input_mask.as_array();
        let types = input_type_ids.as_array();
        let mut packed = Vec::with_capacity(n);
        for b in 0..n {
            let row = |a: &numpy::ndarray::ArrayView2<i32>, name: &str| -> PyResult<Vec<u32>> {
                a.row(b)
                    .iter()
                    .map(|&v| {
                        u32::try_from(v).map_err(|_| {
                            PyValueError::new_err(format!(
                                "{name}[{b}] holds {v}; ids, mask and type ids are never negative"
                            ))
                        })
                    })
                    .collect()
            };
            let m = row(&mask, "input_mask")?;
            if m.iter().any(|&v| v > 1) {
                return Err(PyValueError::new_err(format!(
                    "input_mask[{b}] holds values other than 0 and 1; it marks real tokens with 1 and padding with 0"
                )));
            }
            let real = m.iter().filter(|&&v| v == 1).count();
            packed.push(Packed {
                input_word_ids: row(&ids, "input_word_ids")?,
                input_mask: m,
                input_type_ids: row(&types, "input_type_ids")?,
                tokens: vec![String::new(); real],
                offsets: vec![(0, 0); real],
                special: vec![false; real],
            });
        }
        let engine = &self.engine;
        let request = Request {
            pooled_output: engine.has_pooler(),
            sequence_output: true,
            encoder_outputs: true,
            embedding: false,
            ..Default::default()
        };
        let out = run(py, || engine.encode_packed(packed, &request))?;
        let h = self.hidden_size();
        let layers = self.num_layers();
        let pooled = if engine.has_pooler() {
            Some(matrix(
                py,
                out.iter()
                    .map(|e| e.pooled_output.clone().unwrap_or_default())
                    .collect(),
                h,
            )?)
        } else {
            None
        };
        let cube = |rows: Vec<f32>| -> PyResult<Bound<'py, PyAny>> {
            Ok(PyArray1::from_vec(py, rows).reshape([n, s, h])?.into_any())
        };
        let sequence = cube(
            out.iter()
                .flat_map(|e| e.sequence_output.clone().unwrap_or_default())
                .collect(),
        )?;
        let mut all = Vec::with_capacity(layers);
        for l in 0..layers {
            all.push(cube(
                out.iter()
                    .flat_map(|e| {
                        e.encoder_outputs
                            .as_ref()
                            .and_then(|v| v.get(l).cloned())
                            .unwrap_or_default()
                    })
                    .collect(),
            )?);
        }
        Ok((pooled, sequence, all))
    }

    /// Raw logits `[n, labels]` of the checkpoint's sequence-classification head on each input
    /// (a str or a pair), packed to `seq_length` (default: the model's longest input, at most
    /// 512).
    #[pyo3(signature = (texts, seq_length=None))]
    fn logits<'py>(
        &self,
        py: Python<'py>,
        texts: &Bound<'py, PyAny>,
        seq_length: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let inputs = inputs(texts)?;
        let engine = &self.engine;
        let Some(labels) = engine.labels() else {
            return Err(PyValueError::new_err(
                "this model has no sequence-classification head (classifier.*); a CrossEncoder needs a *ForSequenceClassification checkpoint such as an ms-marco or bge-reranker folder",
            ));
        };
        let s = seq_length.unwrap_or_else(|| engine.head_seq_length());
        let request = Request {
            pooled_output: false,
            embedding: false,
            logits: true,
            ..Default::default()
        };
        let out = run(py, || engine.encode(&inputs, Some(s), &request))?;
        let rows = out
            .into_iter()
            .map(|e| e.logits.unwrap_or_default())
            .collect();
        matrix(py, rows, labels.len())
    }

    /// BERT's masked-word task, as transformers' fill-mask pipeline: per input, per `[MASK]`,
    /// the `top_k` best `{"token", "token_str", "score", "sequence"}` dicts (a BertForMaskedLM
    /// or BertForPreTraining checkpoint).
    #[pyo3(signature = (texts, top_k=5))]
    fn fill_mask<'py>(
        &self,
        py: Python<'py>,
        texts: &Bound<'py, PyAny>,
        top_k: usize,
    ) -> PyResult<Vec<Vec<Vec<Bound<'py, PyDict>>>>> {
        let inputs = inputs(texts)?;
        let engine = &self.engine;
        let out = run(py, || engine.fill_mask(&inputs, top_k))?;
        out.into_iter()
            .map(|masks| {
                masks
                    .into_iter()
                    .map(|answers| {
                        answers
                            .into_iter()
                            .map(|a| {
                                let d = PyDict::new(py);
                                d.set_item("token", a.token)?;
                                d.set_item("token_str", a.token_str)?;
                                d.set_item("score", a.score)?;
                                d.set_item("sequence", a.sequence)?;
                                Ok(d)
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect()
    }

    /// SPLADE sparse vectors (a SPLADE / SparseEncoder folder, or any masked-word head): per
    /// input, `(indices, values)` — uint32 vocabulary ids ascending and their float32 weights.
    /// `max_active_dims` keeps the largest (default: the folder's, else all nonzero).
    #[pyo3(signature = (texts, prompt_name=None, prompt=None, max_active_dims=None))]
    fn embed_sparse<'py>(
        &self,
        py: Python<'py>,
        texts: &Bound<'py, PyAny>,
        prompt_name: Option<String>,
        prompt: Option<String>,
        max_active_dims: Option<usize>,
    ) -> PyResult<Vec<SparsePair<'py>>> {
        let inputs = inputs(texts)?;
        let engine = &self.engine;
        let opts = wgbert::EmbedOptions {
            prompt_name,
            prompt,
            dimensions: None,
        };
        let out = run(py, || engine.embed_sparse(&inputs, &opts, max_active_dims))?;
        Ok(out
            .into_iter()
            .map(|v| {
                (
                    PyArray1::from_vec(py, v.indices),
                    PyArray1::from_vec(py, v.values),
                )
            })
            .collect())
    }

    /// One vector per token (a ColBERT folder saved by PyLate, or bge-m3): per input,
    /// `(ids, vectors)` — the kept tokens' uint32 ids and float32 `[tokens, dim]`, each row
    /// L2-normalised. `is_query`: PyLate's query encoding ([Q] marker, [MASK] expansion).
    #[pyo3(signature = (texts, is_query=false))]
    fn embed_multi<'py>(
        &self,
        py: Python<'py>,
        texts: &Bound<'py, PyAny>,
        is_query: bool,
    ) -> PyResult<Vec<TokenVectors<'py>>> {
        let inputs = inputs(texts)?;
        let engine = &self.engine;
        let out = run(py, || engine.embed_multi(&inputs, is_query))?;
        out.into_iter()
            .map(|v| {
                let n = v.len();
                Ok((
                    PyArray1::from_vec(py, v.ids),
                    PyArray1::from_vec(py, v.vectors).reshape([n, v.dim])?,
                ))
            })
            .collect()
    }

    /// bge-m3's three outputs from one pass, per input as FlagEmbedding names them:
    /// `{"dense_vecs": float32 [dim], "lexical_weights": {token id: weight},
    /// "colbert_vecs": float32 [tokens - 1, dim]}`.
    fn embed_m3<'py>(
        &self,
        py: Python<'py>,
        texts: &Bound<'py, PyAny>,
    ) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let inputs = inputs(texts)?;
        let engine = &self.engine;
        let out = run(py, || {
            engine.embed_m3(&inputs, &wgbert::EmbedOptions::default())
        })?;
        out.into_iter()
            .map(|m| {
                let d = PyDict::new(py);
                d.set_item("dense_vecs", PyArray1::from_vec(py, m.dense))?;
                let lw = PyDict::new(py);
                for (i, w) in m.sparse.indices.iter().zip(&m.sparse.values) {
                    lw.set_item(i, w)?;
                }
                d.set_item("lexical_weights", lw)?;
                let n = m.colbert.len();
                d.set_item(
                    "colbert_vecs",
                    PyArray1::from_vec(py, m.colbert.vectors).reshape([n, m.colbert.dim])?,
                )?;
                Ok(d)
            })
            .collect()
    }

    /// Whether the folder is a SPLADE model (a SparseEncoder folder with SpladePooling).
    #[getter]
    fn is_sparse(&self) -> bool {
        self.engine.sentence_config().splade.is_some()
    }

    /// Vocabulary size: the width of SPLADE vectors.
    #[getter]
    fn vocab_size(&self) -> usize {
        self.engine.config().vocab_size
    }

    /// `max_active_dims` of the folder's `config_sentence_transformers.json`.
    #[getter]
    fn max_active_dims(&self) -> Option<usize> {
        self.engine.sentence_config().max_active_dims
    }

    /// The vocabulary entry of each id (transformers' `convert_ids_to_tokens`).
    fn ids_to_tokens(&self, ids: Vec<u32>) -> PyResult<Vec<String>> {
        let pre = self.engine.preprocessor().map_err(py_err)?;
        ids.iter()
            .map(|&i| {
                pre.id_to_token(i).ok_or_else(|| {
                    PyValueError::new_err(format!(
                        "token id {i} is not in the vocabulary (size {})",
                        self.engine.config().vocab_size
                    ))
                })
            })
            .collect()
    }

    /// BERT's next-sentence task: P(b follows a) for each pair `(a, b)`, float32 `[n]`.
    fn next_sentence<'py>(
        &self,
        py: Python<'py>,
        pairs: Vec<(String, String)>,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        let engine = &self.engine;
        let p = run(py, || engine.next_sentence(&pairs))?;
        Ok(PyArray1::from_vec(py, p))
    }

    fn __repr__(&self) -> String {
        format!(
            "wgbert.Model({:?}, dim={}, layers={}, pooling={}, adapter={:?})",
            self.dir.display().to_string(),
            self.dim(),
            self.num_layers(),
            self.pooling(),
            self.adapter()
        )
    }
}

/// A model folder's tokenizer (`tokenizer.json`) and TF-Hub's packing, without a GPU.
#[pyclass(module = "wgbert._wgbert", frozen)]
struct Tokenizer {
    pre: wgbert::Preprocessor,
}

#[pymethods]
impl Tokenizer {
    #[new]
    #[pyo3(signature = (path=None))]
    fn new(py: Python<'_>, path: Option<PathBuf>) -> PyResult<Self> {
        let dir = wgbert::locate::resolve_model_dir(path.as_deref(), &env);
        let file = if dir.is_file() {
            dir
        } else {
            dir.join("tokenizer.json")
        };
        if !file.is_file() {
            return Err(PyFileNotFoundError::new_err(format!(
                "{} not found; pass a model folder that holds tokenizer.json (or the file itself)",
                file.display()
            )));
        }
        let pre = run(py, || wgbert::Preprocessor::from_file(&file))?;
        Ok(Tokenizer { pre })
    }

    /// The tokens of `text` (WordPieces, no special tokens).
    fn tokenize(&self, py: Python<'_>, text: &str) -> PyResult<Vec<String>> {
        let pre = &self.pre;
        run(py, || pre.tokenize(text).map(|(_, t)| t))
    }

    /// TF-Hub's preprocessing of each input (a str or a pair), packed to `seq_length`:
    /// `(input_word_ids, input_mask, input_type_ids)`, each int32 `[n, seq_length]`.
    #[allow(clippy::type_complexity)]
    fn pack<'py>(
        &self,
        py: Python<'py>,
        texts: &Bound<'py, PyAny>,
        seq_length: usize,
    ) -> PyResult<(
        Bound<'py, PyArray2<i32>>,
        Bound<'py, PyArray2<i32>>,
        Bound<'py, PyArray2<i32>>,
    )> {
        let inputs = inputs(texts)?;
        let pre = &self.pre;
        let need = pre.min_seq_length(1);
        if seq_length < need {
            return Err(PyValueError::new_err(format!(
                "seq_length {seq_length} cannot hold this tokenizer's special tokens; use at least {need}"
            )));
        }
        let packed = run(py, || {
            inputs
                .iter()
                .map(|i| pre.pack(i, seq_length))
                .collect::<wgbert::Result<Vec<_>>>()
        })?;
        let n = packed.len();
        let ids = matrix_u32(
            py,
            packed.iter().map(|p| &p.input_word_ids[..]),
            n,
            seq_length,
        )?;
        let mask = matrix_u32(py, packed.iter().map(|p| &p.input_mask[..]), n, seq_length)?;
        let types = matrix_u32(
            py,
            packed.iter().map(|p| &p.input_type_ids[..]),
            n,
            seq_length,
        )?;
        Ok((ids, mask, types))
    }
}

/// The GPU adapters present: one dict per adapter with `name`, `backend`, `device_type`,
/// `pci_bus_id`, `driver` (pass a name or a PCI bus id as `device`).
#[pyfunction]
fn adapters(py: Python<'_>) -> PyResult<Vec<Bound<'_, PyDict>>> {
    let opts = EngineOptions::from_env().gpu;
    let list = run(py, || Ok(wgbert::gpu::adapters(&opts)))?;
    list.into_iter()
        .map(|i| {
            let d = PyDict::new(py);
            d.set_item("name", i.name)?;
            d.set_item("backend", format!("{:?}", i.backend).to_lowercase())?;
            d.set_item("device_type", format!("{:?}", i.device_type))?;
            d.set_item("pci_bus_id", i.device_pci_bus_id)?;
            d.set_item(
                "driver",
                format!("{} {}", i.driver, i.driver_info).trim().to_string(),
            )?;
            Ok(d)
        })
        .collect()
}

/// The model folder the package uses when none is given: `WGBERT_MODEL`, then
/// `./assets/models/all-MiniLM-L6-v2`, then the per-user model folders (as the command line).
#[pyfunction]
fn default_model_dir() -> PathBuf {
    wgbert::locate::resolve_model_dir(None, &env)
}

#[pymodule]
fn _wgbert(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Model>()?;
    m.add_class::<Tokenizer>()?;
    m.add_function(wrap_pyfunction!(adapters, m)?)?;
    m.add_function(wrap_pyfunction!(default_model_dir, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
