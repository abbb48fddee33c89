//! `nta-cli detect`: abnormal windows of a capture, a capture stream or window metrics, with a
//! model and/or a baseline, appended to the anomaly store.

use crate::config::{DetectFlags, DirArgs, ShardArgs, TunnelArgs, check_inputs, parse_duration_ns};
use crate::fleet::PublishArgs;
use crate::live::LiveArgs;
use crate::metrics_files::read_metrics;
use crate::report::print_report;
use anyhow::{Context, Result, bail};
use nta_analysis::{DetectConfig, Detection, detect};
use nta_baselines::Baseline;
use nta_metrics::{CaptureSource, ExtractConfig, MAX_WINDOWS_IN_MEMORY, extract_files, extract_sources};
use nta_store::{AnomalyStore, Layout, Learner, load_model};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// A capture to extract windows from (10 s unless --window); `-` reads a capture stream
    /// from standard input and reports each abnormal window as soon as it closes
    #[arg(long, conflicts_with_all = ["metrics", "interface"], required_unless_present_any = ["metrics", "interface"])]
    pcap: Option<PathBuf>,
    /// Window metrics instead
    #[arg(long = "metrics", value_name = "FILE")]
    metrics: Vec<PathBuf>,
    /// Window length when extracting from --pcap [default: the model's, else 10s]
    #[arg(long, value_parser = parse_duration_ns)]
    window: Option<i64>,
    /// Model (a name in --models-dir, or a file)
    #[arg(long)]
    model: Option<String>,
    #[command(flatten)]
    dirs: DirArgs,
    /// Directory of models [default: <data-dir>/models]
    #[arg(long)]
    models_dir: Option<PathBuf>,
    /// Baseline file
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Anomaly store to append to [default: <logs-dir>/anomalies.jsonl]
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    detect: DetectFlags,
    #[command(flatten)]
    tunnels: TunnelArgs,
    #[command(flatten)]
    shards: ShardArgs,
    #[command(flatten)]
    live: LiveArgs,
    /// With --interface: learn normal from the first DURATION of capture time (a baseline and
    /// a model saved as --model NAME, default live_IFACE), then detect
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_ns, requires = "interface")]
    learn: Option<i64>,
    #[command(flatten)]
    publish: PublishArgs,
}

pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    if let Some(p) = &args.pcap {
        check_inputs(std::slice::from_ref(p))?;
    }
    let mut layout = args.dirs.layout();
    if let Some(d) = &args.models_dir {
        layout = layout.with_models_dir(d);
    }
    if let Some(o) = &args.out {
        layout = layout.with_anomalies(o);
    }
    // With --learn, --model names what will be learnt; otherwise it is loaded.
    let learner = match (args.learn, args.live.interface.join("_")) {
        (Some(span), iface) if !iface.is_empty() => {
            let name = match &args.model {
                Some(m) => m.clone(),
                None => nta_store::name_for_capture(std::path::Path::new(&format!("live_{iface}"))),
            };
            layout.model_path(&name)?;
            Some(Learner::new(name, span))
        }
        _ => None,
    };
    let model = match &learner {
        Some(_) => None,
        None => args.model.as_deref().map(|m| load_model(&layout, m)).transpose()?,
    };
    let baseline = args
        .baseline
        .as_deref()
        .map(|b| Baseline::load(b).with_context(|| format!("loading baseline {}", b.display())))
        .transpose()?;
    if model.is_none() && baseline.is_none() && learner.is_none() {
        bail!("give --model NAME and/or --baseline FILE (or, live, --learn DURATION)");
    }
    let cfg = args.detect.detect_config()?;
    let window = detect_window(args.window, model.as_ref(), baseline.as_ref());
    let cfg_x = ExtractConfig {
        max_windows: MAX_WINDOWS_IN_MEMORY,
        tunnels: args.tunnels.tunnels,
        shards: args.shards.shards,
        ..ExtractConfig::new(window)
    };
    cfg_x.validate()?;
    if args.live.wanted() && !args.metrics.is_empty() {
        bail!("--interface captures live: give it without --metrics");
    }
    if let Some(live) = args.live.open()? {
        let (source, end) = live.take();
        let publisher = args.publish.start()?;
        let judges = (model, baseline, learner);
        let code = detect_stream(&layout, source, &cfg_x, judges, (&cfg, args.detect.by_time()), publisher.as_ref());
        end.report();
        let lost = crate::fleet::finish(publisher);
        return code.map(|c| if lost { ExitCode::from(1) } else { c });
    }
    if let Some(p) = args.pcap.as_ref().filter(|p| p.as_os_str() == nta_metrics::STDIN_PATH) {
        let source = CaptureSource::File(p.clone());
        let publisher = args.publish.start()?;
        let judges = (model, baseline, None);
        let code = detect_stream(&layout, source, &cfg_x, judges, (&cfg, args.detect.by_time()), publisher.as_ref());
        let lost = crate::fleet::finish(publisher);
        return code.map(|c| if lost { ExitCode::from(1) } else { c });
    }
    let (mut records, warnings, read_error) = match &args.pcap {
        Some(p) => {
            let mut out = Vec::new();
            let s = extract_files(std::slice::from_ref(p), &cfg_x, &|_| {}, &mut |r| {
                out.push(r);
                Ok(())
            })?;
            (out, nta_store::read_warnings(&s), s.had_errors())
        }
        None => {
            let records = read_metrics(&args.metrics)?;
            warn_window_mismatch(&records, model.as_ref(), baseline.as_ref());
            (records, Vec::new(), false)
        }
    };
    let publisher = args.publish.start()?;
    if let Some(name) = args.publish.sensor_name() {
        // The sensor is part of each anomaly's id: two sensors never share one.
        records.iter_mut().for_each(|r| r.sensor = Some(name.clone()));
    }
    let d = detect(&records, model.as_ref(), baseline.as_ref(), &cfg)?;
    let appended = AnomalyStore::new(layout.anomalies_path()).append(&d.anomalies)?;
    if let Some(p) = &publisher {
        for r in &records {
            p.window(r)?;
        }
        for a in &d.anomalies {
            p.anomaly(a)?;
        }
    }
    let lost = crate::fleet::finish(publisher);
    print_report(&mut std::io::stdout().lock(), &d, records.first().map_or(0, |r| r.window_ns), args.detect.by_time())?;
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    eprintln!("{appended} new anomalies appended to {}", layout.anomalies_path().display());
    // As `extract`: 1 when the capture could not be read to its end (what was read is used),
    // or published records were lost.
    Ok(if read_error || lost { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Warns when metrics of another window length than the model's or the baseline's are
/// scored (their features would not compare), as `--pcap` with another `--window` does.
fn warn_window_mismatch(
    records: &[nta_metrics::WindowRecord],
    model: Option<&nta_ml::Model>,
    baseline: Option<&Baseline>,
) {
    let Some(have) = records.first().map(|r| r.window_ns) else { return };
    let learnt = model.and_then(|m| m.source.window_ns).or_else(|| baseline.map(|b| b.window_ns).filter(|w| *w > 0));
    if let Some(w) = learnt.filter(|w| *w != have) {
        eprintln!(
            "warning: the metrics have {} s windows, the model/baseline learnt from {} s windows: their features do not compare",
            have as f64 / 1e9,
            w as f64 / 1e9
        );
    }
}

/// The window to extract with: the one given, else the model's (or the baseline's), else 10 s.
/// A window other than the model's is allowed but said: its features would not compare.
fn detect_window(given: Option<i64>, model: Option<&nta_ml::Model>, baseline: Option<&Baseline>) -> i64 {
    let learnt = model.and_then(|m| m.source.window_ns).or_else(|| baseline.map(|b| b.window_ns).filter(|w| *w > 0));
    match (given, learnt) {
        (Some(w), Some(l)) if w != l => {
            eprintln!(
                "warning: --window {} s differs from the {} s windows the model/baseline learnt from",
                w as f64 / 1e9,
                l as f64 / 1e9
            );
            w
        }
        (Some(w), _) => w,
        (None, Some(l)) => l,
        (None, None) => 10_000_000_000,
    }
}

/// `detect --pcap -`: each window is scored as soon as it closes (detection is per window
/// with a fixed model and baseline, so this finds what a run over the whole capture finds);
/// its anomalies are appended to the store and printed at once, the incidents at the end.
fn detect_stream(
    layout: &Layout,
    input: CaptureSource,
    extract: &ExtractConfig,
    judges: (Option<nta_ml::Model>, Option<Baseline>, Option<Learner>),
    (cfg, by_time): (&DetectConfig, bool),
    publisher: Option<&nta_fleet::Publisher>,
) -> Result<ExitCode> {
    let (mut model, mut baseline, mut learner) = judges;
    let store = AnomalyStore::new(layout.anomalies_path());
    // The closing report covers the most recent anomalies (a capture may run for days; every
    // one is in the store).
    const REPORTED: usize = 10_000;
    let mut found = std::collections::VecDeque::new();
    let (mut windows, mut appended) = (0, 0);
    let mut stdout = std::io::stdout();
    let mut stream = nta_analysis::StreamDetector::new();
    let window = extract.window_ns;
    // Streams keep no window in memory beyond the open ones: no bound on their number.
    let extract = ExtractConfig { max_windows: nta_metrics::DEFAULT_MAX_WINDOWS, ..extract.clone() };
    let summary = extract_sources(vec![input], &extract, &|_| {}, &mut |mut r| {
        if let Some(p) = publisher {
            r.sensor = Some(p.sensor().to_string());
            p.window(&r).map_err(crate::fleet::io)?;
        }
        if let Some(l) = learner.as_mut() {
            match l.offer(layout, &r).map_err(std::io::Error::other)? {
                None => return Ok(()),
                Some(learnt) => {
                    eprintln!(
                        "learnt normal from {} windows: baseline and model {} saved; detecting",
                        learnt.windows,
                        l.name()
                    );
                    (model, baseline, learner) = (Some(learnt.model), Some(learnt.baseline), None);
                }
            }
        }
        let d = stream.push(r, model.as_ref(), baseline.as_ref(), cfg).map_err(std::io::Error::other)?;
        windows += d.windows;
        if !d.anomalies.is_empty() {
            appended += store.append(&d.anomalies).map_err(std::io::Error::other)?;
            if let Some(p) = publisher {
                for a in &d.anomalies {
                    p.anomaly(a).map_err(crate::fleet::io)?;
                }
            }
            for a in &d.anomalies {
                writeln!(stdout, "{}  {:<8}  {}", a.window_start, a.severity.name().to_uppercase(), a.summary)?;
            }
            stdout.flush()?;
            found.extend(d.anomalies);
            while found.len() > REPORTED {
                found.pop_front();
            }
        }
        Ok(())
    })
    .context("detecting on the stream")?;
    for w in nta_store::read_warnings(&summary) {
        eprintln!("warning: {w}");
    }
    let found: Vec<_> = found.into();
    let incidents = nta_analysis::incidents(&found);
    let d = Detection { windows, anomalies: found, incidents, rules_only: None };
    writeln!(stdout)?;
    print_report(&mut stdout.lock(), &d, window, by_time)?;
    eprintln!("{appended} new anomalies appended to {}", layout.anomalies_path().display());
    Ok(if summary.had_errors() { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
