//! [`Error`] of nta-analysis.

use std::path::PathBuf;

/// What can go wrong in detection, the store and evaluation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The model could not score.
    #[error(transparent)]
    Model(#[from] nta_ml::Error),
    /// Baseline building failed.
    #[error(transparent)]
    Baseline(#[from] nta_baselines::Error),
    /// Metrics extraction failed.
    #[error(transparent)]
    Metrics(#[from] nta_metrics::Error),
    /// A file that is not what it should be.
    #[error("{path}: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The caller's stop flag was set; nothing was produced.
    #[error("cancelled")]
    Cancelled,
    /// I/O.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}
