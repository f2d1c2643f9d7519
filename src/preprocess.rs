//! TF-Hub `bert_en_uncased_preprocess` packing with the model's own `tokenizer.json`.
//!
//! The special tokens and their order come from the tokenizer's post-processor (BERT:
//! `[CLS] A [SEP]` and `[CLS] A [SEP] B [SEP]`; RoBERTa / XLM-R: `<s> A </s>` and
//! `<s> A </s></s> B </s>`), padding with the pad token to `seq_length`, and pairs truncated
//! round-robin (tensorflow_text's `RoundRobinTrimmer`): the budget `seq_length − specials`
//! is granted one token at a time to A, B, A, B, … until it is spent or both are exhausted.
//! The tokenizer file's own truncation and padding are switched off; its post-processor is
//! read as a template and applied here, after truncation.

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

/// One packed input: the three TF-Hub arrays (each `seq_length` long) and the real tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packed {
    /// `[CLS]`=101 … `[SEP]`=102 (BERT; the model's own special tokens otherwise), then the
    /// pad token (0 for BERT).
    pub input_word_ids: Vec<u32>,
    /// 1 on real tokens (specials included), 0 on padding.
    pub input_mask: Vec<u32>,
    /// The template's type ids (BERT: 0 for `[CLS]`, A and the first `[SEP]`; 1 for B and the
    /// last `[SEP]`); 0 on padding.
    pub input_type_ids: Vec<u32>,
    /// The token strings of the real tokens, special tokens included.
    pub tokens: Vec<String>,
    /// Character span `(start, end)` in its segment's text of each real token; `(0, 0)` for
    /// special tokens.
    pub offsets: Vec<(usize, usize)>,
    /// Whether each real token is one the template added (`[CLS]`, `[SEP]`, `<s>`, …).
    pub special: Vec<bool>,
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

/// One element of a packing template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// A special token the template adds.
    Special {
        /// Its string, e.g. `[CLS]` or `</s>`.
        token: String,
        /// Its id.
        id: u32,
        /// Its token type.
        type_id: u32,
    },
    /// The tokens of segment 0 (A) or 1 (B).
    Segment {
        /// 0 for A, 1 for B.
        index: usize,
        /// The token type of its tokens.
        type_id: u32,
    },
}

/// Where the special tokens go, for one sentence and for a pair (the tokenizer's
/// post-processor: `BertProcessing`, `RobertaProcessing` or `TemplateProcessing`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    /// `[CLS] A [SEP]`.
    pub single: Vec<Piece>,
    /// `[CLS] A [SEP] B [SEP]`.
    pub pair: Vec<Piece>,
}

impl Template {
    fn special(token: &str, id: u32, type_id: u32) -> Piece {
        Piece::Special {
            token: token.to_string(),
            id,
            type_id,
        }
    }

    /// BERT's: `[CLS] A [SEP]` / `[CLS] A [SEP] B [SEP]`, B and its `[SEP]` of type 1.
    pub fn bert(cls: (&str, u32), sep: (&str, u32)) -> Self {
        let seg = |index, type_id| Piece::Segment { index, type_id };
        Template {
            single: vec![
                Self::special(cls.0, cls.1, 0),
                seg(0, 0),
                Self::special(sep.0, sep.1, 0),
            ],
            pair: vec![
                Self::special(cls.0, cls.1, 0),
                seg(0, 0),
                Self::special(sep.0, sep.1, 0),
                seg(1, 1),
                Self::special(sep.0, sep.1, 1),
            ],
        }
    }

    /// RoBERTa's: `<s> A </s>` / `<s> A </s></s> B </s>`, all of type 0 (RoBERTa has one type).
    pub fn roberta(cls: (&str, u32), sep: (&str, u32)) -> Self {
        let seg = |index| Piece::Segment { index, type_id: 0 };
        Template {
            single: vec![
                Self::special(cls.0, cls.1, 0),
                seg(0),
                Self::special(sep.0, sep.1, 0),
            ],
            pair: vec![
                Self::special(cls.0, cls.1, 0),
                seg(0),
                Self::special(sep.0, sep.1, 0),
                Self::special(sep.0, sep.1, 0),
                seg(1),
                Self::special(sep.0, sep.1, 0),
            ],
        }
    }

    /// Number of special tokens around `segments` (1 or 2) segments.
    pub fn specials(&self, segments: usize) -> usize {
        let t = if segments == 2 {
            &self.pair
        } else {
            &self.single
        };
        t.iter()
            .filter(|p| matches!(p, Piece::Special { .. }))
            .count()
    }

