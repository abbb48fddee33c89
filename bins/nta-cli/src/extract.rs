//! `nta-cli extract`: captures → per-window metrics, JSON lines.

use crate::config::{ShardArgs, TunnelArgs, check_inputs, parse_duration_ns};
use crate::fleet::PublishArgs;
use crate::live::LiveArgs;
use anyhow::{Context, Result, bail};
use nta_metrics::{CaptureSource, ExtractConfig, FlowRecord, Progress, extract_with_flows, write_jsonl_record};
use nta_store::AtomicFile;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Capture file (repeatable); several files form one time line, merged by timestamp. `-`
    /// reads a capture stream from standard input (e.g. `tcpdump -U -w -`), records are then
    /// written as their windows close
    #[arg(long = "pcap", value_name = "FILE")]
    pcaps: Vec<PathBuf>,
    /// Every capture in this directory (.pcap, .pcapng, .cap, .ntar, optionally .gz)
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Output JSON lines ("-" for stdout)
    #[arg(long, default_value = "logs/metrics.jsonl")]
    out: PathBuf,
    /// Also write a flow record of every flow as it ends, JSON lines, to this file ("-" for
    /// stdout): the same pass (docs/FLOWS.md)
    #[arg(long, value_name = "FILE")]
    flows: Option<PathBuf>,
    /// Window length (100ms, 1s, 10s, 1m, ...)
    #[arg(long, default_value = "1s", value_parser = parse_duration_ns)]
    window: i64,
    /// Process 1 packet in N and scale counts by N
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    sample: u32,
    /// Worker threads (0 = one per core); the output does not depend on it
    #[arg(long, default_value_t = 0)]
    threads: usize,
    #[command(flatten)]
    shards: ShardArgs,
    /// Longest run of empty windows written as zero rows; longer gaps are only recorded [default: 1h, at most 100,000 windows]
    #[arg(long, value_parser = parse_duration_ns)]
    max_gap: Option<i64>,
    /// How late (behind the newest packet) a packet may be and still join its window [default: 5s, at least one window, at most 64]
    #[arg(long, value_parser = parse_duration_ns)]
    reorder: Option<i64>,
    /// Most windows the run may create, zero rows included; beyond, it stops with an error
    #[arg(long, default_value_t = nta_metrics::DEFAULT_MAX_WINDOWS, value_parser = clap::value_parser!(u64).range(1..))]
    max_windows: u64,
    #[command(flatten)]
    flow_table: FlowTableArgs,
    #[command(flatten)]
    tunnels: TunnelArgs,
    /// Print the run's summary as JSON on stdout (not with --out -)
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    live: LiveArgs,
    #[command(flatten)]
    publish: PublishArgs,
    /// `nta-cli flows`: the window records are not written.
    #[arg(skip)]
    metrics_discarded: bool,
}

/// The flow table's settings, shared by `extract` and `flows`.
#[derive(Clone, Copy, Debug, clap::Args)]
pub(crate) struct FlowTableArgs {
    /// A flow without packets for this long has ended
    #[arg(long, default_value = "60s", value_parser = parse_duration_ns)]
    idle_timeout: i64,
    /// Flows longer than this are ended (their record written) and restarted
    #[arg(long, default_value = "30m", value_parser = parse_duration_ns)]
    active_timeout: i64,
    /// Most flows tracked at once (the least recently active is evicted beyond it)
    #[arg(long, default_value_t = 500_000)]
    max_flows: usize,
}

impl FlowTableArgs {
    fn config(self) -> nta_metrics::FlowConfig {
        nta_metrics::FlowConfig {
            idle_ns: self.idle_timeout,
            active_ns: self.active_timeout,
            max_flows: self.max_flows,
        }
    }
}

fn is_capture_name(p: &Path) -> bool {
    let name = p.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    [".pcap", ".pcapng", ".cap", ".ntar"].iter().any(|ext| name.ends_with(ext))
}

