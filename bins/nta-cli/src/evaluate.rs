//! `nta-cli evaluate`: window-level precision and recall of stored anomalies against labels.

use anyhow::Result;
use nta_analysis::evaluate;
use nta_capture::read_labels;
use nta_store::AnomalyStore;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub(crate) struct EvaluateArgs {
    /// Anomaly store (or any anomalies JSON lines)
    #[arg(long)]
    anomalies: PathBuf,
    /// Labels (JSON lines with kind, start_ns, end_ns)
    #[arg(long)]
    labels: PathBuf,
    /// Only anomalies of this capture (text contained in `capture`)
    #[arg(long, alias = "source")]
    capture: Option<String>,
    /// JSON output
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &EvaluateArgs) -> Result<ExitCode> {
    let store = AnomalyStore::new(&args.anomalies);
    let read = store.read()?;
    let anomalies: Vec<_> =
        read.anomalies.into_iter().filter(|a| args.capture.as_deref().is_none_or(|s| a.capture.contains(s))).collect();
    let labels = read_labels(&args.labels)?;
    let window = anomalies.first().map_or(10_000_000_000, |a| a.window_end_ns - a.window_start_ns);
    let e = evaluate(&anomalies, &labels, window);
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&e)?)?;
    } else {
        writeln!(
            out,
            "precision {:.3} ({} of {} flagged windows are attacks), recall {:.3} ({} attack windows missed)",
            e.precision, e.true_positives, e.flagged, e.recall, e.false_negatives
        )?;
        for k in &e.per_kind {
            writeln!(out, "  {:<16} recall {:.3} ({}/{})", k.kind, k.recall, k.detected, k.windows)?;
        }
        if !e.false_positive_windows.is_empty() {
            writeln!(out, "  false positives: {}", e.false_positive_windows.join(", "))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
