//! [`Model`]: a fitted forest with what it needs to be used safely later — schema version,
//! feature names, training statistics, source — saved as JSON under `data/models/NAME.json`,
//! atomically (temporary file, fsync, rename).

use crate::forest::IsolationForest;
use crate::{Error, ForestParams};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Version of the model file format; a file of another version is refused.
pub const SCHEMA_VERSION: u32 = 1;

/// Statistics of one feature over the training rows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureStats {
    /// Feature name.
    pub name: String,
    /// Mean.
    pub mean: f64,
    /// Population standard deviation.
    pub std: f64,
    /// Minimum.
    pub min: f64,
    /// Maximum.
    pub max: f64,
}

/// Where the training data came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainingSource {
    /// `metrics` (window records) or `csv` (any numeric table).
    pub kind: String,
    /// The input files.
    pub files: Vec<String>,
    /// Window length of the metrics, ns.
    pub window_ns: Option<i64>,
    /// First and last window start, ns.
    pub first_window_ns: Option<i64>,
    /// Last window start, ns.
    pub last_window_ns: Option<i64>,
}

impl TrainingSource {
    /// A numeric table (`kind` `csv`) read from `files`: no windows.
    pub fn table(files: Vec<String>) -> TrainingSource {
        TrainingSource { kind: "csv".into(), files, window_ns: None, first_window_ns: None, last_window_ns: None }
    }
}

/// What the model was trained on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainingStats {
    /// Rows used.
    pub rows: usize,
    /// Rows offered but left out (late supplements, non-finite values).
    pub skipped: usize,
    /// Per feature.
    pub features: Vec<FeatureStats>,
    /// `score_samples` over the training rows: min, median, max.
    pub score_min: f64,
    /// Median.
    pub score_median: f64,
    /// Max.
    pub score_max: f64,
}

/// A saved Isolation Forest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// [`SCHEMA_VERSION`] when written.
    pub schema_version: u32,
    /// Name (file stem).
    pub name: String,
    /// When it was trained (RFC 3339, wall clock: metadata only).
    pub created_at: String,
    /// Parameters.
    pub params: ForestParams,
    /// Feature names, in column order: scoring refuses input with other features.
    pub features: Vec<String>,
    /// Training data.
    pub source: TrainingSource,
    /// Training statistics.
    pub training: TrainingStats,
    /// The forest.
    pub forest: IsolationForest,
}

/// The largest model file [`Model::load`] reads (a forest at its bounds is ~1 GB of JSON).
pub const MAX_MODEL_BYTES: u64 = 1 << 30;

/// The first thing read from a model file.
#[derive(Deserialize)]
struct Head {
    schema_version: Option<u64>,
}

/// What [`ModelInfo::read`] reads: the metadata, and of the forest only how many trees, so a
/// listing never builds a forest in memory (the JSON is streamed past).
#[derive(Deserialize)]
struct Meta {
    schema_version: Option<u64>,
    created_at: String,
    features: Vec<String>,
    training: MetaTraining,
    forest: MetaForest,
}

#[derive(Deserialize)]
struct MetaTraining {
    rows: usize,
}

#[derive(Deserialize)]
struct MetaForest {
    trees: Count,
}

/// The length of a JSON array, its elements skipped.
struct Count(usize);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Count, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Count;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Count, A::Error> {
                let mut n = 0;
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    n += 1;
                }
                Ok(Count(n))
            }
        }
        d.deserialize_seq(V)
    }
}

/// A model file as listed by [`list_models`].
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ModelInfo {
    /// Name.
    pub name: String,
    /// File.
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Creation time, features, rows, trees — when the file could be read.
    pub created_at: Option<String>,
    /// Number of features.
    pub features: Option<usize>,
    /// Training rows.
    pub rows: Option<usize>,
    /// Trees.
    pub n_estimators: Option<usize>,
    /// Why the file could not be read.
    pub error: Option<String>,
}