fn inputs(args: &Args) -> Result<Vec<PathBuf>> {
    let mut paths = args.pcaps.clone();
    if let Some(dir) = &args.dir {
        let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("reading directory {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && is_capture_name(p))
            .collect();
        found.sort();
        if found.is_empty() {
            bail!("no capture (.pcap, .pcapng, .cap, .ntar, .gz) in {}", dir.display());
        }
        paths.extend(found);
    }
    if paths.is_empty() {
        bail!("nothing to read: give --pcap FILE or --dir DIR");
    }
    if paths.iter().filter(|p| p.as_os_str() == nta_metrics::STDIN_PATH).count() > 1 {
        bail!("standard input (-) can be read once");
    }
    check_inputs(&paths)?;
    Ok(paths)
}

/// A one-line progress display on stderr, redrawn at most 10 times a second.
struct Bar {
    began: Instant,
    last: Mutex<Option<Instant>>,
}

impl Bar {
    fn show(&self, p: Progress) {
        let Ok(mut last) = self.last.lock() else { return };
        let now = Instant::now();
        if last.is_some_and(|l| now.duration_since(l).as_millis() < 100) {
            return;
        }
        *last = Some(now);
        let secs = self.began.elapsed().as_secs_f64().max(1e-3);
        let rate = p.bytes_done as f64 / secs;
        let eta = if rate > 0.0 { p.bytes_total.saturating_sub(p.bytes_done) as f64 / rate } else { 0.0 };
        let pct = if p.bytes_total > 0 { 100.0 * p.bytes_done as f64 / p.bytes_total as f64 } else { 0.0 };
        eprint!(
            "\r{pct:5.1}%  {:.0}/{:.0} MB  {:.0} MB/s  {} packets  ETA {eta:.0}s   ",
            p.bytes_done as f64 / 1e6,
            p.bytes_total as f64 / 1e6,
            rate / 1e6,
            p.packets
        );
    }
}

pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    if args.live.wanted() && (!args.pcaps.is_empty() || args.dir.is_some()) {
        bail!("--interface captures live: give it without --pcap or --dir");
    }
    let paths = if args.live.wanted() { Vec::new() } else { inputs(args)? };
    let mut cfg = ExtractConfig::new(args.window);
    if let Some(g) = args.max_gap {
        cfg.max_gap_ns = g;
    }
    cfg.max_windows = args.max_windows;
    if let Some(r) = args.reorder {
        cfg.reorder_ns = r;
    }
    cfg.sample = args.sample;
    cfg.threads = args.threads;
    cfg.shards = args.shards.shards;
    cfg.flows = args.flow_table.config();
    cfg.tunnels = args.tunnels.tunnels;

    cfg.validate().context("extracting metrics")?;
    // Opened before the output: a bad interface, filter or privilege writes nothing.
    let (sources, live) = match args.live.open()? {
        Some(l) => {
            let (source, end) = l.take();
            (vec![source], Some(end))
        }
        None => (paths.iter().cloned().map(CaptureSource::File).collect(), None),
    };
    let to_stdout = args.out.as_os_str() == "-";
    if to_stdout && !args.metrics_discarded && args.flows.as_ref().is_some_and(|f| f.as_os_str() == "-") {
        bail!("--out - and --flows - would share standard output: write one of them to a file");
    }
    let (file, mut out) = if args.metrics_discarded {
        (None, BufWriter::with_capacity(1 << 16, Box::new(std::io::sink()) as Box<dyn Write + Send>))
    } else {
        open_output(&args.out, live.is_some())?
    };
    let (flows_file, mut flows_out) = match &args.flows {
        Some(p) => {
            let (f, w) = open_output(p, live.is_some())?;
            (f, Some(w))
        }
        None => (None, None),
    };
    let publisher = args.publish.start()?.map(Arc::new);
    let sensor = args.publish.sensor_name();
    // `flows` publishes its flows only (its windows are not its output).
    let window_publisher = publisher.as_ref().filter(|_| !args.metrics_discarded);
    // Flow records are serialized and written on a thread of their own: the extraction's
    // accumulating thread only hands them over (through a bounded queue).
    let stream = live.is_some() || paths.iter().any(|p| p.as_os_str() == nta_metrics::STDIN_PATH);
    let (flow_tx, flow_rx) = std::sync::mpsc::sync_channel::<FlowRecord>(4096);
    let flow_publisher = publisher.clone();
    let flow_writer = flows_out.take().map(|mut w| {
        std::thread::spawn(move || -> std::io::Result<(u64, Output)> {
            let mut n = 0u64;
            for mut f in flow_rx {
                if let Some(p) = &flow_publisher {
                    f.sensor = Some(p.sensor().to_string());
                    p.flow(&f).map_err(crate::fleet::io)?;
                }
                write_jsonl_record(&mut w, &f)?;
                n += 1;
                if stream {
                    w.flush()?;
                }
            }
            w.flush()?;
            Ok((n, w))
        })
    });
    let bar = Bar { began: Instant::now(), last: Mutex::new(None) };
    let interactive = std::io::stderr().is_terminal();
    let show = |p: Progress| {
        if interactive {
            bar.show(p);
        }
    };
    let began = Instant::now();
    // From a stream, each record is flushed as soon as its window closes.
    let mut write_flow = |f: FlowRecord| -> std::io::Result<()> {
        flow_tx.send(f).map_err(|_| std::io::Error::other("the flow writer stopped"))
    };
    let flow_sink: Option<nta_metrics::FlowSink<'_>> = if args.flows.is_some() { Some(&mut write_flow) } else { None };
    let summary = extract_with_flows(
        sources,
        &cfg,
        &show,
        &mut |mut r| {
            if let Some(p) = window_publisher {
                r.sensor.clone_from(&sensor);
                p.window(&r).map_err(crate::fleet::io)?;
            }
            write_jsonl_record(&mut out, &r)?;
            if stream { out.flush() } else { Ok(()) }
        },
        flow_sink,
    );
    drop(flow_tx);
    // The writer's own error (a full disk) says more than the extraction's "it stopped".
    let flow_count = match flow_writer {
        Some(h) => {
            let (n, w) = h.join().map_err(|_| anyhow::anyhow!("the flow writer panicked"))?.context("writing flows")?;
            drop(w);
            n
        }
        None => 0,
    };
    // Every record handed over is waited for, whatever happened to the extraction.
    let lost = crate::fleet::finish(publisher.and_then(Arc::into_inner));
    let summary = summary.context("extracting metrics")?;
    out.flush().context("writing metrics")?;
    drop(out);
    if let Some(f) = file {
        f.commit()?;
    }
    if let Some(f) = flows_file {
        f.commit()?;
    }
    if let Some(p) = &args.flows {
        eprintln!("{flow_count} flow records -> {}", p.display());
    }
    if interactive {
        eprint!("\r{:78}\r", "");
    }
    let secs = began.elapsed().as_secs_f64();
    // File sizes; for standard input, the bytes of the packets read.
    let bytes: u64 = summary
        .files
        .iter()
        .map(|f| {
            if f.path == nta_metrics::STDIN_PATH { f.bytes } else { std::fs::metadata(&f.path).map_or(0, |m| m.len()) }
        })
        .sum();
    for f in &summary.files {
        for w in &f.warnings {
            eprintln!("warning: {}: {w}", f.path);
        }
        if let Some(e) = &f.error {
            eprintln!("error: {}: {e} (packets before it were used)", f.path);
        }
    }
    let c = &summary.counts;
    if args.metrics_discarded {
        return Ok(finish(&summary, live.as_ref(), args.json, lost));
    }
    eprintln!(
        "{} windows ({} empty{}{}) from {} packets{} in {} file(s) -> {}; {:.2} s, {:.0} MB/s, {} thread(s)",
        c.windows,
        c.empty_windows,
        if c.gaps > 0 { format!(", {} long gaps not filled", c.gaps) } else { String::new() },
        if c.late_records > 0 { format!(", {} late records", c.late_records) } else { String::new() },
        c.packets_seen,
        if cfg.sample > 1 { format!(" (1 in {} processed)", cfg.sample) } else { String::new() },
        summary.files.len(),
        args.out.display(),
        secs,
        bytes as f64 / 1e6 / secs.max(1e-9),
        summary.threads,
    );
    Ok(finish(&summary, live.as_ref(), args.json && !to_stdout, lost))
}

