//! How a model folder says its sentence embeddings are made: sentence-transformers'
//! `modules.json` (a Pooling module with `1_Pooling/config.json`, an optional Normalize module)
//! and `sentence_bert_config.json` (`max_seq_length`). A folder without `modules.json` gets
//! mean pooling and L2 normalisation, the common default of embedding models.

use crate::error::{Error, Result};
use crate::model::Pooling;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The embedding recipe of a model folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentenceConfig {
    /// How token vectors become one vector.
    pub pooling: Pooling,
    /// Whether the vectors are L2-normalised (a Normalize module).
    pub normalize: bool,
    /// `max_seq_length` of `sentence_bert_config.json` (else, in a sentence-transformers folder,
    /// `tokenizer_config.json`'s `model_max_length`): inputs are truncated to it.
    pub max_seq_length: Option<usize>,
    /// Dense modules after pooling, in order (LaBSE, the distiluse models): each a linear
    /// layer with an activation, run on the GPU after pooling and before normalisation.
    pub dense: Vec<DenseModule>,
    /// A module after pooling that wgbert does not run: the folder's vectors cannot be
    /// reproduced, so `embed` refuses rather than give other ones.
    pub unsupported: Option<String>,
    /// Where the recipe came from: `modules.json`, or `default` when the folder has none.
    pub source: String,
    /// Named prompts of `config_sentence_transformers.json` (`prompts`: name → text put before
    /// each input, e.g. `query` → `"search_query: "`).
    pub prompts: std::collections::BTreeMap<String, String>,
    /// The prompt used when none is asked for (`default_prompt_name`).
    pub default_prompt_name: Option<String>,
    /// `similarity_fn_name` (`cosine`, `dot`, `euclidean`, `manhattan`); `None` means cosine.
    pub similarity_fn_name: Option<String>,
    /// A sentence-transformers SparseEncoder folder (an MLMTransformer and a SpladePooling
    /// module): its vectors are SPLADE's sparse ones, pooled so.
    pub splade: Option<crate::model::Splade>,
    /// `max_active_dims` of `config_sentence_transformers.json`: a SparseEncoder keeps only
    /// this many largest weights per vector.
    pub max_active_dims: Option<usize>,
    /// A ColBERT folder as PyLate saves it (its query/document settings in
    /// `config_sentence_transformers.json`): one vector per token, the Dense modules projecting
    /// every token, no pooling.
    pub colbert: Option<ColbertConfig>,
    /// bge-m3's two heads beside its dense vector (`colbert_linear.pt`, `sparse_linear.pt`).
    pub bge_m3: Option<BgeM3Heads>,
}

/// bge-m3's heads, as BAAI publishes them next to the encoder: `colbert_linear.pt` (a linear
/// layer H → D applied to every token after the first) and `sparse_linear.pt` (H → 1, then ReLU:
/// one weight per token), PyTorch state dicts of `weight` and `bias`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BgeM3Heads {
    /// The model folder holding both files.
    pub dir: PathBuf,
}

impl BgeM3Heads {
    /// The two heads as Dense layers (colbert: identity activation; sparse: ReLU), checked
    /// against the model width `hidden`.
    pub fn load(
        &self,
        hidden: usize,
    ) -> Result<(crate::model::DenseWeights, crate::model::DenseWeights)> {
        use crate::kernels::Act;
        let one = |file: &str, act: Act| -> Result<crate::model::DenseWeights> {
            let path = self.dir.join(file);
            let tensors = crate::pt::read_state_dict(&path)?;
            let get = |name: &str| {
                tensors
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, t)| t.clone())
                    .ok_or_else(|| Error::MissingTensor {
                        path: path.clone(),
                        name: name.into(),
                        needed_by: "bge-m3's head (colbert_linear.pt / sparse_linear.pt) needs it; the file is not such a head".into(),
                    })
            };
            let (w, b) = (get("weight")?, get("bias")?);
            let out = w.shape.first().copied().unwrap_or(0);
            if w.shape != [out, hidden] || b.shape != [out] || out == 0 {
                return Err(Error::TensorShape {
                    path: path.clone(),
                    name: "weight".into(),
                    expected: vec![out.max(1), hidden],
                    found: w.shape,
                });
            }
            Ok(crate::model::DenseWeights {
                name: file.trim_end_matches(".pt").into(),
                weight: w.data,
                bias: b.data,
                in_features: hidden,
                out_features: out,
                act,
            })
        };
        Ok((
            one("colbert_linear.pt", Act::Identity)?,
            one("sparse_linear.pt", Act::Relu)?,
        ))
    }
}

