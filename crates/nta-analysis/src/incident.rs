//! [`Incident`]s: consecutive anomalies of one attack (or one character) as one story, and
//! [`incidents`], the one rule that groups them.

use crate::anomaly::{Anomaly, Detector, Severity, stable_id};
use crate::attack::{Host, headline, merge_hosts};
use nta_capture::AttackKind;
use nta_metrics::Metric;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Consecutive abnormal windows of the same character: one story.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Incident {
    /// Stable id (of its first anomaly's window and capture).
    pub id: String,
    /// Start of the first window, RFC 3339.
    pub start: String,
    /// End of the last window, RFC 3339.
    pub end: String,
    /// Start, ns.
    pub start_ns: i64,
    /// End, ns.
    pub end_ns: i64,
    /// Abnormal windows in it.
    pub windows: usize,
    /// Highest model score.
    pub peak_score: Option<f64>,
    /// Largest |z|.
    pub peak_abs_z: Option<f64>,
    /// Highest severity.
    pub severity: Severity,
    /// What kind of attack: the kind of its most severe anomaly that names one (else of its
    /// most severe anomaly).
    #[serde(default = "crate::anomaly::unknown_kind")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "port_scan"))]
    pub kind: AttackKind,
    /// The attackers over all its anomalies, strongest first (at most 10).
    #[serde(default)]
    pub attackers: Vec<Host>,
    /// The victims over all its anomalies, strongest first (at most 10).
    #[serde(default)]
    pub victims: Vec<Host>,
    /// `both` when both learned detectors contributed, else the one that did; `rules` when
    /// only the evidence rules flagged its windows.
    pub detector: Detector,
    /// The metrics that explain it most often, most frequent first.
    pub top_metrics: Vec<Metric>,
    /// The first line of the alert: kind, attackers, victims and the key counts of its
    /// strongest window ("PORT SCAN by 203.0.113.66 against 10.1.0.124: 2,905 ports in 20 s,
    /// 97% refused").
    #[serde(default)]
    pub headline: String,
    /// The summary of its strongest window.
    pub summary: String,
    /// The anomaly ids, in time order.
    pub anomalies: Vec<String>,
    /// The sensor whose anomalies these are, when they came from a fleet's sensor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensor: Option<String>,
}

/// Groups anomalies (in time order) whose windows follow each other and tell one story: the
/// same attack kind, or — when either names none — a shared top-3 metric. The one rule for incidents, used by detection and by every reader of the store:
/// an anomaly joins the one before it when the gap between them is at most its
/// `incident_gap_windows` windows of its own length (both stored in the record).
pub fn incidents<'a>(anomalies: impl IntoIterator<Item = &'a Anomaly>) -> Vec<Incident> {
    let all: Vec<&Anomaly> = anomalies.into_iter().collect();
    incident_groups(&all).into_iter().filter_map(|r| incident(all.get(r)?)).collect()
}

/// The incidents of `anomalies` (in time order) as index ranges, without building them: a
/// caller that shows a page of incidents builds only those with [`incident`].
pub fn incident_groups(anomalies: &[&Anomaly]) -> Vec<std::ops::Range<usize>> {
    let shares_top3 = |a: &Anomaly, b: &Anomaly| {
        a.explanation.iter().take(3).any(|c| b.explanation.iter().take(3).any(|d| d.metric == c.metric))
    };
    // One attack: the same named kind. Otherwise (a window no rule names next to any other)
    // the same character: a shared top-3 metric.
    let same_story = |a: &Anomaly, b: &Anomaly| {
        if names_attack(a.kind) && names_attack(b.kind) { a.kind == b.kind } else { shares_top3(a, b) }
    };
    let mut groups: Vec<std::ops::Range<usize>> = Vec::new();
    for (i, a) in anomalies.iter().enumerate() {
        let joins = i.checked_sub(1).and_then(|j| anomalies.get(j)).is_some_and(|last| {
            let window_ns = a.window_end_ns.saturating_sub(a.window_start_ns).max(1);
            let gap = a.window_start_ns.saturating_sub(last.window_end_ns);
            let close = gap <= a.incident_gap_windows.max(0).saturating_mul(window_ns);
            close && a.capture == last.capture && a.sensor == last.sensor && same_story(a, last)
        });
        match groups.last_mut() {
            Some(g) if joins => g.end = i + 1,
            _ => groups.push(i..i + 1),
        }
    }
    groups
}

