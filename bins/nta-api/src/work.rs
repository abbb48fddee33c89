//! The work jobs do, composed from the library crates: extract with progress and
//! cancellation, train, detect, analyse a capture into the data and logs directories. Every
//! step watches the job's cancel flag (extraction between windows, training between trees
//! and blocks of rows) and writes nothing once it is set.

use crate::jobs::{Handle, JobError};
use nta_analysis::{AnalyzeOptions, AnomalyStore, DetectConfig, analyze, detect};
use nta_baselines::{Baseline, BuildOptions};
use nta_metrics::{ExtractConfig, Progress, WindowRecord, extract_files};
use nta_ml::{ForestParams, Model, train_on_records};
use std::path::Path;
use std::sync::atomic::Ordering;

fn failed(e: impl std::fmt::Display) -> JobError {
    JobError::Failed(e.to_string())
}

fn cancelled(h: &Handle) -> bool {
    h.cancel.load(Ordering::Relaxed)
}

/// A job's progress counters, fed by extraction.
fn progress(h: &Handle) -> impl Fn(Progress) + Sync + '_ {
    |p: Progress| {
        h.bytes_done.store(p.bytes_done, Ordering::Relaxed);
        h.bytes_total.store(p.bytes_total, Ordering::Relaxed);
    }
}

/// The wall-clock time (a model's `created_at`: metadata, never capture time).
fn now_rfc3339() -> String {
    nta_capture::format_rfc3339_ns(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64),
    )
}

/// Window records of a capture; progress and cancellation through `h`.
pub(crate) fn extract(pcap: &Path, window_ns: i64, h: &Handle) -> Result<Vec<WindowRecord>, JobError> {
    let mut records = Vec::new();
    let result = extract_files(&[pcap.to_owned()], &ExtractConfig::new(window_ns), &progress(h), &mut |r| {
        if cancelled(h) {
            return Err(std::io::Error::other("cancelled"));
        }
        records.push(r);
        Ok(())
    });
    if cancelled(h) {
        return Err(JobError::Cancelled);
    }
    let summary = result.map_err(failed)?;
    if let Some(e) = summary.files.iter().find_map(|f| f.error.clone())
        && records.is_empty()
    {
        return Err(JobError::Failed(e));
    }
    Ok(records)
}

/// The records to work on: those of `upload` extracted with `window_ns`, else the stored ones.
pub(crate) fn records(
    upload: Option<&Path>,
    window_ns: i64,
    logs: &Path,
    h: &Handle,
) -> Result<Vec<WindowRecord>, JobError> {
    match upload {
        Some(p) => extract(p, window_ns, h),
        None => stored_metrics(logs),
    }
}

/// The records stored in `logs/metrics.jsonl`.
pub(crate) fn stored_metrics(logs: &Path) -> Result<Vec<WindowRecord>, JobError> {
    Ok(nta_metrics::read_jsonl(&logs.join("metrics.jsonl")).map_err(failed)?.records)
}

/// Trains and saves model `name`.
pub(crate) fn train(
    name: &str,
    records: &[WindowRecord],
    params: &ForestParams,
    data: &Path,
    h: &Handle,
) -> Result<serde_json::Value, JobError> {
    let created = now_rfc3339();
    let model = match train_on_records(name, &created, records, vec![], params, &h.cancel) {
        Err(nta_ml::Error::Cancelled) => return Err(JobError::Cancelled),
        other => other.map_err(failed)?,
    };
    if cancelled(h) {
        return Err(JobError::Cancelled);
    }
    let path = model.save(&data.join("models")).map_err(failed)?;
    Ok(serde_json::json!({
        "name": model.name,
        "path": path.display().to_string(),
        "rows": model.training.rows,
        "features": model.features.len(),
        "n_estimators": model.forest.trees.len(),
        "offset": model.forest.offset,
        "created_at": model.created_at,
    }))
}

/// Detects with model `model` (and its baseline `data/baselines/<model>.json`, or one learnt
/// from the records), appending to the store.
pub(crate) fn detect_with(
    records: &[WindowRecord],
    model: &Model,
    data: &Path,
    logs: &Path,
    h: &Handle,
) -> Result<serde_json::Value, JobError> {
    let bpath = data.join("baselines").join(format!("{}.json", model.name));
    let baseline = match Baseline::load(&bpath) {
        Ok(b) => b,
        Err(_) => Baseline::build(&model.name, "", records, vec![], &[], BuildOptions::default()).map_err(failed)?,
    };
    let d = detect(records, Some(model), Some(&baseline), &DetectConfig::default()).map_err(failed)?;
    if cancelled(h) {
        return Err(JobError::Cancelled);
    }
    store_detection(&d, logs)
}

fn store_detection(d: &nta_analysis::Detection, logs: &Path) -> Result<serde_json::Value, JobError> {
    let appended = AnomalyStore::new(logs.join("anomalies.jsonl")).append(&d.anomalies).map_err(failed)?;
    Ok(serde_json::json!({
        "windows": d.windows,
        "anomalies": d.anomalies.len(),
        "new": appended,
        "incidents": d.incidents,
    }))
}

/// [`nta_analysis::analyze`] on `pcap` (10 s windows), its outputs written where the
/// endpoints read: `logs/metrics.jsonl`, `data/models/<stem>.json`,
/// `data/baselines/<stem>.json`, `logs/anomalies.jsonl`.
pub(crate) fn analyze_into(pcap: &Path, data: &Path, logs: &Path, h: &Handle) -> Result<serde_json::Value, JobError> {
    let name = pcap.file_stem().map_or_else(|| "capture".into(), |s| s.to_string_lossy().into_owned());
    // AnalyzeOptions' defaults: 10 s windows.
    let opts = AnalyzeOptions { name: name.clone(), created_at: now_rfc3339(), ..AnalyzeOptions::default() };
    let a = match analyze(&[pcap.to_owned()], &opts, &progress(h), &h.cancel) {
        Err(nta_analysis::Error::Cancelled) => return Err(JobError::Cancelled),
        other => other.map_err(failed)?,
    };
    let mut lines = Vec::new();
    for r in &a.records {
        nta_metrics::write_jsonl_record(&mut lines, r).map_err(failed)?;
    }
    if cancelled(h) {
        return Err(JobError::Cancelled);
    }
    nta_metrics::write_atomic(&logs.join("metrics.jsonl"), &lines).map_err(failed)?;
    a.model.save(&data.join("models")).map_err(failed)?;
    a.baseline.save(&data.join("baselines").join(format!("{name}.json"))).map_err(failed)?;
    let mut out = store_detection(&a.detection, logs)?;
    if let Some(o) = out.as_object_mut() {
        o.insert("capture".into(), pcap.display().to_string().into());
        o.insert("model".into(), name.into());
    }
    Ok(out)
}
