//! [`RecordStore`]: what the API reads of the records — anomalies, their summary and
//! incidents, window metrics, flows — wherever they are kept. Two implementations: the
//! directories of one machine ([`FileStore`]) and, for a fleet of sensors, ClickHouse
//! (`nta_fleet::ClickHouseStore`). Both answer the same questions with the same types, so
//! the API's JSON does not depend on where the records are.

use crate::Error;
use crate::anomalies::{Filter, Page};
use crate::files::{FileStore, MetricsPage, SummaryPage};
use crate::flows::{FlowFilter, FlowPage, read_flows};
use crate::series::{Series, SeriesQuery, series_of};
use nta_analysis::{Anomaly, Severity};
use nta_capture::AttackKind;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Which window records; every field optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricsFilter {
    /// Windows ending after this (ns).
    pub since_ns: Option<i64>,
    /// Windows starting before this (ns).
    pub until_ns: Option<i64>,
    /// Records of this sensor.
    pub sensor: Option<String>,
}

impl MetricsFilter {
    /// Whether `r` passes.
    pub fn matches(&self, r: &nta_metrics::WindowRecord) -> bool {
        self.since_ns.is_none_or(|t| r.window_end_ns() > t)
            && self.until_ns.is_none_or(|t| r.window_start_ns < t)
            && self.sensor.as_deref().is_none_or(|s| r.sensor.as_deref() == Some(s))
    }
}

/// How many records a store holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordCounts {
    /// Where the records are: `files` or `clickhouse`.
    pub backend: &'static str,
    /// Window records.
    pub metrics_windows: usize,
    /// Anomalies.
    pub anomalies: usize,
    /// Flow records, when the store counts them cheaply (ClickHouse; the files are not read
    /// for a count).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flows: Option<usize>,
    /// The sensors that sent records (a fleet's store; empty for the files).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sensors: Vec<String>,
}

/// One page of anomalies as JSON, in [`Page`]'s form (`{"total":…,"offset":…,"items":[…]}`):
/// what a server sends for a listing without choosing fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonPage {
    /// Matching records in total.
    pub total: usize,
    /// Offset of the first item.
    pub offset: usize,
    /// The page, JSON.
    pub body: Vec<u8>,
}

impl JsonPage {
    /// A page serialized.
    pub fn of(page: &Page) -> Result<JsonPage, Error> {
        let body = serde_json::to_vec(page).map_err(|e| Error::Query { reason: e.to_string() })?;
        Ok(JsonPage { total: page.total, offset: page.offset, body })
    }
}

/// The records the API serves, wherever they are kept. Shareable between threads; every
/// call may block (a file read, a query), so servers call it off their event loop.
pub trait RecordStore: Send + Sync + std::fmt::Debug {
    /// The anomalies matching `filter` in its order, `limit` of them from `offset`.
    fn anomalies(&self, filter: &Filter, offset: usize, limit: usize) -> Result<Page, Error>;

    /// The same page as JSON; a store that keeps records as JSON may send them as they are.
    fn anomalies_json(&self, filter: &Filter, offset: usize, limit: usize) -> Result<JsonPage, Error> {
        JsonPage::of(&self.anomalies(filter, offset, limit)?)
    }

    /// One anomaly by id.
    fn anomaly(&self, id: &str) -> Result<Option<Anomaly>, Error>;

    /// Counts, time range, top metrics and `limit` incidents from `offset` of the anomalies
    /// matching `filter` (incidents never span two sensors or two captures).
    fn summary(&self, filter: &Filter, offset: usize, limit: usize) -> Result<Arc<SummaryPage>, Error>;

    /// Window records matching `filter`, in time order, `limit` of them from `offset`.
    fn metrics(&self, filter: &MetricsFilter, offset: usize, limit: usize) -> Result<MetricsPage, Error>;

    /// Flow records matching `filter`, `limit` of them from `offset`.
    fn flows(&self, filter: &FlowFilter, offset: usize, limit: usize) -> Result<FlowPage, Error>;

    /// The flows of the anomaly or the incident `id`; `None` when neither has that id.
    fn flows_of(&self, id: &str) -> Result<Option<FlowFilter>, Error>;

    /// How many records it holds.
    fn counts(&self) -> Result<RecordCounts, Error>;

    /// Window metrics downsampled for a chart.
    fn series(&self, q: &SeriesQuery) -> Result<Series, Error>;

    /// Anomalies by severity and kind (every sensor's), most first.
    fn anomaly_counts(&self) -> Result<Vec<(Severity, AttackKind, usize)>, Error>;
}

/// Counts of `(severity, kind)` pairs, most first.
pub fn count_by_severity_and_kind<'a>(
    anomalies: impl Iterator<Item = &'a Anomaly>,
) -> Vec<(Severity, AttackKind, usize)> {
    let mut v: Vec<_> = anomalies.map(|a| (a.severity, a.kind, 1)).collect();
    sort_counts(&mut v);
    v
}

/// Counts of `(severity, kind)` pairs summed by pair, most first.
pub(crate) fn sort_counts(v: &mut Vec<(Severity, AttackKind, usize)>) {
    let mut counts: std::collections::BTreeMap<(Severity, AttackKind), usize> = std::collections::BTreeMap::new();
    for (s, k, n) in v.drain(..) {
        *counts.entry((s, k)).or_default() += n;
    }
    v.extend(counts.into_iter().map(|((s, k), n)| (s, k, n)));
    v.sort_by(|a, b| b.2.cmp(&a.2).then(b.0.cmp(&a.0)).then(a.1.cmp(&b.1)));
}

impl RecordStore for FileStore {
    fn anomalies(&self, filter: &Filter, offset: usize, limit: usize) -> Result<Page, Error> {
        FileStore::anomalies(self).list(filter, offset, limit)
    }

    fn anomalies_json(&self, filter: &Filter, offset: usize, limit: usize) -> Result<JsonPage, Error> {
        FileStore::anomalies(self).list_json(filter, offset, limit)
    }

    fn anomaly(&self, id: &str) -> Result<Option<Anomaly>, Error> {
        FileStore::anomaly(self, id)
    }

    fn summary(&self, filter: &Filter, offset: usize, limit: usize) -> Result<Arc<SummaryPage>, Error> {
        FileStore::summary(self, filter, offset, limit)
    }

    fn metrics(&self, filter: &MetricsFilter, offset: usize, limit: usize) -> Result<MetricsPage, Error> {
        self.metrics_page(filter, offset, limit)
    }

    fn flows(&self, filter: &FlowFilter, offset: usize, limit: usize) -> Result<FlowPage, Error> {
        read_flows(self.layout().flows_path(), filter, offset, limit)
    }

    fn flows_of(&self, id: &str) -> Result<Option<FlowFilter>, Error> {
        FileStore::anomalies(self).flows_of(id)
    }

    fn counts(&self) -> Result<RecordCounts, Error> {
        Ok(RecordCounts {
            backend: "files",
            metrics_windows: self.metrics()?.len(),
            anomalies: FileStore::anomalies(self).len()?,
            flows: None,
            sensors: Vec::new(),
        })
    }

    fn series(&self, q: &SeriesQuery) -> Result<Series, Error> {
        series_of(q, self.metrics()?.iter())
    }

    fn anomaly_counts(&self) -> Result<Vec<(Severity, AttackKind, usize)>, Error> {
        FileStore::anomalies(self).counts_by_severity_and_kind()
    }
}
