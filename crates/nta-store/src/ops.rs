//! The long operations that write into the directories — extract, train, detect, analyze —
//! each taking a stop flag (checked between batches of packets, trees and blocks of rows:
//! once set, the operation returns [`Error::Cancelled`] having written nothing) and a
//! progress callback, and returning a typed outcome.

use crate::Error;
use crate::anomalies::AnomalyStore;
use crate::atomic::{AtomicFile, write_atomic};
use crate::identity::now_rfc3339;
use crate::layout::Layout;
use nta_analysis::{Analysis, AnalyzeOptions, DetectConfig, Detection, Incident};
use nta_baselines::{Baseline, BuildOptions};
use nta_metrics::{
    ExtractConfig, ExtractSummary, MAX_WINDOWS_IN_MEMORY, Progress, Reading, WindowRecord, extract_files,
};
use nta_ml::{ForestParams, Model, train_on_records};
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// What training made.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrainOutcome {
    /// The model's name.
    pub name: String,
    /// Its file.
    pub path: String,
    /// Training rows (windows).
    pub rows: usize,
    /// Features.
    pub features: usize,
    /// Trees.
    pub n_estimators: usize,
    /// The forest's offset (`score_samples` threshold).
    pub offset: f64,
    /// When it was made (wall clock, RFC 3339).
    pub created_at: String,
    /// What reading the capture warned of ("file: what"; the packets before an error were
    /// used), empty when it was read cleanly or the stored metrics were used.
    pub warnings: Vec<String>,
}

/// What a detection found and stored.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DetectOutcome {
    /// Windows scored.
    pub windows: usize,
    /// Abnormal windows found.
    pub anomalies: usize,
    /// Of them, not in the store before (appended).
    pub new: usize,
    /// The incidents, in time order.
    pub incidents: Vec<Incident>,
    /// What reading the capture warned of (as in [`TrainOutcome::warnings`]).
    pub warnings: Vec<String>,
}

/// What analysing a capture into the directories made.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AnalyzeOutcome {
    /// The capture(s), as given.
    pub capture: String,
    /// The model and baseline made (named after the capture).
    pub model: String,
    /// Windows scored.
    pub windows: usize,
    /// Abnormal windows found.
    pub anomalies: usize,
    /// Of them, not in the store before (appended).
    pub new: usize,
    /// The incidents, in time order.
    pub incidents: Vec<Incident>,
    /// Flow records written to the flows file (`Layout::flows_path`).
    pub flows: u64,
    /// Reader warnings and errors, one per line ("file: what"); the packets before an error
    /// were used.
    pub warnings: Vec<String>,
}

/// Window records and what the extraction read.
#[derive(Debug)]
pub struct Extracted {
    /// The records, in time order.
    pub records: Vec<WindowRecord>,
    /// Files, counts and census.
    pub summary: ExtractSummary,
}

/// The warnings and errors of every file read, one line each ("file: what").
pub fn read_warnings(summary: &ExtractSummary) -> Vec<String> {
    let mut out = Vec::new();
    for f in &summary.files {
        out.extend(f.warnings.iter().map(|w| format!("{}: {w}", f.path)));
        if let Some(e) = &f.error {
            out.push(format!("{}: {e} (the {} packets before it were used)", f.path, f.packets));
        }
    }
    out
}

/// Extracts the window records of `paths`. No records and an unreadable file is an error
/// naming the file; `stop` ends it between batches.
pub fn extract(
    paths: &[PathBuf],
    cfg: &ExtractConfig,
    progress: &(dyn Fn(Progress) + Sync),
    stop: &AtomicBool,
) -> Result<Extracted, Error> {
    let mut records = Vec::new();
    let result = extract_files(paths, cfg, progress, &mut |r| {
        if stop.load(Ordering::Relaxed) {
            return Err(std::io::Error::other("cancelled"));
        }
        records.push(r);
        Ok(())
    });
    if stop.load(Ordering::Relaxed) {
        return Err(Error::Cancelled);
    }
    let summary = result?;
    if records.is_empty()
        && let Some(f) = summary.files.iter().find(|f| f.error.is_some())
    {
        return Err(Error::Format { path: PathBuf::from(&f.path), reason: f.error.clone().unwrap_or_default() });
    }
    Ok(Extracted { records, summary })
}

