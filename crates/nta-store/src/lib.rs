//! The data and logs directories of nta, and everything that writes there. Both binaries
//! go through this crate; neither knows the directory layout.
//!
//! The principal types:
//! - [`Layout`] — where models, baselines, uploads, the window metrics and the anomaly store
//!   live, and the rules for their names.
//! - [`write_atomic`] and [`AtomicFile`] — the one way files are written: a unique temporary
//!   file, fsync, rename, fsync of the directory.
//! - [`AnomalyStore`] — the append-only anomaly log: appends under an advisory lock (no
//!   duplicate ids, no interleaved lines between processes), cut back on a failed write (a
//!   full disk leaves it exactly as it was), torn last lines skipped and reported.
//! - [`StoreIndex`] — the anomaly store indexed on disk (SQLite beside the JSON lines),
//!   following appends by any process: listings, filters, summaries and incidents in memory
//!   that does not grow with the store.
//! - [`FileStore`] — what the API reads of the directories: the store through its index, the
//!   window metrics and the models, each read again only when its [`FileKey`] changes.
//! - [`RecordStore`] — what the API reads of anomalies, metrics and flows, wherever they are
//!   kept: [`FileStore`] here, ClickHouse in `nta-fleet`.
//! - [`Series`] — window metrics downsampled for charts ([`SeriesQuery`], [`series_of`]).
//! - [`analyze_into`], [`train`], [`detect`], [`extract`] — the long operations, with a stop
//!   flag and a progress callback, returning typed outcomes ([`AnalyzeOutcome`],
//!   [`TrainOutcome`], [`DetectOutcome`]).
//!
//! ```
//! use nta_store::{Layout, analyze_into, name_for_capture};
//! # let root = std::env::temp_dir().join(format!("nta-store-doc-{}", std::process::id()));
//! let layout = Layout::new(root.join("data"), root.join("logs"));
//! let pcap = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/test_net_traffic.pcapng");
//! let opts = nta_analysis::AnalyzeOptions { name: name_for_capture(&pcap), ..Default::default() };
//! let (_, outcome) = analyze_into(&layout, &[pcap], opts, &|_| {}, &Default::default())?;
//! assert!(outcome.new > 0 && layout.model_path("test_net_traffic")?.is_file());
//! # std::fs::remove_dir_all(&root).ok();
//! # Ok::<(), nta_store::Error>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod anomalies;
mod atomic;
mod cache;
mod error;
mod files;
mod flows;
mod identity;
mod index;
mod layout;
mod live;
mod ops;
mod records;
mod series;

/// Re-exported: the one formatter of an error and its causes, for both binaries.
pub use nta_capture::error_chain;

pub use crate::{
    anomalies::{AnomalyStore, Filter, Order, Page, StoreRead},
    atomic::{AtomicFile, write_atomic},
    error::Error,
    files::{BaselineInfo, FileStore, MetricsPage, StoreCounts, SummaryPage, summary_page},
    flows::{FlowFilter, FlowPage, read_flows},
    identity::{FileKey, now_rfc3339},
    index::{MAX_INCIDENT_OFFSET, StoreIndex},
    layout::{Layout, name_for_capture, new_id},
    live::{Learner, Learnt, MetricsLog},
    ops::{
        AnalyzeOutcome, DetectOutcome, Extracted, Records, TrainOutcome, analyze_into, analyze_sources_into, detect,
        extract, load_model, read_warnings, records_of, save_baseline, save_metrics, save_model, store_detection,
        train,
    },
    records::{JsonPage, MetricsFilter, RecordCounts, RecordStore, count_by_severity_and_kind},
    series::{
        DEFAULT_SERIES_POINTS, MAX_SERIES_METRICS, MAX_SERIES_POINTS, MetricSeries, Series, SeriesQuery, resolve,
        series_of,
    },
};