/// PyLate's ColBERT settings (`config_sentence_transformers.json`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColbertConfig {
    /// Token put after `[CLS]` in queries (`[Q] `; `""` for none).
    pub query_prefix: String,
    /// Token put after `[CLS]` in documents (`[D] `; `""` for none).
    pub document_prefix: String,
    /// Tokens of a query, prefix included; shorter queries are expanded with `[MASK]` to it.
    pub query_length: usize,
    /// Longest document in tokens, prefix included.
    pub document_length: usize,
    /// Pad queries to `query_length` with `[MASK]` and keep those tokens' vectors.
    pub do_query_expansion: bool,
    /// Let the other tokens attend to the expansion `[MASK]`s.
    pub attend_to_expansion_tokens: bool,
    /// Tokens whose vectors documents drop (punctuation).
    pub skiplist_words: Vec<String>,
}

impl ColbertConfig {
    /// PyLate's settings, where `v` (`config_sentence_transformers.json`) has any of them.
    fn from_json(path: &Path, v: &Value) -> Result<Option<Self>> {
        let keys = [
            "query_prefix",
            "query_length",
            "document_length",
            "skiplist_words",
        ];
        if !keys.iter().any(|k| v.get(k).is_some_and(|x| !x.is_null())) {
            return Ok(None);
        }
        let text = |k: &str, default: &str| -> Result<String> {
            match v.get(k) {
                None | Some(Value::Null) => Ok(default.to_string()),
                Some(Value::String(s)) => Ok(s.clone()),
                Some(_) => Err(bad(path, format!("{k} must be a string"))),
            }
        };
        let len = |k: &str, default: usize| -> Result<usize> {
            match v.get(k) {
                None | Some(Value::Null) => Ok(default),
                Some(x) => x
                    .as_u64()
                    .filter(|&n| n >= 3)
                    .map(|n| n as usize)
                    .ok_or_else(|| {
                        bad(
                            path,
                            format!("{k} must be an integer of at least 3, got {x}"),
                        )
                    }),
            }
        };
        let flag = |k: &str, default: bool| -> Result<bool> {
            match v.get(k) {
                None | Some(Value::Null) => Ok(default),
                Some(Value::Bool(b)) => Ok(*b),
                Some(x) => Err(bad(path, format!("{k} must be true or false, got {x}"))),
            }
        };
        // PyLate's defaults: ColBERT's lengths and markers, string.punctuation as the skiplist.
        let skiplist_words = match v.get("skiplist_words") {
            None | Some(Value::Null) => "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
                .chars()
                .map(String::from)
                .collect(),
            Some(Value::Array(a)) => a
                .iter()
                .map(|w| {
                    w.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| bad(path, "skiplist_words must be a list of strings".into()))
                })
                .collect::<Result<_>>()?,
            Some(_) => {
                return Err(bad(path, "skiplist_words must be a list of strings".into()));
            }
        };
        let do_query_expansion = flag("do_query_expansion", true)?;
        Ok(Some(ColbertConfig {
            query_prefix: text("query_prefix", "[Q] ")?,
            document_prefix: text("document_prefix", "[D] ")?,
            query_length: len("query_length", 32)?,
            document_length: len("document_length", 180)?,
            do_query_expansion,
            attend_to_expansion_tokens: do_query_expansion
                && flag("attend_to_expansion_tokens", false)?,
            skiplist_words,
        }))
    }
}

impl Default for SentenceConfig {
    /// Mean pooling, L2-normalised, no length of its own.
    fn default() -> Self {
        SentenceConfig {
            pooling: Pooling::Mean,
            normalize: true,
            max_seq_length: None,
            dense: Vec::new(),
            unsupported: None,
            source: "default".into(),
            prompts: Default::default(),
            default_prompt_name: None,
            similarity_fn_name: None,
            splade: None,
            max_active_dims: None,
            colbert: None,
            bge_m3: None,
        }
    }
}

