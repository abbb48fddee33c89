//! [`read_csv`]: a numeric table with a header of feature names, for training and scoring on
//! features from other tools.

use crate::Error;
use smartcore::linalg::basic::matrix::DenseMatrix;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// Reads a comma-separated table: a header of column names, then rows of numbers, all of the
/// header's width. Blank lines are skipped; anything else is an error with its line.
pub fn read_csv(path: &Path) -> Result<(Vec<String>, DenseMatrix<f64>), Error> {
    let file = std::fs::File::open(path).map_err(|source| Error::Io { path: path.to_owned(), source })?;
    let bad = |line: usize, reason: String| Error::Csv { path: path.to_owned(), line, reason };
    let mut header: Option<Vec<String>> = None;
    let mut values = Vec::new();
    let mut rows = 0;
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|source| Error::Io { path: path.to_owned(), source })?;
        let text = line.trim_end_matches('\r');
        if text.trim().is_empty() {
            continue;
        }
        let cells = text.split(',').map(|c| c.trim().trim_matches('"'));
        match &header {
            None => {
                let names: Vec<String> = cells.map(str::to_owned).collect();
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
