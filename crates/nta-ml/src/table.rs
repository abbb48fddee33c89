//! [`read_csv`]: a numeric table with a header of feature names, for training and scoring on
//! features from other tools.
//!
//! The file is read once, in blocks of [`BLOCK_BYTES`] cut after their last newline; blocks
//! are parsed in parallel (rayon), each by a `csv` reader over the block (quotes, CRLF, blank
//! lines) into one reused `ByteRecord`, cells parsed from bytes by fast-float2 — nothing is
//! allocated per row but the matrix itself, and at most two blocks per core are held. A line
//! longer than [`MAX_LINE_BYTES`] (16 MiB) is refused before it is held whole, as every other
//! line-oriented input is. Records spanning lines (a quoted newline) are not numbers: refused.

use crate::Error;
use crate::params::MAX_FEATURES;
use nta_capture::MAX_LINE_BYTES;
use rayon::prelude::*;
use smartcore::linalg::basic::matrix::DenseMatrix;
use std::io::Read;
use std::path::Path;

/// Bytes of text read (and parsed by one thread) at a time.
const BLOCK_BYTES: usize = 4 << 20;

/// Reads a comma-separated table: a header of column names, then rows of numbers, all of the
/// header's width. Cells may be quoted and padded with spaces; blank lines are skipped;
/// anything else is an error with its line.
pub fn read_csv(path: &Path) -> Result<(Vec<String>, DenseMatrix<f64>), Error> {
    let file = std::fs::File::open(path).map_err(|source| Error::Io { path: path.to_owned(), source })?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bad = |line: usize, reason: String| Error::Csv { path: path.to_owned(), line, reason };
    let mut blocks = Blocks { file, carry: Vec::new(), line: 1, done: false, spare: Vec::new() };
    let next = |blocks: &mut Blocks| {
        blocks.next().map_err(|e| match e {
            BlockError::Io(source) => Error::Io { path: path.to_owned(), source },
            BlockError::TooLong { line } => bad(line, format!("longer than {MAX_LINE_BYTES} bytes")),
        })
    };
    // The header: the first non-blank line; the rest of its block is data.
    let first: Option<Block>;
    let header = 'header: loop {
        let Some(block) = next(&mut blocks)? else { return Err(bad(1, "empty file".into())) };
        let mut at = 0;
        for (i, text) in block.bytes.split_inclusive(|b| *b == b'\n').enumerate() {
            at += text.len();
            if !text.trim_ascii().is_empty() {
                let line = block.line + i;
                let rest = Block { bytes: block.bytes.get(at..).unwrap_or_default().to_vec(), line: line + 1 };
                first = Some(rest);
                break 'header header_names(text, line, &bad)?;
            }
        }
    };
    let width = header.len();
    // About 19 bytes a cell in the files other tools write: one allocation, mostly.
    let mut values: Vec<f64> = Vec::with_capacity((size / 19).min(1 << 27) as usize);
    let mut rows = 0usize;
    // A batch of blocks is parsed in parallel while the next one is read.
    let batch = rayon::current_num_threads().max(1);
    let fill = |blocks: &mut Blocks, into: &mut Vec<Block>| -> Result<(), Error> {
        while into.len() < batch {
            match next(blocks)? {
                Some(b) => into.push(b),
                None => break,
            }
        }
        Ok(())
    };
    let mut pending: Vec<Block> = first.into_iter().collect();
    fill(&mut blocks, &mut pending)?;
    let mut following: Vec<Block> = Vec::new();
    while !pending.is_empty() {
        let (parsed, read) = rayon::join(
            || pending.par_iter().map(|b| parse_block(b, width, &bad)).collect::<Vec<_>>(),
            || fill(&mut blocks, &mut following),
        );
        for p in parsed {
            let (v, n) = p?;
            values.extend_from_slice(&v);
            rows += n;
        }
        read?;
        blocks.spare.extend(pending.drain(..).map(|b| b.bytes));
        std::mem::swap(&mut pending, &mut following);
    }
    if rows == 0 {
        return Err(bad(2, "no data rows".into()));
    }
    let m = DenseMatrix::new(rows, width, values, false).map_err(|e| bad(1, e.to_string()))?;
    Ok((header, m))
}

