//! `nta-cli synth`: write a synthetic capture and its attack labels.

use crate::config::{parse_duration_ns, parse_size};
use anyhow::{Context, Result, bail};
use nta_capture::{CaptureWriter, WriteFormat, format_rfc3339_ns};
use nta_store::AtomicFile;
use nta_synth::{AttackSpec, LINK_TYPE, NS, Profile, SNAPLEN, SynthAttack, SynthConfig, synthesize};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Capture to write
    #[arg(long, short)]
    out: PathBuf,
    /// pcap (microseconds), pcap-ns or pcapng [default: from the extension, .pcapng gives pcapng]
    #[arg(long)]
    format: Option<WriteFormat>,
    /// Labels file (JSON lines, one per attack) [default: OUT with .labels.jsonl]
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Capture time to synthesize (e.g. 90s, 10m, 2h)
    #[arg(long, default_value = "10m", value_parser = parse_duration_ns)]
    duration: i64,
    /// Stop once this much was written (e.g. 500MB, 1GiB); `--duration` is then an upper bound
    #[arg(long, value_parser = parse_size)]
    size: Option<u64>,
    /// Seed: the same seed and options give the same bytes
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Capture start, RFC 3339 (e.g. 2026-03-02T09:00:00Z)
    #[arg(long, value_parser = nta_capture::parse_timestamp_ns)]
    start: Option<i64>,
    /// Population and rates: quiet, office or campus
    #[arg(long, default_value = "office")]
    profile: String,
    /// Override the profile's mean new sessions per second
    #[arg(long)]
    rate: Option<f64>,
    /// Override the profile's number of clients
    #[arg(long)]
    clients: Option<u32>,
    /// Attacks with default times, spread over the capture (comma-separated; `all` for every kind)
    #[arg(long, value_delimiter = ',')]
    attacks: Vec<String>,
    /// One attack in full: KIND[,start=DUR][,duration=DUR][,rate=N][,attacker=IP][,victim=IP]
    #[arg(long = "attack")]
    attack: Vec<String>,
    /// Attacks only, no normal traffic
    #[arg(long)]
    no_normal: bool,
    /// Print the full report as JSON on stdout
    #[arg(long)]
    json: bool,
}

fn default_labels(out: &Path) -> PathBuf {
    let stem = out.file_stem().map_or_else(|| "capture".into(), |s| s.to_string_lossy().into_owned());
    out.with_file_name(format!("{stem}.labels.jsonl"))
}

/// The config these arguments describe.
fn config(args: &Args) -> Result<SynthConfig> {
    let mut cfg = SynthConfig::new(args.seed, args.duration);
    if let Some(start) = args.start {
        cfg.start_ns = start;
    }
    cfg.max_bytes = args.size;
    cfg.normal = !args.no_normal;
    cfg.profile = Profile::by_name(&args.profile)
        .with_context(|| format!("unknown profile {:?} (quiet, office, campus)", args.profile))?;
    if let Some(rate) = args.rate {
        cfg.profile.sessions_per_s = rate;
    }
    if let Some(clients) = args.clients {
        cfg.profile.clients = clients;
    }
    let mut kinds = Vec::new();
    for name in args.attacks.iter().filter(|s| !s.is_empty()) {
        if name == "all" {
            kinds.extend(SynthAttack::ALL);
        } else {
            kinds.push(name.parse::<SynthAttack>()?);
        }
    }
    cfg.schedule_defaults(&kinds);
    for spec in &args.attack {
        cfg.attacks.push(AttackSpec::parse(spec, args.duration / 2)?);
    }
    Ok(cfg)
}

pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    let cfg = config(args)?;
    if cfg.attacks.is_empty() && !cfg.normal {
        bail!("--no-normal without attacks would write an empty capture");
    }
    let format = args.format.unwrap_or_else(|| WriteFormat::from_extension(&args.out));
    let labels_path = args.labels.clone().unwrap_or_else(|| default_labels(&args.out));
    let began = Instant::now();
    let file = AtomicFile::create(&args.out)?;
    let mut writer =
        CaptureWriter::new(BufWriter::with_capacity(1 << 20, file.file()?), format, LINK_TYPE, SNAPLEN, "nta-synth")
            .with_context(|| format!("writing {}", args.out.display()))?;
    let report = synthesize(&cfg, &mut writer).with_context(|| format!("writing {}", args.out.display()))?;
    writer.into_inner().and_then(|w| w.into_inner().map_err(|e| e.into_error())).context("flushing the capture")?;
    file.commit()?;
    let elapsed = began.elapsed().as_secs_f64();

    let labels = AtomicFile::create(&labels_path)?;
    {
        let mut w = BufWriter::new(labels.file()?);
        for label in &report.attacks {
            serde_json::to_writer(&mut w, label)?;
            w.write_all(b"\n")?;
        }
        w.flush()?;
    }
    labels.commit()?;

    if args.json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    }
    let t = &report.total;
    let size = std::fs::metadata(&args.out).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "wrote {} ({format}): {} packets, {:.1} MB, {} .. {} ({:.0} s){}",
        args.out.display(),
        t.packets,
        size as f64 / 1e6,
        format_rfc3339_ns(report.start_ns),
        format_rfc3339_ns(report.end_ns),
        (report.end_ns - report.start_ns) as f64 / NS as f64,
        if report.size_limited { ", stopped at --size" } else { "" },
    );
    eprintln!(
        "  tcp {} udp {} icmp {} arp {} | ipv6 {} | dns q/r {}/{} (nxdomain {}) | tls hello {} | http {}",
        t.tcp,
        t.udp,
        t.icmp,
        t.arp,
        t.ipv6,
        t.dns_queries,
        t.dns_responses,
        t.dns_nxdomain,
        t.tls_client_hellos,
        t.http_requests
    );
    for a in &report.attacks {
        eprintln!(
            "  {:<15} {} .. {}  {:>8} packets  {} {}",
            a.label.kind.name(),
            a.start,
            a.end,
            a.packets,
            a.rate,
            a.rate_unit
        );
    }
    eprintln!(
        "  labels: {}; {:.2} s, {:.0} MB/s",
        labels_path.display(),
        elapsed,
        size as f64 / 1e6 / elapsed.max(1e-9)
    );
    Ok(ExitCode::SUCCESS)
}