/// A sentence-transformers `Dense` module: `y = act(x · Wᵀ + b)`, its weights in
/// `<folder>/model.safetensors` (`linear.weight` `[out, in]`, `linear.bias` `[out]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DenseModule {
    /// The module's folder (`…/2_Dense`).
    pub dir: PathBuf,
    /// Width of its input.
    pub in_features: usize,
    /// Width of its output.
    pub out_features: usize,
    /// Whether it adds a bias.
    pub bias: bool,
    /// Its activation (`activation_function`).
    pub activation: crate::kernels::Act,
}

/// The activations of `Dense` modules wgbert runs, by the class name sentence-transformers
/// writes.
fn dense_activation(name: &str) -> Option<crate::kernels::Act> {
    use crate::kernels::Act;
    Some(match name.rsplit('.').next().unwrap_or_default() {
        "Identity" => Act::Identity,
        "Tanh" => Act::Tanh,
        "ReLU" => Act::Relu,
        "GELU" => Act::GeluErf,
        _ => return None,
    })
}

impl DenseModule {
    fn from_dir(dir: &Path) -> Result<Self> {
        let path = dir.join("config.json");
        let v = read_json(&path)?;
        let int = |k: &str| -> Result<usize> {
            v.get(k)
                .and_then(|x| x.as_u64())
                .filter(|&n| n > 0)
                .map(|n| n as usize)
                .ok_or_else(|| bad(&path, format!("{k} must be a positive integer")))
        };
        let act_name = v
            .get("activation_function")
            .and_then(|a| a.as_str())
            .unwrap_or("torch.nn.modules.activation.Tanh");
        if v.get("use_residual").and_then(|r| r.as_bool()) == Some(true) {
            return Err(Error::Unsupported(format!(
                "{}: use_residual (PyLate's Dense adding its input back) is not one wgbert runs",
                path.display()
            )));
        }
        let activation = dense_activation(act_name).ok_or_else(|| {
            Error::Unsupported(format!(
                "{}: activation_function {act_name} is not one wgbert runs after a Dense layer (Identity, Tanh, ReLU, GELU)",
                path.display()
            ))
        })?;
        Ok(DenseModule {
            dir: dir.to_path_buf(),
            in_features: int("in_features")?,
            out_features: int("out_features")?,
            bias: v.get("bias").and_then(|b| b.as_bool()).unwrap_or(true),
            activation,
        })
    }

    /// Its weight `[out, in]` and bias `[out]` (zeros without one), from the folder's
    /// `model.safetensors`.
    pub fn load(&self) -> Result<(Vec<f32>, Vec<f32>)> {
        let mut file = self.dir.join("model.safetensors");
        let tensors = if file.is_file() {
            crate::weights::read_safetensors(&file)?
        } else if self.dir.join("pytorch_model.bin").is_file() {
            file = self.dir.join("pytorch_model.bin");
            crate::pt::read_state_dict(&file)?
        } else {
            return Err(Error::ModelNotFound(format!(
                "the Dense module {} has neither model.safetensors nor pytorch_model.bin",
                self.dir.display()
            )));
        };
        let get = |name: &str| tensors.iter().find(|(k, _)| k == name).map(|(_, t)| t);
        let shape_err = |name: &str, found: &[usize], want: Vec<usize>| Error::TensorShape {
            path: file.clone(),
            name: name.into(),
            found: found.to_vec(),
            expected: want,
        };
        let w = get("linear.weight").ok_or_else(|| Error::MissingTensor {
            path: file.clone(),
            name: "linear.weight".into(),
            needed_by: "a sentence-transformers Dense module needs it".into(),
        })?;
        let want = vec![self.out_features, self.in_features];
        if w.shape != want {
            return Err(shape_err("linear.weight", &w.shape, want));
        }
        let b = match (self.bias, get("linear.bias")) {
            (true, Some(b)) if b.shape == [self.out_features] => b.data.clone(),
            (true, Some(b)) => {
                return Err(shape_err("linear.bias", &b.shape, vec![self.out_features]));
            }
            (true, None) => {
                return Err(Error::MissingTensor {
                    path: file.clone(),
                    name: "linear.bias".into(),
                    needed_by: "the module's config says bias: true".into(),
                });
            }
            (false, _) => vec![0.0; self.out_features],
        };
        Ok((w.data.clone(), b))
    }
}

