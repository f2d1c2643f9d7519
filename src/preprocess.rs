//! TF-Hub `bert_en_uncased_preprocess` packing with the model's own `tokenizer.json`.
//!
//! `[CLS] A [SEP]` or `[CLS] A [SEP] B [SEP]`, zero padding to `seq_length`, and pairs truncated
//! round-robin (tensorflow_text's `RoundRobinTrimmer`): the budget `seq_length − (segments + 1)`
//! is granted one token at a time to A, B, A, B, … until it is spent or both are exhausted.
//! The tokenizer file's own truncation, padding and post-processor are switched off.

use crate::error::{Error, Result};
use std::path::Path;
use tokenizers::Tokenizer;

/// One input: a sentence or a sentence pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// `[CLS] A [SEP]`.
    Single(String),
    /// `[CLS] A [SEP] B [SEP]`.
    Pair(String, String),
}

impl From<&str> for Input {
    fn from(s: &str) -> Self {
        Input::Single(s.to_string())
    }
}
impl From<String> for Input {
    fn from(s: String) -> Self {
        Input::Single(s)
    }
}
impl From<(&str, &str)> for Input {
    fn from(p: (&str, &str)) -> Self {
        Input::Pair(p.0.to_string(), p.1.to_string())
    }
}

/// The separator of a pair in text inputs: `A ||| B`.
pub const PAIR_SEPARATOR: &str = "|||";

impl Input {
    /// Parses one text line: `A ||| B` (split at the first `|||`, both halves trimmed) is a
    /// pair; anything else, whitespace included, is a single input taken as it is.
    pub fn parse(line: &str) -> Input {
        match line.split_once(PAIR_SEPARATOR) {
            Some((a, b)) => Input::Pair(a.trim().to_string(), b.trim().to_string()),
            None => Input::Single(line.to_string()),
        }
    }
}

/// One packed input: the three TF-Hub arrays (each `seq_length` long) and the real WordPieces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packed {
    /// `[CLS]`=101 … `[SEP]`=102, then 0 padding.
    pub input_word_ids: Vec<u32>,
    /// 1 on real tokens (specials included), 0 on padding.
    pub input_mask: Vec<u32>,
    /// 0 for `[CLS]`, A and the first `[SEP]`; 1 for B and the last `[SEP]`; 0 on padding.
    pub input_type_ids: Vec<u32>,
    /// The WordPiece strings of the real tokens, `[CLS]` and `[SEP]` included.
    pub tokens: Vec<String>,
    /// Character span `(start, end)` in its segment's text of each real token; `(0, 0)` for
    /// `[CLS]` and `[SEP]`.
    pub offsets: Vec<(usize, usize)>,
}

impl Packed {
    /// Number of real tokens (the mask sum).
    pub fn len(&self) -> usize {
        self.tokens.len()
    }
    /// Never true: a packed input has at least `[CLS] [SEP]`.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}

/// tensorflow_text `RoundRobinTrimmer` budget split, e.g. `([3, 4, 2], 5) → [2, 2, 1]`.
pub fn round_robin_allocation(lengths: &[usize], budget: usize) -> Vec<usize> {
    let mut alloc = vec![0usize; lengths.len()];
    let mut remaining = budget;
    while remaining > 0 {
        let mut progressed = false;
        for (a, &n) in alloc.iter_mut().zip(lengths) {
            if remaining == 0 {
                break;
            }
            if *a < n {
                *a += 1;
                remaining -= 1;
                progressed = true;
            }
        }
        if !progressed {
            break;
        }
    }
    alloc
}

/// Ids, WordPiece strings and character spans of one segment's tokens.
pub type Tokenized = (Vec<u32>, Vec<String>, Vec<(usize, usize)>);

/// WordPiece tokenisation and TF-Hub packing.
pub struct Preprocessor {
    tokenizer: Tokenizer,
    cls_id: u32,
    sep_id: u32,
    pad_id: u32,
}

impl Preprocessor {
    /// Loads `tokenizer.json`, switching off its own truncation and padding.
    pub fn from_file(path: &Path) -> Result<Self> {
        if !path.exists() {
            return Err(Error::ModelNotFound(format!(
                "no tokenizer.json at {}; the model folder needs config.json, tokenizer.json and model.safetensors",
                path.display()
            )));
        }
        let mut tokenizer = Tokenizer::from_file(path).map_err(|e| {
            Error::Tokenizer(format!(
                "cannot load {} ({e}); it must be a Hugging Face tokenizers JSON file",
                path.display()
            ))
        })?;
        tokenizer
            .with_truncation(None)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        tokenizer.with_padding(None);
        let id = |t: &str| {
            tokenizer.token_to_id(t).ok_or_else(|| {
                Error::Tokenizer(format!(
                    "{} has no {t} token; wgbert needs a BERT WordPiece vocabulary with [CLS] and [SEP]",
                    path.display()
                ))
            })
        };
        let cls_id = id("[CLS]")?;
        let sep_id = id("[SEP]")?;
        let pad_id = tokenizer.token_to_id("[PAD]").unwrap_or(0);
        Ok(Preprocessor {
            tokenizer,
            cls_id,
            sep_id,
            pad_id,
        })
    }

