//! `nta-cli score`: window metrics or a numeric table scored by a model, as CSV.

use crate::config::DirArgs;
use crate::metrics_files::read_metrics;
use crate::train::layout;
use anyhow::{Context, Result};
use nta_ml::{FeatureExtractor, read_csv};
use nta_store::{AtomicFile, load_model};
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Model name (in --models-dir) or path to a model file
    #[arg(long)]
    model: String,
    #[command(flatten)]
    dirs: DirArgs,
    /// Directory of models [default: <data-dir>/models]
    #[arg(long)]
    models_dir: Option<PathBuf>,
    /// Window metrics to score
    #[arg(long, value_name = "FILE", conflicts_with = "csv", required_unless_present = "csv")]
    metrics: Vec<PathBuf>,
    /// A numeric table to score (same header as the model's features)
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
    /// Output CSV ("-" for stdout)
    #[arg(long, default_value = "-")]
    out: PathBuf,
}

pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    let model = load_model(&layout(&args.dirs, args.models_dir.as_ref()), &args.model)?;
    let (rows, labels, scores) = match &args.csv {
        Some(csv) => {
            let (names, x) = read_csv(csv)?;
            let s = nta_ml::score(&model, &x, &names)?;
            ((0..s.score_samples.len()).collect::<Vec<_>>(), None, s)
        }
        None => {
            let records = read_metrics(&args.metrics)?;
            let fx = FeatureExtractor;
            let (x, indices, stats) = fx.extract_batch(&records);
            let x = x.context("no usable window to score")?;
            if stats.rows < stats.records {
                eprintln!(
                    "note: {} of {} windows left out ({} late supplements, {} non-finite)",
                    stats.records - stats.rows,
                    stats.records,
                    stats.skipped_late,
                    stats.skipped_non_finite
                );
            }
            if let (Some(w), Some(r)) = (model.source.window_ns, records.first())
                && w != r.window_ns
            {
                eprintln!("warning: the model was trained on {w} ns windows, these are {} ns", r.window_ns);
            }
            let s = nta_ml::score(&model, &x, &fx.names())?;
            let starts =
                indices.iter().map(|i| records.get(*i).map(|r| r.window_start.clone()).unwrap_or_default()).collect();
            (indices, Some(starts), s)
        }
    };
    let to_stdout = args.out.as_os_str() == "-";
    let file = if to_stdout { None } else { Some(AtomicFile::create(&args.out)?) };
    let sink: Box<dyn Write> = match &file {
        Some(f) => Box::new(f.file()?),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = BufWriter::new(sink);
    let labels: Option<Vec<String>> = labels;
    match &labels {
        Some(_) => writeln!(out, "row,window_start,score_samples,decision_function,predict")?,
        None => writeln!(out, "row,score_samples,decision_function,predict")?,
    }
    let mut outliers = 0;
    for (k, row) in rows.iter().enumerate() {
        let (s, d, p) = (
            scores.score_samples.get(k).copied().unwrap_or(f64::NAN),
            scores.decision_function.get(k).copied().unwrap_or(f64::NAN),
            scores.predict.get(k).copied().unwrap_or(1),
        );
        outliers += usize::from(p == -1);
        match labels.as_ref().and_then(|l| l.get(k)) {
            Some(w) => writeln!(out, "{row},{w},{s},{d},{p}")?,
            None => writeln!(out, "{row},{s},{d},{p}")?,
        }
    }
    out.flush()?;
    drop(out);
    if let Some(f) = file {
        f.commit()?;
    }
    eprintln!("scored {} rows with {}: {} outliers (predict = -1)", rows.len(), model.name, outliers);
    Ok(ExitCode::SUCCESS)
}
