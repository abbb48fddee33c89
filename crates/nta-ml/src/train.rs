//! [`train`] and [`score`]: the steps the CLI and the API share.

use crate::Error;
use crate::features::FeatureExtractor;
use crate::forest::IsolationForest;
use crate::model::{FeatureStats, Model, SCHEMA_VERSION, TrainingSource, TrainingStats, check_name};
use crate::params::ForestParams;
use nta_metrics::{WindowRecord, percentile};
use serde::Serialize;
use smartcore::linalg::basic::matrix::DenseMatrix;
use std::sync::atomic::AtomicBool;

fn column_stats(x: &DenseMatrix<f64>, names: &[String]) -> Vec<FeatureStats> {
    use smartcore::linalg::basic::arrays::Array;
    let (n, d) = x.shape();
    (0..d)
        .map(|c| {
            let (mut sum, mut min, mut max) = (0.0, f64::INFINITY, f64::NEG_INFINITY);
            for r in 0..n {
                let v = *x.get((r, c));
                sum += v;
                min = min.min(v);
                max = max.max(v);
            }
            let mean = sum / n.max(1) as f64;
            let var = (0..n).map(|r| (*x.get((r, c)) - mean).powi(2)).sum::<f64>() / n.max(1) as f64;
            FeatureStats { name: names.get(c).cloned().unwrap_or_default(), mean, std: var.sqrt(), min, max }
        })
        .collect()
}

/// Fits a forest on `x` (columns named `features`) and wraps it as model `name`. Setting
/// `stop` (from another thread) makes it return [`Error::Cancelled`] within a tree or a block
/// of rows.
#[allow(clippy::too_many_arguments)]
pub fn train(
    name: &str,
    created_at: &str,
    x: &DenseMatrix<f64>,
    features: Vec<String>,
    params: &ForestParams,
    source: TrainingSource,
    skipped: usize,
    stop: &AtomicBool,
) -> Result<Model, Error> {
    check_name(name)?;
    let forest = IsolationForest::fit_until(x, params, stop)?;
    if features.len() != forest.n_features {
        return Err(Error::Data { reason: format!("{} names for {} columns", features.len(), forest.n_features) });
    }
    let mut scores = forest.score_samples_until(x, stop)?;
    let training = TrainingStats {
        rows: scores.len(),
        skipped,
        features: column_stats(x, &features),
        score_min: percentile(&mut scores, 0.0),
        score_median: percentile(&mut scores, 50.0),
        score_max: percentile(&mut scores, 100.0),
    };
    Ok(Model {
        schema_version: SCHEMA_VERSION,
        name: name.to_owned(),
        created_at: created_at.to_owned(),
        params: params.clone(),
        features,
        source,
        training,
        forest,
    })
}

/// Trains on window records: the feature matrix of [`FeatureExtractor`]; `stop` as in
/// [`train`].
pub fn train_on_records(
    name: &str,
    created_at: &str,
    records: &[WindowRecord],
    files: Vec<String>,
    params: &ForestParams,
    stop: &AtomicBool,
) -> Result<Model, Error> {
    let fx = FeatureExtractor;
    let (matrix, indices, stats) = fx.extract_batch(records);
    let x =
        matrix.ok_or_else(|| Error::Data { reason: format!("no usable window among {} records", records.len()) })?;
    let used: Vec<&WindowRecord> = indices.iter().filter_map(|i| records.get(*i)).collect();
    let source = TrainingSource {
        kind: "metrics".into(),
        files,
        window_ns: used.first().map(|r| r.window_ns),
        first_window_ns: used.iter().map(|r| r.window_start_ns).min(),
        last_window_ns: used.iter().map(|r| r.window_start_ns).max(),
    };
    train(name, created_at, &x, fx.names(), params, source, stats.records - stats.rows, stop)
}

/// The three outputs of scikit-learn's API for each row.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Scores {
    /// `score_samples`.
    pub score_samples: Vec<f64>,
    /// `decision_function`.
    pub decision_function: Vec<f64>,
    /// `predict`.
    pub predict: Vec<i8>,
}

/// Scores `x`, whose columns must be the model's features.
pub fn score(model: &Model, x: &DenseMatrix<f64>, features: &[String]) -> Result<Scores, Error> {
    model.check_features(features)?;
    let score_samples = model.forest.score_samples(x)?;
    let decision_function: Vec<f64> = score_samples.iter().map(|s| s - model.forest.offset).collect();
    let predict = decision_function.iter().map(|d| if *d < 0.0 { -1 } else { 1 }).collect();
    Ok(Scores { score_samples, decision_function, predict })
}
