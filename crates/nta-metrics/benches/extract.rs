//! Extraction throughput (a bench binary: `cargo bench -p nta-metrics --bench extract`).
//! Generates a mixed capture of `NTA_BENCH_MB` (default 1024) MB with nta-synth (campus
//! profile, every attack; cached in the temp directory), then extracts 1-second windows with
//! 1 thread and with 2, and reports MB/s, packets/s, peak RSS (VmHWM) and whether the two
//! outputs are identical; then with flow records too (serialized as JSON lines); then the same
//! traffic inside VXLAN, as a cloud traffic mirror delivers it (`NTA_BENCH_WRAP=0` skips it);
//! then a spoofed SYN flood (4 M SYNs in one second from random sources, nta-synth; the
//! victim's answers too: 5.2 M packets), 1 and 2 threads (`NTA_BENCH_FLOOD=0` skips it).

use nta_capture::{CaptureWriter, WriteFormat};
use nta_metrics::{ExtractConfig, WindowRecord, extract_files};
use nta_synth::{AttackSpec, LINK_TYPE, NS, Profile, SNAPLEN, SynthAttack, SynthConfig, Wrap, WrapKind, synthesize};
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Copies the capture at `from` to `to` with every frame inside VXLAN.
fn wrap_copy(from: &PathBuf, to: &PathBuf) -> Result<(), Box<dyn std::error::Error>> {
    let vxlan = Wrap::new(WrapKind::Vxlan);
    let mut reader = nta_capture::CaptureReader::open(from)?;
    let tmp = to.with_extension("tmp");
    let file = BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp)?);
    let mut w = CaptureWriter::new(file, WriteFormat::Pcapng, LINK_TYPE, SNAPLEN, "bench")?;
    let (mut frame, mut id) = (Vec::new(), 0u16);
    while let Some(p) = reader.next_packet()? {
        vxlan.encapsulate(p.data, id, &mut frame);
        id = id.wrapping_add(1);
        w.write_packet(p.ts_ns, &frame, frame.len() as u32)?;
    }
    w.into_inner()?.flush()?;
    std::fs::rename(&tmp, to)?;
    Ok(())
}

/// 4 M SYNs in one second, each from a random address and port, to one victim (and its
/// answers), nothing else.
fn build_flood(path: &PathBuf) -> Result<(), Box<dyn std::error::Error>> {
    let mut cfg = SynthConfig::new(1, 2 * NS);
    cfg.normal = false;
    cfg.attacks.push(AttackSpec { rate: 4_000_000.0, ..AttackSpec::new(SynthAttack::Synflood, 0, NS) });
    let tmp = path.with_extension("tmp");
    let file = BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp)?);
    let mut w = CaptureWriter::new(file, WriteFormat::Pcap, LINK_TYPE, SNAPLEN, "bench")?;
    synthesize(&cfg, &mut w)?;
    w.into_inner()?.flush()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

fn build(path: &PathBuf, mb: u64) -> Result<(), Box<dyn std::error::Error>> {
    let mut cfg = SynthConfig::new(1, 24 * 3600 * NS);
    cfg.profile = Profile::campus();
    cfg.max_bytes = Some(mb * 1_000_000);
    for (i, kind) in SynthAttack::ALL.into_iter().enumerate() {
        cfg.attacks.push(AttackSpec::new(kind, (1 + 3 * i as i64) * NS, 2 * NS));
    }
    let tmp = path.with_extension("tmp");
    let file = BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp)?);
    let mut w = CaptureWriter::new(file, WriteFormat::Pcapng, LINK_TYPE, SNAPLEN, "bench")?;
    synthesize(&cfg, &mut w)?;
    w.into_inner()?.flush()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    let mb: u64 = std::env::var("NTA_BENCH_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(1024);
    let path = std::env::temp_dir().join(format!("nta-extract-bench-{mb}MB.pcapng"));
    if !path.exists() {
        build(&path, mb)?;
    }
    let size = std::fs::metadata(&path)?.len() as f64;
    let plain = run(&path, size)?;
    if !std::env::var("NTA_BENCH_FLOOD").is_ok_and(|v| v == "0") {
        let flood = std::env::temp_dir().join("nta-extract-bench-synflood.pcap");
        if !flood.exists() {
            build_flood(&flood)?;
        }
        let flood_size = std::fs::metadata(&flood)?.len() as f64;
        println!("spoofed SYN flood ({:.0} MB):", flood_size / 1e6);
        run_windows(&flood, flood_size, 1)?;
    }
    if std::env::var("NTA_BENCH_WRAP").is_ok_and(|v| v == "0") {
        return Ok(());
    }
    // The same traffic inside VXLAN: what the same frames cost when decapsulated first.
    let wrapped = std::env::temp_dir().join(format!("nta-extract-bench-{mb}MB-vxlan.pcapng"));
    if !wrapped.exists() {
        wrap_copy(&path, &wrapped)?;
    }
    let wrapped_size = std::fs::metadata(&wrapped)?.len() as f64;
    println!("inside VXLAN ({:.0} MB for the same frames):", wrapped_size / 1e6);
    let tunnelled = run_windows(&wrapped, wrapped_size, 2)?;
    for (threads, (p, w)) in [1, 2].iter().zip(plain.iter().zip(&tunnelled)) {
        println!(
            "{threads} thread(s): inside VXLAN {:.2} Mpkt/s, plain {:.2} Mpkt/s: {:+.1}%",
            w,
            p,
            (w / p - 1.0) * 100.0
        );
    }
    Ok(())
}

