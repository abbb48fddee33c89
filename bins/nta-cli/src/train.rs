//! `nta-cli train`: an Isolation Forest on window metrics or any numeric table.

use crate::config::DirArgs;
use crate::metrics_files::read_metrics;
use anyhow::Result;
use nta_ml::{Contamination, ForestParams, MaxSamples, TrainingSource, read_csv};
use nta_store::{now_rfc3339, save_model};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Window metrics (JSON lines from `extract`); repeatable
    #[arg(long = "metrics", value_name = "FILE", conflicts_with = "csv", required_unless_present = "csv")]
    metrics: Vec<PathBuf>,
    /// Any numeric table instead: header = feature names, then rows of numbers
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
    /// Model name (file data/models/NAME.json)
    #[arg(long)]
    name: String,
    #[command(flatten)]
    dirs: DirArgs,
    /// Directory of models [default: <data-dir>/models]
    #[arg(long)]
    models_dir: Option<PathBuf>,
    /// Trees
    #[arg(long, default_value_t = 100)]
    n_estimators: usize,
    /// Rows per tree: auto (= min(256, n)), an integer, or a fraction like 0.5
    #[arg(long, default_value = "auto")]
    max_samples: MaxSamples,
    /// auto (offset -0.5) or the expected share of outliers in (0, 0.5]
    #[arg(long, default_value = "auto")]
    contamination: Contamination,
    /// Share of the features each tree sees, in (0, 1]
    #[arg(long, default_value_t = 1.0)]
    max_features: f64,
    /// Draw rows with replacement
    #[arg(long)]
    bootstrap: bool,
    /// Seed (the same seed gives the same forest whatever the thread count)
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print the model's metadata (without the trees) as JSON on stdout
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    let params = ForestParams {
        n_estimators: args.n_estimators,
        max_samples: args.max_samples,
        contamination: args.contamination,
        max_features: args.max_features,
        bootstrap: args.bootstrap,
        random_state: args.seed,
    };
    let created = now_rfc3339();
    let model = match &args.csv {
        Some(csv) => {
            let (names, x) = read_csv(csv)?;
            let source = TrainingSource::table(vec![csv.display().to_string()]);
            nta_ml::train(&args.name, &created, &x, names, &params, source, 0, &Default::default())?
        }
        None => {
            let records = read_metrics(&args.metrics)?;
            let files = args.metrics.iter().map(|p| p.display().to_string()).collect();
            nta_ml::train_on_records(&args.name, &created, &records, files, &params, &Default::default())?
        }
    };
    let path = save_model(&layout(&args.dirs, args.models_dir.as_ref()), &model)?;
    let t = &model.training;
    eprintln!(
        "trained {} on {} rows × {} features ({} skipped): {} trees, ψ = {}, offset {:.4}; training scores {:.4} .. {:.4} (median {:.4}) -> {}",
        model.name,
        t.rows,
        model.features.len(),
        t.skipped,
        model.forest.trees.len(),
        model.forest.max_samples_used,
        model.forest.offset,
        t.score_min,
        t.score_max,
        t.score_median,
        path.display()
    );
    if args.json {
        let mut meta = serde_json::to_value(&model)?;
        if let Some(f) = meta.get_mut("forest").and_then(|f| f.as_object_mut()) {
            f.remove("trees");
        }
        writeln!(std::io::stdout().lock(), "{}", serde_json::to_string_pretty(&meta)?)?;
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn layout(dirs: &DirArgs, models_dir: Option<&PathBuf>) -> nta_store::Layout {
    let layout = dirs.layout();
    match models_dir {
        Some(d) => layout.with_models_dir(d),
        None => layout,
    }
}
