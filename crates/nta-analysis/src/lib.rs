//! Anomaly detection over window metrics: which windows of a capture were abnormal, how bad,
//! and why.
//!
//! The principal types:
//! - [`detect`] with [`DetectConfig`] — scores every window with an Isolation Forest
//!   ([`nta_ml::Model`]) and a [`nta_baselines::Baseline`], and returns a [`Detection`]:
//!   [`Anomaly`] records (stable id, window, [`Detector`], model score and threshold,
//!   baseline |z|, [`Severity`], an explanation of [`Contribution`]s — each metric's value,
//!   baseline median, robust z-score and share of the model's decision — and the window's
//!   top sources and ports) grouped into [`Incident`]s.
//! - [`DetectConfig::from_toml`] — detection settings and suppression (allow-listed hosts and
//!   subnets, ignored metrics, detector switches, minimum severity) from a TOML file.
//! - [`analyze`] — a capture in, a [`Detection`] out: extract, baseline, train, detect.
//! - [`incidents`] — the one rule that groups anomalies into [`Incident`]s, from what each
//!   record stores (its window and the detection's gap), and [`summarize`] → [`Summary`].
//!   The anomaly store itself lives in `nta-store`, the crate that owns the directories.
//! - [`carve`] — the packets of an incident as a capture (optionally moved in time).
//! - [`evaluate`] — window-level precision and recall against attack [`nta_capture::Label`]s.
//!
//! ```
//! use nta_analysis::{AnalyzeOptions, analyze};
//! # let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/test_net_traffic.pcapng");
//! let analysis = analyze(&[path], &AnalyzeOptions::default(), &|_| {}, &Default::default()).unwrap();
//! for incident in &analysis.detection.incidents {
//!     println!("{} .. {} {}: {}", incident.start, incident.end, incident.severity, incident.summary);
//! }
//! assert!(!analysis.detection.incidents.is_empty());
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod anomaly;
mod attack;
mod carve;
mod config;
mod detect;
mod error;
mod evaluate;
mod explain;
mod hosts;
mod incident;
mod pipeline;
mod rules;
mod span;
mod stream;
mod summary;

pub use crate::{
    anomaly::{Anomaly, Contribution, Detector, Severity, stable_id},
    attack::{Host, MAX_HOSTS, headline, merge_hosts, thousands},
    carve::{CarveSpec, CarveStats, carve},
    config::MAX_CONFIG_BYTES,
    detect::{DetectConfig, Detection, MIN_HISTORY_WINDOWS, detect, detect_after},
    error::Error,
    evaluate::{Evaluation, KindScore, evaluate},
    hosts::HostPattern,
    incident::{
        Incident, IncidentBuilder, StoryKey, Triage, by_severity, incident, incident_groups, incidents, names_attack,
        triage_cmp, triage_order,
    },
    pipeline::{Analysis, AnalyzeOptions, analyze, analyze_sources, analyze_with_flows},
    rules::{AUTH_PORTS, RuleConfig, findings, is_internal},
    stream::{MAX_CONTEXT_WINDOWS, StreamDetector},
    summary::{Summary, summarize},
};
