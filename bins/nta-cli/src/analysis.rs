//! `nta-cli analyze`, `detect`, `anomalies list|summary` and `evaluate`.

use crate::ml::{load_model, read_metrics};
use crate::util::{now_rfc3339, parse_duration_ns};
use anyhow::{Context, Result, bail};
use nta_analysis::{
    AnalyzeOptions, AnomalyStore, DetectConfig, Detection, Detector, Filter, Severity, analyze, detect, evaluate,
    read_labels, summarize,
};
use nta_baselines::Baseline;
use nta_capture::format_rfc3339_ns;
use nta_metrics::{ExtractConfig, extract_files};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

const DEFAULT_CAPTURE: &str = "fixtures/test_net_traffic.pcapng";

#[derive(Debug, clap::Args)]
pub(crate) struct AnalyzeArgs {
    /// Captures to analyse, merged into one time line [default: the bundled fixtures/test_net_traffic.pcapng]
    files: Vec<PathBuf>,
    /// Window length
    #[arg(long, default_value = "10s", value_parser = parse_duration_ns)]
    window: i64,
    /// Append the anomalies to this store
    #[arg(long, default_value = "logs/anomalies.jsonl")]
    anomalies: PathBuf,
    /// Attack labels: evaluate the detection against them (and print precision and recall)
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Seed of the forest
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Drop anomalies below this severity (low, medium, high, critical)
    #[arg(long, default_value = "low")]
    min_severity: Severity,
    /// Baseline threshold on |z| [default: 5]
    #[arg(long)]
    threshold: Option<f64>,
    /// Detection settings and suppression (TOML; see docs/ANALYSIS.md)
    #[arg(long)]
    config: Option<PathBuf>,
    /// Print the detection (anomalies and incidents) as JSON on stdout instead of the report
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct DetectArgs {
    /// A capture to extract windows from (10 s unless --window); `-` reads a capture stream
    /// from standard input and reports each abnormal window as soon as it closes
    #[arg(long, conflicts_with = "metrics", required_unless_present = "metrics")]
    pcap: Option<PathBuf>,
    /// Window metrics instead
    #[arg(long = "metrics", value_name = "FILE")]
    metrics: Vec<PathBuf>,
    /// Window length when extracting from --pcap [default: the model's, else 10s]
    #[arg(long, value_parser = parse_duration_ns)]
    window: Option<i64>,
    /// Model (name in --models-dir or a file)
    #[arg(long)]
    model: Option<String>,
    /// Directory of models
    #[arg(long, default_value = "data/models")]
    models_dir: PathBuf,
    /// Baseline file
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Anomaly store to append to
    #[arg(long, default_value = "logs/anomalies.jsonl")]
    out: PathBuf,
    /// Baseline threshold on |z|
    #[arg(long, default_value_t = 5.0)]
    threshold: f64,
    /// Drop anomalies below this severity
    #[arg(long, default_value = "low")]
    min_severity: Severity,
    /// Detection settings and suppression (TOML; see docs/ANALYSIS.md)
    #[arg(long)]
    config: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum AnomaliesCmd {
    /// List stored anomalies (filters, pagination)
    List(ListArgs),
    /// Counts by severity and detector, time range, top metrics, incidents
    Summary(ListArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct ListArgs {
    /// The store
    #[arg(long, default_value = "logs/anomalies.jsonl")]
    store: PathBuf,
    /// Windows ending after this (RFC 3339)
    #[arg(long, value_parser = nta_capture::parse_timestamp_ns)]
    since: Option<i64>,
    /// Windows starting before this (RFC 3339)
    #[arg(long, value_parser = nta_capture::parse_timestamp_ns)]
    until: Option<i64>,
    /// At least this severity
    #[arg(long)]
    severity: Option<Severity>,
    /// Only this detector (model, baseline, both)
    #[arg(long)]
    detector: Option<Detector>,
    /// Source containing this text
    #[arg(long)]
    source: Option<String>,
    /// Model score at least this
    #[arg(long)]
    min_score: Option<f64>,
    /// Skip this many
    #[arg(long, default_value_t = 0)]
    offset: usize,
    /// At most this many
    #[arg(long, default_value_t = 50)]
    limit: usize,
    /// JSON output
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct EvaluateArgs {
    /// Anomaly store (or any anomalies JSON lines)
    #[arg(long)]
    anomalies: PathBuf,
    /// Labels (JSON lines with kind, start_ns, end_ns)
    #[arg(long)]
    labels: PathBuf,
    /// Only anomalies from this source (text contained in `source`)
    #[arg(long)]
    source: Option<String>,
    /// JSON output
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct CarveArgs {
    /// The capture
    #[arg(long)]
    pcap: PathBuf,
    /// First timestamp kept (RFC 3339, or ns since the epoch)
    #[arg(long, value_parser = nta_capture::parse_timestamp_ns)]
    from: Option<i64>,
    /// End of the range, exclusive (RFC 3339, or ns)
    #[arg(long, value_parser = nta_capture::parse_timestamp_ns)]
    to: Option<i64>,
    /// Only packets from or to this address
    #[arg(long)]
    host: Option<std::net::IpAddr>,
    /// Move the packets so that the first is at this time (to embed them in another capture)
    #[arg(long, value_parser = nta_capture::parse_timestamp_ns)]
    shift_to: Option<i64>,
    /// Output capture (nanosecond pcap)
    #[arg(long)]
    out: PathBuf,
}

pub(crate) fn carve_cmd(args: &CarveArgs) -> Result<ExitCode> {
    let spec =
        nta_analysis::CarveSpec { from_ns: args.from, to_ns: args.to, host: args.host, shift_to_ns: args.shift_to };
    let file = crate::util::AtomicFile::create(&args.out)?;
    let (stats, out) = nta_analysis::carve(&args.pcap, &spec, std::io::BufWriter::new(file.file()?))?;
    drop(out.into_inner().map_err(|e| e.into_error()).context("writing the evidence")?);
    file.commit()?;
    eprintln!(
        "{} of {} packets written to {}{}",
        stats.written,
        stats.read,
        args.out.display(),
        if stats.other_link_type > 0 {
            format!(" ({} of another link type skipped)", stats.other_link_type)
        } else {
            String::new()
        }
    );
    if let Some(e) = &stats.error {
        eprintln!("warning: {}: {e} (the packets before it were used)", args.pcap.display());
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(out: &mut dyn Write, d: &Detection, window: i64) -> std::io::Result<()> {
    writeln!(
        out,
        "{} windows of {} s: {} abnormal, {} incident(s)",
        d.windows,
        window as f64 / 1e9,
        d.anomalies.len(),
        d.incidents.len()
    )?;
    for i in &d.incidents {
        writeln!(out)?;
        writeln!(
            out,
            "  {} .. {}  {}  ({} window{}, {}{}{})",
            i.start,
            &i.end[11..],
            i.severity.name().to_uppercase(),
            i.windows,
            if i.windows == 1 { "" } else { "s" },
            i.detector,
            i.peak_score.map_or(String::new(), |s| format!(", peak score {s:.2}")),
            i.peak_abs_z.map_or(String::new(), |z| format!(", peak |z| {z:.0}")),
        )?;
        if let Some(peak) = d.anomalies.iter().filter(|a| i.anomalies.contains(&a.id)).max_by(|a, b| {
            a.severity.cmp(&b.severity).then(a.max_abs_z.unwrap_or(0.0).total_cmp(&b.max_abs_z.unwrap_or(0.0)))
        }) {
            for c in peak.explanation.iter().take(3) {
                writeln!(out, "      {}", c.reason)?;
            }
            let srcs: Vec<String> = peak.top_sources.iter().take(3).map(|s| s.ip.to_string()).collect();
            let ports: Vec<String> = peak.top_dst_ports.iter().take(3).map(|p| p.port.to_string()).collect();
            if !srcs.is_empty() {
                writeln!(out, "      top sources {}; top destination ports {}", srcs.join(", "), ports.join(", "))?;
            }
        }
    }
    Ok(())
}

pub(crate) fn analyze_cmd(args: &AnalyzeArgs) -> Result<ExitCode> {
    let files = if args.files.is_empty() { vec![PathBuf::from(DEFAULT_CAPTURE)] } else { args.files.clone() };
    for file in &files {
        if !file.is_file() {
            bail!(
                "{}: not a file{}",
                file.display(),
                if args.files.is_empty() { " (run from the repository root, or give a capture)" } else { "" }
            );
        }
    }
    let first = files.first().cloned().unwrap_or_default();
    let mut opts = AnalyzeOptions {
        extract: ExtractConfig::new(args.window),
        name: first.file_stem().map_or_else(|| "analysis".into(), |s| s.to_string_lossy().into_owned()),
        created_at: now_rfc3339(),
        ..AnalyzeOptions::default()
    };
    opts.forest.random_state = args.seed;
    if let Some(c) = &args.config {
        opts.detect = DetectConfig::load(c)?;
    }
    if args.min_severity > opts.detect.min_severity {
        opts.detect.min_severity = args.min_severity;
    }
    if let Some(t) = args.threshold {
        opts.detect.thresholds.default = t;
    }
    let mut census = nta_parsing::Census::default();
    let (mut packets, mut bytes, mut first_ts, mut last_ts) = (0u64, 0u64, None::<i64>, None::<i64>);
    for file in &files {
        let mut reader =
            nta_capture::CaptureReader::open(file).with_context(|| format!("opening {}", file.display()))?;
        while let Ok(Some(p)) = reader.next_packet() {
            census.add(&nta_parsing::decode(&p));
        }
        let st = reader.stats();
        packets += st.packets;
        bytes += st.wire_bytes;
        first_ts = first_ts.min(st.first_ts_ns).or(first_ts).or(st.first_ts_ns);
        last_ts = last_ts.max(st.last_ts_ns);
    }
    let analysis = analyze(&files, &opts, &|_| {}, &Default::default())?;
    let d = &analysis.detection;
    let store = AnomalyStore::new(&args.anomalies);
    let appended = store.append(&d.anomalies)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(d)?)?;
    } else {
        let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        writeln!(out, "{}", names.join(" + "))?;
        writeln!(
            out,
            "  {} packets, {:.1} MB, {} .. {}",
            packets,
            bytes as f64 / 1e6,
            first_ts.map(format_rfc3339_ns).unwrap_or_default(),
            last_ts.map(format_rfc3339_ns).unwrap_or_default()
        )?;
        writeln!(
            out,
            "  IPv4 {} IPv6 {} ARP {} | TCP {} UDP {} ICMP {} | DNS {} TLS ClientHello {} HTTP {} | malformed {}",
            census.ipv4,
            census.ipv6,
            census.arp,
            census.tcp,
            census.udp,
            census.icmp + census.icmpv6,
            census.dns,
            census.tls_client_hello,
            census.http_requests,
            census.malformed
        )?;
        writeln!(out)?;
        print_report(&mut out, d, analysis.records.first().map_or(0, |r| r.window_ns))?;
        writeln!(out)?;
        writeln!(
            out,
            "{} new anomalies appended to {} (model: {} trees on {} features; baseline of {} windows)",
            appended,
            store.path().display(),
            analysis.model.forest.trees.len(),
            analysis.model.features.len(),
            analysis.baseline.windows
        )?;
    }
    if let Some(labels) = &args.labels {
        let labels = read_labels(labels)?;
        let e = evaluate(&d.anomalies, &labels, args.window);
        eprintln!("evaluation: precision {:.3}, recall {:.3}", e.precision, e.recall);
        for k in &e.per_kind {
            eprintln!("  {:<16} recall {:.3} ({}/{})", k.kind, k.recall, k.detected, k.windows);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn detect_cmd(args: &DetectArgs) -> Result<ExitCode> {
    let model = args.model.as_deref().map(|m| load_model(m, &args.models_dir)).transpose()?;
    let baseline = args
        .baseline
        .as_deref()
        .map(|b| Baseline::load(b).with_context(|| format!("loading baseline {}", b.display())))
        .transpose()?;
    if model.is_none() && baseline.is_none() {
        bail!("give --model NAME and/or --baseline FILE");
    }
    let mut cfg = match &args.config {
        Some(c) => DetectConfig::load(c)?,
        None => {
            let mut c = DetectConfig::default();
            c.thresholds.default = args.threshold;
            c
        }
    };
    cfg.min_severity = cfg.min_severity.max(args.min_severity);
    let window = detect_window(args.window, model.as_ref(), baseline.as_ref());
    if let Some(p) = args.pcap.as_ref().filter(|p| p.as_os_str() == nta_metrics::STDIN_PATH) {
        return detect_stream(args, p, window, model.as_ref(), baseline.as_ref(), &cfg);
    }
    let records = match &args.pcap {
        Some(p) => {
            let mut out = Vec::new();
            let s = extract_files(std::slice::from_ref(p), &ExtractConfig::new(window), &|_| {}, &mut |r| {
                out.push(r);
                Ok(())
            })?;
            if s.had_errors() {
                eprintln!("warning: {} could not be read to its end", p.display());
            }
            out
        }
        None => read_metrics(&args.metrics)?,
    };
    let d = detect(&records, model.as_ref(), baseline.as_ref(), &cfg)?;
    let appended = AnomalyStore::new(&args.out).append(&d.anomalies)?;
    print_report(&mut std::io::stdout().lock(), &d, records.first().map_or(0, |r| r.window_ns))?;
    eprintln!("{appended} new anomalies appended to {}", args.out.display());
    Ok(ExitCode::SUCCESS)
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
    args: &DetectArgs,
    input: &std::path::Path,
    window: i64,
    model: Option<&nta_ml::Model>,
    baseline: Option<&Baseline>,
    cfg: &DetectConfig,
) -> Result<ExitCode> {
    let store = AnomalyStore::new(&args.out);
    let mut found = Vec::new();
    let (mut windows, mut appended) = (0, 0);
    let mut stdout = std::io::stdout();
    let summary = extract_files(&[input.to_owned()], &ExtractConfig::new(window), &|_| {}, &mut |r| {
        let d = detect(std::slice::from_ref(&r), model, baseline, cfg).map_err(std::io::Error::other)?;
        windows += d.windows;
        if !d.anomalies.is_empty() {
            appended += store.append(&d.anomalies).map_err(std::io::Error::other)?;
            for a in &d.anomalies {
                writeln!(stdout, "{}  {:<8}  {}", a.window_start, a.severity.name().to_uppercase(), a.summary)?;
            }
            stdout.flush()?;
            found.extend(d.anomalies);
        }
        Ok(())
    })
    .context("detecting on the stream")?;
    if summary.had_errors() {
        eprintln!("warning: the stream could not be read to its end (the packets before the error were used)");
    }
    let incidents = nta_analysis::incidents(&found, window, cfg.incident_gap_windows);
    let d = Detection { windows, anomalies: found, incidents };
    writeln!(stdout)?;
    print_report(&mut stdout.lock(), &d, window)?;
    eprintln!("{appended} new anomalies appended to {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}

fn filter_of(a: &ListArgs) -> Filter {
    Filter {
        since_ns: a.since,
        until_ns: a.until,
        min_severity: a.severity,
        detector: a.detector,
        source: a.source.clone(),
        min_score: a.min_score,
    }
}

pub(crate) fn anomalies_cmd(cmd: &AnomaliesCmd) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match cmd {
        AnomaliesCmd::List(a) => {
            let store = AnomalyStore::new(&a.store);
            let page = store.list(&filter_of(a), a.offset, a.limit)?;
            if a.json {
                writeln!(out, "{}", serde_json::to_string_pretty(&page)?)?;
            } else {
                for x in &page.items {
                    writeln!(out, "{}  {}  {:<8} {:<8} {}", x.id, x.window_start, x.severity, x.detector, x.summary)?;
                }
                eprintln!("{} of {} matching (offset {})", page.items.len(), page.total, page.offset);
            }
        }
        AnomaliesCmd::Summary(a) => {
            let store = AnomalyStore::new(&a.store);
            let read = store.read()?;
            if read.torn_last_line {
                eprintln!("warning: {}: an incomplete last line was skipped", a.store.display());
            }
            let f = filter_of(a);
            let items: Vec<_> = read.anomalies.into_iter().filter(|x| f.matches(x)).collect();
            let s = summarize(&items);
            let window = items.first().map_or(1, |x| x.window_end_ns - x.window_start_ns);
            let incidents = nta_analysis::incidents(&items, window, 1);
            if a.json {
                writeln!(out, "{}", serde_json::json!({ "summary": s, "incidents": incidents }))?;
            } else {
                writeln!(out, "{} anomalies, {} incidents", s.total, incidents.len())?;
                writeln!(out, "  by severity: {:?}", s.by_severity)?;
                writeln!(out, "  by detector: {:?}", s.by_detector)?;
                if let (Some(f), Some(l)) = (s.first_ns, s.last_ns) {
                    writeln!(out, "  from {} to {}", format_rfc3339_ns(f), format_rfc3339_ns(l))?;
                }
                let top: Vec<String> = s.top_metrics.iter().map(|(m, n)| format!("{m} ({n})")).collect();
                writeln!(out, "  top metrics: {}", top.join(", "))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn evaluate_cmd(args: &EvaluateArgs) -> Result<ExitCode> {
    let store = AnomalyStore::new(&args.anomalies);
    let read = store.read()?;
    let anomalies: Vec<_> =
        read.anomalies.into_iter().filter(|a| args.source.as_deref().is_none_or(|s| a.source.contains(s))).collect();
    let labels = read_labels(&args.labels)?;
    let window = anomalies.first().map_or(10_000_000_000, |a| a.window_end_ns - a.window_start_ns);
    let e = evaluate(&anomalies, &labels, window);
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&e)?)?;
    } else {
        writeln!(
            out,
            "precision {:.3} ({} of {} flagged windows are attacks), recall {:.3} ({} attack windows missed)",
            e.precision, e.true_positives, e.flagged, e.recall, e.false_negatives
        )?;
        for k in &e.per_kind {
            writeln!(out, "  {:<16} recall {:.3} ({}/{})", k.kind, k.recall, k.detected, k.windows)?;
        }
        if !e.false_positive_windows.is_empty() {
            writeln!(out, "  false positives: {}", e.false_positive_windows.join(", "))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
