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
    let mut groups: Vec<std::ops::Range<usize>> = Vec::new();
    let mut last: Option<StoryKey<(&str, Option<&str>)>> = None;
    for (i, a) in anomalies.iter().enumerate() {
        let key = a.story_key();
        let joins = last.as_ref().is_some_and(|l| key.joins(l));
        match groups.last_mut() {
            Some(g) if joins => g.end = i + 1,
            _ => groups.push(i..i + 1),
        }
        last = Some(key);
    }
    groups
}

/// What the incident rule ([`incident_groups`]) reads of an anomaly: its window, its gap
/// allowance, where it was seen (`origin`: anomalies of two captures or two sensors never
/// join) and its story (kind and top-3 metrics). A store that keeps these beside its records
/// groups incidents without reading the records.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StoryKey<O> {
    /// Window start, ns.
    pub window_start_ns: i64,
    /// Window end, ns.
    pub window_end_ns: i64,
    /// [`Anomaly::incident_gap_windows`].
    pub incident_gap_windows: i64,
    /// Capture and sensor, or anything equal exactly when they are.
    pub origin: O,
    /// The attack kind.
    pub kind: AttackKind,
    /// The first three metrics of the explanation.
    pub top3: [Option<Metric>; 3],
}

impl<O: PartialEq> StoryKey<O> {
    /// Whether this anomaly joins `last`, the one before it in time order: the gap between
    /// them is at most its `incident_gap_windows` windows of its own length, both were seen in
    /// one place, and they tell one story — the same named attack kind, or (when either names
    /// none) a shared top-3 metric.
    pub fn joins(&self, last: &StoryKey<O>) -> bool {
        let window_ns = self.window_end_ns.saturating_sub(self.window_start_ns).max(1);
        let gap = self.window_start_ns.saturating_sub(last.window_end_ns);
        let close = gap <= self.incident_gap_windows.max(0).saturating_mul(window_ns);
        let same_story = if names_attack(self.kind) && names_attack(last.kind) {
            self.kind == last.kind
        } else {
            self.top3.iter().flatten().any(|m| last.top3.iter().flatten().any(|n| n == m))
        };
        close && self.origin == last.origin && same_story
    }
}

impl Anomaly {
    /// What the incident rule reads of it ([`StoryKey`]), seen in its capture and sensor.
    pub fn story_key(&self) -> StoryKey<(&str, Option<&str>)> {
        let mut top3 = [None; 3];
        for (slot, c) in top3.iter_mut().zip(&self.explanation) {
            *slot = Some(c.metric);
        }
        StoryKey {
            window_start_ns: self.window_start_ns,
            window_end_ns: self.window_end_ns,
            incident_gap_windows: self.incident_gap_windows,
            origin: (self.capture.as_str(), self.sensor.as_deref()),
            kind: self.kind,
            top3,
        }
    }
}

/// The incident made of the anomalies `g` (one group of [`incident_groups`]); `None` if empty.
pub fn incident(g: &[&Anomaly]) -> Option<Incident> {
    let mut b = IncidentBuilder::default();
    for a in g {
        b.push(a);
    }
    b.finish()
}

/// An [`Incident`] built one anomaly at a time, in time order, keeping only what it needs
/// (the ids, its strongest anomalies, counts and hosts): a store builds a long incident
/// without holding its records. [`incident`] is this over a slice.
#[derive(Clone, Debug, Default)]
pub struct IncidentBuilder {
    first: Option<Anomaly>,
    end: (String, i64),
    peak: Option<Anomaly>,
    named: Option<Anomaly>,
    peak_score: Option<f64>,
    peak_abs_z: Option<f64>,
    counts: BTreeMap<Metric, usize>,
    model: bool,
    baseline: bool,
    hosts: BTreeMap<AttackKind, (Vec<Host>, Vec<Host>)>,
    ids: Vec<String>,
}

