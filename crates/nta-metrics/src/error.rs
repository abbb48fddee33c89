//! [`Error`]: what can stop an extraction or a JSON-lines read.

use std::path::PathBuf;

/// Errors of nta-metrics. A capture that cannot be read is not one: it is reported in
/// [`crate::FileSummary`] and the other files go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Writing a record failed.
    #[error("writing metrics: {0}")]
    Output(std::io::Error),
    /// A line of a JSON-lines file could not be read (too long, not text, I/O).
    #[error("{path}: {source}")]
    Line {
        /// The file.
        path: PathBuf,
        /// What went wrong, with the line number.
        #[source]
        source: nta_capture::LineError,
    },
    /// A line of a JSON-lines file is not a record (other than a torn last line).
    #[error("{path}:{line}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What serde_json said.
        source: serde_json::Error,
    },
    /// The run would create more windows than its bound.
    #[error(
        "more than {limit} windows (zero rows included): use a longer window or a shorter gap fill, or raise the limit"
    )]
    TooManyWindows {
        /// The bound ([`crate::ExtractConfig::max_windows`]).
        limit: u64,
    },
    /// The configuration cannot work.
    #[error("invalid configuration: {reason}")]
    Config {
        /// Why.
        reason: String,
    },
    /// The worker thread pool could not be built.
    #[error("thread pool: {0}")]
    Threads(String),
}
