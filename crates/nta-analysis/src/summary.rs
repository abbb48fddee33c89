//! [`Summary`]: counts by severity and detector, time range and top metrics of anomalies.

use crate::anomaly::Anomaly;
use nta_metrics::Metric;
use serde::Serialize;
use std::collections::BTreeMap;

/// Counts over anomalies (a store, or a filtered part of it).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Summary {
    /// Records.
    pub total: usize,
    /// By severity name.
    pub by_severity: BTreeMap<String, usize>,
    /// By detector name.
    pub by_detector: BTreeMap<String, usize>,
    /// First window start, ns.
    pub first_ns: Option<i64>,
    /// Last window end, ns.
    pub last_ns: Option<i64>,
    /// Metrics in the explanations' top 3, most frequent first, with counts.
    pub top_metrics: Vec<(Metric, usize)>,
}

/// Counts by severity and detector, time range and top metrics of `anomalies`.
pub fn summarize<'a>(anomalies: impl IntoIterator<Item = &'a Anomaly>) -> Summary {
    let mut s = Summary::default();
    let mut metrics: BTreeMap<Metric, usize> = BTreeMap::new();
    let (mut severities, mut detectors) = (BTreeMap::<&str, usize>::new(), BTreeMap::<&str, usize>::new());
    for a in anomalies {
        s.total += 1;
        *severities.entry(a.severity.name()).or_insert(0) += 1;
        *detectors.entry(a.detector.name()).or_insert(0) += 1;
        s.first_ns = Some(s.first_ns.map_or(a.window_start_ns, |t| t.min(a.window_start_ns)));
        s.last_ns = Some(s.last_ns.map_or(a.window_end_ns, |t| t.max(a.window_end_ns)));
        for c in a.explanation.iter().take(3) {
            *metrics.entry(c.metric).or_insert(0) += 1;
        }
    }
    s.by_severity = severities.into_iter().map(|(k, n)| (k.to_owned(), n)).collect();
    s.by_detector = detectors.into_iter().map(|(k, n)| (k.to_owned(), n)).collect();
    let mut top: Vec<(Metric, usize)> = metrics.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    top.truncate(10);
    s.top_metrics = top;
    s
}
