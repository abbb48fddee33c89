//! [`Error`]: what can go wrong reading or writing the data and logs directories.

use std::path::PathBuf;

/// An error of the data directory or of an operation on it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A name (model, baseline, upload id) that cannot name a file.
    #[error("{what} {name:?}: {reason}")]
    Name {
        /// What was named (`model`, `upload id`, ...).
        what: &'static str,
        /// The name given.
        name: String,
        /// What is allowed.
        reason: &'static str,
    },
    /// Nothing of that name is stored.
    #[error("no {what} {name}")]
    NotFound {
        /// `model`, `upload`, `capture`, ...
        what: &'static str,
        /// The name asked for.
        name: String,
    },
    /// A file that is not what it should be.
    #[error("{}: {reason}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The record store behind the API failed or could not be reached: ClickHouse, or the
    /// anomaly store's index (its file not writable — a full disk —, a lock held too long).
    #[error("{backend}: {reason}")]
    Backend {
        /// Which (`clickhouse`).
        backend: &'static str,
        /// What it said, or why it could not be asked.
        reason: String,
    },
    /// A question that cannot be answered as asked (a range of too many points, say).
    #[error("{reason}")]
    Query {
        /// Why.
        reason: String,
    },
    /// The stop flag was set: nothing was written.
    #[error("cancelled")]
    Cancelled,
    /// Extraction failed.
    #[error(transparent)]
    Metrics(#[from] nta_metrics::Error),
    /// Training, scoring or a model file failed.
    #[error(transparent)]
    Model(#[from] nta_ml::Error),
    /// A baseline could not be built or read.
    #[error(transparent)]
    Baseline(#[from] nta_baselines::Error),
    /// Detection or analysis failed.
    #[error(transparent)]
    Analysis(#[from] nta_analysis::Error),
}

impl Error {
    /// An I/O error on `path`.
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[test]
    fn causes_said_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory (os error 2)");
        let e = super::Error::Io { path: "x.pcap".into(), source: io };
        assert_eq!(crate::error_chain(&e), "x.pcap: No such file or directory (os error 2)");
        let m = nta_metrics::Error::Output(std::io::Error::other("disk full"));
        assert_eq!(crate::error_chain(&super::Error::Metrics(m)), "writing metrics: disk full");
    }
}