    /// Size of the tokenizer's vocabulary, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.tokenizer.get_vocab_size(true)
    }

    /// The `[CLS]` and `[SEP]` ids.
    pub fn special_ids(&self) -> (u32, u32, u32) {
        (self.cls_id, self.sep_id, self.pad_id)
    }

    /// WordPiece ids and strings of one segment, without special tokens or truncation.
    pub fn tokenize(&self, text: &str) -> Result<(Vec<u32>, Vec<String>)> {
        let (ids, tokens, _) = self.tokenize_with_offsets(text)?;
        Ok((ids, tokens))
    }

    /// Ids, strings and character spans (in `text`) of one segment's WordPieces.
    pub fn tokenize_with_offsets(&self, text: &str) -> Result<Tokenized> {
        let enc = self
            .tokenizer
            .encode_char_offsets(text, false)
            .map_err(|e| Error::Tokenizer(format!("cannot tokenise input ({e})")))?;
        Ok((
            enc.get_ids().to_vec(),
            enc.get_tokens().to_vec(),
            enc.get_offsets().to_vec(),
        ))
    }

    /// The smallest `seq_length` that can hold an input with `segments` segments.
    pub fn min_seq_length(segments: usize) -> usize {
        segments + 1
    }

    /// Packs one input into `seq_length` positions.
    pub fn pack(&self, input: &Input, seq_length: usize) -> Result<Packed> {
        let segments: Vec<&str> = match input {
            Input::Single(a) => vec![a.as_str()],
            Input::Pair(a, b) => vec![a.as_str(), b.as_str()],
        };
        let specials = Self::min_seq_length(segments.len());
        if seq_length < specials {
            return Err(Error::InvalidInput(format!(
                "seq_length {seq_length} cannot hold {} plus its [CLS]/[SEP] tokens; use a seq_length of at least {specials}",
                if segments.len() == 2 {
                    "a sentence pair"
                } else {
                    "a sentence"
                }
            )));
        }
        let toks = segments
            .iter()
            .map(|s| self.tokenize_with_offsets(s))
            .collect::<Result<Vec<_>>>()?;
        let lengths: Vec<usize> = toks.iter().map(|t| t.0.len()).collect();
        let alloc = round_robin_allocation(&lengths, seq_length - specials);

        let mut ids = vec![self.cls_id];
        let mut types = vec![0u32];
        let mut tokens = vec!["[CLS]".to_string()];
        let mut offsets = vec![(0, 0)];
        for (seg, ((seg_ids, seg_toks, seg_offs), &n)) in toks.iter().zip(&alloc).enumerate() {
            ids.extend_from_slice(&seg_ids[..n]);
            ids.push(self.sep_id);
            tokens.extend(seg_toks[..n].iter().cloned());
            tokens.push("[SEP]".to_string());
            offsets.extend_from_slice(&seg_offs[..n]);
            offsets.push((0, 0));
            types.extend(std::iter::repeat_n(seg as u32, n + 1));
        }
        let real = ids.len();
        let mut mask = vec![1u32; real];
        ids.resize(seq_length, self.pad_id);
        types.resize(seq_length, 0);
        mask.resize(seq_length, 0);
        Ok(Packed {
            input_word_ids: ids,
            input_mask: mask,
            input_type_ids: types,
            tokens,
            offsets,
        })
    }
}