impl IncidentBuilder {
    /// Adds the next anomaly of the group.
    pub fn push(&mut self, a: &Anomaly) {
        // The strongest: highest severity, then score; the last of equals.
        let stronger = |a: &Anomaly, than: &Option<Anomaly>| {
            than.as_ref().is_none_or(|b| {
                a.severity.cmp(&b.severity).then(a.score.unwrap_or(0.0).total_cmp(&b.score.unwrap_or(0.0))).is_ge()
            })
        };
        if self.first.is_none() {
            let mut first = a.clone();
            // Only its identity and start are read.
            first.explanation.clear();
            first.top_sources.clear();
            first.top_dst_ports.clear();
            self.first = Some(first);
        }
        self.end = (a.window_end.clone(), a.window_end_ns);
        if stronger(a, &self.peak) {
            self.peak = Some(a.clone());
        }
        if names_attack(a.kind) && stronger(a, &self.named) {
            self.named = Some(a.clone());
        }
        let max = |cur: Option<f64>, v: Option<f64>| match (cur, v) {
            (Some(c), Some(v)) => Some(if v.total_cmp(&c).is_ge() { v } else { c }),
            (c, v) => v.or(c),
        };
        self.peak_score = max(self.peak_score, a.score);
        self.peak_abs_z = max(self.peak_abs_z, a.max_abs_z);
        for c in a.explanation.iter().take(3) {
            *self.counts.entry(c.metric).or_insert(0) += 1;
        }
        self.model |= matches!(a.detector, Detector::Model | Detector::Both);
        self.baseline |= matches!(a.detector, Detector::Baseline | Detector::Both);
        let (attackers, victims) = self.hosts.entry(a.kind).or_default();
        merge_hosts(attackers, &a.attackers);
        merge_hosts(victims, &a.victims);
        self.ids.push(a.id.clone());
    }

    /// The incident; `None` when nothing was added.
    pub fn finish(mut self) -> Option<Incident> {
        let first = self.first?;
        let peak = self.peak?;
        let mut top: Vec<(Metric, usize)> = self.counts.into_iter().collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        // The learned detectors that contributed; `rules` when neither did.
        let detector = match (self.model, self.baseline) {
            (true, true) => Detector::Both,
            (true, false) => Detector::Model,
            (false, true) => Detector::Baseline,
            (false, false) => Detector::Rules,
        };
        let kind = self.named.as_ref().map_or(peak.kind, |a| a.kind);
        let (attackers, victims) = self.hosts.remove(&kind).unwrap_or_default();
        let lead = self.named.as_ref().unwrap_or(&peak);
        let span_s = (self.end.1.saturating_sub(first.window_start_ns)) as f64 / 1e9;
        let detail = match self.ids.len() {
            1 => lead.detail.clone(),
            n => format!("{} (strongest of {n} windows over {span_s:.0} s)", lead.detail),
        };
        Some(Incident {
            id: stable_id(&[b"incident", first.id.as_bytes()]),
            start: first.window_start.clone(),
            end: self.end.0,
            start_ns: first.window_start_ns,
            end_ns: self.end.1,
            windows: self.ids.len(),
            peak_score: self.peak_score,
            peak_abs_z: self.peak_abs_z,
            severity: peak.severity,
            detector,
            kind,
            headline: headline(kind, &attackers, &victims, &detail),
            attackers,
            victims,
            top_metrics: top.into_iter().take(3).map(|(m, _)| m).collect(),
            summary: peak.summary.clone(),
            anomalies: self.ids,
            sensor: first.sensor,
        })
    }
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
    triage_cmp(&a.triage(), &b.triage())
}

/// What the triage order reads of an incident: severity, peak score, peak |z|, start (ns).
pub type Triage = (Severity, Option<f64>, Option<f64>, i64);

/// The triage order of two incidents' [`Triage`]s: most severe first, then highest peak
/// score, then largest |z| (an absent one as 0), then earliest.
pub fn triage_cmp(a: &Triage, b: &Triage) -> std::cmp::Ordering {
    b.0.cmp(&a.0)
        .then(b.1.unwrap_or(0.0).total_cmp(&a.1.unwrap_or(0.0)))
        .then(b.2.unwrap_or(0.0).total_cmp(&a.2.unwrap_or(0.0)))
        .then(a.3.cmp(&b.3))
}

impl Incident {
    /// What the triage order reads of it.
    pub fn triage(&self) -> Triage {
        (self.severity, self.peak_score, self.peak_abs_z, self.start_ns)
    }
}
