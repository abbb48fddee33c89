//! [`detect`]: window records → anomalies (model and baseline) → incidents.

use crate::anomaly::{Anomaly, Contribution, Detector, Severity, stable_id};
use crate::attack::headline;
use crate::explain::{BYTE_METRICS, reason, volume_kind};
use crate::incident::{Incident, incidents};
use crate::rules::RuleConfig;
use crate::span::window_findings;
use nta_baselines::{Baseline, Deviation, Thresholds};
use nta_capture::{AttackKind, format_rfc3339_ns};
use nta_metrics::{Metric, WindowRecord};
use nta_ml::{FEATURES, FeatureExtractor, Model};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// Detection settings, with documented defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DetectConfig {
    /// Use the model (when one is given).
    pub model_enabled: bool,
    /// Use the baseline (when one is given).
    pub baseline_enabled: bool,
    /// Thresholds on the baseline's |z|.
    pub thresholds: Thresholds,
    /// Metrics that never flag a window nor explain one. Default: `active_flows`,
    /// `ended_flows`, `evicted_flows` — they lag the traffic by the flow idle timeout, so an
    /// attack would keep "flagging" for a minute after it stopped.
    pub ignore_metrics: Vec<Metric>,
    /// Anomalies below this severity are dropped.
    pub min_severity: Severity,
    /// Contributions kept per anomaly.
    pub top_contributions: usize,
    /// Windows of a gap shorter than this many windows still belong to one incident.
    pub incident_gap_windows: i64,
    /// The baseline flags a window when at least this many metrics exceed their thresholds…
    pub baseline_min_metrics: usize,
    /// …or one metric exceeds its threshold times this factor.
    pub baseline_single_factor: f64,
    /// Windows whose top source by bytes is in one of these are not reported.
    pub allow_hosts: Vec<crate::hosts::HostPattern>,
    /// The evidence rules that name attacks (and flag them without history).
    pub rules: RuleConfig,
    /// A baseline learnt from fewer windows, or a model trained on fewer, is no history: the
    /// detection then uses the rules only and says so ([`Detection::rules_only`]).
    pub min_history_windows: usize,
    /// With windows shorter than the rules' span, a window the learned detectors flag and no
    /// rule names is reported only from this many consecutive flagged windows on: a normal
    /// one-second burst is one window, an attack lasts.
    pub fine_persistence: usize,
}

/// The default [`DetectConfig::min_history_windows`]: 30 windows (5 minutes of 10 s windows).
pub const MIN_HISTORY_WINDOWS: usize = 30;

impl Default for DetectConfig {
    fn default() -> DetectConfig {
        DetectConfig {
            model_enabled: true,
            baseline_enabled: true,
            thresholds: Thresholds::default(),
            ignore_metrics: vec![Metric::ActiveFlows, Metric::EndedFlows, Metric::EvictedFlows],
            min_severity: Severity::Low,
            top_contributions: 5,
            incident_gap_windows: 1,
            baseline_min_metrics: 2,
            baseline_single_factor: 1.3,
            allow_hosts: Vec::new(),
            rules: RuleConfig::default(),
            min_history_windows: MIN_HISTORY_WINDOWS,
            fine_persistence: 2,
        }
    }
}

/// What [`detect`] found.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// Windows scored.
    pub windows: usize,
    /// Abnormal windows, in time order.
    pub anomalies: Vec<Anomaly>,
    /// Incidents, in time order.
    pub incidents: Vec<Incident>,
    /// Why the learned detectors were not used, when they were not: the judgement is the
    /// evidence rules' alone ("no history: the baseline was learnt from 3 windows, fewer than 30").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules_only: Option<String>,
}

/// Scores every window with the model and the baseline and returns the abnormal ones, with
/// explanations, grouped into incidents. Either detector may be absent.
pub fn detect(
    records: &[WindowRecord],
    model: Option<&Model>,
    baseline: Option<&Baseline>,
    cfg: &DetectConfig,
) -> Result<Detection, nta_ml::Error> {
    detect_after(&[], records, model, baseline, cfg)
}

