//! Reading window-metrics files for the commands that take `--metrics`.

use anyhow::{Context, Result, bail};
use nta_metrics::{WindowRecord, read_jsonl};
use std::path::PathBuf;

/// Reads metrics files; a torn last line (a writer killed mid-line) is skipped with a warning.
/// Records of different window lengths (in one file or across files) are refused: no command
/// can combine them meaningfully (a plot, a model or a baseline would mix scales silently).
pub(crate) fn read_metrics(paths: &[PathBuf]) -> Result<Vec<WindowRecord>> {
    let mut all: Vec<WindowRecord> = Vec::new();
    let mut first: Option<(i64, &PathBuf)> = None;
    for p in paths {
        let read = read_jsonl(p).with_context(|| format!("reading metrics {}", p.display()))?;
        if read.torn_last_line {
            eprintln!("warning: {}: the last line is incomplete and was skipped", p.display());
        }
        for r in &read.records {
            match first {
                None => first = Some((r.window_ns, p)),
                Some((w, q)) if w != r.window_ns => bail!(
                    "mixed window lengths: {} has {} s windows, {} has {} s windows (window at {}): use files of one window length",
                    q.display(),
                    w as f64 / 1e9,
                    p.display(),
                    r.window_ns as f64 / 1e9,
                    r.window_start
                ),
                Some(_) => {}
            }
        }
        all.extend(read.records);
    }
    if all.is_empty() {
        bail!("no window records in {}", paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "));
    }
    Ok(all)
}