/// Writes `records` as the metrics file (JSON lines, atomically).
pub fn save_metrics(layout: &Layout, records: &[WindowRecord]) -> Result<(), Error> {
    let path = layout.metrics_path();
    let mut file = AtomicFile::create(path)?;
    let mut out = std::io::BufWriter::new(&mut file);
    for r in records {
        nta_metrics::write_jsonl_record(&mut out, r).map_err(Error::io(path))?;
    }
    out.flush().map_err(Error::io(path))?;
    drop(out);
    file.commit()
}

/// Writes a model to `<data>/models/<name>.json` (atomically); returns the path.
pub fn save_model(layout: &Layout, model: &Model) -> Result<PathBuf, Error> {
    let path = layout.model_path(&model.name)?;
    write_atomic(&path, &model.to_json()?)?;
    Ok(path)
}

/// Writes a baseline to `<data>/baselines/<name>.json` (atomically); returns the path.
pub fn save_baseline(layout: &Layout, name: &str, baseline: &Baseline) -> Result<PathBuf, Error> {
    let path = layout.baseline_path(name)?;
    write_atomic(&path, &baseline.to_json()?)?;
    Ok(path)
}

/// Loads model `name` (a name in the models directory, or a `.json` path).
pub fn load_model(layout: &Layout, name_or_file: &str) -> Result<Model, Error> {
    Ok(Model::load(&layout.resolve_model(name_or_file)?)?)
}

/// Trains model `name` on `records` and saves it.
pub fn train(
    layout: &Layout,
    name: &str,
    records: &[WindowRecord],
    params: &ForestParams,
    stop: &AtomicBool,
) -> Result<TrainOutcome, Error> {
    layout.model_path(name)?;
    let model = match train_on_records(name, &now_rfc3339(), records, vec![], params, stop) {
        Err(nta_ml::Error::Cancelled) => return Err(Error::Cancelled),
        other => other?,
    };
    if stop.load(Ordering::Relaxed) {
        return Err(Error::Cancelled);
    }
    let path = save_model(layout, &model)?;
    Ok(TrainOutcome {
        name: model.name,
        path: path.display().to_string(),
        rows: model.training.rows,
        features: model.features.len(),
        n_estimators: model.forest.trees.len(),
        offset: model.forest.offset,
        created_at: model.created_at,
        warnings: Vec::new(),
    })
}

/// Detects with `model` and its baseline (`<data>/baselines/<model>.json`, else one learnt
/// from `records`), and appends the anomalies to the store.
pub fn detect(
    layout: &Layout,
    records: &[WindowRecord],
    model: &Model,
    cfg: &DetectConfig,
    stop: &AtomicBool,
) -> Result<DetectOutcome, Error> {
    // The model's baseline when there is one (a damaged one is an error, not ignored), else
    // one learnt from the records.
    let path = layout.baseline_path(&model.name)?;
    let baseline = if path.exists() {
        Baseline::load(&path)?
    } else {
        Baseline::build(&model.name, "", records, vec![], &[], BuildOptions::default())?
    };
    let d = nta_analysis::detect(records, Some(model), Some(&baseline), cfg)?;
    if stop.load(Ordering::Relaxed) {
        return Err(Error::Cancelled);
    }
    store_detection(layout, &d)
}

/// Appends a detection's anomalies to the store.
pub fn store_detection(layout: &Layout, d: &Detection) -> Result<DetectOutcome, Error> {
    let new = AnomalyStore::new(layout.anomalies_path()).append(&d.anomalies)?;
    Ok(DetectOutcome {
        windows: d.windows,
        anomalies: d.anomalies.len(),
        new,
        incidents: d.incidents.clone(),
        warnings: Vec::new(),
    })
}

