//! Classification heads on sentence embeddings: a softmax (multinomial logistic regression)
//! layer trained on the user's own labels, saved as an ordinary safetensors file
//! (`classifier.weight` `[labels, H]`, `classifier.bias` `[labels]`, label names and pooling in the
//! metadata), and applied to new text.

use crate::error::{Error, Result};
use crate::model::Pooling;
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use std::collections::HashMap;
use std::path::Path;

/// A trained head.
#[derive(Clone, Debug, PartialEq)]
pub struct Head {
    /// Label names, in logit order.
    pub labels: Vec<String>,
    /// Width of the embeddings it reads.
    pub hidden: usize,
    /// `[labels, hidden]`, row-major.
    pub weight: Vec<f32>,
    /// `[labels]`.
    pub bias: Vec<f32>,
    /// How the embeddings it was trained on were pooled.
    pub pooling: Pooling,
    /// Whether those embeddings were L2-normalised.
    pub normalize: bool,
}

/// Training settings; the defaults are deterministic and need no tuning for embeddings.
#[derive(Clone, Debug)]
pub struct TrainOptions {
    /// Full-batch gradient steps.
    pub epochs: usize,
    /// Step size.
    pub learning_rate: f64,
    /// L2 penalty on the weights.
    pub l2: f64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            epochs: 500,
            learning_rate: 2.0,
            l2: 1e-4,
        }
    }
}

fn softmax(z: &mut [f64]) {
    let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let mut s = 0.0;
    for v in z.iter_mut() {
        *v = (*v - m).exp();
        s += *v;
    }
    z.iter_mut().for_each(|v| *v /= s);
}

impl Head {
    /// Fits a softmax regression on `x` (one embedding per row) with label indices `y` by
    /// full-batch gradient descent in f64 from zero weights: the same data gives the same head.
    pub fn train(
        x: &[Vec<f32>],
        y: &[usize],
        labels: Vec<String>,
        pooling: Pooling,
        normalize: bool,
        opts: &TrainOptions,
    ) -> Result<Head> {
        let (n, l) = (x.len(), labels.len());
        if n == 0 || l < 2 {
            return Err(Error::InvalidInput(format!(
                "training needs rows of at least two labels; got {n} rows and {l} labels"
            )));
        }
        let h = x[0].len();
        if x.iter().any(|r| r.len() != h) || y.iter().any(|&c| c >= l) || y.len() != n {
            return Err(Error::Shape(
                "training rows and labels do not line up".into(),
            ));
        }
        let mut w = vec![0f64; l * h];
        let mut b = vec![0f64; l];
        for _ in 0..opts.epochs {
            let mut gw = vec![0f64; l * h];
            let mut gb = vec![0f64; l];
            for (row, &c) in x.iter().zip(y) {
                let mut z: Vec<f64> = (0..l)
                    .map(|k| b[k] + (0..h).map(|j| w[k * h + j] * row[j] as f64).sum::<f64>())
                    .collect();
                softmax(&mut z);
                for k in 0..l {
                    let g = z[k] - if k == c { 1.0 } else { 0.0 };
                    gb[k] += g;
                    for j in 0..h {
                        gw[k * h + j] += g * row[j] as f64;
                    }
                }
            }
            for k in 0..l {
                b[k] -= opts.learning_rate * gb[k] / n as f64;
                for j in 0..h {
                    let i = k * h + j;
                    w[i] -= opts.learning_rate * (gw[i] / n as f64 + opts.l2 * w[i]);
                }
            }
        }
        Ok(Head {
            labels,
            hidden: h,
            weight: w.iter().map(|&v| v as f32).collect(),
            bias: b.iter().map(|&v| v as f32).collect(),
            pooling,
            normalize,
        })
    }

    /// Probability of each label for one embedding.
    pub fn predict(&self, v: &[f32]) -> Vec<f32> {
        let h = self.hidden;
        let mut z: Vec<f64> = (0..self.labels.len())
            .map(|k| {
                self.bias[k] as f64
                    + (0..h)
                        .map(|j| self.weight[k * h + j] as f64 * v[j] as f64)
                        .sum::<f64>()
            })
            .collect();
        softmax(&mut z);
        z.iter().map(|&p| p as f32).collect()
    }

    /// Index of the most probable label.
    pub fn argmax(p: &[f32]) -> usize {
        p.iter()
            .enumerate()
            .fold(0, |best, (i, v)| if *v > p[best] { i } else { best })
    }

