//! What a live capture needs of the data directory: [`MetricsLog`], the metrics file appended a
//! window at a time, and [`Learner`], normal learnt from the first span of capture time.

use crate::layout::Layout;
use crate::ops::{load_model, save_baseline, train};
use crate::{Error, now_rfc3339};
use nta_baselines::{Baseline, BuildOptions};
use nta_metrics::WindowRecord;
use nta_ml::{ForestParams, Model};
use std::io::Write;
use std::sync::atomic::AtomicBool;

/// `logs/metrics.jsonl` opened for appending: each window a whole line, flushed at once (a
/// capture may run for days; a kill leaves at most a torn last line, which readers skip).
#[derive(Debug)]
pub struct MetricsLog {
    file: std::fs::File,
    path: std::path::PathBuf,
    line: Vec<u8>,
}

impl MetricsLog {
    /// Opens (creates) the layout's metrics file for appending.
    pub fn open(layout: &Layout) -> Result<MetricsLog, Error> {
        let path = layout.metrics_path().to_owned();
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(Error::io(&path))?;
        Ok(MetricsLog { file, path, line: Vec::with_capacity(2048) })
    }

    /// Appends one record as one write.
    pub fn append(&mut self, r: &WindowRecord) -> Result<(), Error> {
        self.line.clear();
        nta_metrics::write_jsonl_record(&mut self.line, r).map_err(Error::io(&self.path))?;
        self.file.write_all(&self.line).map_err(Error::io(&self.path))
    }
}

/// Collects the windows of a learning span, then learns a baseline and a model from them,
/// saved as `name` (`data/baselines/NAME.json`, `data/models/NAME.json`).
#[derive(Debug)]
pub struct Learner {
    name: String,
    span_ns: i64,
    first_ns: Option<i64>,
    records: Vec<WindowRecord>,
}

/// What a [`Learner`] made.
#[derive(Debug)]
pub struct Learnt {
    /// The model, saved.
    pub model: Model,
    /// The baseline, saved.
    pub baseline: Baseline,
    /// Windows it was learnt from.
    pub windows: usize,
}

impl Learner {
    /// Learns from the first `span_ns` of capture time, as `name`.
    pub fn new(name: String, span_ns: i64) -> Learner {
        Learner { name, span_ns, first_ns: None, records: Vec::new() }
    }

    /// The name it saves under.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Takes a closed window. While the span lasts, keeps it and answers `None`; the first
    /// window past the span makes the baseline and the model (saved), answered with them.
    pub fn offer(&mut self, layout: &Layout, r: &WindowRecord) -> Result<Option<Learnt>, Error> {
        let first = *self.first_ns.get_or_insert(r.window_start_ns);
        if r.window_start_ns < first.saturating_add(self.span_ns) {
            if !r.late {
                self.records.push(r.clone());
            }
            return Ok(None);
        }
        let records = std::mem::take(&mut self.records);
        let sources = vec![r.capture.clone()];
        let baseline = Baseline::build(&self.name, &now_rfc3339(), &records, sources, &[], BuildOptions::default())?;
        save_baseline(layout, &self.name, &baseline)?;
        train(layout, &self.name, &records, &ForestParams::default(), &AtomicBool::new(false))?;
        let model = load_model(layout, &self.name)?;
        Ok(Some(Learnt { model, baseline, windows: records.len() }))
    }
}
