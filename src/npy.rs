//! Writing NumPy `.npy` files (format version 1.0, little-endian float32, C order), streamed:
//! the header is written first from the known shape, then rows as they are produced.

use std::io::{self, Write};

/// The complete `.npy` header for a float32 array of `shape` (magic, version, length, dict,
/// space padding and newline, so the data starts at a multiple of 64 bytes).
pub fn header_f32(shape: &[usize]) -> Vec<u8> {
    let dims = match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {dims}, }}");
    // magic (6) + version (2) + header length (2) + dict + padding + '\n' ≡ 0 (mod 64)
    let unpadded = 10 + dict.len() + 1;
    let pad = (64 - unpadded % 64) % 64;
    let header_len = dict.len() + pad + 1;
    let mut out = Vec::with_capacity(10 + header_len);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header_len as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.extend(std::iter::repeat_n(b' ', pad));
    out.push(b'\n');
    out
}

/// Streams rows of a `[rows, cols]` float32 array into an `.npy` writer.
pub struct NpyWriter<W: Write> {
    inner: W,
    cols: usize,
    remaining: usize,
}

impl<W: Write> NpyWriter<W> {
    /// Writes the header of a `[rows, cols]` array.
    pub fn new(mut inner: W, rows: usize, cols: usize) -> io::Result<Self> {
        inner.write_all(&header_f32(&[rows, cols]))?;
        Ok(NpyWriter {
            inner,
            cols,
            remaining: rows,
        })
    }

    /// Appends one row (must have `cols` values).
    pub fn write_row(&mut self, row: &[f32]) -> io::Result<()> {
        if row.len() != self.cols || self.remaining == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "npy row of {} values (expected {}, {} rows left)",
                    row.len(),
                    self.cols,
                    self.remaining
                ),
            ));
        }
        self.remaining -= 1;
        for v in row {
            self.inner.write_all(&v.to_le_bytes())?;
        }
        Ok(())
    }

    /// Checks every announced row was written and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        if self.remaining != 0 {
            return Err(io::Error::other(format!(
                "{} npy rows were announced but not written",
                self.remaining
            )));
        }
        self.inner.flush()?;
        Ok(self.inner)
    }
}