/// The column names of the header line `text` (line `line`).
fn header_names(text: &[u8], line: usize, bad: &dyn Fn(usize, String) -> Error) -> Result<Vec<String>, Error> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text);
    let mut record = csv::ByteRecord::new();
    if !reader.read_byte_record(&mut record).map_err(|e| bad(line, format!("{:?}", e.into_kind())))? {
        return Err(bad(line, "empty header".into()));
    }
    if record.len() > MAX_FEATURES {
        return Err(bad(line, format!("{} columns (at most {MAX_FEATURES})", record.len())));
    }
    let mut names = Vec::with_capacity(record.len());
    for cell in record.iter() {
        let name = std::str::from_utf8(unquote(cell.trim_ascii())).map_err(|_| bad(line, "not UTF-8 text".into()))?;
        if name.is_empty() {
            return Err(bad(line, "empty column name in the header".into()));
        }
        names.push(name.to_owned());
    }
    Ok(names)
}

/// The rows of one block: their values, row after row, and their count.
fn parse_block(
    block: &Block,
    width: usize,
    bad: &(dyn Fn(usize, String) -> Error + Sync),
) -> Result<(Vec<f64>, usize), Error> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(block.bytes.as_slice());
    let mut record = csv::ByteRecord::new();
    let mut values = Vec::with_capacity(block.bytes.len() / 19 + width);
    let mut rows = 0;
    loop {
        let line = block.line + reader.position().line() as usize - 1;
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) if is_blank(&record) => continue,
            Ok(true) => {}
            Err(e) => return Err(bad(line, format!("{:?}", e.into_kind()))),
        }
        let line = record.position().map_or(line, |p| block.line + p.line() as usize - 1);
        if record.len() != width {
            return Err(bad(line, format!("{} cells, the header has {width}", record.len())));
        }
        for (c, cell) in record.iter().enumerate() {
            let v = parse_f64(cell).ok_or_else(|| {
                bad(line, format!("column {}: {:?} is not a number", c + 1, String::from_utf8_lossy(cell.trim_ascii())))
            })?;
            if !v.is_finite() {
                return Err(bad(line, format!("column {}: {} is not finite", c + 1, String::from_utf8_lossy(cell))));
            }
            values.push(v);
        }
        rows += 1;
    }
    Ok((values, rows))
}

/// A record of one blank field: a blank line (the `csv` crate skips truly empty lines, not
/// lines of spaces).
fn is_blank(record: &csv::ByteRecord) -> bool {
    record.len() == 1 && record.get(0).is_some_and(|f| f.trim_ascii().is_empty())
}

/// A cell without the quotes a writer may have left around it after trimming.
fn unquote(cell: &[u8]) -> &[u8] {
    cell.strip_prefix(b"\"").and_then(|c| c.strip_suffix(b"\"")).unwrap_or(cell)
}

/// A decimal number, from the cell's bytes as they are (the common case), else padded with
/// spaces or left quoted. fast-float2 parses bytes directly (correctly rounded, as Rust's own
/// parser, without its UTF-8 pass).
#[inline]
fn parse_f64(cell: &[u8]) -> Option<f64> {
    fast_float2::parse(cell).ok().or_else(|| fast_float2::parse(unquote(cell.trim_ascii())).ok())
}

/// Whole lines of text and the number of the first.
#[derive(Debug)]
struct Block {
    bytes: Vec<u8>,
    line: usize,
}

#[derive(Debug)]
enum BlockError {
    Io(std::io::Error),
    TooLong { line: usize },
}

