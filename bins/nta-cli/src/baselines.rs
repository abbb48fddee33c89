//! `nta-cli baselines` (build) and `nta-cli baselines score`.

use crate::config::DirArgs;
use crate::metrics_files::read_metrics;
use anyhow::{Context, Result, bail};
use nta_baselines::{Baseline, BuildOptions, Seasonality, Thresholds};
use nta_capture::read_labels;
use nta_metrics::Metric;
use nta_store::{AtomicFile, now_rfc3339};
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Option<Sub>,
    #[command(flatten)]
    build: BuildArgs,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Score windows against a baseline: robust z-scores per metric, sorted, and flags
    Score(ScoreArgs),
}

#[derive(Debug, clap::Args)]
struct BuildArgs {
    /// Window metrics (JSON lines from `extract`); repeatable
    #[arg(long = "metrics", value_name = "FILE")]
    metrics: Vec<PathBuf>,
    /// Baseline file to write
    #[arg(long, default_value = "data/baselines/baseline.json")]
    out: PathBuf,
    /// Seasonal profiles: hour-of-day, day-of-week or none
    #[arg(long, default_value = "none")]
    by: Seasonality,
    /// A seasonal slot with fewer windows falls back to the global profile
    #[arg(long, default_value_t = 30)]
    min_slot_windows: usize,
    /// Attack labels (JSON lines with start_ns and end_ns, as `synth` writes): overlapping windows are left out
    #[arg(long = "exclude-labels", value_name = "FILE")]
    exclude_labels: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct ScoreArgs {
    /// Baseline: a file, or a name in <data-dir>/baselines
    #[arg(long)]
    baseline: String,
    #[command(flatten)]
    dirs: DirArgs,
    /// Window metrics to score; repeatable
    #[arg(long = "metrics", value_name = "FILE", required = true)]
    metrics: Vec<PathBuf>,
    /// Output JSON lines, one per window ("-" for stdout)
    #[arg(long, default_value = "-")]
    out: PathBuf,
    /// Flag a window when some metric's |z| reaches this
    #[arg(long, default_value_t = 5.0)]
    threshold: f64,
    /// Per-metric threshold, METRIC=VALUE (repeatable), e.g. tcp_syn=4
    #[arg(long = "metric-threshold", value_name = "METRIC=VALUE")]
    metric_threshold: Vec<String>,
    /// Write only flagged windows
    #[arg(long)]
    flagged_only: bool,
    /// Keep this many deviations per window in the output (0 = all)
    #[arg(long, default_value_t = 0)]
    top: usize,
}

/// A baseline given as a file, or as a name in the data directory's baselines.
fn baseline_path(spec: &str, dirs: &DirArgs) -> Result<PathBuf> {
    if spec.ends_with(".json") || spec.contains(std::path::MAIN_SEPARATOR) {
        Ok(PathBuf::from(spec))
    } else {
        Ok(dirs.layout().baseline_path(spec)?)
    }
}

pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    match &args.command {
        Some(Sub::Score(s)) => score(s),
        None => build(&args.build),
    }
}

fn build(args: &BuildArgs) -> Result<ExitCode> {
    if args.metrics.is_empty() {
        bail!("give --metrics FILE (window metrics from `nta-cli extract`), or use `nta-cli baselines score`");
    }
    let records = read_metrics(&args.metrics)?;
    let mut exclude = Vec::new();
    for l in &args.exclude_labels {
        exclude.extend(read_labels(l).with_context(|| format!("reading labels {}", l.display()))?);
    }
    let options = BuildOptions {
        by: args.by,
        min_slot_windows: args.min_slot_windows,
        exclude_labels: args.exclude_labels.iter().map(|p| p.display().to_string()).collect(),
    };
    let name = args.out.file_stem().map_or_else(|| "baseline".into(), |s| s.to_string_lossy().into_owned());
    let sources = args.metrics.iter().map(|p| p.display().to_string()).collect();
    let b = Baseline::build(&name, &now_rfc3339(), &records, sources, &exclude, options)?;
    nta_store::write_atomic(&args.out, &b.to_json()?)?;
    eprintln!(
        "baseline {} from {} windows of {} s ({} excluded by labels, {} late skipped), {} .. {}{} -> {}",
        b.name,
        b.windows,
        b.window_ns as f64 / 1e9,
        b.excluded_windows,
        b.skipped_late,
        b.time_range.first,
        b.time_range.last,
        match &b.seasonal {
            Some(s) => format!(
                "; {:?}: {} of {} slots fall back to the global profile",
                s.by,
                s.fallback_slots.len(),
                s.slots.len()
            ),
            None => String::new(),
        },
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn score(args: &ScoreArgs) -> Result<ExitCode> {
    let path = baseline_path(&args.baseline, &args.dirs)?;
    let baseline = Baseline::load(&path).with_context(|| format!("loading baseline {}", path.display()))?;
    let records = read_metrics(&args.metrics)?;
    if let Some(r) = records.iter().find(|r| r.window_ns != baseline.window_ns) {
        eprintln!(
            "warning: the baseline was learnt on {} ns windows, these are {} ns",
            baseline.window_ns, r.window_ns
        );
    }
    let mut thresholds = Thresholds { default: args.threshold, ..Thresholds::default() };
    for spec in &args.metric_threshold {
        let (m, v) =
            spec.split_once('=').with_context(|| format!("--metric-threshold {spec:?}: expected METRIC=VALUE"))?;
        let metric: Metric = m.parse()?;
        let value: f64 = v.parse().with_context(|| format!("--metric-threshold {spec:?}: not a number"))?;
        thresholds.per_metric.insert(metric, value);
    }
    let to_stdout = args.out.as_os_str() == "-";
    let file = if to_stdout { None } else { Some(AtomicFile::create(&args.out)?) };
    let sink: Box<dyn Write> = match &file {
        Some(f) => Box::new(f.file()?),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = BufWriter::new(sink);
    let mut scored: Vec<_> = records.iter().filter(|r| !r.late).map(|r| baseline.score(r, &thresholds)).collect();
    let flagged = scored.iter().filter(|w| w.flagged).count();
    for w in &mut scored {
        if args.flagged_only && !w.flagged {
            continue;
        }
        if args.top > 0 {
            w.deviations.truncate(args.top);
        }
        serde_json::to_writer(&mut out, w)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    drop(out);
    if let Some(f) = file {
        f.commit()?;
    }
    eprintln!("{flagged} of {} windows flagged (|z| >= {} in some metric)", scored.len(), args.threshold);
    scored.sort_by(|a, b| b.max_abs_z.total_cmp(&a.max_abs_z));
    for w in scored.iter().filter(|w| w.flagged).take(10) {
        let why: Vec<String> = w
            .deviations
            .iter()
            .filter(|d| d.exceeds)
            .take(3)
            .map(|d| format!("{} {:.4} (median {:.4}, z {:+.1})", d.metric, d.value, d.median, d.z))
            .collect();
        eprintln!("  {}  {}", w.window_start, why.join("; "));
    }
    Ok(ExitCode::SUCCESS)
}