    /// Writes the head as safetensors (F32 tensors, labels and pooling in the metadata).
    pub fn save(&self, path: &Path) -> Result<()> {
        let w: Vec<u8> = self.weight.iter().flat_map(|v| v.to_le_bytes()).collect();
        let b: Vec<u8> = self.bias.iter().flat_map(|v| v.to_le_bytes()).collect();
        let l = self.labels.len();
        let bad = |e: safetensors::SafeTensorError| Error::Weights {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let tensors = vec![
            (
                "classifier.weight",
                TensorView::new(Dtype::F32, vec![l, self.hidden], &w).map_err(bad)?,
            ),
            (
                "classifier.bias",
                TensorView::new(Dtype::F32, vec![l], &b).map_err(bad)?,
            ),
        ];
        let labels =
            serde_json::to_string(&self.labels).map_err(|e| Error::InvalidInput(e.to_string()))?;
        let meta: HashMap<String, String> = [
            ("format".to_string(), "wgbert-head-v1".to_string()),
            ("labels".to_string(), labels),
            (
                "pooling".to_string(),
                format!("{:?}", self.pooling).to_lowercase(),
            ),
            ("normalize".to_string(), self.normalize.to_string()),
        ]
        .into();
        let tmp = path.with_extension("tmp-head");
        safetensors::serialize_to_file(tensors, Some(meta), &tmp).map_err(bad)?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    }

    /// Reads a head written by [`Head::save`].
    pub fn load(path: &Path) -> Result<Head> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let err = |m: String| Error::Weights {
            path: path.to_path_buf(),
            message: m,
        };
        let st = SafeTensors::deserialize(&bytes)
            .map_err(|e| err(format!("not a valid safetensors file ({e})")))?;
        let (_, meta) = SafeTensors::read_metadata(&bytes)
            .map_err(|e| err(format!("not a valid safetensors file ({e})")))?;
        let meta = meta.metadata().clone().unwrap_or_default();
        let labels: Vec<String> = meta
            .get("labels")
            .and_then(|l| serde_json::from_str(l).ok())
            .ok_or_else(|| {
                err(
                    "no \"labels\" in the metadata; is this a head written by `wgbert train-head`?"
                        .into(),
                )
            })?;
        let tensor = |name: &str| -> Result<(Vec<usize>, Vec<f32>)> {
            let v = st
                .tensor(name)
                .map_err(|_| err(format!("tensor {name} is missing")))?;
            if v.dtype() != Dtype::F32 {
                return Err(err(format!(
                    "tensor {name} has dtype {:?}; heads are F32",
                    v.dtype()
                )));
            }
            Ok((v.shape().to_vec(), bytemuck::pod_collect_to_vec(v.data())))
        };
        let (ws, weight) = tensor("classifier.weight")?;
        let (bs, bias) = tensor("classifier.bias")?;
        if ws.len() != 2 || ws[0] != labels.len() || bs != [labels.len()] {
            return Err(err(format!(
                "classifier.weight {ws:?} and classifier.bias {bs:?} do not match {} labels",
                labels.len()
            )));
        }
        let pooling = match meta.get("pooling").map(String::as_str) {
            None | Some("mean") => Pooling::Mean,
            Some("cls") => Pooling::Cls,
            Some("max") => Pooling::Max,
            Some("pooler") => Pooling::Pooler,
            Some(other) => return Err(err(format!("unknown pooling {other:?} in the metadata"))),
        };
        Ok(Head {
            labels,
            hidden: ws[1],
            weight,
            bias,
            pooling,
            normalize: meta.get("normalize").is_none_or(|v| v == "true"),
        })
    }
}

/// Labeled rows `(text, label)` from JSON Lines (`{"text": …, "label": …}`) or CSV with `text`
/// and `label` columns (header row; RFC 4180 quoting), chosen by the file extension.
pub fn read_labeled(path: &Path) -> Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let bad = |line: usize, m: String| {
        Error::InvalidInput(format!("{}: line {line}: {m}", path.display()))
    };
    let mut rows = Vec::new();
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
    {
        let records = parse_csv(&text).map_err(|(line, m)| bad(line, m))?;
        let header = records.first().ok_or_else(|| {
            bad(
                1,
                "empty CSV; it needs a header with text and label columns".into(),
            )
        })?;
        let col = |name: &str| {
            header
                .iter()
                .position(|h| h.trim().eq_ignore_ascii_case(name))
        };
        let (ti, li) = match (col("text"), col("label")) {
            (Some(t), Some(l)) => (t, l),
            _ => {
                return Err(bad(
                    1,
                    format!("the header {header:?} needs columns named text and label"),
                ));
            }
        };
        for (i, r) in records.iter().enumerate().skip(1) {
            match (r.get(ti), r.get(li)) {
                (Some(t), Some(l)) => rows.push((t.clone(), l.trim().to_string())),
                _ => {
                    return Err(bad(
                        i + 1,
                        format!("{} fields, the header has {}", r.len(), header.len()),
                    ));
                }
            }
        }
    } else {
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let v: serde_json::Value =
                serde_json::from_str(line).map_err(|e| bad(i + 1, format!("not JSON ({e})")))?;
            let t = v.get("text").and_then(|t| t.as_str());
            let l = v.get("label").map(|l| {
                l.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| l.to_string())
            });
            match (t, l) {
                (Some(t), Some(l)) => rows.push((t.to_string(), l)),
                _ => {
                    return Err(bad(
                        i + 1,
                        "each row needs a \"text\" string and a \"label\"".into(),
                    ));
                }
            }
        }
    }
    Ok(rows)
}

/// Minimal RFC 4180 CSV: fields separated by commas, optionally quoted with `"` (`""` inside).
fn parse_csv(text: &str) -> std::result::Result<Vec<Vec<String>>, (usize, String)> {
    let (mut rows, mut row, mut field) = (Vec::new(), Vec::new(), String::new());
    let (mut quoted, mut line) = (false, 1usize);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, ch) => {
                if ch == '\n' {
                    line += 1;
                }
                field.push(ch)
            }
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                line += 1;
            }
            (false, ch) => field.push(ch),
        }
    }
    if quoted {
        return Err((line, "a quoted field is not closed".into()));
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    Ok(rows)
}

/// Deterministic split of `n` rows: every `k`-th row (by a fixed shuffle) is held out, where
/// `k` = round(1 / holdout). Returns (train, held-out) indices.
pub fn split(n: usize, holdout: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = crate::reference::SplitMix64::new(seed);
    for i in (1..n).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let test_n = ((n as f64) * holdout).round() as usize;
    let test = order[..test_n.min(n)].to_vec();
    let train = order[test_n.min(n)..].to_vec();
    (train, test)
}
