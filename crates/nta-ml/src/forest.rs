//! [`IsolationForest`]: Liu, Ting and Zhou (ICDM 2008) with scikit-learn 1.x's conventions.
//!
//! - Each tree is grown on `max_samples` rows drawn without replacement (with, when
//!   `bootstrap`) and, when `max_features < 1`, on a subset of the columns drawn without
//!   replacement; its height is limited to `ceil(log2(max(max_samples, 2)))`.
//! - A node splits on a feature drawn uniformly among the features that are not constant in
//!   the node, at a threshold uniform in `[min, max)`; rows `<= threshold` go left. A node
//!   with one row, at the height limit, or where every feature is constant is a leaf.
//! - The path length of a row in a tree is the number of edges to its leaf plus `c(n)` for
//!   the `n` training rows in the leaf, `c(1) = 0`, `c(2) = 1`,
//!   `c(n) = 2(ln(n−1) + γ) − 2(n−1)/n`.
//! - `score_samples = −2^(−E[h(x)] / c(ψ))`, ψ the effective `max_samples` (lower is more
//!   abnormal); `decision_function = score_samples − offset`; `predict` = −1 where the
//!   decision is below 0, else 1. `offset` is −0.5 for `contamination = auto`, otherwise the
//!   `100 × contamination` percentile of the training scores (linear interpolation, numpy's
//!   default).
//!
//! Trees are stored flat (arrays of 16-byte nodes, children adjacent) and scored block by
//! block — a block of rows copied once into a row-major buffer, then every tree over it —
//! in parallel with rayon. Tree `i` draws from its own random stream `(seed, i)`, so the
//! forest is the same whatever the thread count.

use crate::Error;
use crate::params::{
    Contamination, ForestParams, MAX_ESTIMATORS, MAX_FEATURES, MAX_FOREST_NODES, MAX_SAMPLES, MaxSamples, check_nodes,
};
use crate::tree::{SplitMix, Tree, average_path_length, grow, sample_without_replacement};
use nta_metrics::percentile;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use smartcore::linalg::basic::matrix::DenseMatrix;
use std::sync::atomic::{AtomicBool, Ordering};

/// A tree laid out for scoring: every node has a feature, a threshold and a left child; a
/// leaf points to itself with an infinite threshold, so a row can walk a fixed number of
/// steps without branching, and several rows walk in lockstep.
#[derive(Clone, Debug, Default, PartialEq)]
struct Compiled {
    nodes: Vec<(f64, u32, u32)>,
    values: Vec<f64>,
    height: usize,
}

impl Compiled {
    fn new(tree: &Tree) -> Compiled {
        let mut c = Compiled::default();
        let mut depth = vec![0usize; tree.nodes.len()];
        for (i, n) in tree.nodes.iter().enumerate() {
            let d = depth.get(i).copied().unwrap_or(0);
            if n.feature < 0 {
                c.nodes.push((f64::INFINITY, 0, i as u32));
                c.values.push(n.value);
                c.height = c.height.max(d);
            } else {
                c.nodes.push((n.value, n.feature as u32, n.left));
                c.values.push(0.0);
                for child in [n.left as usize, n.left as usize + 1] {
                    if let Some(slot) = depth.get_mut(child) {
                        *slot = d + 1;
                    }
                }
            }
        }
        c
    }

    /// Adds the path length of each of `LANES` rows (row-major, `d` wide) to `out`.
    #[inline]
    fn add_lanes(&self, rows: &[f64], d: usize, out: &mut [f64]) {
        let mut idx = [0u32; LANES];
        let Some(rows) = rows.get(..LANES * d) else { return };
        for _ in 0..self.height {
            for (row, i) in rows.chunks_exact(d).zip(idx.iter_mut()) {
                let (thr, feat, left) = self.nodes.get(*i as usize).copied().unwrap_or((f64::INFINITY, 0, *i));
                let x = row.get(feat as usize).copied().unwrap_or(0.0);
                *i = left + u32::from(x > thr);
            }
        }
        for (o, i) in out.iter_mut().zip(idx) {
            *o += self.values.get(i as usize).copied().unwrap_or(0.0);
        }
    }
}

/// Rows walked through a tree together.
const LANES: usize = 16;

/// A fitted Isolation Forest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IsolationForest {
    /// The parameters it was fitted with.
    pub params: ForestParams,
    /// Features (columns) of the training matrix.
    pub n_features: usize,
    /// Rows each tree was grown on (ψ).
    pub max_samples_used: usize,
    /// `score_samples` threshold: −0.5 for `auto` contamination, else a training percentile.
    pub offset: f64,
    /// The trees.
    pub trees: Vec<Tree>,
    /// The trees laid out for scoring (rebuilt after loading, see [`IsolationForest::validate`]).
    #[serde(skip)]
    compiled: Vec<Compiled>,
}

