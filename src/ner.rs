//! Named entities from per-token logits: the first-subtoken rule and B-/I- merging of the
//! usual "simple" aggregation, with character offsets into the original text.

use crate::preprocess::Packed;
use serde::Serialize;

/// One entity found in a text.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Entity {
    /// Entity type: the label without its `B-`/`I-` prefix (e.g. `PER`).
    pub entity_group: String,
    /// Mean probability of the words' labels.
    pub score: f32,
    /// The text span.
    pub word: String,
    /// Start character (inclusive) in the input text.
    pub start: usize,
    /// End character (exclusive).
    pub end: usize,
}

fn softmax(z: &[f32]) -> Vec<f32> {
    let m = z.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = z.iter().map(|v| (v - m).exp()).collect();
    let s: f32 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

/// Splits a label into (tag, type): `B-PER` → (B, PER), `I-LOC` → (I, LOC), `O` → (O, "").
/// A label without a prefix is its own type, tagged B.
fn parse_label(label: &str) -> (char, &str) {
    match label.split_once('-') {
        Some(("B", t)) => ('B', t),
        Some(("I", t)) => ('I', t),
        _ if label == "O" => ('O', ""),
        _ => ('B', label),
    }
}

/// Entities of segment A of `packed` from its token logits `[seq, labels]` (row-major).
pub fn aggregate(text: &str, packed: &Packed, logits: &[f32], labels: &[String]) -> Vec<Entity> {
    let l = labels.len();
    let chars: Vec<char> = text.chars().collect();
    // Words of segment A: a first sub-token and the `##` pieces that follow it.
    let mut words: Vec<(usize, usize, usize, f32)> = Vec::new(); // (start, end, label, score)
    for (i, tok) in packed.tokens.iter().enumerate().skip(1) {
        if packed.special.get(i).copied().unwrap_or(tok == "[SEP]") {
            break; // the special token after segment A
        }
        let (start, end) = packed.offsets[i];
        if tok.starts_with("##")
            && let Some(w) = words.last_mut()
        {
            w.1 = end;
            continue;
        }
        let row = logits.get(i * l..(i + 1) * l).unwrap_or(&[]);
        if row.len() != l {
            break;
        }
        let p = softmax(row);
        let best = p
            .iter()
            .enumerate()
            .fold(0, |b, (k, v)| if *v > p[b] { k } else { b });
        words.push((start, end, best, p[best]));
    }
    let mut out: Vec<Entity> = Vec::new();
    let mut scores: Vec<Vec<f32>> = Vec::new();
    let mut open = false;
    for (start, end, label, score) in words {
        let (tag, kind) = parse_label(&labels[label]);
        if tag == 'O' {
            open = false;
            continue;
        }
        let continues = open && tag == 'I' && out.last().is_some_and(|e| e.entity_group == kind);
        if continues {
            if let (Some(e), Some(s)) = (out.last_mut(), scores.last_mut()) {
                e.end = end;
                s.push(score);
            }
        } else {
            out.push(Entity {
                entity_group: kind.to_string(),
                score: 0.0,
                word: String::new(),
                start,
                end,
            });
            scores.push(vec![score]);
        }
        open = true;
    }
    for (e, s) in out.iter_mut().zip(&scores) {
        e.score = s.iter().sum::<f32>() / s.len() as f32;
        e.word = chars
            .get(e.start..e.end.min(chars.len()))
            .map(|c| c.iter().collect())
            .unwrap_or_default();
    }
    out
}