    /// Reads the post-processor of a `tokenizer.json` document; `None` when it has none that
    /// places special tokens (the caller falls back to BERT's template).
    fn from_tokenizer_json(
        doc: &serde_json::Value,
        id_of: &dyn Fn(&str) -> Option<u32>,
    ) -> std::result::Result<Option<Self>, String> {
        let Some(pp) = doc.get("post_processor").filter(|v| !v.is_null()) else {
            return Ok(None);
        };
        Self::from_processor(pp, id_of)
    }

    fn from_processor(
        pp: &serde_json::Value,
        id_of: &dyn Fn(&str) -> Option<u32>,
    ) -> std::result::Result<Option<Self>, String> {
        let pair_of = |key: &str| -> std::result::Result<(String, u32), String> {
            let v = pp.get(key).and_then(|v| v.as_array());
            match v.map(|a| {
                (
                    a.first().and_then(|t| t.as_str()),
                    a.get(1).and_then(|i| i.as_u64()),
                )
            }) {
                Some((Some(t), Some(i))) => Ok((t.to_string(), i as u32)),
                _ => Err(format!(
                    "its post_processor has no valid \"{key}\" [token, id]"
                )),
            }
        };
        match pp.get("type").and_then(|t| t.as_str()) {
            Some("BertProcessing") => {
                let (cls, sep) = (pair_of("cls")?, pair_of("sep")?);
                Ok(Some(Self::bert((&cls.0, cls.1), (&sep.0, sep.1))))
            }
            Some("RobertaProcessing") => {
                let (cls, sep) = (pair_of("cls")?, pair_of("sep")?);
                Ok(Some(Self::roberta((&cls.0, cls.1), (&sep.0, sep.1))))
            }
            Some("TemplateProcessing") => {
                let specials = pp.get("special_tokens");
                let parse = |key: &str| -> std::result::Result<Vec<Piece>, String> {
                    let items = pp
                        .get(key)
                        .and_then(|v| v.as_array())
                        .ok_or_else(|| format!("its TemplateProcessing has no \"{key}\" list"))?;
                    let mut out = Vec::new();
                    for item in items {
                        if let Some(sq) = item.get("Sequence") {
                            let index = match sq.get("id").and_then(|v| v.as_str()) {
                                Some("A") => 0,
                                Some("B") => 1,
                                other => {
                                    return Err(format!(
                                        "its template names sequence {other:?}; only A and B exist"
                                    ));
                                }
                            };
                            let type_id =
                                sq.get("type_id").and_then(|v| v.as_u64()).unwrap_or(0) as u32;
                            out.push(Piece::Segment { index, type_id });
                        } else if let Some(sp) = item.get("SpecialToken") {
                            let name = sp.get("id").and_then(|v| v.as_str()).unwrap_or_default();
                            let type_id =
                                sp.get("type_id").and_then(|v| v.as_u64()).unwrap_or(0) as u32;
                            // The special_tokens map gives the ids (one special may be several tokens).
                            let entry = specials.and_then(|m| m.get(name));
                            let ids: Vec<u32> = entry
                                .and_then(|e| e.get("ids"))
                                .and_then(|v| v.as_array())
                                .map(|a| a.iter().filter_map(|i| i.as_u64().map(|i| i as u32)).collect())
                                .or_else(|| id_of(name).map(|i| vec![i]))
                                .ok_or_else(|| format!("its template uses special token {name:?}, which it gives no id"))?;
                            let tokens: Vec<String> = entry
                                .and_then(|e| e.get("tokens"))
                                .and_then(|v| v.as_array())
                                .map(|a| {
                                    a.iter()
                                        .filter_map(|t| t.as_str().map(str::to_string))
                                        .collect()
                                })
                                .unwrap_or_else(|| vec![name.to_string(); ids.len()]);
                            for (k, id) in ids.iter().enumerate() {
                                let token =
                                    tokens.get(k).cloned().unwrap_or_else(|| name.to_string());
                                out.push(Piece::Special {
                                    token,
                                    id: *id,
                                    type_id,
                                });
                            }
                        } else {
                            return Err(format!(
                                "its template has an item wgbert does not know: {item}"
                            ));
                        }
                    }
                    Ok(out)
                };
                Ok(Some(Template {
                    single: parse("single")?,
                    pair: parse("pair")?,
                }))
            }
            Some("Sequence") => {
                for p in pp
                    .get("processors")
                    .and_then(|v| v.as_array())
                    .into_iter()
                    .flatten()
                {
                    if let Some(t) = Self::from_processor(p, id_of)? {
                        return Ok(Some(t));
                    }
                }
                Ok(None)
            }
            // ByteLevel and others only adjust offsets.
            _ => Ok(None),
        }
    }
}

