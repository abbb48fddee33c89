//! Scoring a window against a [`Baseline`]: a robust z-score per metric, the metrics sorted by
//! how far they are, and whether any exceeds its threshold.

use crate::baseline::Baseline;
use crate::stats::Stats;
use nta_metrics::{Metric, WindowRecord};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// MAD of a normal distribution relative to its standard deviation: `1.4826 × MAD` estimates σ.
pub const MAD_SCALE: f64 = 1.4826;

/// Width of the central 80 % of a normal distribution in σ: `(p90 − p10) / 2.5631` estimates σ.
pub const P10_P90_SCALE: f64 = 2.563_103;

/// How a deviation was measured (see [`deviation`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// `(x − median) / s`, `s = max(1.4826 × MAD, (p90 − p10) / 2.5631)`, and at least
    /// `√(median + 1)` for counts: the MAD's scale, widened for bursty metrics whose typical
    /// windows are quiet but whose busy ones are common (more than 10 % of windows), and never
    /// below counting noise.
    Robust,
    /// Not a count, MAD and spread 0: `(x − mean) / std`.
    Std,
    /// Not a count, MAD, spread and std 0 (a constant metric): `(x − median) / max(|median|, 1)`.
    Relative,
}

/// Per-metric thresholds on `|z|`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// For every metric without its own.
    pub default: f64,
    /// Overrides.
    pub per_metric: BTreeMap<Metric, f64>,
}

impl Default for Thresholds {
    /// `|z| ≥ 5` for every metric: well beyond the ±3.5 usually called an outlier for a
    /// robust z-score, because traffic metrics are heavy-tailed and a window has 44 metrics.
    fn default() -> Thresholds {
        Thresholds { default: 5.0, per_metric: BTreeMap::new() }
    }
}

impl Thresholds {
    /// The threshold of `metric`.
    pub fn of(&self, metric: Metric) -> f64 {
        self.per_metric.get(&metric).copied().unwrap_or(self.default)
    }
}

/// One metric's deviation in one window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Deviation {
    /// The metric.
    pub metric: Metric,
    /// Its value in the window.
    pub value: f64,
    /// The baseline median.
    pub median: f64,
    /// The baseline MAD.
    pub mad: f64,
    /// The score (a robust z-score unless `method` says otherwise); positive = above normal.
    pub z: f64,
    /// How `z` was computed.
    pub method: Method,
    /// The threshold on `|z|`.
    pub threshold: f64,
    /// `|z| ≥ threshold`.
    pub exceeds: bool,
}

/// A window against the baseline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindowDeviation {
    /// Window start, RFC 3339.
    pub window_start: String,
    /// Window start, ns.
    pub window_start_ns: i64,
    /// Window length, ns.
    pub window_ns: i64,
    /// The capture(s) of the record.
    pub capture: String,
    /// Seasonal slot whose profile was used (`None`: the global profile).
    pub slot: Option<u8>,
    /// Some metric exceeds its threshold.
    pub flagged: bool,
    /// The largest `|z|`.
    pub max_abs_z: f64,
    /// Every metric of the baseline that is defined in the window (a mean over nothing is
    /// not), by `|z|`, largest first (ties: metric order).
    pub deviations: Vec<Deviation>,
}

/// The score of `value` against `stats` (the rule of [`Method`]).
pub fn deviation(value: f64, stats: &Stats) -> (f64, Method) {
    deviation_of(value, stats, false)
}

/// [`deviation`], with the scale at least `√(median + 1)` for counts (the counting noise of a
/// Poisson count), so that a metric that is nearly always the same small number does not flag
/// on a difference of a few.
pub fn deviation_of(value: f64, stats: &Stats, count: bool) -> (f64, Method) {
    let mut scale = (MAD_SCALE * stats.mad).max((stats.p90 - stats.p10) / P10_P90_SCALE);
    if count {
        // Counting noise: a Poisson count of mean m varies by about √m.
        scale = scale.max((stats.median.max(0.0) + 1.0).sqrt());
    }
    if scale > 0.0 {
        ((value - stats.median) / scale, Method::Robust)
    } else if stats.std > 0.0 {
        ((value - stats.mean) / stats.std, Method::Std)
    } else {
        ((value - stats.median) / stats.median.abs().max(1.0), Method::Relative)
    }
}

impl Baseline {
    /// Scores one window.
    pub fn score(&self, r: &WindowRecord, thresholds: &Thresholds) -> WindowDeviation {
        let (profile, slot) = self.profile_for(r.window_start_ns);
        let mut deviations: Vec<Deviation> = profile
            .iter()
            .filter(|(m, _)| r.get(**m).is_finite())
            .map(|(m, s)| {
                let value = r.get(*m);
                let (z, method) = deviation_of(value, s, m.is_count());
                let z = if z.is_finite() { z } else { 0.0 };
                let threshold = thresholds.of(*m);
                Deviation {
                    metric: *m,
                    value,
                    median: s.median,
                    mad: s.mad,
                    z,
                    method,
                    threshold,
                    exceeds: z.abs() >= threshold,
                }
            })
            .collect();
        deviations.sort_by(|a, b| b.z.abs().total_cmp(&a.z.abs()).then(a.metric.cmp(&b.metric)));
        WindowDeviation {
            window_start: r.window_start.clone(),
            window_start_ns: r.window_start_ns,
            window_ns: r.window_ns,
            capture: r.capture.clone(),
            slot,
            flagged: deviations.iter().any(|d| d.exceeds),
            max_abs_z: deviations.first().map_or(0.0, |d| d.z.abs()),
            deviations,
        }
    }
}
