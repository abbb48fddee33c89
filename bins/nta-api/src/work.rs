//! The work jobs do, composed from the library crates: extract with progress and
//! cancellation, train, detect, analyse a capture into the data and logs directories.

use crate::jobs::{Handle, JobError};
use nta_analysis::{AnomalyStore, DetectConfig, detect};
use nta_baselines::{Baseline, BuildOptions};
use nta_metrics::{ExtractConfig, WindowRecord, extract_files};
use nta_ml::{ForestParams, Model, train_on_records};
use std::path::Path;
use std::sync::atomic::Ordering;

fn failed(e: impl std::fmt::Display) -> JobError {
    JobError::Failed(e.to_string())
}

fn cancelled(h: Option<&Handle>) -> bool {
    h.is_some_and(|h| h.cancel.load(Ordering::Relaxed))
}

/// The wall-clock time (a model's `created_at`: metadata, never capture time).
fn now_rfc3339() -> String {
    nta_capture::format_rfc3339_ns(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64),
    )
}

/// Window records of a capture; progress and cancellation through `h`.
pub(crate) fn extract(pcap: &Path, window_ns: i64, h: Option<&Handle>) -> Result<Vec<WindowRecord>, JobError> {
    let mut records = Vec::new();
    let progress = |p: nta_metrics::Progress| {
        if let Some(h) = h {
            h.bytes_done.store(p.bytes_done, Ordering::Relaxed);
            h.bytes_total.store(p.bytes_total, Ordering::Relaxed);
        }
    };
    let result = extract_files(&[pcap.to_owned()], &ExtractConfig::new(window_ns), &progress, &mut |r| {
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
    h: Option<&Handle>,
) -> Result<serde_json::Value, JobError> {
    let created = now_rfc3339();
    let model = train_on_records(name, &created, records, vec![], params).map_err(failed)?;
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
    h: Option<&Handle>,
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
    let appended = AnomalyStore::new(logs.join("anomalies.jsonl")).append(&d.anomalies).map_err(failed)?;
    Ok(serde_json::json!({
        "windows": d.windows,
        "anomalies": d.anomalies.len(),
        "new": appended,
        "incidents": d.incidents,
    }))
}

/// Extract → metrics file, baseline, model, detection, all written where the endpoints read.
pub(crate) fn analyze_into(
    pcap: &Path,
    data: &Path,
    logs: &Path,
    h: Option<&Handle>,
) -> Result<serde_json::Value, JobError> {
    let name = pcap.file_stem().map_or_else(|| "capture".into(), |s| s.to_string_lossy().into_owned());
    let records = extract(pcap, 10_000_000_000, h)?;
    let mut lines = Vec::new();
    for r in &records {
        nta_metrics::write_jsonl_record(&mut lines, r).map_err(failed)?;
    }
    let baseline = Baseline::build(&name, "", &records, vec![pcap.display().to_string()], &[], BuildOptions::default())
        .map_err(failed)?;
    let created = now_rfc3339();
    let model = train_on_records(&name, &created, &records, vec![pcap.display().to_string()], &ForestParams::default())
        .map_err(failed)?;
    if cancelled(h) {
        return Err(JobError::Cancelled);
    }
    nta_metrics::write_atomic(&logs.join("metrics.jsonl"), &lines).map_err(failed)?;
    model.save(&data.join("models")).map_err(failed)?;
    baseline.save(&data.join("baselines").join(format!("{name}.json"))).map_err(failed)?;
    let mut out = detect_with(&records, &model, data, logs, h)?;
    if let Some(o) = out.as_object_mut() {
        o.insert("capture".into(), pcap.display().to_string().into());
        o.insert("model".into(), name.into());
    }
    Ok(out)
}
