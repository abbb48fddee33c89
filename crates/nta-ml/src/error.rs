//! [`Error`] of nta-ml.

use std::path::PathBuf;

/// What can go wrong fitting, scoring, reading tables and models.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Parameters out of range.
    #[error("invalid parameters: {reason}")]
    Params {
        /// Why.
        reason: String,
    },
    /// Data that cannot be used (empty, non-finite, wrong width).
    #[error("invalid data: {reason}")]
    Data {
        /// Why.
        reason: String,
    },
    /// A CSV table that is not a numeric table.
    #[error("{path}:{line}: {reason}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// Why.
        reason: String,
    },
    /// A model file that cannot be used.
    #[error("model {path}: {reason}")]
    ModelFile {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A model whose content is inconsistent.
    #[error("invalid model: {reason}")]
    Model {
        /// Why.
        reason: String,
    },
    /// Features of the input are not those of the model.
    #[error("feature mismatch: the model was trained on {expected:?}, the input has {found:?}")]
    FeatureMismatch {
        /// The model's features.
        expected: Vec<String>,
        /// The input's.
        found: Vec<String>,
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
