//! `detect --interface --learn D`: the first D of capture time is normal traffic to learn
//! from — a baseline and a model are built from its windows and saved under the usual names
//! (`data/baselines/NAME.json`, `data/models/NAME.json`) — then every later window is scored.

use anyhow::{Context, Result};
use nta_baselines::{Baseline, BuildOptions};
use nta_metrics::WindowRecord;
use nta_ml::{ForestParams, Model};
use nta_store::Layout;
use std::sync::atomic::AtomicBool;

/// Collects the windows of the learning span, then learns once.
pub(crate) struct Learner {
    name: String,
    span_ns: i64,
    first_ns: Option<i64>,
    records: Vec<WindowRecord>,
}

impl Learner {
    pub(crate) fn new(name: String, span_ns: i64) -> Learner {
        Learner { name, span_ns, first_ns: None, records: Vec::new() }
    }

    /// Takes a closed window. While the span lasts, keeps it and answers `None`; the first
    /// window past the span makes the baseline and the model (saved), answered with it.
    pub(crate) fn offer(&mut self, layout: &Layout, r: &WindowRecord) -> Result<Option<(Model, Baseline)>> {
        let first = *self.first_ns.get_or_insert(r.window_start_ns);
        if r.window_start_ns < first.saturating_add(self.span_ns) {
            if !r.late {
                self.records.push(r.clone());
            }
            return Ok(None);
        }
        let created = nta_store::now_rfc3339();
        let sources = vec![r.source.clone()];
        let baseline = Baseline::build(&self.name, &created, &self.records, sources, &[], BuildOptions::default())
            .with_context(|| format!("learning the baseline from {} windows", self.records.len()))?;
        nta_store::save_baseline(layout, &self.name, &baseline)?;
        let trained =
            nta_store::train(layout, &self.name, &self.records, &ForestParams::default(), &AtomicBool::new(false))
                .with_context(|| format!("training the model on {} windows", self.records.len()))?;
        let model = nta_store::load_model(layout, &self.name)?;
        eprintln!(
            "learnt normal from {} windows: baseline {} and model {} ({} trees); detecting",
            self.records.len(),
            layout.baseline_path(&self.name)?.display(),
            trained.path,
            trained.n_estimators
        );
        self.records = Vec::new();
        Ok(Some((model, baseline)))
    }
}
