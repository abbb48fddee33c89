//! [`FileStore`]: what a reader (the API) sees of the directories — the anomaly store
//! through its on-disk index ([`StoreIndex`]), the window metrics, the models — each read
//! again only when its file changed.

use crate::Error;
use crate::anomalies::AnomalyStore;
use crate::anomalies::{Filter, Order};
use crate::cache::{MetricsCache, ModelsCache};
use crate::index::StoreIndex;
use crate::layout::Layout;
use crate::records::MetricsFilter;
use nta_analysis::{Anomaly, Incident, Summary, by_severity, incident, incident_groups, summarize};
use nta_metrics::WindowRecord;
use nta_ml::ModelInfo;
use serde::Serialize;
use std::sync::Arc;

/// The directories of one [`Layout`], read through caches; shareable between threads.
#[derive(Debug)]
pub struct FileStore {
    layout: Layout,
    index: StoreIndex,
    metrics: MetricsCache,
    models: ModelsCache,
}

/// The summary of the matching anomalies and one page of their incidents.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SummaryPage {
    /// Counts by severity and detector, time range, top metrics.
    pub summary: Summary,
    /// Incidents of the matching anomalies in all.
    pub incidents_total: usize,
    /// Consecutive anomalies of one capture telling one story (one attack kind, or shared
    /// metrics), most severe first or in time order (the filter's `order`): one page of them.
    pub incidents: Vec<Incident>,
}

/// The summary of `items` (in time order, a sensor's and a capture's records consecutive)
/// and `limit` of their incidents from `offset`, in `order`: what every store answers.
pub fn summary_page(items: &[&Anomaly], order: Order, offset: usize, limit: usize) -> SummaryPage {
    // Only the page's incidents are built.
    let groups = incident_groups(items);
    let incidents = match order {
        Order::Time => groups.iter().skip(offset).take(limit).filter_map(|r| incident(items.get(r.clone())?)).collect(),
        Order::Severity => {
            // Every incident is built to be ranked.
            let mut all: Vec<Incident> = groups.iter().filter_map(|r| incident(items.get(r.clone())?)).collect();
            by_severity(&mut all);
            all.into_iter().skip(offset).take(limit).collect()
        }
    };
    SummaryPage { summary: summarize(items.iter().copied()), incidents_total: groups.len(), incidents }
}

/// One page of window records.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MetricsPage {
    /// Matching windows in total.
    pub total: usize,
    /// Offset of the first item.
    pub offset: usize,
    /// The items, in file order.
    pub items: Vec<WindowRecord>,
}

/// How much the directories hold.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoreCounts {
    /// Uploaded captures.
    pub captures: usize,
    /// Records in the metrics file.
    pub metrics_windows: usize,
    /// Model files.
    pub models: usize,
    /// The most recently created model.
    pub active_model: Option<String>,
    /// Records in the anomaly store.
    pub anomalies: usize,
}

impl FileStore {
    /// A store over `layout` (nothing is read until asked).
    pub fn new(layout: Layout) -> FileStore {
        FileStore {
            index: StoreIndex::new(AnomalyStore::new(layout.anomalies_path())),
            layout,
            metrics: MetricsCache::default(),
            models: ModelsCache::default(),
        }
    }

    /// Where everything lives.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The anomaly store, through its index.
    pub fn anomalies(&self) -> &StoreIndex {
        &self.index
    }

    /// One anomaly.
    pub fn anomaly(&self, id: &str) -> Result<Option<Anomaly>, Error> {
        self.index.get(id)
    }

    /// The summary of the anomalies matching `filter` and `limit` of their incidents from
    /// `offset`; kept until the store changes.
    pub fn summary(&self, filter: &Filter, offset: usize, limit: usize) -> Result<Arc<SummaryPage>, Error> {
        self.index.summary(filter, offset, limit)
    }

    /// The window records of the metrics file (none when it does not exist).
    pub fn metrics(&self) -> Result<Arc<Vec<WindowRecord>>, Error> {
        self.metrics.records(self.layout.metrics_path())
    }

    /// The window records matching `filter`, `limit` of them from `offset`.
    pub fn metrics_page(&self, filter: &MetricsFilter, offset: usize, limit: usize) -> Result<MetricsPage, Error> {
        let records = self.metrics()?;
        let mut total = 0;
        let mut items = Vec::new();
        let matching = records.iter().filter(|r| filter.matches(r));
        for r in matching {
            if total >= offset && items.len() < limit {
                items.push(r.clone());
            }
            total += 1;
        }
        Ok(MetricsPage { total, offset, items })
    }

    /// The models, sorted by name (unreadable ones with their error).
    pub fn models(&self) -> Result<Vec<ModelInfo>, Error> {
        self.models.list(self.layout.models_dir())
    }

    /// How much the directories hold (what cannot be read counts as nothing).
    pub fn counts(&self) -> StoreCounts {
        let models = self.models().unwrap_or_default();
        StoreCounts {
            captures: self.layout.uploads(),
            metrics_windows: self.metrics().map_or(0, |r| r.len()),
            models: models.len(),
            active_model: models.iter().max_by(|a, b| a.created_at.cmp(&b.created_at)).map(|m| m.name.clone()),
            anomalies: self.index.len().unwrap_or(0),
        }
    }
}

/// A baseline of `data/baselines`, or why it cannot be read.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BaselineInfo {
    /// Its name (the file name without `.json`; a model's baseline has the model's name).
    pub name: String,
    /// Bytes of the file.
    pub bytes: u64,
    /// When it was learnt (RFC 3339).
    pub created_at: Option<String>,
    /// Window length it learnt from, ns.
    pub window_ns: Option<i64>,
    /// Windows it learnt from.
    pub windows: Option<usize>,
    /// Why the file cannot be used.
    pub error: Option<String>,
}

impl FileStore {
    /// The baselines, sorted by name (each read, at most `MAX_BASELINE_BYTES`).
    pub fn baselines(&self) -> Result<Vec<BaselineInfo>, Error> {
        let dir = self.layout.baselines_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(&dir)(e)),
        };
        let mut out = Vec::new();
        for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
            let Some(name) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
            let info = match nta_baselines::Baseline::load(&path) {
                Ok(b) => BaselineInfo {
                    name: name.to_owned(),
                    bytes,
                    created_at: Some(b.created_at),
                    window_ns: Some(b.window_ns),
                    windows: Some(b.windows),
                    error: None,
                },
                Err(e) => BaselineInfo {
                    name: name.to_owned(),
                    bytes,
                    created_at: None,
                    window_ns: None,
                    windows: None,
                    error: Some(e.to_string()),
                },
            };
            out.push(info);
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}