/// The closing part: the live capture's counters, the JSON summary, the exit code (1 when
/// an input could not be read to its end or published records were lost).
fn finish(
    summary: &nta_metrics::ExtractSummary,
    live: Option<&crate::live::LiveEnd>,
    json: bool,
    lost: bool,
) -> ExitCode {
    if let Some(l) = live {
        l.report();
    }
    if json {
        let mut stdout = std::io::stdout().lock();
        let _ = serde_json::to_writer_pretty(&mut stdout, summary);
        let _ = writeln!(stdout);
    }
    if summary.had_errors() || lost { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

/// A buffered JSON-lines output.
type Output = BufWriter<Box<dyn Write + Send>>;

/// An output of JSON lines: `-` is standard output; a live capture's file is written as it
/// goes (it may run for days); any other file atomically, committed by the caller.
fn open_output(path: &Path, live: bool) -> Result<(Option<AtomicFile>, Output)> {
    let to_stdout = path.as_os_str() == "-";
    let file = if to_stdout || live { None } else { Some(AtomicFile::create(path)?) };
    let sink: Box<dyn Write + Send> = match &file {
        Some(f) => Box::new(f.file()?),
        None if !to_stdout => {
            Box::new(std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?)
        }
        None => Box::new(std::io::stdout()),
    };
    Ok((file, BufWriter::with_capacity(1 << 16, sink)))
}

/// `nta-cli flows`: the flow records of captures (or an interface), JSON lines.
#[derive(Debug, clap::Args)]
pub(crate) struct FlowsArgs {
    /// Capture file (repeatable; `-` reads a capture stream from standard input)
    #[arg(long = "pcap", value_name = "FILE")]
    pcaps: Vec<PathBuf>,
    /// Every capture in this directory
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Output JSON lines ("-" for stdout)
    #[arg(long, default_value = "logs/flows.jsonl")]
    out: PathBuf,
    #[command(flatten)]
    flow_table: FlowTableArgs,
    #[command(flatten)]
    tunnels: TunnelArgs,
    /// Worker threads (0 = one per core); the output does not depend on it
    #[arg(long, default_value_t = 0)]
    threads: usize,
    #[command(flatten)]
    shards: ShardArgs,
    /// Print the run's summary as JSON on stdout (not with --out -)
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    live: LiveArgs,
    #[command(flatten)]
    publish: PublishArgs,
}

pub(crate) fn run_flows(f: &FlowsArgs) -> Result<ExitCode> {
    let args = Args {
        pcaps: f.pcaps.clone(),
        dir: f.dir.clone(),
        out: PathBuf::from("-"),
        flows: Some(f.out.clone()),
        metrics_discarded: true,
        window: 10_000_000_000,
        sample: 1,
        threads: f.threads,
        shards: f.shards,
        max_gap: None,
        reorder: None,
        max_windows: nta_metrics::DEFAULT_MAX_WINDOWS,
        flow_table: f.flow_table,
        tunnels: f.tunnels,
        json: f.json && f.out.as_os_str() != "-",
        live: f.live.clone(),
        publish: f.publish.clone(),
    };
    run(&args)
}