/// The shape of a smartcore matrix (its `Array` trait kept out of scope elsewhere: it would
/// shadow `Vec::get`).
fn shape(x: &DenseMatrix<f64>) -> (usize, usize) {
    use smartcore::linalg::basic::arrays::Array;
    x.shape()
}

/// One cell of a smartcore matrix.
#[inline]
fn cell(x: &DenseMatrix<f64>, r: usize, c: usize) -> f64 {
    use smartcore::linalg::basic::arrays::Array;
    *x.get((r, c))
}

/// Rows copied out of a matrix per scoring block.
const BLOCK: usize = 128;

fn copy_rows(x: &DenseMatrix<f64>, rows: std::ops::Range<usize>, buf: &mut Vec<f64>) {
    let d = shape(x).1;
    buf.clear();
    buf.reserve(rows.len() * d);
    for r in rows {
        for c in 0..d {
            buf.push(cell(x, r, c));
        }
    }
}

impl IsolationForest {
    /// Fits a forest on the rows of `x` (n × d, finite values).
    pub fn fit(x: &DenseMatrix<f64>, params: &ForestParams) -> Result<IsolationForest, Error> {
        IsolationForest::fit_until(x, params, &AtomicBool::new(false))
    }

    /// [`IsolationForest::fit`] that gives up with [`Error::Cancelled`] soon after `stop` is
    /// set (checked before each tree and each block of scored rows).
    pub fn fit_until(x: &DenseMatrix<f64>, params: &ForestParams, stop: &AtomicBool) -> Result<IsolationForest, Error> {
        let (n, d) = shape(x);
        if n == 0 || d == 0 {
            return Err(Error::Data { reason: format!("cannot fit on an empty matrix ({n} × {d})") });
        }
        params.validate()?;
        if d > MAX_FEATURES {
            return Err(Error::Data { reason: format!("{d} features: at most {MAX_FEATURES}") });
        }
        let psi = match params.max_samples {
            MaxSamples::Auto => n.min(256),
            MaxSamples::Count(k) => k.min(n),
            MaxSamples::Fraction(f) => ((f * n as f64) as usize).max(1),
        };
        if psi > MAX_SAMPLES {
            return Err(Error::Params {
                reason: format!(
                    "max_samples comes to {psi} rows per tree (at most {MAX_SAMPLES}): use a smaller fraction"
                ),
            });
        }
        check_nodes(params.n_estimators, psi)?;
        if x.iter().any(|v| !v.is_finite()) {
            return Err(Error::Data { reason: "the matrix has NaN or infinite values".into() });
        }
        let n_feat_tree = ((params.max_features * d as f64) as usize).clamp(1, d);
        let max_depth = (psi.max(2) as f64).log2().ceil() as usize;
        let trees: Vec<Tree> = (0..params.n_estimators)
            .into_par_iter()
            .map(|t| {
                if stop.load(Ordering::Relaxed) {
                    return Err(Error::Cancelled);
                }
                let mut rng = SplitMix::new(params.random_state, t as u64);
                let rows: Vec<usize> = if params.bootstrap {
                    (0..psi).map(|_| rng.below(n)).collect()
                } else {
                    sample_without_replacement(&mut rng, n, psi)
                };
                let features: Vec<usize> = if n_feat_tree == d {
                    (0..d).collect()
                } else {
                    sample_without_replacement(&mut rng, d, n_feat_tree)
                };
                // Only the tree's own rows are copied (ψ × d values), never the whole matrix.
                let mut sample = Vec::with_capacity(psi * d);
                for &r in &rows {
                    sample.extend((0..d).map(|c| cell(x, r, c)));
                }
                Ok(grow(&sample, d, (0..psi).collect(), &features, max_depth, &mut rng))
            })
            .collect::<Result<_, Error>>()?;
        let compiled = trees.iter().map(Compiled::new).collect();
        let mut forest = IsolationForest {
            params: params.clone(),
            n_features: d,
            max_samples_used: psi,
            offset: -0.5,
            trees,
            compiled,
        };
        if let Contamination::Fraction(c) = params.contamination {
            let mut scores = forest.score_samples_until(x, stop)?;
            forest.offset = percentile(&mut scores, 100.0 * c);
        }
        Ok(forest)
    }

    fn check(&self, x: &DenseMatrix<f64>) -> Result<(), Error> {
        let d = shape(x).1;
        if d != self.n_features {
            return Err(Error::Data { reason: format!("the forest has {} features, the matrix {d}", self.n_features) });
        }
        Ok(())
    }

