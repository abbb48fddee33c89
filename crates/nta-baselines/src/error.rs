//! [`Error`] of nta-baselines.

use std::path::PathBuf;

/// What can go wrong building, saving, loading or scoring baselines.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No usable window (none given, or all excluded).
    #[error("no usable window to learn from (all late, excluded by labels, or none given)")]
    NoData,
    /// Options that cannot work.
    #[error("invalid options: {reason}")]
    Options {
        /// Why.
        reason: String,
    },
    /// A file that is not what it should be.
    #[error("{path}: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// I/O.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}