/// A model folder's files: on disk, or held in memory by their path in the folder.
enum Folder<'a> {
    Dir(&'a Path),
    Memory(&'a HashMap<String, Vec<u8>>),
}

/// `file` of the module at `path` in the folder (`1_Pooling/config.json`; `path` may be empty).
fn module_file(path: &str, file: &str) -> String {
    let path = path.trim_start_matches("./").trim_end_matches('/');
    if path.is_empty() {
        file.to_string()
    } else {
        format!("{path}/{file}")
    }
}

impl Folder<'_> {
    /// Where `rel` is, for messages (`<memory>/…` for files in memory).
    fn path(&self, rel: &str) -> PathBuf {
        match self {
            Folder::Dir(d) => d.join(rel),
            Folder::Memory(_) => Path::new("<memory>").join(rel),
        }
    }

    fn exists(&self, rel: &str) -> bool {
        match self {
            Folder::Dir(d) => d.join(rel).is_file(),
            Folder::Memory(m) => m.contains_key(rel),
        }
    }

    fn json(&self, rel: &str) -> Result<Value> {
        match self {
            Folder::Dir(d) => read_json(&d.join(rel)),
            Folder::Memory(m) => {
                let path = self.path(rel);
                let bytes = m.get(rel).ok_or_else(|| {
                    Error::ModelNotFound(format!(
                        "{} is missing: modules.json names it; pass it with the other files",
                        path.display()
                    ))
                })?;
                serde_json::from_slice(bytes).map_err(|e| Error::Config {
                    path,
                    message: format!("not valid JSON ({e})"),
                })
            }
        }
    }

    /// The folder of a module whose weights are read later, from disk.
    fn weights_dir(&self, rel: &str, what: &str) -> Result<PathBuf> {
        match self {
            Folder::Dir(d) => Ok(d.join(rel)),
            Folder::Memory(_) => Err(Error::Unsupported(format!(
                "{what} ({}) has weights of its own, which are read from a model folder on disk, not from files in memory; load the folder with Engine::from_dir",
                self.path(rel).display()
            ))),
        }
    }
}

fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::Config {
        path: path.to_path_buf(),
        message: format!("not valid JSON ({e})"),
    })
}

fn bad(path: &Path, message: String) -> Error {
    Error::Config {
        path: path.to_path_buf(),
        message,
    }
}

/// The pooling a sentence-transformers `Pooling` config names (`pooling_mode` or the
/// `pooling_mode_*_tokens` flags; exactly one mode).
pub fn pooling_from_config(path: &Path, v: &Value) -> Result<Pooling> {
    if let Some(mode) = v.get("pooling_mode").and_then(|m| m.as_str()) {
        return match mode {
            "cls" => Ok(Pooling::Cls),
            "mean" => Ok(Pooling::Mean),
            "max" => Ok(Pooling::Max),
            "mean_sqrt_len_tokens" | "mean_sqrt_len" => Ok(Pooling::MeanSqrtLen),
            other => Err(bad(
                path,
                format!(
                    "pooling_mode {other:?} is not supported; wgbert pools with cls, mean, max or mean_sqrt_len_tokens (pass --pooling to choose one)"
                ),
            )),
        };
    }
    let flag = |k: &str| v.get(k).and_then(|b| b.as_bool()).unwrap_or(false);
    let known = [
        ("pooling_mode_cls_token", Pooling::Cls),
        ("pooling_mode_mean_tokens", Pooling::Mean),
        ("pooling_mode_max_tokens", Pooling::Max),
        ("pooling_mode_mean_sqrt_len_tokens", Pooling::MeanSqrtLen),
    ];
    let unknown = ["pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"];
    if let Some(k) = unknown.iter().find(|k| flag(k)) {
        return Err(bad(
            path,
            format!(
                "{k} is set; wgbert pools with cls, mean, max or mean_sqrt_len_tokens only (pass --pooling to choose one)"
            ),
        ));
    }
    let on: Vec<&(&str, Pooling)> = known.iter().filter(|(k, _)| flag(k)).collect();
    match on.as_slice() {
        [(_, p)] => Ok(*p),
        [] => Err(bad(
            path,
            "no pooling_mode_*_tokens flag is set; the Pooling module needs one (or pass --pooling)"
                .into(),
        )),
        many => Err(bad(
            path,
            format!(
                "{} pooling modes are set ({}); wgbert does not concatenate poolings (pass --pooling to choose one)",
                many.len(),
                many.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
            ),
        )),
    }
}