/// Checks that a model name is a plain file stem (letters, digits, `-`, `_`, `.`; no path).
pub fn check_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(Error::Params { reason: format!("model name {name:?}: use letters, digits, '-', '_', '.'") })
    }
}

impl Model {
    /// The model file's bytes (what [`Model::load`] reads back, floats bit for bit). Where
    /// it is written, and how atomically, is the caller's business (nta-store).
    pub fn to_json(&self) -> Result<Vec<u8>, Error> {
        serde_json::to_vec(self).map_err(|e| Error::Model { reason: e.to_string() })
    }

    /// Loads and checks a model file: schema version, feature list, tree structure.
    pub fn load(path: &Path) -> Result<Model, Error> {
        let bad = |reason: String| Error::ModelFile { path: path.to_owned(), reason };
        let io = |source| Error::Io { path: path.to_owned(), source };
        let size = std::fs::metadata(path).map_err(io)?.len();
        if size > MAX_MODEL_BYTES {
            return Err(bad(format!("{size} bytes (at most {MAX_MODEL_BYTES})")));
        }
        let bytes = std::fs::read(path).map_err(io)?;
        // The version first (every other field skipped without being built), then the model.
        let head: Head = serde_json::from_slice(&bytes).map_err(|e| bad(format!("not a model: {e}")))?;
        if head.schema_version != Some(u64::from(SCHEMA_VERSION)) {
            return Err(bad(format!(
                "schema version {:?}, this build reads {SCHEMA_VERSION}: retrain the model",
                head.schema_version
            )));
        }
        let mut model: Model = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
        if model.features.len() != model.forest.n_features {
            return Err(bad(format!(
                "{} feature names for {} features",
                model.features.len(),
                model.forest.n_features
            )));
        }
        model.forest.validate().map_err(|e| bad(e.to_string()))?;
        Ok(model)
    }

    /// Refuses input whose features are not the model's, in order.
    pub fn check_features(&self, names: &[String]) -> Result<(), Error> {
        if names == self.features.as_slice() {
            Ok(())
        } else {
            Err(Error::FeatureMismatch { expected: self.features.clone(), found: names.to_vec() })
        }
    }
}

/// The model files (`*.json`, not hidden) in `dir`, sorted by name; none if it does not exist.
pub fn model_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(Error::Io { path: dir.to_owned(), source }),
    };
    let mut out: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".json"))
                .is_some_and(|stem| !stem.starts_with('.'))
        })
        .collect();
    out.sort_by(|a, b| a.file_stem().cmp(&b.file_stem()));
    Ok(out)
}

impl ModelInfo {
    /// What the model file at `path` holds (or why it cannot be read), from its metadata: the
    /// forest is streamed past, not built (loading checks it: [`Model::load`]).
    pub fn read(path: &Path) -> ModelInfo {
        let name = path.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let mut info = ModelInfo {
            name,
            path: path.display().to_string(),
            bytes: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
            created_at: None,
            features: None,
            rows: None,
            n_estimators: None,
            error: None,
        };
        let meta = std::fs::File::open(path)
            .map_err(|e| e.to_string())
            .and_then(|f| serde_json::from_reader::<_, Meta>(std::io::BufReader::new(f)).map_err(|e| e.to_string()));
        match meta {
            Ok(m) if m.schema_version == Some(u64::from(SCHEMA_VERSION)) => {
                info.created_at = Some(m.created_at);
                info.features = Some(m.features.len());
                info.rows = Some(m.training.rows);
                info.n_estimators = Some(m.forest.trees.0);
            }
            Ok(m) => {
                info.error = Some(format!(
                    "schema version {:?}, this build reads {SCHEMA_VERSION}: retrain the model",
                    m.schema_version
                ));
            }
            Err(e) => info.error = Some(format!("not a model: {e}")),
        }
        info
    }
}

/// The models (`*.json`) in `dir`, sorted by name; unreadable ones are listed with their error.
pub fn list_models(dir: &Path) -> Result<Vec<ModelInfo>, Error> {
    Ok(model_files(dir)?.iter().map(|p| ModelInfo::read(p)).collect())
}