/// Extracts `path` (1-second windows) with 1 and 2 threads, `rounds` times; the best packet
/// rates (Mpkt/s) of each thread count.
fn run_windows(path: &PathBuf, size: f64, rounds: usize) -> Result<[f64; 2], Box<dyn std::error::Error>> {
    let mut best = [0.0f64; 2];
    let mut outputs: Vec<(usize, Vec<WindowRecord>)> = Vec::new();
    for round in 0..rounds {
        for threads in [1, 2] {
            let mut cfg = ExtractConfig::new(NS);
            cfg.threads = threads;
            let mut records = Vec::new();
            let t = Instant::now();
            let summary = extract_files(std::slice::from_ref(path), &cfg, &|_| {}, &mut |r| {
                records.push(r);
                Ok(())
            })?;
            let secs = t.elapsed().as_secs_f64();
            let mpps = summary.counts.packets_seen as f64 / 1e6 / secs;
            println!(
                "round {round}, {threads} thread(s): {:.0} MB, {} packets, {} windows | {:.0} MB/s, {:.2} Mpkt/s | peak RSS {:.0} MB",
                size / 1e6,
                summary.counts.packets_seen,
                records.len(),
                size / 1e6 / secs,
                mpps,
                peak_rss_mb()
            );
            best[threads - 1] = best[threads - 1].max(mpps);
            if round == 0 {
                outputs.push((threads, records));
            }
        }
    }
    let identical = outputs.windows(2).all(|w| w[0].1 == w[1].1);
    println!("1-thread and 2-thread outputs identical: {identical}");
    Ok(best)
}

/// The plain capture: windows alone, then with flow records.
fn run(path: &PathBuf, size: f64) -> Result<[f64; 2], Box<dyn std::error::Error>> {
    let best = run_windows(path, size, 2)?;
    // Window records and flow records (serialized as JSON lines) in one pass, 2 threads.
    for round in 0..2 {
        let mut cfg = ExtractConfig::new(NS);
        cfg.threads = 2;
        let (mut windows, mut flows, mut bytes) = (0usize, 0u64, 0usize);
        let mut line = Vec::with_capacity(512);
        let mut sink = |f: nta_metrics::FlowRecord| {
            line.clear();
            nta_metrics::write_jsonl_record(&mut line, &f)?;
            flows += 1;
            bytes += line.len();
            Ok(())
        };
        let t = Instant::now();
        let source = vec![nta_metrics::CaptureSource::File(path.to_path_buf())];
        let summary = nta_metrics::extract_with_flows(
            source,
            &cfg,
            &|_| {},
            &mut |_| {
                windows += 1;
                Ok(())
            },
            Some(&mut sink),
        )?;
        let secs = t.elapsed().as_secs_f64();
        println!(
            "round {round}, 2 threads, with flows: {} windows, {flows} flows ({:.0} MB of JSON) | {:.0} MB/s, {:.2} Mpkt/s | peak RSS {:.0} MB",
            windows,
            bytes as f64 / 1e6,
            size / 1e6 / secs,
            summary.counts.packets_seen as f64 / 1e6 / secs,
            peak_rss_mb()
        );
    }
    Ok(best)
}
