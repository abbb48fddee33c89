//! [`LineReader`]: text lines with a bound on their length, for every line-oriented input
//! (JSON lines of metrics, anomalies and labels; CSV tables). A file without a newline — or
//! `/dev/zero` — costs at most [`MAX_LINE_BYTES`] of memory and ends in an error naming the line.

use std::io::{BufRead, Read};

/// The longest line a [`LineReader`] accepts by default, in bytes (16 MiB; a window record is
/// ~1 KiB, an anomaly ~2 KiB).
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// Why a line could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    /// The underlying read failed.
    #[error("line {line}: {source}")]
    Io {
        /// 1-based number of the line being read.
        line: usize,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A line is longer than the bound.
    #[error("line {line}: longer than {max} bytes")]
    TooLong {
        /// 1-based line number.
        line: usize,
        /// The bound.
        max: usize,
    },
    /// A line is not UTF-8.
    #[error("line {line}: not UTF-8 text")]
    NotUtf8 {
        /// 1-based line number.
        line: usize,
    },
}

/// Reads lines of at most `max` bytes from a [`BufRead`], reusing one buffer.
#[derive(Debug)]
pub struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    number: usize,
    max: usize,
}

/// One line: its text without the line ending, and whether a newline ended it (a last line
/// without one may be torn by an interrupted writer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Line<'a> {
    /// 1-based line number.
    pub number: usize,
    /// The text, without `\n` or `\r\n`.
    pub text: &'a str,
    /// A newline ended the line.
    pub complete: bool,
}

impl<R: BufRead> LineReader<R> {
    /// Lines of at most [`MAX_LINE_BYTES`].
    pub fn new(inner: R) -> LineReader<R> {
        LineReader::with_max(inner, MAX_LINE_BYTES)
    }

    /// Lines of at most `max` bytes.
    pub fn with_max(inner: R, max: usize) -> LineReader<R> {
        LineReader { inner, buf: Vec::new(), number: 0, max }
    }

    /// The next line, `None` at the end of the input.
    pub fn next_line(&mut self) -> Result<Option<Line<'_>>, LineError> {
        self.buf.clear();
        self.number += 1;
        let line = self.number;
        let limit = self.max as u64 + 1;
        let n = (&mut self.inner)
            .take(limit)
            .read_until(b'\n', &mut self.buf)
            .map_err(|source| LineError::Io { line, source })?;
        if n == 0 {
            return Ok(None);
        }
        let complete = self.buf.last() == Some(&b'\n');
        let body = if complete { self.buf.len() - 1 } else { self.buf.len() };
        if body > self.max {
            return Err(LineError::TooLong { line, max: self.max });
        }
        let bytes = self.buf.get(..body).unwrap_or_default();
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        let text = std::str::from_utf8(bytes).map_err(|_| LineError::NotUtf8 { line })?;
        Ok(Some(Line { number: line, text, complete }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn all(input: &[u8], max: usize) -> Result<Vec<(usize, String, bool)>, LineError> {
        let mut r = LineReader::with_max(input, max);
        let mut out = Vec::new();
        while let Some(l) = r.next_line()? {
            out.push((l.number, l.text.to_owned(), l.complete));
        }
        Ok(out)
    }

    #[test]
    fn lines_endings_and_bounds() {
        let got = all(b"a\r\n\nbcd\nlast", 4).unwrap();
        let want = [(1, "a", true), (2, "", true), (3, "bcd", true), (4, "last", false)];
        assert_eq!(got, want.map(|(n, t, c)| (n, t.to_owned(), c)));
        // Exactly `max` bytes is fine, one more is not, with or without a newline.
        assert!(all(b"abcd\n", 4).is_ok());
        assert!(matches!(all(b"ok\nabcde\n", 4), Err(LineError::TooLong { line: 2, max: 4 })));
        assert!(matches!(all(b"abcde", 4), Err(LineError::TooLong { line: 1, .. })));
        assert!(matches!(all(b"\xff\n", 4), Err(LineError::NotUtf8 { line: 1 })));
        // An endless input without a newline reads at most max + 1 bytes.
        let mut zero = LineReader::with_max(std::io::BufReader::new(std::io::repeat(0)), 1 << 16);
        assert!(matches!(zero.next_line(), Err(LineError::TooLong { line: 1, .. })));
    }
}
