//! [`DetectConfig::from_toml`]: detection settings and suppression from a TOML file.
//!
//! ```toml
//! # Every key is optional; the values shown are the defaults.
//! min_severity = "low"            # drop anomalies below: low, medium, high, critical
//! min_history_windows = 30        # fewer windows of baseline/model: the rules judge alone
//!
//! [detectors]
//! model = true                    # use the Isolation Forest
//! baseline = true                 # use the baseline
//!
//! [baseline]
//! threshold = 5.0                 # |z| at which a metric exceeds
//! min_metrics = 2                 # flag when this many metrics exceed…
//! single_factor = 1.3             # …or one exceeds threshold × this
//! ignore_metrics = ["active_flows", "ended_flows", "evicted_flows"]
//!
//! [baseline.metric_thresholds]    # per-metric thresholds
//! # tcp_syn = 4.0
//!
//! [allow]
//! hosts = []                      # addresses or CIDR subnets: windows whose top source by
//!                                 # bytes is one of them are not reported
//! metrics = []                    # metrics that never flag nor explain a window
//!
//! [rules]                         # the evidence rules' bars (docs/ANALYSIS.md)
//! enabled = true
//! scan_ports = 25                 # … every field of RuleConfig
//! ```

use crate::Error;

/// The largest configuration file read (1 MiB).
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;
use crate::anomaly::Severity;
use crate::detect::DetectConfig;
use crate::hosts::HostPattern;
use nta_metrics::Metric;
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    min_severity: Option<Severity>,
    min_history_windows: Option<usize>,
    fine_persistence: Option<usize>,
    rules: Option<crate::rules::RuleConfig>,
    detectors: Option<Detectors>,
    baseline: Option<BaselineSection>,
    allow: Option<Allow>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Detectors {
    model: Option<bool>,
    baseline: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BaselineSection {
    threshold: Option<f64>,
    min_metrics: Option<usize>,
    single_factor: Option<f64>,
    ignore_metrics: Option<Vec<Metric>>,
    metric_thresholds: Option<std::collections::BTreeMap<Metric, f64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Allow {
    hosts: Option<Vec<HostPattern>>,
    metrics: Option<Vec<Metric>>,
}

impl DetectConfig {
    /// Reads a TOML configuration (see the module docs); absent keys keep their defaults.
    pub fn from_toml(text: &str) -> Result<DetectConfig, String> {
        let f: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut c = DetectConfig::default();
        if let Some(s) = f.min_severity {
            c.min_severity = s;
        }
        if let Some(n) = f.min_history_windows {
            c.min_history_windows = n;
        }
        if let Some(n) = f.fine_persistence {
            c.fine_persistence = n.max(1);
        }
        if let Some(r) = f.rules {
            c.rules = r;
        }
        if let Some(d) = f.detectors {
            c.model_enabled = d.model.unwrap_or(c.model_enabled);
            c.baseline_enabled = d.baseline.unwrap_or(c.baseline_enabled);
        }
        if let Some(b) = f.baseline {
            if let Some(t) = b.threshold {
                if !(t.is_finite() && t > 0.0) {
                    return Err("baseline.threshold must be positive".into());
                }
                c.thresholds.default = t;
            }
            c.baseline_min_metrics = b.min_metrics.unwrap_or(c.baseline_min_metrics).max(1);
            c.baseline_single_factor = b.single_factor.unwrap_or(c.baseline_single_factor);
            if let Some(m) = b.ignore_metrics {
                c.ignore_metrics = m;
            }
            if let Some(per) = b.metric_thresholds {
                c.thresholds.per_metric = per;
            }
        }
        if let Some(a) = f.allow {
            c.allow_hosts = a.hosts.unwrap_or_default();
            for m in a.metrics.unwrap_or_default() {
                if !c.ignore_metrics.contains(&m) {
                    c.ignore_metrics.push(m);
                }
            }
        }
        Ok(c)
    }

    /// Reads a TOML configuration file (at most [`MAX_CONFIG_BYTES`]).
    pub fn load(path: &Path) -> Result<DetectConfig, Error> {
        let io = |source| Error::Io { path: path.to_owned(), source };
        let size = std::fs::metadata(path).map_err(io)?.len();
        if size > MAX_CONFIG_BYTES {
            return Err(Error::Format {
                path: path.to_owned(),
                reason: format!("{size} bytes (at most {MAX_CONFIG_BYTES})"),
            });
        }
        let text = std::fs::read_to_string(path).map_err(io)?;
        DetectConfig::from_toml(&text).map_err(|reason| Error::Format { path: path.to_owned(), reason })
    }
}
