//! Feature extraction and an Isolation Forest with scikit-learn's exact semantics, on
//! smartcore's matrix types.
//!
//! The principal types:
//! - [`IsolationForest`] with [`ForestParams`] ([`MaxSamples`], [`Contamination`]) —
//!   `fit`, `score_samples`, `decision_function`, `predict` on a smartcore
//!   [`DenseMatrix`](smartcore::linalg::basic::matrix::DenseMatrix), as scikit-learn 1.x
//!   defines them (see the `forest` module docs); trees stored flat, scoring parallel with
//!   rayon, the same forest for a seed whatever the thread count.
//! - [`FeatureExtractor`] and [`FEATURES`] ([`Feature`]) — window records of nta-metrics
//!   into the feature matrix, with the indices of the windows used and why others were not.
//! - [`Model`] — a forest saved with its schema version, feature names, training statistics
//!   and source (`data/models/NAME.json`, written atomically); [`list_models`].
//! - [`train`], [`train_on_records`], [`score`] — the steps `nta-cli train`/`score` and the
//!   API share.
//! - [`read_csv`] — any numeric table with a header, to train or score on features from
//!   other tools.
//!
//! ```
//! use nta_ml::{ForestParams, IsolationForest};
//! use smartcore::linalg::basic::matrix::DenseMatrix;
//! // 200 points on a line and one far away.
//! let mut rows: Vec<Vec<f64>> = (0..200).map(|i| vec![f64::from(i), f64::from(i) * 0.5]).collect();
//! rows.push(vec![50.0, 900.0]);
//! let x = DenseMatrix::from_2d_vec(&rows)?;
//! let forest = IsolationForest::fit(&x, &ForestParams::default())?;
//! let predict = forest.predict(&x)?;
//! assert_eq!(predict[200], -1); // the far point is an outlier
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod error;
mod features;
mod forest;
mod model;
mod params;
mod table;
mod train;
mod tree;

pub use crate::{
    error::Error,
    features::{ExtractStats, FEATURES, Feature, FeatureExtractor},
    forest::IsolationForest,
    model::{
        FeatureStats, MAX_MODEL_BYTES, Model, ModelInfo, SCHEMA_VERSION, TrainingSource, TrainingStats, check_name,
        list_models, model_files,
    },
    params::{Contamination, ForestParams, MAX_ESTIMATORS, MAX_FEATURES, MAX_FOREST_NODES, MAX_SAMPLES, MaxSamples},
    table::read_csv,
    train::{Scores, score, train, train_on_records},
    tree::{Node, Tree, average_path_length},
};