/// Tokenisation and TF-Hub packing with the model's own special tokens.
pub struct Preprocessor {
    tokenizer: Tokenizer,
    template: Template,
    pad_id: u32,
}

impl Preprocessor {
    /// Loads `tokenizer.json`, switching off its own truncation and padding, and reads its
    /// post-processor as the packing template.
    pub fn from_file(path: &Path) -> Result<Self> {
        if !path.exists() {
            return Err(Error::ModelNotFound(format!(
                "no tokenizer.json at {}; the model folder needs config.json, tokenizer.json and model.safetensors",
                path.display()
            )));
        }
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(path, &bytes)
    }

    /// A preprocessor from the bytes of a `tokenizer.json`; `path` names it in errors.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Self> {
        let bad = |e: String| {
            Error::Tokenizer(format!(
                "cannot load {} ({e}); it must be a Hugging Face tokenizers JSON file",
                path.display()
            ))
        };
        let mut tokenizer = Tokenizer::from_bytes(bytes).map_err(|e| bad(e.to_string()))?;
        let doc: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        tokenizer
            .with_truncation(None)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        tokenizer.with_padding(None);
        let id_of = |t: &str| tokenizer.token_to_id(t);
        let template = match Template::from_tokenizer_json(&doc, &id_of).map_err(|e| {
            Error::Tokenizer(format!(
                "{}: {e}; fix its post_processor or re-save the tokenizer with transformers",
                path.display()
            ))
        })? {
            Some(t) => t,
            None => match (id_of("[CLS]"), id_of("[SEP]"), id_of("<s>"), id_of("</s>")) {
                (Some(c), Some(s), _, _) => Template::bert(("[CLS]", c), ("[SEP]", s)),
                (_, _, Some(c), Some(s)) => Template::roberta(("<s>", c), ("</s>", s)),
                _ => {
                    return Err(Error::Tokenizer(format!(
                        "{} has no post_processor and no [CLS]/[SEP] or <s>/</s> tokens, so wgbert cannot tell where the special tokens go; use the tokenizer.json saved with the model",
                        path.display()
                    )));
                }
            },
        };
        let pad_id = ["[PAD]", "<pad>"]
            .iter()
            .find_map(|t| id_of(t))
            .unwrap_or(0);
        Ok(Preprocessor {
            tokenizer,
            template,
            pad_id,
        })
    }

    /// The packing template (the model's special tokens and where they go).
    pub fn template(&self) -> &Template {
        &self.template
    }

    /// The id padding positions get (`[PAD]` or `<pad>`, else 0).
    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    /// Size of the tokenizer's vocabulary, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.tokenizer.get_vocab_size(true)
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

    /// The id of the mask token (`[MASK]`, or `<mask>` for RoBERTa-style vocabularies).
    pub fn mask_id(&self) -> Option<u32> {
        ["[MASK]", "<mask>"]
            .iter()
            .find_map(|t| self.tokenizer.token_to_id(t))
    }

    /// The id of a vocabulary entry or added token (`[Q] `), if the tokenizer has it.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.tokenizer.token_to_id(token)
    }

    /// The vocabulary entry of `id` (`##ing`, `Ġthe`; transformers' `convert_ids_to_tokens`):
    /// an added token as written in `tokenizer.json` (`[Q] `, not its normalised form).
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.tokenizer
            .get_added_vocabulary()
            .get_added_tokens_decoder()
            .get(&id)
            .map(|t| t.content.clone())
            .or_else(|| self.tokenizer.id_to_token(id))
    }

    /// The text of `ids` as the tokenizer's decoder writes it (transformers' `decode`).
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String> {
        self.tokenizer
            .decode(ids, skip_special_tokens)
            .map_err(|e| Error::Tokenizer(format!("cannot decode token ids: {e}")))
    }

    /// The smallest `seq_length` that can hold an input with `segments` segments (its special
    /// tokens: 2 and 3 for BERT, 2 and 4 for RoBERTa).
    pub fn min_seq_length(&self, segments: usize) -> usize {
        self.template.specials(segments)
    }

    /// Packs one input into `seq_length` positions.
    pub fn pack(&self, input: &Input, seq_length: usize) -> Result<Packed> {
        self.pack_with(input, seq_length, false)
    }

    /// Packs one input, truncating from the start instead of the end (each segment keeps its
    /// last tokens): TEI's `truncation_direction: "left"`.
    pub fn pack_keep_end(&self, input: &Input, seq_length: usize) -> Result<Packed> {
        self.pack_with(input, seq_length, true)
    }

    /// Real tokens (special tokens included) `input` packs to without truncation.
    pub fn count_tokens(&self, input: &Input) -> Result<usize> {
        let (segments, n) = match input {
            Input::Single(a) => (1, self.tokenize(a)?.0.len()),
            Input::Pair(a, b) => (2, self.tokenize(a)?.0.len() + self.tokenize(b)?.0.len()),
        };
        Ok(n + self.min_seq_length(segments))
    }

    /// Packs token ids given by the caller (segment A, no special tokens): the template's
    /// special tokens are added around them. Ids at or above `vocab_size` are an error.
    pub fn pack_ids(&self, ids: &[u32], seq_length: usize, vocab_size: usize) -> Result<Packed> {
        if let Some(bad) = ids.iter().find(|&&i| i as usize >= vocab_size) {
            return Err(Error::InvalidInput(format!(
                "token id {bad} is outside the vocabulary (0..{vocab_size})"
            )));
        }
        let specials = self.min_seq_length(1);
        if ids.len() + specials > seq_length {
            return Err(Error::InvalidInput(format!(
                "{} token ids plus {specials} special tokens are more than the {seq_length} this model takes",
                ids.len()
            )));
        }
        let tokens = ids
            .iter()
            .map(|&id| self.tokenizer.id_to_token(id).unwrap_or_default())
            .collect();
        let segment: Tokenized = (ids.to_vec(), tokens, vec![(0, 0); ids.len()]);
        Ok(self.assemble(&[segment], &[ids.len()], seq_length, false))
    }

    fn pack_with(&self, input: &Input, seq_length: usize, keep_end: bool) -> Result<Packed> {
        let segments: Vec<&str> = match input {
            Input::Single(a) => vec![a.as_str()],
            Input::Pair(a, b) => vec![a.as_str(), b.as_str()],
        };
        let specials = self.min_seq_length(segments.len());
        if seq_length < specials {
            return Err(Error::InvalidInput(format!(
                "seq_length {seq_length} cannot hold {} plus its {specials} special tokens; use a seq_length of at least {specials}",
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
        Ok(self.assemble(&toks, &alloc, seq_length, keep_end))
    }

    /// The template around `alloc[i]` tokens of each segment `toks[i]` (its first ones, or its
    /// last with `keep_end`), padded to `seq_length`.
    fn assemble(
        &self,
        toks: &[Tokenized],
        alloc: &[usize],
        seq_length: usize,
        keep_end: bool,
    ) -> Packed {
        let template = if toks.len() == 2 {
            &self.template.pair
        } else {
            &self.template.single
        };
        let mut ids = Vec::with_capacity(seq_length);
        let mut types = Vec::with_capacity(seq_length);
        let mut tokens = Vec::new();
        let mut offsets = Vec::new();
        let mut special = Vec::new();
        for piece in template {
            match piece {
                Piece::Special { token, id, type_id } => {
                    ids.push(*id);
                    types.push(*type_id);
                    tokens.push(token.clone());
                    offsets.push((0, 0));
                    special.push(true);
                }
                Piece::Segment { index, type_id } => {
                    let Some(((seg_ids, seg_toks, seg_offs), &n)) =
                        toks.get(*index).zip(alloc.get(*index))
                    else {
                        continue;
                    };
                    let range = if keep_end {
                        seg_ids.len() - n..seg_ids.len()
                    } else {
                        0..n
                    };
                    ids.extend_from_slice(&seg_ids[range.clone()]);
                    types.extend(std::iter::repeat_n(*type_id, n));
                    tokens.extend(seg_toks[range.clone()].iter().cloned());
                    offsets.extend_from_slice(&seg_offs[range]);
                    special.extend(std::iter::repeat_n(false, n));
                }
            }
        }
        let real = ids.len();
        let mut mask = vec![1u32; real];
        ids.resize(seq_length, self.pad_id);
        types.resize(seq_length, 0);
        mask.resize(seq_length, 0);
        Packed {
            input_word_ids: ids,
            input_mask: mask,
            input_type_ids: types,
            tokens,
            offsets,
            special,
        }
    }
}
