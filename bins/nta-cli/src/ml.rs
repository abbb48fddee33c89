//! `nta-cli train`, `score` and `models`: the Isolation Forest on metrics or any numeric table.

use crate::util::{AtomicFile, now_rfc3339};
use anyhow::{Context, Result, bail};
use nta_metrics::{WindowRecord, read_jsonl};
use nta_ml::{Contamination, FeatureExtractor, ForestParams, MaxSamples, Model, TrainingSource, list_models, read_csv};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub(crate) struct TrainArgs {
    /// Window metrics (JSON lines from `extract`); repeatable
    #[arg(long = "metrics", value_name = "FILE", conflicts_with = "csv", required_unless_present = "csv")]
    metrics: Vec<PathBuf>,
    /// Any numeric table instead: header = feature names, then rows of numbers
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
    /// Model name (file data/models/NAME.json)
    #[arg(long)]
    name: String,
    /// Directory of models
    #[arg(long, default_value = "data/models")]
    models_dir: PathBuf,
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

#[derive(Debug, clap::Args)]
pub(crate) struct ScoreArgs {
    /// Model name (in --models-dir) or path to a model file
    #[arg(long)]
    model: String,
    /// Directory of models
    #[arg(long, default_value = "data/models")]
    models_dir: PathBuf,
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

#[derive(Debug, clap::Args)]
pub(crate) struct ModelsArgs {
    /// Directory of models
    #[arg(long, default_value = "data/models")]
    models_dir: PathBuf,
    /// JSON instead of a table
    #[arg(long)]
    json: bool,
}

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

pub(crate) fn train(args: &TrainArgs) -> Result<ExitCode> {
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
    let path = model.save(&args.models_dir)?;
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

pub(crate) fn load_model(spec: &str, dir: &Path) -> Result<Model> {
    let as_path = PathBuf::from(spec);
    let path = if spec.ends_with(".json") || spec.contains('/') { as_path } else { Model::path_in(dir, spec)? };
    if !path.exists() {
        bail!("no model {} (see `nta-cli models`)", path.display());
    }
    Ok(Model::load(&path)?)
}

pub(crate) fn score(args: &ScoreArgs) -> Result<ExitCode> {
    let model = load_model(&args.model, &args.models_dir)?;
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

pub(crate) fn models(args: &ModelsArgs) -> Result<ExitCode> {
    let list = list_models(&args.models_dir)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&list)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    if list.is_empty() {
        eprintln!("no models in {}", args.models_dir.display());
    }
    for m in &list {
        match &m.error {
            Some(e) => writeln!(out, "{:<24} unreadable: {e}", m.name)?,
            None => writeln!(
                out,
                "{:<24} {} trees, {} features, {} rows, created {}",
                m.name,
                m.n_estimators.unwrap_or(0),
                m.features.unwrap_or(0),
                m.rows.unwrap_or(0),
                m.created_at.as_deref().unwrap_or("?")
            )?,
        }
    }
    Ok(ExitCode::SUCCESS)
}
