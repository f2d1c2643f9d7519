//! Reading a PyTorch `torch.save` state dict of plain tensors (`colbert_linear.pt`,
//! `sparse_linear.pt` of bge-m3) without Python: the file is a zip archive (entries stored, not
//! compressed) holding `data.pkl`, a pickle that names each tensor's storage, and one raw
//! little-endian file per storage (`data/0`, `data/1`, …).
//!
//! Only what a state dict of tensors needs is interpreted: an `OrderedDict` of names to
//! `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, …)` with Float, Half,
//! BFloat16 or Double storages. Any other object (a pickled class, a compressed entry) is an
//! error that says how to convert the file instead (save the dict with safetensors); nothing
//! in the file is executed.

use crate::error::{Error, Result};
use crate::tensor::HostTensor;
use std::path::Path;

/// The tensors of a `.pt` state dict, by name, in f32 (row-major, contiguous).
pub fn read_state_dict(path: &Path) -> Result<Vec<(String, HostTensor)>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bad = |m: String| Error::Weights {
        path: path.to_path_buf(),
        message: format!(
            "{m}; wgbert reads state dicts of plain tensors saved by torch.save (convert others with safetensors.torch.save_file)"
        ),
    };
    let entries = zip_entries(&bytes).map_err(bad)?;
    let pkl = entries
        .iter()
        .find(|(n, _)| n.ends_with("/data.pkl") || n == "data.pkl")
        .ok_or_else(|| {
            bad("no data.pkl in the archive (a legacy, pre-1.6 torch.save file?)".into())
        })?;
    let prefix = pkl
        .0
        .strip_suffix("data.pkl")
        .unwrap_or_default()
        .to_string();
    let value = Unpickler::new(pkl.1).run().map_err(bad)?;
    let Value::Dict(items) = value else {
        return Err(bad("data.pkl holds no dict of tensors".into()));
    };
    let mut out = Vec::new();
    for (k, v) in items {
        let (Value::Str(name), Value::Tensor(t)) = (k, v) else {
            return Err(bad(
                "data.pkl maps something other than names to tensors".into()
            ));
        };
        let file = format!("{prefix}data/{}", t.key);
        let raw = entries
            .iter()
            .find(|(n, _)| *n == file)
            .map(|(_, d)| *d)
            .ok_or_else(|| bad(format!("tensor {name}: storage {file} is missing")))?;
        out.push((
            name.clone(),
            t.to_host(raw)
                .map_err(|m| bad(format!("tensor {name}: {m}")))?,
        ));
    }
    Ok(out)
}

/// The (name, data) of every entry of a zip archive whose entries are stored uncompressed.
fn zip_entries(b: &[u8]) -> std::result::Result<Vec<(String, &[u8])>, String> {
    let u16_at = |o: usize| -> std::result::Result<usize, String> {
        b.get(o..o + 2)
            .map(|s| u16::from_le_bytes([s[0], s[1]]) as usize)
            .ok_or_else(|| "truncated zip archive".to_string())
    };
    let u32_at = |o: usize| -> std::result::Result<usize, String> {
        b.get(o..o + 4)
            .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as usize)
            .ok_or_else(|| "truncated zip archive".to_string())
    };
    // End of central directory: the last PK\5\6 (a comment may follow it).
    let eocd = (0..b.len().saturating_sub(21))
        .rev()
        .find(|&i| b[i..i + 4] == [0x50, 0x4b, 0x05, 0x06])
        .ok_or("not a zip archive (a PyTorch file saved with torch.save ≥ 1.6 is one)")?;
    let count = u16_at(eocd + 10)?;
    let mut at = u32_at(eocd + 16)?;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        if u32_at(at)? != 0x0201_4b50 {
            return Err("corrupt zip central directory".into());
        }
        let method = u16_at(at + 10)?;
        let size = u32_at(at + 20)?;
        let (name_len, extra_len, comment_len) =
            (u16_at(at + 28)?, u16_at(at + 30)?, u16_at(at + 32)?);
        let local = u32_at(at + 42)?;
        let name = String::from_utf8_lossy(
            b.get(at + 46..at + 46 + name_len)
                .ok_or("truncated zip archive")?,
        )
        .into_owned();
        if method != 0 {
            return Err(format!("zip entry {name} is compressed (method {method})"));
        }
        if u32_at(local)? != 0x0403_4b50 {
            return Err("corrupt zip local header".into());
        }
        let start = local + 30 + u16_at(local + 26)? + u16_at(local + 28)?;
        let data = b.get(start..start + size).ok_or("truncated zip entry")?;
        out.push((name, data));
        at += 46 + name_len + extra_len + comment_len;
    }
    Ok(out)
}

#[derive(Clone, Debug)]
struct Tensor {
    key: String,
    dtype: &'static str,
    offset: usize,
    shape: Vec<usize>,
    stride: Vec<usize>,
}

