//! [`ForestParams`]: the forest's parameters with scikit-learn's names, defaults and ranges,
//! and the bounds ([`MAX_ESTIMATORS`], [`MAX_SAMPLES`], [`MAX_FOREST_NODES`], [`MAX_FEATURES`])
//! that keep a forest's size finite.

use crate::Error;
use serde::{Deserialize, Serialize};

/// `max_samples`: how many rows each tree sees.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaxSamples {
    /// `min(256, n)`.
    Auto,
    /// This many (at most n).
    Count(usize),
    /// This fraction of n, in (0, 1].
    Fraction(f64),
}

/// `contamination`: how the decision threshold (`offset`) is set.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Contamination {
    /// `offset = −0.5`, the paper's threshold.
    Auto,
    /// The expected share of outliers in the training data, in (0, 0.5].
    Fraction(f64),
}

/// The most trees a forest may have.
pub const MAX_ESTIMATORS: usize = 5_000;
/// The most rows a tree may be grown on (ψ).
pub const MAX_SAMPLES: usize = 100_000;
/// The most nodes a forest may hold (`n_estimators × (2ψ − 1)`, 16 bytes each: 320 MB).
pub const MAX_FOREST_NODES: usize = 20_000_000;
/// The most features (columns) a forest may be fitted on.
pub const MAX_FEATURES: usize = 1_000;

/// Parameters, with scikit-learn's names and defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ForestParams {
    /// Trees (100).
    pub n_estimators: usize,
    /// Rows per tree (`auto`).
    pub max_samples: MaxSamples,
    /// Threshold rule (`auto`).
    pub contamination: Contamination,
    /// Share of the features each tree sees, in (0, 1] (1.0).
    pub max_features: f64,
    /// Draw each tree's rows with replacement (false).
    pub bootstrap: bool,
    /// Seed of every random choice (0).
    pub random_state: u64,
}

impl ForestParams {
    /// Checks every parameter against its range and the bounds ([`MAX_ESTIMATORS`],
    /// [`MAX_SAMPLES`], [`MAX_FOREST_NODES`]) before any work starts. A fractional
    /// `max_samples` is checked again at fit time, when the rows are known.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |reason: String| Err(Error::Params { reason });
        if !(1..=MAX_ESTIMATORS).contains(&self.n_estimators) {
            return bad(format!("n_estimators must be in 1..={MAX_ESTIMATORS} (got {})", self.n_estimators));
        }
        if !(self.max_features > 0.0 && self.max_features <= 1.0) {
            return bad("max_features must be in (0, 1]".into());
        }
        match self.max_samples {
            MaxSamples::Count(k) if !(1..=MAX_SAMPLES).contains(&k) => {
                return bad(format!("max_samples must be in 1..={MAX_SAMPLES} rows (got {k})"));
            }
            MaxSamples::Fraction(f) if !(f > 0.0 && f <= 1.0) => {
                return bad("max_samples must be auto, an integer >= 1 or a fraction in (0, 1]".into());
            }
            _ => {}
        }
        if let Contamination::Fraction(c) = self.contamination
            && !(c > 0.0 && c <= 0.5)
        {
            return bad("contamination must be auto or in (0, 0.5]".into());
        }
        if let MaxSamples::Count(k) = self.max_samples {
            check_nodes(self.n_estimators, k)?;
        }
        Ok(())
    }
}

/// Refuses a forest of `trees` trees on `psi` rows each beyond [`MAX_FOREST_NODES`].
pub(crate) fn check_nodes(trees: usize, psi: usize) -> Result<(), Error> {
    let nodes = trees.saturating_mul(psi.saturating_mul(2).saturating_sub(1).max(1));
    if nodes > MAX_FOREST_NODES {
        return Err(Error::Params {
            reason: format!(
                "{trees} trees on {psi} rows each could hold {nodes} nodes (at most {MAX_FOREST_NODES}): \
                 fewer trees or fewer rows per tree"
            ),
        });
    }
    Ok(())
}

impl Default for ForestParams {
    fn default() -> ForestParams {
        ForestParams {
            n_estimators: 100,
            max_samples: MaxSamples::Auto,
            contamination: Contamination::Auto,
            max_features: 1.0,
            bootstrap: false,
            random_state: 0,
        }
    }
}

impl std::str::FromStr for MaxSamples {
    type Err = Error;

    /// `auto`, an integer (`256`) or a fraction with a decimal point (`0.5`).
    fn from_str(s: &str) -> Result<MaxSamples, Error> {
        let bad = || Error::Params {
            reason: format!("max_samples {s:?}: expected auto, an integer >= 1 or a fraction in (0, 1]"),
        };
        if s == "auto" {
            return Ok(MaxSamples::Auto);
        }
        if s.contains('.') {
            let f: f64 = s.parse().map_err(|_| bad())?;
            return if f > 0.0 && f <= 1.0 { Ok(MaxSamples::Fraction(f)) } else { Err(bad()) };
        }
        match s.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(MaxSamples::Count(n)),
            _ => Err(bad()),
        }
    }
}

impl std::str::FromStr for Contamination {
    type Err = Error;

    /// `auto` or a fraction in (0, 0.5].
    fn from_str(s: &str) -> Result<Contamination, Error> {
        if s == "auto" {
            return Ok(Contamination::Auto);
        }
        match s.parse::<f64>() {
            Ok(f) if f > 0.0 && f <= 0.5 => Ok(Contamination::Fraction(f)),
            _ => Err(Error::Params { reason: format!("contamination {s:?}: expected auto or a fraction in (0, 0.5]") }),
        }
    }
}
