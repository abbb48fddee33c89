//! [`Stats`]: exact descriptive statistics of one metric.

use nta_metrics::percentile_sorted;
use serde::{Deserialize, Serialize};

/// Count, moments, order statistics and MAD of a sample, computed exactly from the sorted
/// values (so the result does not depend on input order, to the last bit).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Number of values.
    pub count: usize,
    /// Arithmetic mean.
    pub mean: f64,
    /// Population standard deviation (ddof = 0).
    pub std: f64,
    /// Median (the mean of the two middle values for an even count).
    pub median: f64,
    /// Median absolute deviation from the median (unscaled).
    pub mad: f64,
    /// Minimum.
    pub min: f64,
    /// Maximum.
    pub max: f64,
    /// 1st percentile.
    pub p1: f64,
    /// 5th percentile.
    pub p5: f64,
    /// 10th percentile.
    pub p10: f64,
    /// 25th percentile.
    pub p25: f64,
    /// 75th percentile.
    pub p75: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
}

impl Stats {
    /// Checks what statistics of real values satisfy: a count, finite values, a non-negative
    /// spread, and order (min ≤ p1 ≤ … ≤ median ≤ … ≤ p99 ≤ max, the mean within [min, max]).
    /// A file edited by hand or damaged fails here, not in a detection.
    pub fn check(&self) -> Result<(), String> {
        let all = [
            self.mean,
            self.std,
            self.median,
            self.mad,
            self.min,
            self.max,
            self.p1,
            self.p5,
            self.p10,
            self.p25,
            self.p75,
            self.p90,
            self.p95,
            self.p99,
        ];
        if self.count == 0 {
            return Err("count 0".into());
        }
        if all.iter().any(|v| !v.is_finite()) {
            return Err("a value is not finite".into());
        }
        if self.std < 0.0 || self.mad < 0.0 {
            return Err(format!("negative spread (std {}, mad {})", self.std, self.mad));
        }
        let order = [
            self.min,
            self.p1,
            self.p5,
            self.p10,
            self.p25,
            self.median,
            self.p75,
            self.p90,
            self.p95,
            self.p99,
            self.max,
        ];
        if order.iter().zip(order.iter().skip(1)).any(|(a, b)| a > b) {
            return Err("percentiles out of order (min ≤ p1 ≤ … ≤ median ≤ … ≤ max)".into());
        }
        // The mean of the values lies within their range (allowing for rounding).
        let slack = 1e-9 * self.max.abs().max(self.min.abs()).max(1.0);
        if self.mean < self.min - slack || self.mean > self.max + slack {
            return Err(format!("mean {} outside [{}, {}]", self.mean, self.min, self.max));
        }
        Ok(())
    }

    /// The statistics of `values` (non-finite values must have been removed); `None` if empty.
    pub fn of(values: &mut [f64]) -> Option<Stats> {
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        let median = percentile_sorted(values, 50.0);
        let mut dev: Vec<f64> = values.iter().map(|v| (v - median).abs()).collect();
        dev.sort_by(f64::total_cmp);
        let p = |q| percentile_sorted(values, q);
        Some(Stats {
            count: values.len(),
            mean,
            std: var.sqrt(),
            median,
            mad: percentile_sorted(&dev, 50.0),
            min: values.first().copied().unwrap_or(f64::NAN),
            max: values.last().copied().unwrap_or(f64::NAN),
            p1: p(1.0),
            p5: p(5.0),
            p10: p(10.0),
            p25: p(25.0),
            p75: p(75.0),
            p90: p(90.0),
            p95: p(95.0),
            p99: p(99.0),
        })
    }
}
