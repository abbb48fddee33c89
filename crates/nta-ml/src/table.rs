//! [`read_csv`]: a numeric table with a header of feature names, for training and scoring on
//! features from other tools.

use crate::Error;
use crate::params::MAX_FEATURES;
use nta_capture::{LineError, LineReader};
use smartcore::linalg::basic::matrix::DenseMatrix;
use std::io::BufReader;
use std::path::Path;

/// Reads a comma-separated table: a header of column names, then rows of numbers, all of the
/// header's width. Blank lines are skipped; anything else is an error with its line.
pub fn read_csv(path: &Path) -> Result<(Vec<String>, DenseMatrix<f64>), Error> {
    let file = std::fs::File::open(path).map_err(|source| Error::Io { path: path.to_owned(), source })?;
    let bad = |line: usize, reason: String| Error::Csv { path: path.to_owned(), line, reason };
    let mut header: Option<Vec<String>> = None;
    let mut values = Vec::new();
    let mut rows = 0;
    let mut lines = LineReader::new(BufReader::new(file));
    loop {
        let line = match lines.next_line() {
            Ok(Some(l)) => l,
            Ok(None) => break,
            Err(LineError::Io { source, .. }) => return Err(Error::Io { path: path.to_owned(), source }),
            Err(LineError::TooLong { line, max }) => return Err(bad(line, format!("longer than {max} bytes"))),
            Err(LineError::NotUtf8 { line }) => return Err(bad(line, "not UTF-8 text".into())),
        };
        let (i, text) = (line.number - 1, line.text);
        if text.trim().is_empty() {
            continue;
        }
        let cells = text.split(',').map(|c| c.trim().trim_matches('"'));
        match &header {
            None => {
                let names: Vec<String> = cells.map(str::to_owned).collect();
                if names.len() > MAX_FEATURES {
                    return Err(bad(i + 1, format!("{} columns (at most {MAX_FEATURES})", names.len())));
                }
                if names.iter().any(String::is_empty) {
                    return Err(bad(i + 1, "empty column name in the header".into()));
                }
                header = Some(names);
            }
            Some(h) => {
                let before = values.len();
                for (c, cell) in cells.enumerate() {
                    let v: f64 =
                        cell.parse().map_err(|_| bad(i + 1, format!("column {}: {cell:?} is not a number", c + 1)))?;
                    if !v.is_finite() {
                        return Err(bad(i + 1, format!("column {}: {cell} is not finite", c + 1)));
                    }
                    values.push(v);
                }
                if values.len() - before != h.len() {
                    return Err(bad(i + 1, format!("{} cells, the header has {}", values.len() - before, h.len())));
                }
                rows += 1;
            }
        }
    }
    let header = header.ok_or_else(|| bad(1, "empty file".into()))?;
    if rows == 0 {
        return Err(bad(2, "no data rows".into()));
    }
    let m = DenseMatrix::new(rows, header.len(), values, false).map_err(|e| bad(1, e.to_string()))?;
    Ok((header, m))
}