impl Tensor {
    fn to_host(&self, raw: &[u8]) -> std::result::Result<HostTensor, String> {
        let numel: usize = self.shape.iter().product();
        // Row-major contiguous strides: what a saved parameter has.
        let mut want = vec![1usize; self.shape.len()];
        for i in (0..self.shape.len().saturating_sub(1)).rev() {
            want[i] = want[i + 1] * self.shape[i + 1];
        }
        if numel > 1 && self.stride != want {
            return Err(format!(
                "strides {:?} are not contiguous (save tensor.contiguous())",
                self.stride
            ));
        }
        let size = match self.dtype {
            "FloatStorage" => 4,
            "HalfStorage" | "BFloat16Storage" => 2,
            "DoubleStorage" => 8,
            other => return Err(format!("storage type {other} is not a float type")),
        };
        let bytes = raw
            .get(self.offset * size..(self.offset + numel) * size)
            .ok_or("its storage is shorter than its shape")?;
        let data = bytes
            .chunks_exact(size)
            .map(|c| match self.dtype {
                "FloatStorage" => f32::from_le_bytes([c[0], c[1], c[2], c[3]]),
                "HalfStorage" => half::f16::from_le_bytes([c[0], c[1]]).to_f32(),
                "BFloat16Storage" => half::bf16::from_le_bytes([c[0], c[1]]).to_f32(),
                _ => f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32,
            })
            .collect();
        Ok(HostTensor {
            shape: self.shape.clone(),
            data,
        })
    }
}

#[derive(Clone, Debug)]
enum Value {
    Mark,
    None,
    /// A bool or float (a tensor's `requires_grad`): kept in place, never read.
    Scalar,
    Int(i64),
    Str(String),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    Global(String),
    Storage {
        dtype: &'static str,
        key: String,
    },
    Tensor(Tensor),
}

struct Unpickler<'a> {
    b: &'a [u8],
    at: usize,
    stack: Vec<Value>,
    memo: std::collections::HashMap<usize, Value>,
}

type R<T> = std::result::Result<T, String>;

impl<'a> Unpickler<'a> {
    fn new(b: &'a [u8]) -> Self {
        Unpickler {
            b,
            at: 0,
            stack: Vec::new(),
            memo: Default::default(),
        }
    }

    fn take(&mut self, n: usize) -> R<&'a [u8]> {
        let s = self
            .b
            .get(self.at..self.at + n)
            .ok_or("data.pkl ends early")?;
        self.at += n;
        Ok(s)
    }

    fn uint(&mut self, n: usize) -> R<usize> {
        let s = self.take(n)?;
        Ok(s.iter().rev().fold(0usize, |a, &x| (a << 8) | x as usize))
    }

    fn pop(&mut self) -> R<Value> {
        self.stack
            .pop()
            .ok_or_else(|| "data.pkl pops an empty stack".into())
    }

    fn pop_mark(&mut self) -> R<Vec<Value>> {
        let i = self
            .stack
            .iter()
            .rposition(|v| matches!(v, Value::Mark))
            .ok_or("data.pkl has no MARK")?;
        let items = self.stack.split_off(i + 1);
        self.stack.pop();
        Ok(items)
    }

    fn line(&mut self) -> R<String> {
        let end = self.b[self.at..]
            .iter()
            .position(|&c| c == b'\n')
            .ok_or("data.pkl ends early")?;
        let s = String::from_utf8_lossy(&self.b[self.at..self.at + end]).into_owned();
        self.at += end + 1;
        Ok(s)
    }

    fn run(mut self) -> R<Value> {
        loop {
            let op = self.take(1)?[0];
            match op {
                0x80 => {
                    self.take(1)?; // PROTO
                }
                0x95 => {
                    self.take(8)?; // FRAME
                }
                b'.' => return self.pop(),
                b'(' => self.stack.push(Value::Mark),
                b')' => self.stack.push(Value::Tuple(Vec::new())),
                b']' => self.stack.push(Value::List(Vec::new())),
                b'}' => self.stack.push(Value::Dict(Vec::new())),
                b'N' => self.stack.push(Value::None),
                0x88 | 0x89 => self.stack.push(Value::Scalar),
                b'K' => {
                    let v = self.uint(1)? as i64;
                    self.stack.push(Value::Int(v));
                }
                b'M' => {
                    let v = self.uint(2)? as i64;
                    self.stack.push(Value::Int(v));
                }
                b'J' => {
                    let v = self.uint(4)? as u32 as i32 as i64;
                    self.stack.push(Value::Int(v));
                }
                0x8a => {
                    // LONG1: little-endian two's complement of n bytes
                    let n = self.uint(1)?;
                    let s = self.take(n)?;
                    let mut v: i64 = 0;
                    for (i, &x) in s.iter().enumerate().take(8) {
                        v |= (x as i64) << (8 * i);
                    }
                    if n > 0 && n < 8 && s[n - 1] & 0x80 != 0 {
                        v -= 1i64 << (8 * n);
                    }
                    self.stack.push(Value::Int(v));
                }
                b'G' => {
                    self.take(8)?;
                    self.stack.push(Value::Scalar);
                }
                b'X' | 0x8c => {
                    let n = if op == b'X' {
                        self.uint(4)?
                    } else {
                        self.uint(1)?
                    };
                    let s = String::from_utf8_lossy(self.take(n)?).into_owned();
                    self.stack.push(Value::Str(s));
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.stack.push(Value::Global(format!("{module}.{name}")));
                }
                b'q' | b'r' => {
                    let i = self.uint(if op == b'q' { 1 } else { 4 })?;
                    let top = self.stack.last().ok_or("BINPUT on an empty stack")?.clone();
                    self.memo.insert(i, top);
                }
                0x94 => {
                    let top = self
                        .stack
                        .last()
                        .ok_or("MEMOIZE on an empty stack")?
                        .clone();
                    let i = self.memo.len();
                    self.memo.insert(i, top);
                }
                b'h' | b'j' => {
                    let i = self.uint(if op == b'h' { 1 } else { 4 })?;
                    let v = self
                        .memo
                        .get(&i)
                        .ok_or("BINGET of an unknown memo")?
                        .clone();
                    self.stack.push(v);
                }
                b't' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::Tuple(items));
                }
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    let at = self
                        .stack
                        .len()
                        .checked_sub(n)
                        .ok_or("TUPLE on a short stack")?;
                    let items = self.stack.split_off(at);
                    self.stack.push(Value::Tuple(items));
                }
                b'a' => {
                    let v = self.pop()?;
                    match self.stack.last_mut() {
                        Some(Value::List(l)) => l.push(v),
                        _ => return Err("APPEND to something not a list".into()),
                    }
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    match self.stack.last_mut() {
                        Some(Value::List(l)) => l.extend(items),
                        _ => return Err("APPENDS to something not a list".into()),
                    }
                }
                b's' | b'u' => {
                    let items = if op == b's' {
                        let v = self.pop()?;
                        let k = self.pop()?;
                        vec![k, v]
                    } else {
                        self.pop_mark()?
                    };
                    match self.stack.last_mut() {
                        Some(Value::Dict(d)) => {
                            let mut it = items.into_iter();
                            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                                d.push((k, v));
                            }
                        }
                        _ => return Err("SETITEM on something not a dict".into()),
                    }
                }
                b'b' => {
                    self.pop()?; // BUILD: the state (an OrderedDict's _metadata) is not needed
                }
                b'Q' => {
                    let pid = self.pop()?;
                    self.stack.push(storage(pid)?);
                }
                b'R' => {
                    let args = self.pop()?;
                    let f = self.pop()?;
                    self.stack.push(reduce(f, args)?);
                }
                other => {
                    return Err(format!(
                        "data.pkl uses pickle opcode 0x{other:02x}, which a state dict of tensors does not"
                    ));
                }
            }
        }
    }
}

