//! Reading window-metrics files for the commands that take `--metrics`.

use anyhow::{Context, Result, bail};
use nta_metrics::{WindowRecord, read_jsonl};
use std::path::PathBuf;

/// Reads metrics files; a torn last line (a writer killed mid-line) is skipped with a warning.
pub(crate) fn read_metrics(paths: &[PathBuf]) -> Result<Vec<WindowRecord>> {
    let mut all = Vec::new();
    for p in paths {
        let read = read_jsonl(p).with_context(|| format!("reading metrics {}", p.display()))?;
        if read.torn_last_line {
            eprintln!("warning: {}: the last line is incomplete and was skipped", p.display());
        }
        all.extend(read.records);
    }
    if all.is_empty() {
        bail!("no window records in {}", paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "));
    }
    Ok(all)
}
