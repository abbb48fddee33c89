//! [`ExtractConfig`]: window length, gaps, reordering, sampling, flows and the bounds that keep
//! memory and output finite ([`ExtractConfig::validate`]).

use crate::flows::FlowConfig;
use nta_parsing::TunnelLayer;
use serde::{Deserialize, Serialize};

/// The shortest window, ns (1 ms): below, per-window state (two dense port tables of 256 KiB
/// each) would cost more than the traffic it describes.
pub const MIN_WINDOW_NS: i64 = 1_000_000;
/// The most windows open at once: `reorder_ns` may span at most this many windows less two.
pub const MAX_OPEN_WINDOWS: i64 = 128;
/// The most empty windows one gap may fill with zero rows (`max_gap_ns / window_ns`).
pub const MAX_GAP_WINDOWS: i64 = 100_000;
/// Default bound on the windows one run may create, zero rows included
/// ([`ExtractConfig::max_windows`]).
pub const DEFAULT_MAX_WINDOWS: u64 = 10_000_000;

/// The bound on windows for runs that keep every record in memory (analysis, training and
/// detection of an upload): about 1 KiB each, so at most ~1 GiB.
pub const MAX_WINDOWS_IN_MEMORY: u64 = 1_000_000;

/// Extraction settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExtractConfig {
    /// Window length, ns.
    pub window_ns: i64,
    /// Runs of empty windows up to this long are written as zero rows; longer gaps are only
    /// recorded (`gap_before_ns` of the next record).
    pub max_gap_ns: i64,
    /// How far behind the highest timestamp seen a packet may be and still join its window.
    pub reorder_ns: i64,
    /// 1 packet in N was processed: counts are scaled by N (`extract_files` does the
    /// selection; an [`Extractor`](crate::Extractor) fed directly scales what it is given); 1 = every packet.
    pub sample: u32,
    /// Flow table settings.
    pub flows: FlowConfig,
    /// Length of the top-sources and top-ports lists.
    pub top_n: usize,
    /// Worker threads for `extract_files` (0 = one per core).
    pub threads: usize,
    /// The most windows the run may create, zero rows included: beyond, it stops with
    /// [`crate::Error::TooManyWindows`].
    #[serde(default = "default_max_windows")]
    pub max_windows: u64,
    /// Which layer of tunnelled packets the metrics and flows read: the innermost packet (the
    /// default) or the outer one, for those who monitor the tunnels themselves.
    #[serde(default)]
    pub tunnels: TunnelLayer,
    /// Shares of the flows accumulated apart, in parallel, and merged as windows close (a
    /// power of two up to [`MAX_SHARDS`]; 1 = one accumulator). The output depends on it only
    /// beyond the tables' bounds, never on `threads` (docs/METRICS.md, "Shards").
    #[serde(default = "one_shard")]
    pub shards: usize,
}

fn one_shard() -> usize {
    1
}

/// The most shards an extraction may be split into.
pub const MAX_SHARDS: usize = 16;

fn default_max_windows() -> u64 {
    DEFAULT_MAX_WINDOWS
}

/// How a process reads packets in every extraction it runs, whatever the window: the layer of
/// tunnelled packets and the shards that accumulate the flows (the API server's `--tunnels`
/// and `--shards`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reading {
    /// [`ExtractConfig::tunnels`].
    pub tunnels: TunnelLayer,
    /// [`ExtractConfig::shards`].
    pub shards: usize,
}

impl Default for Reading {
    fn default() -> Reading {
        Reading { tunnels: TunnelLayer::Inner, shards: 1 }
    }
}

impl Reading {
    /// The defaults of [`ExtractConfig::new`] for `window_ns`, read this way.
    pub fn config(self, window_ns: i64) -> ExtractConfig {
        ExtractConfig { tunnels: self.tunnels, shards: self.shards, ..ExtractConfig::new(window_ns) }
    }

    /// Refuses a shard count [`ExtractConfig::validate`] would refuse.
    pub fn validate(self) -> Result<(), crate::Error> {
        self.config(MIN_WINDOW_NS).validate()
    }
}

impl ExtractConfig {
    /// Defaults for a window length: gaps up to 1 h filled (at most [`MAX_GAP_WINDOWS`]
    /// windows), 5 s reordering (at least one window, at most 64), every packet, default flow
    /// table, top 5, all cores, at most [`DEFAULT_MAX_WINDOWS`] windows.
    pub fn new(window_ns: i64) -> ExtractConfig {
        let w = window_ns.max(1);
        ExtractConfig {
            window_ns,
            max_gap_ns: 3_600_000_000_000i64.min(w.saturating_mul(MAX_GAP_WINDOWS)),
            reorder_ns: 5_000_000_000i64.min(w.saturating_mul(64)).max(w),
            sample: 1,
            flows: FlowConfig::default(),
            top_n: 5,
            threads: 0,
            max_windows: DEFAULT_MAX_WINDOWS,
            tunnels: TunnelLayer::Inner,
            shards: 1,
        }
    }

    /// Checks the bounds that keep memory and output finite: a window of at least
    /// [`MIN_WINDOW_NS`], a reorder horizon of at most [`MAX_OPEN_WINDOWS`] − 2 windows, gaps
    /// filled over at most [`MAX_GAP_WINDOWS`] windows, `sample` and `max_windows` at least 1.
    pub fn validate(&self) -> Result<(), crate::Error> {
        let bad = |reason: String| Err(crate::Error::Config { reason });
        let ms = |ns: i64| ns as f64 / 1e6;
        if self.window_ns < MIN_WINDOW_NS {
            return bad(format!("the window must be at least 1 ms (got {} ns)", self.window_ns));
        }
        if self.reorder_ns < 0 || self.reorder_ns / self.window_ns > MAX_OPEN_WINDOWS - 2 {
            return bad(format!(
                "a reorder horizon of {} ms over {} ms windows keeps more than {MAX_OPEN_WINDOWS} windows open: \
                 at most {} windows of reordering",
                ms(self.reorder_ns),
                ms(self.window_ns),
                MAX_OPEN_WINDOWS - 2
            ));
        }
        if self.max_gap_ns < 0 || self.max_gap_ns / self.window_ns > MAX_GAP_WINDOWS {
            return bad(format!(
                "filling gaps up to {} ms with {} ms windows makes up to {} zero rows per gap (at most {MAX_GAP_WINDOWS})",
                ms(self.max_gap_ns),
                ms(self.window_ns),
                self.max_gap_ns / self.window_ns
            ));
        }
        if !self.shards.is_power_of_two() || self.shards > MAX_SHARDS {
            return bad(format!("shards must be a power of two up to {MAX_SHARDS} (got {})", self.shards));
        }
        if self.sample == 0 {
            return bad("sample must be at least 1".into());
        }
        if !(1..=crate::flows::MAX_FLOWS).contains(&self.flows.max_flows) {
            return bad(format!("max_flows must be in 1..={} (got {})", crate::flows::MAX_FLOWS, self.flows.max_flows));
        }
        if self.flows.idle_ns <= 0 || self.flows.active_ns <= 0 {
            return bad("flow timeouts must be positive".into());
        }
        if self.max_windows == 0 {
            return bad("max_windows must be at least 1".into());
        }
        Ok(())
    }
}
