//! The one place that turns flags into library configs: directories into a [`Layout`],
//! detection flags into a [`DetectConfig`], durations and sizes into numbers.

use anyhow::Result;
use nta_analysis::{DetectConfig, Severity};
use nta_store::Layout;
use std::path::PathBuf;

/// Where the data and logs directories are.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct DirArgs {
    /// Data directory (models, baselines)
    #[arg(long, env = "NTA_DATA_DIR", default_value = "data")]
    pub(crate) data_dir: PathBuf,
    /// Logs directory (metrics.jsonl, anomalies.jsonl)
    #[arg(long, env = "NTA_LOGS_DIR", default_value = "logs")]
    pub(crate) logs_dir: PathBuf,
}

impl DirArgs {
    pub(crate) fn layout(&self) -> Layout {
        Layout::new(&self.data_dir, &self.logs_dir)
    }
}

/// Which layer of tunnelled packets to read, shared by every command that decodes captures.
#[derive(Debug, Clone, Copy, clap::Args)]
pub(crate) struct TunnelArgs {
    /// Layer of tunnelled packets (VXLAN, GENEVE, GRE, ERSPAN, IP-in-IP, Teredo, GTP-U, MPLS)
    /// to analyse: inner (what the hosts said to each other) or outer (the tunnels themselves)
    #[arg(long, default_value = "inner")]
    pub(crate) tunnels: nta_parsing::TunnelLayer,
}

/// How many shards accumulate the flows, shared by every command that extracts windows.
#[derive(Debug, Clone, Copy, clap::Args)]
pub(crate) struct ShardArgs {
    /// Accumulate the flows in this many shares, in parallel (a power of two up to 16; the
    /// output depends on it only beyond the tables' bounds, docs/METRICS.md "Shards")
    #[arg(long, default_value_t = 1, value_parser = parse_shards)]
    pub(crate) shards: usize,
}

/// A shard count: a power of two from 1 to [`nta_metrics::MAX_SHARDS`].
fn parse_shards(s: &str) -> Result<usize, String> {
    let n: usize = s.parse().map_err(|e| format!("{e}"))?;
    if n.is_power_of_two() && n <= nta_metrics::MAX_SHARDS {
        Ok(n)
    } else {
        Err(format!("a power of two from 1 to {}", nta_metrics::MAX_SHARDS))
    }
}

/// Detection settings shared by `analyze` and `detect`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct DetectFlags {
    /// Baseline threshold on |z| [default: 5, or the config file's]
    #[arg(long)]
    pub(crate) threshold: Option<f64>,
    /// Drop anomalies below this severity (low, medium, high, critical)
    #[arg(long, default_value = "low")]
    pub(crate) min_severity: Severity,
    /// Detection settings and suppression (TOML; see docs/ANALYSIS.md)
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// Order of the incidents in the report: severity (most severe first) or time
    #[arg(long, default_value = "severity")]
    pub(crate) order: nta_store::Order,
}

impl DetectFlags {
    /// Whether the report lists incidents in time order.
    pub(crate) fn by_time(&self) -> bool {
        self.order == nta_store::Order::Time
    }

    /// The config file's settings (or the defaults), with the flags on top.
    pub(crate) fn detect_config(&self) -> Result<DetectConfig> {
        let mut cfg = match &self.config {
            Some(c) => DetectConfig::load(c)?,
            None => DetectConfig::default(),
        };
        cfg.min_severity = cfg.min_severity.max(self.min_severity);
        if let Some(t) = self.threshold {
            cfg.thresholds.default = t;
        }
        Ok(cfg)
    }
}

/// `10m`, `1s`, `100ms`, `1h 30m` into nanoseconds.
pub(crate) fn parse_duration_ns(s: &str) -> Result<i64, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{e} (expected e.g. 100ms, 1s, 10m, 2h)"))?;
    let ns = i64::try_from(d.as_nanos()).map_err(|_| "too long".to_owned())?;
    if ns == 0 {
        return Err("must be positive".into());
    }
    Ok(ns)
}

/// `1500`, `64KB`, `500MB`, `1GiB`, `2G` into bytes (K/M/G are powers of 1000, Ki/Mi/Gi of 1024).
pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("{s:?}: expected a number with an optional unit (KB, MB, GiB...)"))?;
    let mult = match unit.trim().to_ascii_lowercase().trim_end_matches('b') {
        "" => 1.0,
        "k" => 1e3,
        "m" => 1e6,
        "g" => 1e9,
        "t" => 1e12,
        "ki" => 1024.0,
        "mi" => 1024.0 * 1024.0,
        "gi" => 1024.0 * 1024.0 * 1024.0,
        "ti" => 1024.0f64.powi(4),
        _ => return Err(format!("{s:?}: unknown unit {unit:?}")),
    };
    let bytes = n * mult;
    if !(bytes.is_finite() && bytes >= 1.0) {
        return Err(format!("{s:?}: must be at least 1 byte"));
    }
    Ok(bytes as u64)
}

/// Refuses, before any work, inputs that are not regular files (missing, a directory, a
/// device such as `/dev/zero`); `-` (standard input) passes.
pub(crate) fn check_inputs(paths: &[std::path::PathBuf]) -> anyhow::Result<()> {
    for p in paths.iter().filter(|p| p.as_os_str() != nta_metrics::STDIN_PATH) {
        match std::fs::metadata(p) {
            Ok(m) if m.is_file() => {}
            Ok(_) => anyhow::bail!("{}: not a regular file", p.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => anyhow::bail!("{}: no such file", p.display()),
            Err(e) => anyhow::bail!("{}: {e}", p.display()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("1500"), Ok(1500));
        assert_eq!(parse_size("64KB"), Ok(64_000));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("2G"), Ok(2_000_000_000));
        assert_eq!(parse_size("1.5MB"), Ok(1_500_000));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5 parsecs").is_err());
        assert_eq!(parse_duration_ns("100ms"), Ok(100_000_000));
        assert_eq!(parse_duration_ns("10m"), Ok(600_000_000_000));
        assert!(parse_duration_ns("0s").is_err());
        assert!(parse_duration_ns("soon").is_err());
    }
}