impl SentenceConfig {
    /// Reads the recipe of the model folder `dir`; the default where it has no `modules.json`.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        Self::read(&Folder::Dir(dir))
    }

    /// The recipe from a folder's files held in memory, by their path in the folder
    /// (`modules.json`, `1_Pooling/config.json`, `sentence_bert_config.json`,
    /// `config_sentence_transformers.json`, `tokenizer_config.json`), e.g. a browser page's.
    /// Modules with weights of their own (Dense, bge-m3's heads) are read from a folder on disk
    /// only: naming one here is an error that says so.
    pub fn from_files(files: &HashMap<String, Vec<u8>>) -> Result<Self> {
        Self::read(&Folder::Memory(files))
    }

    fn read(dir: &Folder) -> Result<Self> {
        let modules_path = dir.path("modules.json");
        let mut cfg = SentenceConfig::default();
        if dir.exists("sentence_bert_config.json") {
            cfg.max_seq_length = dir
                .json("sentence_bert_config.json")?
                .get("max_seq_length")
                .and_then(|v| v.as_u64())
                .map(|n| n as usize);
        }
        if dir.exists("config_sentence_transformers.json") {
            let cst = dir.path("config_sentence_transformers.json");
            let v = dir.json("config_sentence_transformers.json")?;
            cfg.read_prompts(&cst, &v)?;
            cfg.colbert = ColbertConfig::from_json(&cst, &v)?;
        }
        let heads = ["colbert_linear.pt", "sparse_linear.pt"].map(|f| dir.exists(f));
        match heads {
            [true, true] => {
                cfg.bge_m3 = Some(BgeM3Heads {
                    dir: dir.weights_dir("", "bge-m3's heads")?,
                })
            }
            [false, false] => {}
            _ => {
                let missing = if heads[0] {
                    "sparse_linear.pt"
                } else {
                    "colbert_linear.pt"
                };
                return Err(Error::ModelNotFound(format!(
                    "{} has one of bge-m3's two heads but not {missing}; copy both colbert_linear.pt and sparse_linear.pt from the model's release",
                    dir.path("").display()
                )));
            }
        }
        if !dir.exists("modules.json") {
            return Ok(cfg);
        }
        let modules = dir.json("modules.json")?;
        let list = modules
            .as_array()
            .ok_or_else(|| bad(&modules_path, "expected a list of modules".into()))?;
        let mut pooling = None;
        let mut normalize = false;
        for m in list {
            let ty = m.get("type").and_then(|t| t.as_str()).unwrap_or_default();
            let path = m.get("path").and_then(|t| t.as_str()).unwrap_or_default();
            let kind = ty.rsplit('.').next().unwrap_or_default();
            match kind {
                "Transformer" | "MLMTransformer" => {}
                "SpladePooling" => {
                    let rel = module_file(path, "config.json");
                    let v = dir.json(&rel)?;
                    cfg.splade = Some(splade_from_config(&dir.path(&rel), &v)?);
                }
                "Pooling" => {
                    let rel = module_file(path, "config.json");
                    let v = dir.json(&rel)?;
                    pooling = Some(pooling_from_config(&dir.path(&rel), &v)?);
                }
                "Normalize" => normalize = true,
                // ColBERT: Dense modules project every token (no pooling before them).
                "Dense"
                    if (pooling.is_some() || cfg.colbert.is_some())
                        && !normalize
                        && cfg.unsupported.is_none() =>
                {
                    cfg.dense.push(DenseModule::from_dir(
                        &dir.weights_dir(path, "a Dense module")?,
                    )?);
                }
                _ => {
                    cfg.unsupported
                        .get_or_insert_with(|| format!("{ty} ({})", PathBuf::from(path).display()));
                }
            }
        }
        if cfg.colbert.is_some() {
            if let Some(p) = pooling {
                cfg.unsupported.get_or_insert_with(|| {
                    format!("a Pooling module ({}) in a ColBERT folder", pooling_name(p))
                });
            }
            pooling = Some(Pooling::Mean); // not used: one vector per token
            normalize = true; // each token's vector (PyLate's normalize_embeddings)
        }
        if cfg.splade.is_some() {
            if let Some(p) = pooling {
                cfg.unsupported.get_or_insert_with(|| {
                    format!(
                        "a Pooling module ({}) beside SpladePooling",
                        pooling_name(p)
                    )
                });
            }
            pooling = Some(Pooling::Mean); // not used: the vectors are sparse
            normalize = false;
        }
        cfg.pooling = pooling.ok_or_else(|| {
            bad(
                &modules_path,
                "lists no Pooling module, so it does not say how to pool (pass --pooling)".into(),
            )
        })?;
        cfg.normalize = normalize;
        cfg.source = "modules.json".into();
        // Folders saved by sentence-transformers 5+ keep the length in the tokenizer's
        // `model_max_length` (tokenizer_config.json), which is what it truncates to when
        // sentence_bert_config.json names none (HF's "unset" is a huge sentinel).
        if cfg.max_seq_length.is_none() && dir.exists("tokenizer_config.json") {
            cfg.max_seq_length = dir
                .json("tokenizer_config.json")?
                .get("model_max_length")
                .and_then(|v| v.as_u64())
                .filter(|&n| n > 0 && n < 1_000_000)
                .map(|n| n as usize);
        }
        Ok(cfg)
    }

    /// `prompts`, `default_prompt_name` and `similarity_fn_name` of
    /// `config_sentence_transformers.json`.
    fn read_prompts(&mut self, path: &Path, v: &Value) -> Result<()> {
        if let Some(p) = v.get("prompts").filter(|p| !p.is_null()) {
            let map = p.as_object().ok_or_else(|| {
                bad(
                    path,
                    "prompts must be an object of name → prompt text".into(),
                )
            })?;
            for (name, text) in map {
                let text = text
                    .as_str()
                    .ok_or_else(|| bad(path, format!("prompt {name:?} must be a string")))?;
                self.prompts.insert(name.clone(), text.to_string());
            }
        }
        if let Some(name) = v.get("default_prompt_name").and_then(|n| n.as_str()) {
            if !self.prompts.contains_key(name) {
                return Err(bad(
                    path,
                    format!(
                        "default_prompt_name {name:?} is not one of its prompts ({}); add it to prompts or remove default_prompt_name",
                        self.prompt_names()
                    ),
                ));
            }
            self.default_prompt_name = Some(name.to_string());
        }
        if let Some(k) = v.get("max_active_dims").filter(|k| !k.is_null()) {
            let k = k.as_u64().filter(|&k| k > 0).ok_or_else(|| {
                bad(
                    path,
                    format!("max_active_dims must be a positive integer or null, got {k}"),
                )
            })?;
            self.max_active_dims = Some(k as usize);
        }
        self.similarity_fn_name = v
            .get("similarity_fn_name")
            .and_then(|n| n.as_str())
            .map(str::to_string);
        Ok(())
    }

    fn prompt_names(&self) -> String {
        if self.prompts.is_empty() {
            "it has none".into()
        } else {
            self.prompts.keys().cloned().collect::<Vec<_>>().join(", ")
        }
    }

    /// The text to put before each input, as sentence-transformers chooses it: `prompt` if
    /// given, else the prompt named `prompt_name`, else the folder's default prompt, else none.
    /// An unknown name is an error that lists the folder's prompts.
    pub fn prompt<'a>(
        &'a self,
        prompt_name: Option<&str>,
        prompt: Option<&'a str>,
    ) -> Result<Option<&'a str>> {
        if let Some(p) = prompt {
            return Ok(Some(p));
        }
        let name = match prompt_name {
            Some(n) => n,
            None => match &self.default_prompt_name {
                Some(n) => n.as_str(),
                None => return Ok(None),
            },
        };
        match self.prompts.get(name) {
            Some(p) => Ok(Some(p.as_str())),
            None => Err(Error::InvalidInput(format!(
                "prompt name {name:?} is not in the model folder's config_sentence_transformers.json prompts ({}); pick one of them or pass the prompt text itself",
                self.prompt_names()
            ))),
        }
    }

    /// One line for `wgbert info`, e.g. `cls pooling, L2-normalised, max_seq_length 512
    /// (modules.json)`.
    pub fn describe(&self) -> String {
        let mut s = match self.splade {
            Some(sp) => format!(
                "SPLADE sparse vectors ({} over real tokens of {}){}",
                match sp.pool {
                    crate::kernels::SpladePool::Max => "max",
                    crate::kernels::SpladePool::Sum => "sum",
                },
                if sp.log1p_twice {
                    "log(1 + log(1 + relu(logit)))"
                } else {
                    "log(1 + relu(logit))"
                },
                self.max_active_dims
                    .map(|k| format!(", at most {k} nonzero"))
                    .unwrap_or_default()
            ),
            None if self.colbert.is_some() => {
                let c = self
                    .colbert
                    .as_ref()
                    .map(|c| (c.query_length, c.document_length));
                let (q, d) = c.unwrap_or_default();
                format!(
                    "ColBERT multi-vector (one L2-normalised vector per token; queries {q} tokens with [MASK] expansion, documents at most {d})"
                )
            }
            None => format!(
                "{} pooling, {}",
                pooling_name(self.pooling),
                if self.normalize {
                    "L2-normalised"
                } else {
                    "not normalised"
                }
            ),
        };
        if let Some(n) = self.max_seq_length {
            s.push_str(&format!(", max_seq_length {n}"));
        }
        s.push_str(&format!(" ({})", self.source));
        if !self.prompts.is_empty() {
            s.push_str(&format!("; prompts {}", self.prompt_names()));
            if let Some(d) = &self.default_prompt_name {
                s.push_str(&format!(" (default {d})"));
            }
        }
        if self.bge_m3.is_some() {
            s.push_str("; bge-m3 heads colbert_linear.pt and sparse_linear.pt (embed --sparse, --multi-vector)");
        }
        if let Some(u) = &self.unsupported {
            s.push_str(&format!("; unsupported module {u}"));
        }
        s
    }
}

