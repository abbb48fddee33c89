//! [`Anomaly`] records and their parts.

use crate::attack::Host;
use nta_capture::AttackKind;
use nta_metrics::{Metric, TopPort, TopSource};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Which detector found the window abnormal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Detector {
    /// The Isolation Forest only.
    Model,
    /// The baseline only.
    Baseline,
    /// Both.
    Both,
    /// Neither: the evidence rules alone (docs/ANALYSIS.md, "Attack kinds").
    Rules,
}

impl Detector {
    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Detector::Model => "model",
            Detector::Baseline => "baseline",
            Detector::Both => "both",
            Detector::Rules => "rules",
        }
    }
}

impl fmt::Display for Detector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Detector {
    type Err = String;

    fn from_str(s: &str) -> Result<Detector, String> {
        match s {
            "model" => Ok(Detector::Model),
            "baseline" => Ok(Detector::Baseline),
            "both" => Ok(Detector::Both),
            "rules" => Ok(Detector::Rules),
            _ => Err(format!("detector {s:?}: expected model, baseline, both or rules")),
        }
    }
}

/// How bad (see [`Severity::of`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Flagged, mildly.
    Low,
    /// Clearly abnormal.
    Medium,
    /// Strongly abnormal.
    High,
    /// Extreme.
    Critical,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Severity; 4] = [Severity::Low, Severity::Medium, Severity::High, Severity::Critical];

    /// The rule: the higher of what the model score and the largest baseline |z| say —
    /// critical: score ≥ 0.75 or |z| ≥ 100; high: score ≥ 0.65 or |z| ≥ 30; medium: score ≥
    /// 0.58 or |z| ≥ 10; low otherwise.
    pub fn of(score: Option<f64>, max_abs_z: Option<f64>) -> Severity {
        let by_score = match score.unwrap_or(0.0) {
            s if s >= 0.75 => Severity::Critical,
            s if s >= 0.65 => Severity::High,
            s if s >= 0.58 => Severity::Medium,
            _ => Severity::Low,
        };
        let by_z = match max_abs_z.unwrap_or(0.0) {
            z if z >= 100.0 => Severity::Critical,
            z if z >= 30.0 => Severity::High,
            z if z >= 10.0 => Severity::Medium,
            _ => Severity::Low,
        };
        by_score.max(by_z)
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Severity {
    type Err = String;

    fn from_str(s: &str) -> Result<Severity, String> {
        Severity::ALL
            .into_iter()
            .find(|v| v.name() == s)
            .ok_or_else(|| format!("severity {s:?}: expected low, medium, high or critical"))
    }
}

/// One reason a window is abnormal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Contribution {
    /// The metric.
    pub metric: Metric,
    /// Its value in the window (`null` when it has none, as a mean over nothing: NaN).
    #[serde(deserialize_with = "nan_if_null")]
    pub value: f64,
    /// The baseline median (when a baseline was used).
    pub baseline_median: Option<f64>,
    /// Its robust z-score against the baseline.
    pub z: Option<f64>,
    /// Its share of the model's decision (depth-based attribution of the features made of
    /// this metric; the shares of all features sum to 1).
    pub model_share: Option<f64>,
    /// The reason in words.
    pub reason: String,
}

/// A number written as `null` when it was NaN (JSON has no NaN) read back as NaN: a record
/// the store wrote is always read back.
fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// An abnormal window. One JSON line of the anomaly store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Anomaly {
    /// Stable id: FNV-1a 64 of capture, window start, window length and detector, in hex.
    pub id: String,
    /// Window start, RFC 3339.
    pub window_start: String,
    /// Window end, RFC 3339.
    pub window_end: String,
    /// Window start, ns.
    pub window_start_ns: i64,
    /// Window end, ns.
    pub window_end_ns: i64,
    /// The capture(s) the window came from (called `source` before 0.2; read under both names).
    #[serde(alias = "source")]
    pub capture: String,
    /// Which detector flagged it.
    pub detector: Detector,
    /// What kind of attack (docs/ANALYSIS.md, "Attack kinds"); `unknown` when no rule names it
    /// (and for records written before kinds existed).
    #[serde(default = "unknown_kind")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "port_scan"))]
    pub kind: AttackKind,
    /// The attacking addresses, strongest evidence first (at most 10), with their counts.
    #[serde(default)]
    pub attackers: Vec<Host>,
    /// The attacked addresses, strongest evidence first (at most 10), with their counts.
    #[serde(default)]
    pub victims: Vec<Host>,
    /// The key counts in words ("2,905 ports in 10 s, 97% refused").
    #[serde(default)]
    pub detail: String,
    /// The model used, if any.
    pub model: Option<String>,
    /// The baseline used, if any.
    pub baseline: Option<String>,
    /// The paper's anomaly score `2^(−E[h]/c(ψ))` in [0, 1] (higher = more abnormal).
    pub score: Option<f64>,
    /// The score above which the model flags (`−offset`: 0.5 with `contamination = auto`).
    pub score_threshold: Option<f64>,
    /// The largest baseline |z| among the metrics that may flag.
    pub max_abs_z: Option<f64>,
    /// The baseline threshold on |z|.
    pub z_threshold: Option<f64>,
    /// The detection's `incident_gap_windows`: this window joins the incident of the
    /// anomaly before it when the gap between them is at most this many windows. Stored with
    /// each record so that every reader groups incidents as detection did (records written
    /// before it existed read as 1, the default then).
    #[serde(default = "default_gap_windows")]
    pub incident_gap_windows: i64,
    /// Live capture: packets the kernel or the interface dropped in this window — traffic that
    /// happened but is missing from its counts (decreases are then not taken as evidence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_dropped: Option<u64>,
    /// Severity.
    pub severity: Severity,
    /// The top contributing metrics.
    pub explanation: Vec<Contribution>,
    /// The window's top sources by bytes.
    pub top_sources: Vec<TopSource>,
    /// The window's top destination ports by packets.
    pub top_dst_ports: Vec<TopPort>,
    /// One line for people.
    pub summary: String,
    /// The sensor that saw it (`--sensor`), when it was published to a fleet; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensor: Option<String>,
}

fn default_gap_windows() -> i64 {
    1
}

/// `unknown`: the kind of records written before kinds existed.
pub(crate) fn unknown_kind() -> AttackKind {
    AttackKind::Unknown
}

/// FNV-1a 64 of the parts, as 16 hex digits.
pub fn stable_id(parts: &[&[u8]]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.iter().chain(&[0xff]) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}
