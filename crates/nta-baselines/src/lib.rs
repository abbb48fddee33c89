//! Statistical baselines of normal traffic and robust deviations from them.
//!
//! The principal types:
//! - [`Baseline`] — per-metric [`Stats`] (count, mean, std, median, MAD, min, max, 1st–99th
//!   percentiles, computed exactly) of normal windows, globally and optionally per seasonal
//!   slot ([`Seasonality`]: hour of day, day of week), with slots that have too few windows
//!   falling back to the global profile; windows overlapping attack labels
//!   ([`nta_capture::Label`]) left out. Versioned JSON (the data directory's owner writes it).
//! - [`Baseline::score`] → [`WindowDeviation`] — each metric's robust z-score
//!   `(x − median) / (1.4826 × MAD)` ([`Method`] says when MAD is 0 and another rule was
//!   used), sorted by size, and whether any exceeds its [`Thresholds`]: the "why" of an
//!   anomaly.
//!
//! ```
//! use nta_baselines::{Baseline, BuildOptions, Thresholds};
//! use nta_metrics::{ExtractConfig, extract_files};
//! # let path = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/test_net_traffic.pcapng"));
//! let mut windows = Vec::new();
//! extract_files(&[path], &ExtractConfig::new(10_000_000_000), &|_| {}, &mut |r| {
//!     windows.push(r);
//!     Ok(())
//! })?;
//! let baseline = Baseline::build("office", "", &windows, vec![], &[], BuildOptions::default())?;
//! for w in windows.iter().map(|r| baseline.score(r, &Thresholds::default())).filter(|w| w.flagged).take(3) {
//!     let top = &w.deviations[0];
//!     println!("{}: {} = {} (median {}, z {:+.1})", w.window_start, top.metric, top.value, top.median, top.z);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod baseline;
mod error;
mod score;
mod stats;

pub use crate::{
    baseline::{
        Baseline, BuildOptions, MAX_BASELINE_BYTES, Profile, SCHEMA_VERSION, Seasonal, Seasonality, SlotProfile,
        TimeRange,
    },
    error::Error,
    score::{Deviation, MAD_SCALE, Method, P10_P90_SCALE, Thresholds, WindowDeviation, deviation, deviation_of},
    stats::Stats,
};