    /// `out[i]` = score_samples of row i of the block.
    fn score_block(&self, rows: &[f64], d: usize, out: &mut [f64]) {
        out.iter_mut().for_each(|v| *v = 0.0);
        let d = d.max(1);
        let full = out.len() / LANES * LANES;
        let (head, tail) = out.split_at_mut(full);
        for c in &self.compiled {
            for (o, r) in head.chunks_exact_mut(LANES).zip(rows.chunks_exact(LANES * d)) {
                c.add_lanes(r, d, o);
            }
        }
        let tail_rows = rows.get(full * d..).unwrap_or_default();
        for t in &self.trees {
            for (o, row) in tail.iter_mut().zip(tail_rows.chunks_exact(d)) {
                *o += t.path_length(row);
            }
        }
        let denom = self.trees.len() as f64 * average_path_length(self.max_samples_used as f64);
        for o in out.iter_mut() {
            let ratio = if denom != 0.0 { *o / denom } else { 1.0 };
            *o = -(2f64).powf(-ratio);
        }
    }

    /// scikit-learn's `score_samples`: −(anomaly score), in [−1, 0); lower is more abnormal.
    pub fn score_samples(&self, x: &DenseMatrix<f64>) -> Result<Vec<f64>, Error> {
        self.score_samples_until(x, &AtomicBool::new(false))
    }

    /// [`IsolationForest::score_samples`] that gives up with [`Error::Cancelled`] soon after
    /// `stop` is set (checked before each block of 128 rows).
    pub fn score_samples_until(&self, x: &DenseMatrix<f64>, stop: &AtomicBool) -> Result<Vec<f64>, Error> {
        self.check(x)?;
        let (n, d) = shape(x);
        let mut out = vec![0.0; n];
        out.par_chunks_mut(BLOCK).enumerate().for_each_init(Vec::new, |buf, (b, o)| {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let start = b * BLOCK;
            copy_rows(x, start..start + o.len(), buf);
            self.score_block(buf, d, o);
        });
        if stop.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        Ok(out)
    }

    /// `score_samples − offset`: negative for outliers.
    pub fn decision_function(&self, x: &DenseMatrix<f64>) -> Result<Vec<f64>, Error> {
        Ok(self.score_samples(x)?.into_iter().map(|s| s - self.offset).collect())
    }

    /// −1 for outliers (decision below 0), 1 for inliers.
    pub fn predict(&self, x: &DenseMatrix<f64>) -> Result<Vec<i8>, Error> {
        Ok(self.decision_function(x)?.into_iter().map(|v| if v < 0.0 { -1 } else { 1 }).collect())
    }

    /// Depth-based attribution of one row, in the spirit of DIFFI (Carletti et al. 2020): in
    /// every tree, each split on the row's path adds `1 / (depth + 1)` to its feature (the
    /// root is depth 0), so features that isolate the row near the root count most. The
    /// result is normalised to sum to 1 (all zeros when no tree splits).
    pub fn attribution(&self, row: &[f64]) -> Vec<f64> {
        let mut w = vec![0.0; self.n_features];
        for t in &self.trees {
            t.path(row, |f, depth| {
                if let Some(slot) = w.get_mut(f) {
                    *slot += 1.0 / (depth as f64 + 1.0);
                }
            });
        }
        let total: f64 = w.iter().sum();
        if total > 0.0 {
            w.iter_mut().for_each(|v| *v /= total);
        }
        w
    }

    /// Checks a forest loaded from disk (so that scoring cannot go astray) and lays its trees
    /// out for scoring.
    pub fn validate(&mut self) -> Result<(), Error> {
        let bad = |reason: String| Err(Error::Model { reason });
        if self.trees.is_empty() || self.trees.len() > MAX_ESTIMATORS {
            return bad(format!("{} trees (1..={MAX_ESTIMATORS} expected)", self.trees.len()));
        }
        if self.n_features == 0 || self.n_features > MAX_FEATURES {
            return bad(format!("{} features (1..={MAX_FEATURES} expected)", self.n_features));
        }
        if !(1..=MAX_SAMPLES).contains(&self.max_samples_used) {
            return bad(format!("max_samples_used {} (1..={MAX_SAMPLES} expected)", self.max_samples_used));
        }
        // score_samples is −2^(−E[h]/c(ψ)), in (−1, 0): an offset outside cannot be a threshold.
        if !(-1.0..=0.0).contains(&self.offset) {
            return bad(format!("offset {} outside [-1, 0]", self.offset));
        }
        let nodes: usize = self.trees.iter().map(|t| t.nodes.len()).sum();
        if nodes > MAX_FOREST_NODES {
            return bad(format!("{nodes} nodes (at most {MAX_FOREST_NODES})"));
        }
        self.params.validate().map_err(|e| Error::Model { reason: format!("params: {e}") })?;
        for (i, t) in self.trees.iter().enumerate() {
            t.validate(self.n_features).map_err(|e| Error::Model { reason: format!("tree {i}: {e}") })?;
        }
        self.compiled = self.trees.iter().map(Compiled::new).collect();
        Ok(())
    }
}