/// [`nta_analysis::analyze`] on `paths`, its outputs written where readers look: the window
/// metrics, `<data>/models/<name>.json`, `<data>/baselines/<name>.json` (`opts.name`; see
/// [`name_for_capture`](crate::name_for_capture)), and the anomaly store.
/// Returns the analysis (for reports) and the outcome.
pub fn analyze_into(
    layout: &Layout,
    paths: &[PathBuf],
    opts: AnalyzeOptions,
    progress: &(dyn Fn(Progress) + Sync),
    stop: &AtomicBool,
) -> Result<(Analysis, AnalyzeOutcome), Error> {
    let sources = paths.iter().cloned().map(nta_metrics::CaptureSource::File).collect();
    analyze_sources_into(layout, sources, opts, progress, stop)
}

/// [`analyze_into`] of any capture sources (a live capture: its windows until it ends).
pub fn analyze_sources_into(
    layout: &Layout,
    sources: Vec<nta_metrics::CaptureSource>,
    mut opts: AnalyzeOptions,
    progress: &(dyn Fn(Progress) + Sync),
    stop: &AtomicBool,
) -> Result<(Analysis, AnalyzeOutcome), Error> {
    if opts.created_at.is_empty() {
        opts.created_at = now_rfc3339();
    }
    layout.model_path(&opts.name)?;
    let names: Vec<String> = sources.iter().map(nta_metrics::CaptureSource::name).collect();
    // The flow records go straight to their file (replaced whole when the analysis succeeds).
    let flows_file = AtomicFile::create(layout.flows_path())?;
    let mut flows_out = std::io::BufWriter::with_capacity(1 << 16, flows_file.file()?);
    let mut flow_count = 0u64;
    let mut sink = |f: nta_metrics::FlowRecord| {
        flow_count += 1;
        nta_metrics::write_jsonl_record(&mut flows_out, &f)
    };
    let a = match nta_analysis::analyze_with_flows(sources, &opts, progress, stop, Some(&mut sink)) {
        Err(nta_analysis::Error::Cancelled) => return Err(Error::Cancelled),
        other => other?,
    };
    if stop.load(Ordering::Relaxed) {
        return Err(Error::Cancelled);
    }
    let flows_path = layout.flows_path();
    flows_out.flush().map_err(Error::io(flows_path))?;
    drop(flows_out);
    flows_file.commit()?;
    save_metrics(layout, &a.records)?;
    save_model(layout, &a.model)?;
    save_baseline(layout, &opts.name, &a.baseline)?;
    let d = store_detection(layout, &a.detection)?;
    let capture = names.join(" + ");
    let warnings = read_warnings(&a.extract);
    let outcome = AnalyzeOutcome {
        capture,
        model: opts.name,
        windows: d.windows,
        anomalies: d.anomalies,
        new: d.new,
        incidents: d.incidents,
        flows: flow_count,
        warnings,
    };
    Ok((a, outcome))
}

/// Window records to work on, and what reading them warned of.
#[derive(Debug, Default)]
pub struct Records {
    /// The records, in time order.
    pub records: Vec<WindowRecord>,
    /// Reader warnings and errors, one line each (see [`read_warnings`]).
    pub warnings: Vec<String>,
}

/// The records to work on: those of `capture` extracted with `window_ns`, read as `reading`
/// says (the layer of tunnelled packets, the shards; at most [`MAX_WINDOWS_IN_MEMORY`]
/// windows), else those of the metrics file.
pub fn records_of(
    layout: &Layout,
    capture: Option<&Path>,
    window_ns: i64,
    reading: Reading,
    progress: &(dyn Fn(Progress) + Sync),
    stop: &AtomicBool,
) -> Result<Records, Error> {
    match capture {
        Some(p) => {
            let cfg = ExtractConfig { max_windows: MAX_WINDOWS_IN_MEMORY, ..reading.config(window_ns) };
            let e = extract(&[p.to_owned()], &cfg, progress, stop)?;
            Ok(Records { warnings: read_warnings(&e.summary), records: e.records })
        }
        None => Ok(Records { records: nta_metrics::read_jsonl(layout.metrics_path())?.records, warnings: Vec::new() }),
    }
}