/// The incident made of the anomalies `g` (one group of [`incident_groups`]); `None` if empty.
pub fn incident(g: &[&Anomaly]) -> Option<Incident> {
    let first = g.first()?;
    let last = g.last()?;
    let peak = g
        .iter()
        .max_by(|a, b| a.severity.cmp(&b.severity).then(a.score.unwrap_or(0.0).total_cmp(&b.score.unwrap_or(0.0))))?;
    let mut counts: BTreeMap<Metric, usize> = BTreeMap::new();
    for a in g {
        for c in a.explanation.iter().take(3) {
            *counts.entry(c.metric).or_insert(0) += 1;
        }
    }
    let mut top: Vec<(Metric, usize)> = counts.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    // The learned detectors that contributed; `rules` when neither did.
    let model = g.iter().any(|a| matches!(a.detector, Detector::Model | Detector::Both));
    let baseline = g.iter().any(|a| matches!(a.detector, Detector::Baseline | Detector::Both));
    let detector = match (model, baseline) {
        (true, true) => Detector::Both,
        (true, false) => Detector::Model,
        (false, true) => Detector::Baseline,
        (false, false) => Detector::Rules,
    };
    let named = g
        .iter()
        .filter(|a| names_attack(a.kind))
        .max_by(|a, b| a.severity.cmp(&b.severity).then(a.score.unwrap_or(0.0).total_cmp(&b.score.unwrap_or(0.0))));
    let kind = named.map_or(peak.kind, |a| a.kind);
    let (mut attackers, mut victims): (Vec<Host>, Vec<Host>) = (Vec::new(), Vec::new());
    for a in g.iter().filter(|a| a.kind == kind) {
        merge_hosts(&mut attackers, &a.attackers);
        merge_hosts(&mut victims, &a.victims);
    }
    let lead = named.unwrap_or(peak);
    let span_s = (last.window_end_ns.saturating_sub(first.window_start_ns)) as f64 / 1e9;
    let detail = match g.len() {
        1 => lead.detail.clone(),
        n => format!("{} (strongest of {n} windows over {span_s:.0} s)", lead.detail),
    };
    Some(Incident {
        id: stable_id(&[b"incident", first.id.as_bytes()]),
        start: first.window_start.clone(),
        end: last.window_end.clone(),
        start_ns: first.window_start_ns,
        end_ns: last.window_end_ns,
        windows: g.len(),
        peak_score: g.iter().filter_map(|a| a.score).max_by(f64::total_cmp),
        peak_abs_z: g.iter().filter_map(|a| a.max_abs_z).max_by(f64::total_cmp),
        severity: g.iter().map(|a| a.severity).max().unwrap_or(Severity::Low),
        detector,
        kind,
        headline: headline(kind, &attackers, &victims, &detail),
        attackers,
        victims,
        top_metrics: top.into_iter().take(3).map(|(m, _)| m).collect(),
        summary: peak.summary.clone(),
        anomalies: g.iter().map(|a| a.id.clone()).collect(),
        sensor: first.sensor.clone(),
    })
}

/// Whether a kind names an attack (not `unknown`, `volume_spike` nor `traffic_drop`, which
/// only describe the traffic).
pub fn names_attack(kind: AttackKind) -> bool {
    !matches!(kind, AttackKind::Unknown | AttackKind::VolumeSpike | AttackKind::TrafficDrop)
}

/// Incidents most severe first (then by peak score, then in time order): the triage order.
pub fn by_severity(incidents: &mut [Incident]) {
    incidents.sort_by(triage_order);
}

/// The triage order of two incidents ([`by_severity`]), for sorting references too.
pub fn triage_order(a: &Incident, b: &Incident) -> std::cmp::Ordering {
    b.severity
        .cmp(&a.severity)
        .then(b.peak_score.unwrap_or(0.0).total_cmp(&a.peak_score.unwrap_or(0.0)))
        .then(b.peak_abs_z.unwrap_or(0.0).total_cmp(&a.peak_abs_z.unwrap_or(0.0)))
        .then(a.start_ns.cmp(&b.start_ns))
}
