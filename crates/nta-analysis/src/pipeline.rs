//! [`analyze`]: a capture in, incidents out — extract, learn a baseline, train a model,
//! detect — with defaults that suit a capture of tens of minutes.

use crate::Error;
use crate::detect::{DetectConfig, Detection, detect};
use nta_baselines::{Baseline, BuildOptions};
use nta_capture::Label;
use nta_metrics::{
    CaptureSource, ExtractConfig, ExtractSummary, FlowSink, MAX_WINDOWS_IN_MEMORY, Progress, WindowRecord,
    extract_with_flows,
};
use nta_ml::{ForestParams, Model, train_on_records};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

/// Options of [`analyze`].
#[derive(Clone, Debug)]
pub struct AnalyzeOptions {
    /// Extraction (window length 10 s by default).
    pub extract: ExtractConfig,
    /// The forest.
    pub forest: ForestParams,
    /// Baseline options.
    pub baseline: BuildOptions,
    /// Intervals left out of the baseline (known attacks), usually none.
    pub exclude: Vec<Label>,
    /// Detection.
    pub detect: DetectConfig,
    /// Name of the model and baseline made on the way.
    pub name: String,
    /// `created_at` of the model and baseline (wall clock, from the caller).
    pub created_at: String,
}

impl Default for AnalyzeOptions {
    fn default() -> AnalyzeOptions {
        AnalyzeOptions {
            extract: ExtractConfig { max_windows: MAX_WINDOWS_IN_MEMORY, ..ExtractConfig::new(10_000_000_000) },
            forest: ForestParams::default(),
            baseline: BuildOptions::default(),
            exclude: Vec::new(),
            detect: DetectConfig::default(),
            name: "analysis".into(),
            created_at: String::new(),
        }
    }
}

/// Everything [`analyze`] made.
#[derive(Debug)]
pub struct Analysis {
    /// The window records.
    pub records: Vec<WindowRecord>,
    /// What extraction read.
    pub extract: ExtractSummary,
    /// The baseline learnt from the records (robust statistics: a minority of abnormal
    /// windows barely moves medians and MADs).
    pub baseline: Baseline,
    /// The model trained on the records (unsupervised).
    pub model: Model,
    /// What detection found.
    pub detection: Detection,
}

/// Extracts windows from `paths`, learns a baseline and trains an Isolation Forest on them,
/// and detects the abnormal windows. `progress` hears how far extraction has read; setting
/// `stop` (from another thread) makes it return [`Error::Cancelled`] soon after — between
/// windows, trees or blocks of scored rows — having written nothing.
pub fn analyze(
    paths: &[PathBuf],
    opts: &AnalyzeOptions,
    progress: &(dyn Fn(Progress) + Sync),
    stop: &AtomicBool,
) -> Result<Analysis, Error> {
    analyze_sources(paths.iter().cloned().map(CaptureSource::File).collect(), opts, progress, stop)
}

/// [`analyze`] of any [`CaptureSource`]s: files, standard input, a live capture (its windows
/// until the capture ends, then the analysis).
pub fn analyze_sources(
    sources: Vec<CaptureSource>,
    opts: &AnalyzeOptions,
    progress: &(dyn Fn(Progress) + Sync),
    stop: &AtomicBool,
) -> Result<Analysis, Error> {
    analyze_with_flows(sources, opts, progress, stop, None)
}

/// [`analyze_sources`] that also hands every flow's record to `flows` as it ends, from the
/// same pass over the captures (nothing of them is kept in memory here).
pub fn analyze_with_flows(
    sources: Vec<CaptureSource>,
    opts: &AnalyzeOptions,
    progress: &(dyn Fn(Progress) + Sync),
    stop: &AtomicBool,
    flows: Option<FlowSink<'_>>,
) -> Result<Analysis, Error> {
    let stopped = || stop.load(Ordering::Relaxed);
    let names: Vec<String> = sources.iter().map(CaptureSource::name).collect();
    let mut records = Vec::new();
    let extracted = extract_with_flows(
        sources,
        &opts.extract,
        progress,
        &mut |r| {
            if stopped() {
                return Err(std::io::Error::other("cancelled"));
            }
            records.push(r);
            Ok(())
        },
        flows,
    );
    if stopped() {
        return Err(Error::Cancelled);
    }
    let extract = extracted?;
    if records.is_empty() {
        let (path, reason) = extract
            .files
            .iter()
            .find_map(|f| f.error.clone().map(|e| (PathBuf::from(&f.path), e)))
            .unwrap_or_else(|| (names.first().map(PathBuf::from).unwrap_or_default(), "no packets".into()));
        return Err(Error::Format { path, reason });
    }
    let sources = names;
    let baseline =
        Baseline::build(&opts.name, &opts.created_at, &records, sources.clone(), &opts.exclude, opts.baseline.clone())?;
    let model = match train_on_records(&opts.name, &opts.created_at, &records, sources, &opts.forest, stop) {
        Err(nta_ml::Error::Cancelled) => return Err(Error::Cancelled),
        other => other?,
    };
    let detection = detect(&records, Some(&model), Some(&baseline), &opts.detect)?;
    if stopped() {
        return Err(Error::Cancelled);
    }
    Ok(Analysis { records, extract, baseline, model, detection })
}