/// [`detect`] of `records` that follow `history` (the windows just before them, in time
/// order): the history is read as context — by the rules over a span and by the persistence
/// of fine-grained windows — but not reported. A stream judged window by window passes its
/// last few windows (a span's worth) and finds what one run over the whole capture finds.
pub fn detect_after(
    history: &[WindowRecord],
    records: &[WindowRecord],
    model: Option<&Model>,
    baseline: Option<&Baseline>,
    cfg: &DetectConfig,
) -> Result<Detection, nta_ml::Error> {
    let hist = history.len();
    let joined: Cow<'_, [WindowRecord]> = if history.is_empty() {
        Cow::Borrowed(records)
    } else {
        Cow::Owned(history.iter().chain(records).cloned().collect())
    };
    let records: &[WindowRecord] = &joined;
    let mut model = model.filter(|_| cfg.model_enabled);
    let mut baseline = baseline.filter(|_| cfg.baseline_enabled);
    // Too little history to know normal from abnormal: the rules judge alone.
    let min = cfg.min_history_windows;
    let mut short = Vec::new();
    if let Some(b) = baseline.filter(|b| b.windows < min) {
        short.push(format!("the baseline was learnt from {} windows", b.windows));
        baseline = None;
    }
    if let Some(m) = model {
        // A model of other features is an error whether or not it has history enough.
        m.check_features(&FeatureExtractor.names())?;
    }
    if let Some(m) = model.filter(|m| m.training.rows < min) {
        short.push(format!("the model was trained on {} windows", m.training.rows));
        model = None;
    }
    let rules_only = (model.is_none() && baseline.is_none()).then(|| {
        if short.is_empty() {
            "no model or baseline was given".to_string()
        } else {
            format!("no history: {}, fewer than {min}", short.join(" and "))
        }
    });
    // Late supplements are not windows of their own; a window of nothing but frames nta
    // cannot decode (an unsupported link type) has nothing to explain: never flagged.
    let usable: Vec<(usize, &WindowRecord)> =
        records.iter().enumerate().filter(|(_, r)| !r.late && !only_undecoded(r)).collect();
    // Model scores and features for every usable window.
    let fx = FeatureExtractor;
    let (matrix, indices, _) = fx.extract_batch(records);
    let mut model_out: BTreeMap<usize, (f64, Vec<f64>)> = BTreeMap::new();
    if let (Some(m), Some(x)) = (model, matrix.as_ref()) {
        let scores = nta_ml::score(m, x, &fx.names())?;
        // (smartcore's `Array` trait kept inside: in scope it would shadow `Vec::get`.)
        let cell = |r: usize, c: usize| {
            use smartcore::linalg::basic::arrays::Array;
            *x.get((r, c))
        };
        let mut feats = Vec::with_capacity(FEATURES.len());
        for (row, rec) in indices.iter().enumerate() {
            let Some(s) = scores.score_samples.get(row) else { continue };
            // The window's features, as the matrix already holds them.
            feats.clear();
            feats.extend((0..FEATURES.len()).map(|c| cell(row, c)));
            model_out.insert(*rec, (-s, m.forest.attribution(&feats)));
        }
    }
    let score_threshold = model.map(|m| -m.forest.offset);
    let mut anomalies = Vec::new();
    let recs: Vec<&WindowRecord> = usable.iter().map(|(_, r)| *r).collect();
    let span_ns = (cfg.rules.span_s * 1e9) as i64;
    // Consecutive windows the learned detectors flagged, up to the current one.
    let (mut run, mut prev_end) = (0usize, None);
    for (k, (i, r)) in usable.iter().enumerate() {
        // A window that lost packets to the capture cannot be judged by the forest (it sees
        // low counts, not why): only the baseline's increases may flag it.
        let model_hit =
            model_out.get(i).zip(score_threshold).filter(|((s, _), t)| s > t && !capture_lossy(r)).map(|(m, _)| m);
        let dev = baseline.map(|b| {
            let mut d = b.score(r, &cfg.thresholds);
            d.deviations.retain(|x| !cfg.ignore_metrics.contains(&x.metric));
            // A live capture that dropped packets here under-counts this window: a metric
            // below its usual level may be the sensor's loss, not the traffic's, so only
            // increases count as evidence.
            if capture_lossy(r) {
                d.deviations.retain(|x| x.z > 0.0);
            }
            // Corroboration: two metrics beyond their thresholds, or one far beyond.
            let exceeding = d.deviations.iter().filter(|x| x.exceeds).count();
            let far = d.deviations.iter().any(|x| x.z.abs() >= x.threshold * cfg.baseline_single_factor);
            d.flagged = exceeding >= cfg.baseline_min_metrics.max(1) || far;
            d.max_abs_z = d.deviations.first().map_or(0.0, |x| x.z.abs());
            d
        });
        let base_hit = dev.as_ref().is_some_and(|d| d.flagged);
        let packets =
            baseline.and_then(|b| b.profile_for(r.window_start_ns).0.get(&Metric::Packets).map(|s| (s.median, s.p10)));
        let mut found = if capture_lossy(r) { Vec::new() } else { window_findings(&recs, k, packets, &cfg.rules) };
        // An upload names a flagged window only when bytes are what the baseline found abnormal.
        let bytes_up = dev
            .as_ref()
            .is_some_and(|d| d.deviations.iter().take(3).any(|x| x.z > 0.0 && BYTE_METRICS.contains(&x.metric)));
        found.retain(|f| f.kind != AttackKind::Exfiltration || f.severity.is_some() || bytes_up);
        let rule_severity = found.iter().filter_map(|f| f.severity).max();
        // Fine grain: the learned detectors alone need a few consecutive windows.
        let learned = model_hit.is_some() || base_hit;
        run = if !learned {
            0
        } else if prev_end == Some(r.window_start_ns) {
            run + 1
        } else {
            1
        };
        prev_end = Some(r.window_end_ns());
        let keep_learned = r.window_ns >= span_ns || run >= cfg.fine_persistence.max(1) || !found.is_empty();
        let model_hit = model_hit.filter(|_| keep_learned);
        let base_hit = base_hit && keep_learned;
        if *i < hist {
            continue; // context only
        }
        let detector = match (model_hit.is_some(), base_hit) {
            (true, true) => Detector::Both,
            (true, false) => Detector::Model,
            (false, true) => Detector::Baseline,
            (false, false) if rule_severity.is_some() => Detector::Rules,
            (false, false) => continue,
        };
        let score = model_out.get(i).map(|(s, _)| *s);
        let max_abs_z = dev.as_ref().map(|d| d.max_abs_z);
        let learned = if detector == Detector::Rules {
            Severity::Low
        } else {
            Severity::of(if model_hit.is_some() { score } else { None }, if base_hit { max_abs_z } else { None })
        };
        let severity = learned.max(rule_severity.unwrap_or(Severity::Low));
        if severity < cfg.min_severity {
            continue;
        }
        let allowed = |ip: std::net::IpAddr| cfg.allow_hosts.iter().any(|h| h.contains(ip));
        if r.top_src_by_bytes.first().is_some_and(|top| allowed(top.ip)) {
            continue;
        }
        // An attack whose attackers are all allow-listed (a scanner you run yourself).
        if let Some(f) = found.first()
            && !f.attackers.is_empty()
            && f.attackers.iter().all(|a| allowed(a.ip))
        {
            continue;
        }
        // Model shares per metric.
        let mut shares: BTreeMap<Metric, f64> = BTreeMap::new();
        if let Some((_, attr)) = model_out.get(i) {
            for (f, a) in FEATURES.iter().zip(attr) {
                *shares.entry(f.metric()).or_insert(0.0) += a;
            }
        }
        let by_metric: BTreeMap<Metric, &Deviation> =
            dev.as_ref().map(|d| d.deviations.iter().map(|x| (x.metric, x)).collect()).unwrap_or_default();
        // Candidates: the largest deviations, and the model's strongest metrics.
        let mut chosen: Vec<Metric> = dev
            .as_ref()
            .map(|d| d.deviations.iter().take(cfg.top_contributions).map(|x| x.metric).collect())
            .unwrap_or_default();
        if r.packets == 0 && !chosen.contains(&Metric::Packets) {
            chosen.insert(0, Metric::Packets); // a silent window: say so first
        }
        let mut by_share: Vec<(Metric, f64)> = shares.iter().map(|(m, s)| (*m, *s)).collect();
        by_share.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        for (m, _) in by_share.iter().take(3) {
            if !chosen.contains(m) && !cfg.ignore_metrics.contains(m) {
                chosen.push(*m);
            }
        }
        let mut explanation: Vec<Contribution> = chosen
            .into_iter()
            .map(|m| {
                let d = by_metric.get(&m);
                let value = r.get(m);
                Contribution {
                    metric: m,
                    value,
                    baseline_median: d.map(|d| d.median),
                    z: d.map(|d| d.z),
                    model_share: model_out.get(i).map(|_| shares.get(&m).copied().unwrap_or(0.0)),
                    reason: reason(m, value, d.map(|d| d.median), d.map(|d| d.z)),
                }
            })
            .collect();
        explanation.sort_by(|a, b| {
            let silent = |c: &Contribution| r.packets == 0 && c.metric == Metric::Packets;
            let key = |c: &Contribution| {
                (if silent(c) { f64::INFINITY } else { c.z.map_or(0.0, f64::abs) }, c.model_share.unwrap_or(0.0))
            };
            let (ka, kb) = (key(a), key(b));
            kb.0.total_cmp(&ka.0).then(kb.1.total_cmp(&ka.1)).then(a.metric.cmp(&b.metric))
        });
        explanation.truncate(cfg.top_contributions.max(1));
        let reasons: Vec<&str> = explanation.iter().take(3).map(|c| c.reason.as_str()).collect();
        let (kind, attackers, victims, detail) = match found.into_iter().next() {
            Some(f) => (f.kind, f.attackers, f.victims, f.detail),
            None => (
                volume_kind(r, &explanation),
                Vec::new(),
                Vec::new(),
                reasons.first().map_or(String::new(), |s| s.to_string()),
            ),
        };
        let mut summary = format!(
            "{severity} ({detector}{})",
            score.filter(|_| model_hit.is_some()).map_or(String::new(), |s| format!(", score {s:.2}")),
        );
        if kind != AttackKind::Unknown {
            summary = format!("{} — {summary}", headline(kind, &attackers, &victims, &detail));
        }
        if !reasons.is_empty() {
            summary = format!("{summary}: {}", reasons.join("; "));
        }
        let window_end_ns = r.window_end_ns();
        anomalies.push(Anomaly {
            id: anomaly_id(r, detector),
            window_start: r.window_start.clone(),
            window_end: format_rfc3339_ns(window_end_ns),
            window_start_ns: r.window_start_ns,
            window_end_ns,
            capture: r.capture.clone(),
            detector,
            kind,
            attackers,
            victims,
            detail,
            model: model.map(|m| m.name.clone()),
            baseline: baseline.map(|b| b.name.clone()),
            score,
            score_threshold,
            max_abs_z,
            z_threshold: baseline.map(|_| cfg.thresholds.default),
            incident_gap_windows: cfg.incident_gap_windows.max(0),
            capture_dropped: r.capture_dropped.filter(|d| *d > 0),
            severity,
            explanation,
            top_sources: r.top_src_by_bytes.clone(),
            top_dst_ports: r.top_dst_ports.clone(),
            summary,
            sensor: r.sensor.clone(),
        });
    }
    anomalies.sort_by_key(|a| a.window_start_ns);
    let incidents = incidents(&anomalies);
    let windows = usable.iter().filter(|(i, _)| *i >= hist).count();
    Ok(Detection { windows, anomalies, incidents, rules_only })
}

/// The id of `detector`'s anomaly in `r`: of the capture, the window and the detector, and
/// the sensor when there is one (two sensors may read captures of one name, `-` say).
fn anomaly_id(r: &WindowRecord, detector: Detector) -> String {
    let (start, len) = (r.window_start_ns.to_le_bytes(), r.window_ns.to_le_bytes());
    let mut parts: Vec<&[u8]> = vec![r.capture.as_bytes(), &start, &len, detector.name().as_bytes()];
    if let Some(s) = &r.sensor {
        parts.push(s.as_bytes());
    }
    stable_id(&parts)
}

/// A window of nothing but frames of a link type nta does not decode.
fn only_undecoded(r: &WindowRecord) -> bool {
    r.packets > 0 && r.undecoded_packets >= r.packets
}

/// A window of a live capture that lost at least 1 % of its packets (kernel or interface
/// drops): its low counts are not evidence of a traffic drop.
fn capture_lossy(r: &WindowRecord) -> bool {
    r.capture_dropped.is_some_and(|d| d > 0 && d.saturating_mul(100) >= (r.packets + d))
}
