//! Extraction throughput (a bench binary: `cargo bench -p nta-metrics --bench extract`).
//! Generates a mixed capture of `NTA_BENCH_MB` (default 1024) MB with nta-synth (campus
//! profile, every attack; cached in the temp directory), then extracts 1-second windows with
//! 1 thread and with 2, and reports MB/s, packets/s, peak RSS (VmHWM) and whether the two
//! outputs are identical; then with flow records too (serialized as JSON lines); then the same
//! traffic inside VXLAN, as a cloud traffic mirror delivers it (`NTA_BENCH_WRAP=0` skips it);
//! then a spoofed SYN flood (4 M SYNs in one second from random sources, nta-synth; the
//! victim's answers too: 5.2 M packets), 1 and 2 threads, three rounds (`NTA_BENCH_FLOOD=0` skips it); then
//! small packets over few flows (nta-synth's `small` profile: one minute, 5.9 M frames of
//! 54–127 bytes over ~3,000 flows; `NTA_BENCH_SMALL=0` skips it). Each run reports its CPU
//! use (CPU-seconds per second) and its own peak RSS (each run is a process of its own).
//! `NTA_BENCH_SHARDS=N` runs every extraction with N shards (`ExtractConfig::shards`).

use nta_capture::{CaptureWriter, WriteFormat};
use nta_metrics::{ExtractConfig, WindowRecord, extract_files};
use nta_synth::{AttackSpec, LINK_TYPE, NS, Profile, SNAPLEN, SynthAttack, SynthConfig, Wrap, WrapKind, synthesize};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Forgets the peak RSS so far (Linux: `clear_refs` 5), so each run reports its own.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// CPU time of the process so far (user + system), seconds.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which ends with the last ')'): utime and stime are the
    // 12th and 13th, in clock ticks (100 a second on Linux).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

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
fn flood() -> SynthConfig {
    let mut cfg = SynthConfig::new(1, 2 * NS);
    cfg.normal = false;
    cfg.attacks.push(AttackSpec { rate: 4_000_000.0, ..AttackSpec::new(SynthAttack::Synflood, 0, NS) });
    cfg
}

/// One minute of the `small` profile: small packets over a few thousand flows.
fn small() -> SynthConfig {
    let mut cfg = SynthConfig::new(1, 60 * NS);
    cfg.profile = Profile::small();
    cfg
}

/// `mb` MB of the campus profile with every attack.
fn mixed(mb: u64) -> SynthConfig {
    let mut cfg = SynthConfig::new(1, 24 * 3600 * NS);
    cfg.profile = Profile::campus();
    cfg.max_bytes = Some(mb * 1_000_000);
    for (i, kind) in SynthAttack::ALL.into_iter().enumerate() {
        cfg.attacks.push(AttackSpec::new(kind, (1 + 3 * i as i64) * NS, 2 * NS));
    }
    cfg
}

