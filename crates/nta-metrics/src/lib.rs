//! Per-time-window traffic metrics, keyed by capture time, with flow tracking.
//!
//! The principal types:
//! - [`WindowRecord`] — one window's metrics (one line of `metrics.jsonl`); every field is
//!   defined in docs/METRICS.md. [`Metric`] names its numeric fields, typed.
//! - [`Extractor`] — turns [`nta_parsing::PacketSummary`]s into window records: tumbling
//!   windows aligned to epoch multiples, zero rows for silent windows (gaps beyond
//!   `max_gap_ns` recorded, not filled), out-of-order packets into their own window, sampling.
//! - [`ExtractConfig`] / [`FlowConfig`] — window, gaps, reordering, sampling, flow timeouts
//!   and the flow table's size bound; [`Reading`] — the tunnel layer and shard count a
//!   process uses for every window length.
//! - [`extract_files`] — reads one or more captures as one time line (merged by timestamp),
//!   decoding on worker threads (rayon) while one thread accumulates: the output does not
//!   depend on the thread count.
//! - [`extract_with_flows`] — the same pass, also writing a [`FlowRecord`] of every flow as it
//!   ends (Community ID, originator and responder, counts and TCP flags per direction, Zeek's
//!   [`ConnState`], [`EndReason`], the application hint); docs/FLOWS.md.
//! - [`Evidence`] — who did what to whom in a window (per-host accounting in capped tables).
//! - [`read_jsonl`] / [`write_jsonl_record`] — the JSON-lines file format.
//!
//! ```
//! use nta_metrics::{ExtractConfig, Metric, extract_files};
//! # let path = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/test_net_traffic.pcapng"));
//! let mut windows = Vec::new();
//! let summary = extract_files(&[path], &ExtractConfig::new(60_000_000_000), &|_| {}, &mut |r| {
//!     windows.push(r);
//!     Ok(())
//! })?;
//! let busiest = windows.iter().max_by_key(|r| r.tcp_syn).unwrap();
//! println!("{} windows; most SYNs at {}: {}", windows.len(), busiest.window_start, busiest.get(Metric::TcpSyn));
//! assert_eq!(summary.counts.windows, 30);
//! # Ok::<(), nta_metrics::Error>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod blocked;
mod config;
mod counts;
mod error;
mod evidence;
mod extractor;
mod flow_record;
mod flows;
mod hello;
mod hosts;
mod input;
mod jsonl;
mod percentile;
mod pipeline;
mod prefetch;
mod record;
mod shards;
mod window;

pub use crate::{
    config::{
        DEFAULT_MAX_WINDOWS, ExtractConfig, MAX_GAP_WINDOWS, MAX_OPEN_WINDOWS, MAX_SHARDS, MAX_WINDOWS_IN_MEMORY,
        MIN_WINDOW_NS, Reading,
    },
    error::Error,
    evidence::{
        ArpEvidence, ConnectionEvidence, DnsEvidence, EVIDENCE_LIST_LEN, Evidence, MacAddr, ScannerEvidence,
        SourceFlows, TargetEvidence, TransferEvidence,
    },
    extractor::{ExtractCounts, Extractor},
    flow_record::{AppHint, ConnState, EndReason, FlowRecord, FlowTunnel},
    flows::{FlowConfig, MAX_FLOWS, MAX_TUNNELS},
    hello::{MAX_HELLO_BYTES, MAX_PENDING_HELLOS},
    hosts::{
        BULK_PACKET_BYTES, FLOOR_WINDOW_NS, MAX_TRACKED_ARP, MAX_TRACKED_DNS, MAX_TRACKED_HOSTS, MAX_TRACKED_PAIRS,
        MAX_TRACKED_PROBES, MAX_TRACKED_SNI, MAX_TRACKED_TRANSFERS,
    },
    input::{CaptureCounters, CaptureSource, CounterProbe, FileSummary, Progress, STDIN_PATH, source_name},
    jsonl::{JsonlRead, read_jsonl, write_jsonl_record},
    percentile::{percentile, percentile_sorted},
    pipeline::{ExtractSummary, FlowSink, extract_files, extract_sources, extract_with_flows},
    record::{Aggregate, Metric, TopPort, TopSource, TunnelCounts, UnknownMetric, WindowRecord},
};

/// Numbers for tests that need keys as random as a spoofed flood's.
#[cfg(test)]
mod test_keys {
    /// splitmix64: a well-mixed number of `x`.
    pub(crate) fn splitmix(x: u64) -> u64 {
        let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}