/// SPLADE's pooling from a sentence-transformers `SpladePooling` config (`pooling_strategy`
/// max or sum; `activation_function` relu or log1p_relu).
pub fn splade_from_config(path: &Path, v: &Value) -> Result<crate::model::Splade> {
    use crate::kernels::SpladePool;
    let pool = match v
        .get("pooling_strategy")
        .and_then(|p| p.as_str())
        .unwrap_or("max")
    {
        "max" => SpladePool::Max,
        "sum" => SpladePool::Sum,
        other => {
            return Err(bad(
                path,
                format!("pooling_strategy {other:?} is not max or sum, the two SpladePooling has"),
            ));
        }
    };
    let log1p_twice = match v
        .get("activation_function")
        .and_then(|a| a.as_str())
        .unwrap_or("relu")
    {
        "relu" => false,
        "log1p_relu" => true,
        other => {
            return Err(bad(
                path,
                format!(
                    "activation_function {other:?} is not relu or log1p_relu, the two SpladePooling has"
                ),
            ));
        }
    };
    Ok(crate::model::Splade { pool, log1p_twice })
}

/// The lower-case name of a pooling, as the CLI takes it.
pub fn pooling_name(p: Pooling) -> &'static str {
    match p {
        Pooling::Mean => "mean",
        Pooling::Max => "max",
        Pooling::Cls => "cls",
        Pooling::Pooler => "pooler",
        Pooling::MeanSqrtLen => "mean-sqrt-len",
    }
}
