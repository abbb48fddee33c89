//! `nta-cli analyze`: the main job — extract, learn a baseline, train a model, detect — with
//! every output written where the other commands look (through nta-store), and a report.

use crate::config::{DetectFlags, DirArgs, ShardArgs, TunnelArgs, check_inputs, parse_duration_ns};
use crate::live::LiveArgs;
use crate::report::{print_census, print_report};
use anyhow::{Result, bail};
use nta_analysis::{AnalyzeOptions, evaluate};
use nta_capture::read_labels;
use nta_metrics::{CaptureSource, ExtractConfig, MAX_WINDOWS_IN_MEMORY};
use nta_store::{analyze_sources_into, name_for_capture};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

const DEFAULT_CAPTURE: &str = "fixtures/test_net_traffic.pcapng";

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Captures to analyse, merged into one time line [default: the bundled fixtures/test_net_traffic.pcapng]
    files: Vec<PathBuf>,
    /// Window length
    #[arg(long, default_value = "10s", value_parser = parse_duration_ns)]
    window: i64,
    #[command(flatten)]
    dirs: DirArgs,
    /// Append the anomalies to this store [default: <logs-dir>/anomalies.jsonl]
    #[arg(long)]
    anomalies: Option<PathBuf>,
    /// Attack labels: evaluate the detection against them (and print precision and recall)
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Seed of the forest
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    detect: DetectFlags,
    #[command(flatten)]
    tunnels: TunnelArgs,
    #[command(flatten)]
    shards: ShardArgs,
    /// Print the detection (anomalies and incidents) as JSON on stdout instead of the report
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    live: LiveArgs,
}

pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    if args.live.wanted() && !args.files.is_empty() {
        bail!("--interface captures live: give it without capture files");
    }
    // No capture named and no interface: the bundled sample.
    let files = if args.files.is_empty() && !args.live.wanted() {
        let sample = PathBuf::from(DEFAULT_CAPTURE);
        if !sample.is_file() {
            bail!("{DEFAULT_CAPTURE}: no such file (run from the repository root, or give a capture)");
        }
        vec![sample]
    } else {
        args.files.clone()
    };
    check_inputs(&files)?;
    let mut layout = args.dirs.layout();
    if let Some(a) = &args.anomalies {
        layout = layout.with_anomalies(a);
    }
    let mut opts = AnalyzeOptions {
        extract: ExtractConfig {
            max_windows: MAX_WINDOWS_IN_MEMORY,
            tunnels: args.tunnels.tunnels,
            shards: args.shards.shards,
            ..ExtractConfig::new(args.window)
        },
        name: match args.live.wanted() {
            true => name_for_capture(std::path::Path::new(&format!("live_{}", args.live.interface.join("_")))),
            false => name_for_capture(files.first().map_or(std::path::Path::new("analysis"), PathBuf::as_path)),
        },
        detect: args.detect.detect_config()?,
        ..AnalyzeOptions::default()
    };
    opts.forest.random_state = args.seed;
    opts.extract.validate()?;
    // Live: the windows of the capture until SIGINT/SIGTERM or --duration, then the analysis.
    let (sources, live) = match args.live.open()? {
        Some(l) => {
            let (source, end) = l.take();
            (vec![source], Some(end))
        }
        None => (files.iter().cloned().map(CaptureSource::File).collect(), None),
    };
    let analysed = analyze_sources_into(&layout, sources, opts, &|_| {}, &Default::default());
    if let Some(l) = &live {
        l.report();
    }
    let (analysis, outcome) = analysed?;
    let d = &analysis.detection;
    for w in &outcome.warnings {
        eprintln!("warning: {w}");
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        /// The detection, and what reading the captures warned of.
        #[derive(serde::Serialize)]
        struct Json<'a> {
            #[serde(flatten)]
            detection: &'a nta_analysis::Detection,
            warnings: &'a [String],
        }
        writeln!(out, "{}", serde_json::to_string_pretty(&Json { detection: d, warnings: &outcome.warnings })?)?;
    } else {
        print_census(&mut out, &outcome.capture, &analysis.extract)?;
        writeln!(out)?;
        print_report(&mut out, d, args.window, args.detect.by_time())?;
        writeln!(out)?;
        writeln!(
            out,
            "{} new anomalies appended to {} (model {}: {} trees on {} features; baseline of {} windows; metrics in {})",
            outcome.new,
            layout.anomalies_path().display(),
            outcome.model,
            analysis.model.forest.trees.len(),
            analysis.model.features.len(),
            analysis.baseline.windows,
            layout.metrics_path().display(),
        )?;
        for w in &outcome.warnings {
            writeln!(out, "warning: {w}")?;
        }
    }
    if let Some(labels) = &args.labels {
        let labels = read_labels(labels)?;
        let e = evaluate(&d.anomalies, &labels, args.window);
        eprintln!("evaluation: precision {:.3}, recall {:.3}", e.precision, e.recall);
        for k in &e.per_kind {
            eprintln!("  {:<16} recall {:.3} ({}/{})", k.kind, k.recall, k.detected, k.windows);
        }
    }
    // As `extract`: 1 when some capture could not be read to its end (what was read is used).
    Ok(if analysis.extract.had_errors() { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
