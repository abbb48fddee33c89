//! `nta-cli synth`: write a synthetic capture and its attack labels.

use crate::config::{parse_duration_ns, parse_size};
use anyhow::{Context, Result, bail};
use nta_capture::{CaptureWriter, WriteFormat, format_rfc3339_ns};
use nta_store::AtomicFile;
use nta_synth::{AttackSpec, LINK_TYPE, NS, Profile, SNAPLEN, SynthAttack, SynthConfig, Wrap, WrapKind, synthesize};
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
    /// Capture time to synthesize (e.g. 90s, 10m, 2h) [default: 10m, or with --size the time that fills it]
    #[arg(long, value_parser = parse_duration_ns)]
    duration: Option<i64>,
    /// Write this much (e.g. 500MB, 1GiB): without --duration, the capture time is chosen so
    /// that normal traffic and the attacks fill it; with --duration, generation stops there
    /// and attacks it would cut are an error
    #[arg(long, value_parser = parse_size)]
    size: Option<u64>,
    /// Seed: the same seed and options give the same bytes
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Capture start, RFC 3339 (e.g. 2026-03-02T09:00:00Z)
    #[arg(long, value_parser = nta_capture::parse_timestamp_ns)]
    start: Option<i64>,
    /// Population and rates: quiet, office, campus or small (small packets over few flows)
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
    /// Deliver every frame inside vxlan or geneve, as a cloud traffic mirror does (from
    /// 10.99.0.1 to the collector 10.99.0.2)
    #[arg(long)]
    wrap: Option<WrapKind>,
    /// The wrapper's VNI
    #[arg(long, default_value_t = 7, requires = "wrap", value_parser = clap::value_parser!(u32).range(0..=0xff_ffff))]
    vni: u32,
    /// Print the full report as JSON on stdout
    #[arg(long)]
    json: bool,
}

fn default_labels(out: &Path) -> PathBuf {
    let stem = out.file_stem().map_or_else(|| "capture".into(), |s| s.to_string_lossy().into_owned());
    out.with_file_name(format!("{stem}.labels.jsonl"))
}

/// Capture time when neither --duration nor --size says.
const DEFAULT_DURATION_NS: i64 = 600 * NS;

/// The config these arguments describe, over `duration_ns` of capture time.
fn config(args: &Args, duration_ns: i64) -> Result<SynthConfig> {
    let mut cfg = SynthConfig::new(args.seed, duration_ns);
    if let Some(start) = args.start {
        cfg.start_ns = start;
    }
    cfg.normal = !args.no_normal;
    cfg.wrap = args.wrap.map(|kind| Wrap { vni: args.vni, ..Wrap::new(kind) });
    cfg.profile = Profile::by_name(&args.profile)
        .with_context(|| format!("unknown profile {:?} (quiet, office, campus, small)", args.profile))?;
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
        cfg.attacks.push(AttackSpec::parse(spec, duration_ns / 2)?);
    }
    Ok(cfg)
}

/// Bytes a run writes into the capture: packets and their 16-byte record headers (what
/// `max_bytes` counts).
fn written(c: &nta_synth::SynthCounts) -> u64 {
    c.bytes + 16 * c.packets
}

/// Synthesizes `cfg` into nowhere: what it would write.
fn dry_run(cfg: &SynthConfig) -> Result<nta_synth::SynthReport> {
    let mut w = CaptureWriter::new(std::io::sink(), WriteFormat::Pcap, LINK_TYPE, SNAPLEN, "nta-synth")?;
    Ok(synthesize(cfg, &mut w)?)
}

/// Whether every attack `cfg` schedules is in `report`, whole (none cut by the size).
fn attacks_whole(cfg: &SynthConfig, report: &nta_synth::SynthReport) -> Vec<String> {
    cfg.attacks
        .iter()
        .filter(|a| {
            let start = cfg.start_ns + a.start_ns;
            let end = (start + a.duration_ns).min(cfg.start_ns + cfg.duration_ns);
            !report.attacks.iter().any(|l| l.attack == a.kind && l.label.start_ns == start && l.label.end_ns >= end)
        })
        .map(|a| a.kind.to_string())
        .collect()
}

/// The config whose normal traffic and attacks fill `size` bytes, every attack inside. A
/// minute of normal traffic gives a first rate; dry runs (into nowhere, ~1 GB/s) then correct
/// the capture time: longer while the size is not reached, and when it is reached before an
/// attack ends, just past the time it was reached (the attacks, placed in proportion to the
/// capture time, move before it).
fn fit_to_size(args: &Args, size: u64) -> Result<SynthConfig> {
    let mut pilot = config(args, 60 * NS)?;
    pilot.attacks.clear();
    if !pilot.normal {
        bail!("--size without normal traffic cannot choose a duration: give --duration too");
    }
    let rate = written(&dry_run(&pilot)?.total) as f64 / 60.0;
    if rate <= 0.0 {
        bail!("the profile writes no normal traffic: give --duration");
    }
    let mut duration = ((size as f64 / rate) * 1e9) as i64;
    // The longest capture time known to fall short of the size, the shortest known to reach
    // it too early; once both are known, bisection between them.
    let (mut short, mut early): (Option<i64>, Option<i64>) = (None, None);
    for _ in 0..40 {
        let mut cfg = config(args, duration.max(NS))?;
        cfg.max_bytes = Some(size);
        let trial = dry_run(&cfg)?;
        let attacks: u64 = trial.attacks.iter().map(|a| a.bytes + 16 * a.packets).sum();
        if attacks.saturating_mul(10) >= size.saturating_mul(9) {
            bail!(
                "the attacks alone write {:.1} MB: --size {:.1} MB cannot hold them with normal traffic (raise --size)",
                attacks as f64 / 1e6,
                size as f64 / 1e6
            );
        }
        if !trial.size_limited {
            short = Some(duration);
            duration = match early {
                Some(e) => duration + (e - duration) / 2,
                // Lengthen in proportion to what the normal traffic still lacks.
                None => {
                    let normal = written(&trial.normal).max(1) as f64;
                    let lacking = size.saturating_sub(attacks) as f64;
                    (duration as f64 * (lacking / normal).max(1.01) * 1.02) as i64
                }
            };
        } else if attacks_whole(&cfg, &trial).is_empty() {
            return Ok(cfg);
        } else {
            early = Some(duration);
            duration = match short {
                Some(s) => s + (duration - s) / 2,
                // Reached before an attack ended: end the capture just after that moment.
                None => ((trial.end_ns - cfg.start_ns) as f64 * 1.01) as i64,
            };
        }
        if short.zip(early).is_some_and(|(s, e)| e - s < NS / 100) {
            break;
        }
    }
    bail!("no capture time fits every attack into --size {:.1} MB: raise --size or give --duration", size as f64 / 1e6)
}

pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    let cfg = match (args.size, args.duration) {
        (Some(size), None) => fit_to_size(args, size)?,
        (size, duration) => {
            let mut cfg = config(args, duration.unwrap_or(DEFAULT_DURATION_NS))?;
            cfg.max_bytes = size;
            cfg
        }
    };
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
    // Every scheduled attack must be in the capture, whole: a size that cut one is an error
    // (nothing is written), never a capture whose labels silently lack attacks.
    let cut = attacks_whole(&cfg, &report);
    if report.size_limited && !cut.is_empty() {
        bail!(
            "--size was reached after {:.1} s of traffic, before the end of {}: raise --size, shorten --duration, or leave --duration out to fit it",
            (report.end_ns - cfg.start_ns) as f64 / 1e9,
            cut.join(", ")
        );
    }
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