/// The file in blocks of about [`BLOCK_BYTES`], each ending after a newline (the last one at
/// the end of the file).
struct Blocks {
    file: std::fs::File,
    /// The start of a line the previous block did not finish.
    carry: Vec<u8>,
    /// The number of the next block's first line.
    line: usize,
    done: bool,
    /// Buffers of blocks parsed, reused (no page faults for fresh memory).
    spare: Vec<Vec<u8>>,
}

impl Blocks {
    fn next(&mut self) -> Result<Option<Block>, BlockError> {
        if self.done {
            return Ok(None);
        }
        let mut bytes = self.spare.pop().unwrap_or_default();
        bytes.clear();
        bytes.extend_from_slice(&self.carry);
        self.carry.clear();
        loop {
            // Read into spare capacity: no zero fill.
            let n = (&mut self.file).take(BLOCK_BYTES as u64).read_to_end(&mut bytes).map_err(BlockError::Io)?;
            if n == 0 {
                self.done = true;
                if bytes.is_empty() {
                    return Ok(None);
                }
                break;
            }
            match memchr::memrchr(b'\n', &bytes) {
                Some(last) => {
                    self.carry.extend_from_slice(bytes.get(last + 1..).unwrap_or_default());
                    bytes.truncate(last + 1);
                    break;
                }
                None if bytes.len() > MAX_LINE_BYTES => return Err(BlockError::TooLong { line: self.line }),
                None => {}
            }
        }
        let line = self.line;
        self.line += memchr::memchr_iter(b'\n', &bytes).count();
        Ok(Some(Block { bytes, line }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use smartcore::linalg::basic::arrays::Array;

    fn table(text: &str) -> Result<(Vec<String>, DenseMatrix<f64>), Error> {
        // A file per call: tests run in parallel, and two texts may have the same length.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("nta-ml-table-{}-{n}.csv", std::process::id()));
        std::fs::write(&path, text).unwrap();
        let r = read_csv(&path);
        std::fs::remove_file(&path).ok();
        r
    }

    #[test]
    fn quotes_spaces_crlf_and_blank_lines() {
        let (names, m) = table("\n \"a\", b ,c\r\n\r\n1, 2.5 ,\"3e2\"\r\n   \r\n-4,5,6\n").unwrap();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(m.shape(), (2, 3));
        assert_eq!(*m.get((0, 2)), 300.0);
        assert_eq!(*m.get((1, 0)), -4.0);
        // No newline at the end.
        let (_, m) = table("x\n1\n2").unwrap();
        assert_eq!(m.shape(), (2, 1));
    }

    #[test]
    fn errors_name_the_line() {
        let e = |t: &str| table(t).unwrap_err().to_string();
        assert!(e("a,b\n1,2\n3\n").contains(".csv:3: 1 cells"), "{}", e("a,b\n1,2\n3\n"));
        assert!(e("\na,b\n1,x\n").contains(".csv:3: column 2"), "{}", e("\na,b\n1,x\n"));
        assert!(e("a,b\n1,inf\n").contains("not finite"));
        assert!(e("a,,b\n1,2,3\n").contains("empty column name"));
        assert!(e("").contains("empty file"));
        assert!(e("a,b\n\n").contains("no data rows"));
    }

    #[test]
    fn rows_across_blocks_keep_their_order_and_lines() {
        // More than two blocks: every row in order, and an error far down names its line.
        let row = "1.25,-2.5,3e-3\n";
        let n = 3 * BLOCK_BYTES / row.len();
        let mut text = String::from("a,b,c\n");
        for i in 0..n {
            text.push_str(&format!("{i},-2.5,3e-3\n"));
        }
        let (_, m) = table(&text).unwrap();
        assert_eq!(m.shape(), (n, 3));
        assert!((0..n).step_by(9973).all(|i| *m.get((i, 0)) == i as f64));
        text.push_str("1,2\n");
        assert!(table(&text).unwrap_err().to_string().contains(&format!(".csv:{}: 2 cells", n + 2)));
    }
}