/// The capture `name` in the temp directory, synthesized from `cfg` unless it is there
/// already (written beside, then renamed); its path and size in bytes.
fn cached(
    name: &str,
    format: WriteFormat,
    cfg: impl FnOnce() -> SynthConfig,
) -> Result<(PathBuf, f64), Box<dyn std::error::Error>> {
    let path = std::env::temp_dir().join(name);
    if !path.exists() {
        let tmp = path.with_extension("tmp");
        let file = BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp)?);
        let mut w = CaptureWriter::new(file, format, LINK_TYPE, SNAPLEN, "bench")?;
        synthesize(&cfg(), &mut w)?;
        w.into_inner()?.flush()?;
        std::fs::rename(&tmp, &path)?;
    }
    let size = std::fs::metadata(&path)?.len() as f64;
    Ok((path, size))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    if let Ok(spec) = std::env::var("NTA_BENCH_CHILD") {
        return child(&spec);
    }
    let mb: u64 = std::env::var("NTA_BENCH_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(1024);
    let (path, size) = cached(&format!("nta-extract-bench-{mb}MB.pcapng"), WriteFormat::Pcapng, || mixed(mb))?;
    let plain = run(&path, size)?;
    if !std::env::var("NTA_BENCH_FLOOD").is_ok_and(|v| v == "0") {
        let (flood, flood_size) = cached("nta-extract-bench-synflood.pcap", WriteFormat::Pcap, flood)?;
        println!("spoofed SYN flood ({:.0} MB):", flood_size / 1e6);
        run_windows(&flood, flood_size, 3)?;
    }
    if !std::env::var("NTA_BENCH_SMALL").is_ok_and(|v| v == "0") {
        let (small, small_size) = cached("nta-extract-bench-small.pcap", WriteFormat::Pcap, small)?;
        println!("small packets over few flows ({:.0} MB):", small_size / 1e6);
        run_windows(&small, small_size, 2)?;
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

/// Extracts `path` (1-second windows) with 1 and 2 threads, `rounds` times, each run in a
/// process of its own (so that its peak RSS is its own); the best packet rates (Mpkt/s) of
/// each thread count.
fn run_windows(path: &Path, size: f64, rounds: usize) -> Result<[f64; 2], Box<dyn std::error::Error>> {
    let mut best = [0.0f64; 2];
    let mut digests = Vec::new();
    for round in 0..rounds {
        for threads in [1usize, 2] {
            let out = std::process::Command::new(std::env::current_exe()?)
                .arg("--bench")
                .env("NTA_BENCH_CHILD", format!("{threads}:{}", path.display()))
                .output()?;
            let text = String::from_utf8_lossy(&out.stdout);
            let Some(line) = text.lines().find_map(|l| l.strip_prefix("RESULT ")) else {
                return Err(format!("a run failed: {}", String::from_utf8_lossy(&out.stderr)).into());
            };
            let f: Vec<&str> = line.split_whitespace().collect();
            let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN);
            let (packets, windows, secs, cpu, rss) = (num(0), num(1), num(2), num(3), num(4));
            let mpps = packets / 1e6 / secs;
            println!(
                "round {round}, {threads} thread(s): {:.0} MB, {packets} packets, {windows} windows | {:.0} MB/s, {mpps:.2} Mpkt/s | CPU {:.2} s per s | peak RSS {rss:.0} MB",
                size / 1e6,
                size / 1e6 / secs,
                cpu / secs,
            );
            if let Some(b) = best.get_mut(threads - 1) {
                *b = b.max(mpps);
            }
            digests.push(f.get(5).map(|d| d.to_string()).unwrap_or_default());
        }
    }
    let identical = digests.windows(2).all(|w| w[0] == w[1]);
    println!("1-thread and 2-thread outputs identical: {identical}");
    Ok(best)
}

/// A run of [`run_windows`], in the child process: `RESULT packets windows seconds
/// cpu-seconds peak-RSS-MB digest-of-the-records`.
fn child(spec: &str) -> Result<(), Box<dyn std::error::Error>> {
    use std::hash::{Hash, Hasher};
    let (threads, path) = spec.split_once(':').ok_or("NTA_BENCH_CHILD: threads:path")?;
    let mut cfg = ExtractConfig::new(NS);
    cfg.threads = threads.parse()?;
    cfg.shards = shards();
    let mut digest = std::collections::hash_map::DefaultHasher::new();
    let mut windows = 0u64;
    let cpu = cpu_secs();
    let t = Instant::now();
    let summary = extract_files(&[PathBuf::from(path)], &cfg, &|_| {}, &mut |r: WindowRecord| {
        windows += 1;
        serde_json::to_string(&r).map_err(std::io::Error::other)?.hash(&mut digest);
        Ok(())
    })?;
    let secs = t.elapsed().as_secs_f64();
    let cpu = cpu_secs() - cpu;
    println!(
        "RESULT {} {windows} {secs} {cpu} {} {:016x}",
        summary.counts.packets_seen,
        peak_rss_mb(),
        digest.finish()
    );
    Ok(())
}

/// The shard count of every run: `NTA_BENCH_SHARDS` (default 1).
fn shards() -> usize {
    std::env::var("NTA_BENCH_SHARDS").ok().and_then(|v| v.parse().ok()).unwrap_or(1)
}

/// The plain capture: windows alone, then with flow records.
fn run(path: &Path, size: f64) -> Result<[f64; 2], Box<dyn std::error::Error>> {
    let best = run_windows(path, size, 2)?;
    // Window records and flow records (serialized as JSON lines) in one pass, 2 threads.
    for round in 0..2 {
        let mut cfg = ExtractConfig::new(NS);
        cfg.threads = 2;
        cfg.shards = shards();
        let (mut windows, mut flows, mut bytes) = (0usize, 0u64, 0usize);
        let mut line = Vec::with_capacity(512);
        reset_peak_rss();
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