/// A persistent id `('storage', torch.FloatStorage, key, location, numel)`.
fn storage(pid: Value) -> R<Value> {
    let Value::Tuple(t) = pid else {
        return Err("a persistent id that is not a tuple".into());
    };
    match t.as_slice() {
        [Value::Str(kind), Value::Global(ty), Value::Str(key), ..] if kind == "storage" => {
            let dtype = match ty.as_str() {
                "torch.FloatStorage" => "FloatStorage",
                "torch.HalfStorage" => "HalfStorage",
                "torch.BFloat16Storage" => "BFloat16Storage",
                "torch.DoubleStorage" => "DoubleStorage",
                other => return Err(format!("storage type {other} is not a float type")),
            };
            Ok(Value::Storage {
                dtype,
                key: key.clone(),
            })
        }
        _ => Err("a persistent id that is not a tensor storage".into()),
    }
}

fn ints(v: &Value) -> R<Vec<usize>> {
    match v {
        Value::Tuple(t) => t
            .iter()
            .map(|x| match x {
                Value::Int(i) if *i >= 0 => Ok(*i as usize),
                _ => Err("a tensor size or stride that is not a non-negative int".to_string()),
            })
            .collect(),
        _ => Err("a tensor size or stride that is not a tuple".into()),
    }
}

/// The calls a state dict makes: an empty `OrderedDict`, and tensors.
fn reduce(f: Value, args: Value) -> R<Value> {
    let Value::Global(name) = f else {
        return Err("REDUCE of something not a global".into());
    };
    let Value::Tuple(args) = args else {
        return Err("REDUCE with arguments that are not a tuple".into());
    };
    match name.as_str() {
        "collections.OrderedDict" if args.is_empty() => Ok(Value::Dict(Vec::new())),
        "torch._utils._rebuild_tensor_v2" => match args.as_slice() {
            [
                Value::Storage { dtype, key },
                Value::Int(offset),
                size,
                stride,
                ..,
            ] => Ok(Value::Tensor(Tensor {
                key: key.clone(),
                dtype,
                offset: (*offset).max(0) as usize,
                shape: ints(size)?,
                stride: ints(stride)?,
            })),
            _ => Err("_rebuild_tensor_v2 with unexpected arguments".into()),
        },
        other => Err(format!(
            "data.pkl calls {other}, which is not part of a state dict of tensors"
        )),
    }
}
