//! Input files: one input per `\n`-terminated line, a trailing `\r` dropped, nothing else
//! stripped; read as a stream so that a file of any size takes bounded memory.

use anyhow::{Context, Result, bail};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Streams the lines of an input file as `String`s, naming the line of any invalid UTF-8.
pub struct LineReader {
    reader: BufReader<File>,
    path: PathBuf,
    line: usize,
    lossy: bool,
    buf: Vec<u8>,
}

impl LineReader {
    /// Opens `path`. With `lossy`, invalid UTF-8 is replaced by U+FFFD instead of an error.
    pub fn open(path: &Path, lossy: bool) -> Result<Self> {
        let f = File::open(path)
            .with_context(|| format!("cannot open input file {}", path.display()))?;
        Ok(LineReader {
            reader: BufReader::with_capacity(1 << 16, f),
            path: path.to_path_buf(),
            line: 0,
            lossy,
            buf: Vec::new(),
        })
    }
}

impl Iterator for LineReader {
    type Item = Result<String>;

    fn next(&mut self) -> Option<Result<String>> {
        self.buf.clear();
        match self.reader.read_until(b'\n', &mut self.buf) {
            Ok(0) => None,
            Ok(_) => {
                self.line += 1;
                if self.buf.last() == Some(&b'\n') {
                    self.buf.pop();
                }
                if self.buf.last() == Some(&b'\r') {
                    self.buf.pop();
                }
                Some(match std::str::from_utf8(&self.buf) {
                    Ok(s) => Ok(s.to_string()),
                    Err(_) if self.lossy => Ok(String::from_utf8_lossy(&self.buf).into_owned()),
                    Err(e) => Err(anyhow::anyhow!(
                        "{}: line {} is not valid UTF-8 (at byte {} of the line); save the file as UTF-8, or pass --lossy to replace invalid bytes",
                        self.path.display(),
                        self.line,
                        e.valid_up_to() + 1
                    )),
                })
            }
            Err(e) => Some(Err(anyhow::anyhow!(
                "cannot read {}: {e}",
                self.path.display()
            ))),
        }
    }
}

/// Number of inputs in a file (lines, counting a last line without `\n`), in one streaming pass.
pub fn count_lines(path: &Path) -> Result<usize> {
    let mut f =
        File::open(path).with_context(|| format!("cannot open input file {}", path.display()))?;
    let mut buf = vec![0u8; 1 << 16];
    let (mut n, mut last) = (0usize, b'\n');
    loop {
        let k = f
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if k == 0 {
            break;
        }
        n += buf[..k].iter().filter(|&&b| b == b'\n').count();
        last = buf[k - 1];
    }
    Ok(if last == b'\n' { n } else { n + 1 })
}

/// All lines of a (small) input file.
pub fn read_all(path: &Path, lossy: bool) -> Result<Vec<String>> {
    LineReader::open(path, lossy)?.collect()
}

/// Every line of `r`, split as input files are (`\n`, a trailing `\r` dropped); `what` names
/// the source in errors.
pub fn read_lines(r: impl Read, what: &str, lossy: bool) -> Result<Vec<String>> {
    let mut reader = BufReader::new(r);
    let mut out = Vec::new();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let k = reader
            .read_until(b'\n', &mut buf)
            .with_context(|| format!("cannot read {what}"))?;
        if k == 0 {
            return Ok(out);
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
        }
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        match std::str::from_utf8(&buf) {
            Ok(s) => out.push(s.to_string()),
            Err(_) if lossy => out.push(String::from_utf8_lossy(&buf).into_owned()),
            Err(e) => bail!(
                "{what}: line {} is not valid UTF-8 (at byte {} of the line); send UTF-8, or pass --lossy to replace invalid bytes",
                out.len() + 1,
                e.valid_up_to() + 1
            ),
        }
    }
}

/// Whether the inputs come from standard input: `--input -`, or neither TEXT arguments nor
/// `--input` while stdin is not a terminal (a pipe or a file).
pub fn from_stdin(file: Option<&Path>, texts: &[String]) -> bool {
    use std::io::IsTerminal;
    file == Some(Path::new("-"))
        || (file.is_none() && texts.is_empty() && !std::io::stdin().is_terminal())
}

/// Inputs from TEXT arguments and/or a file (`-`: standard input), in that order: file lines
/// first. With neither, lines piped to standard input.
pub fn gather(file: Option<&Path>, texts: &[String], lossy: bool) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    if from_stdin(file, texts) {
        lines.extend(read_lines(
            std::io::stdin().lock(),
            "standard input",
            lossy,
        )?);
    } else if let Some(p) = file {
        lines.extend(read_all(p, lossy)?);
    }
    lines.extend(texts.iter().cloned());
    if lines.is_empty() {
        bail!(
            "no inputs: pass TEXT arguments, --input FILE (- for standard input), or pipe lines to standard input"
        );
    }
    Ok(lines)
}
