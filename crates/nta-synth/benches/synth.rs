//! Synthesizer throughput (a bench binary: `cargo bench -p nta-synth --bench synth`). Writes
//! `NTA_BENCH_MB` (default 1024) MB of the `campus` profile with every attack, once to a
//! discarding writer (generation alone) and once to a pcapng file in the temp directory.
//! Reported: MB/s, packets/s and peak RSS (VmHWM).

use nta_capture::{CaptureWriter, WriteFormat};
use nta_synth::{LINK_TYPE, NS, Profile, SNAPLEN, SynthAttack, SynthConfig, synthesize};
use std::io::{BufWriter, Write};
use std::time::Instant;

/// Counts the bytes it is given and drops them.
struct Sink(u64);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    let mb: u64 = std::env::var("NTA_BENCH_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(1024);
    let mut cfg = SynthConfig::new(1, 24 * 3600 * NS);
    cfg.profile = Profile::campus();
    cfg.max_bytes = Some(mb * 1_000_000);
    // Attacks in the first minutes, so they are inside whatever size is asked for.
    for (i, kind) in SynthAttack::ALL.into_iter().enumerate() {
        let mut a = nta_synth::AttackSpec::new(kind, (1 + 3 * i as i64) * NS, 2 * NS);
        a.rate = kind.default_rate();
        cfg.attacks.push(a);
    }
    for round in 0..2 {
        let t = Instant::now();
        let mut w = CaptureWriter::new(Sink(0), WriteFormat::Pcapng, LINK_TYPE, SNAPLEN, "bench")?;
        let report = synthesize(&cfg, &mut w)?;
        let bytes = w.into_inner()?.0 as f64;
        let gen_s = t.elapsed().as_secs_f64();

        let path = std::env::temp_dir().join(format!("nta-synth-bench-{mb}MB.pcapng"));
        let t = Instant::now();
        let file = BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
        let mut w = CaptureWriter::new(file, WriteFormat::Pcapng, LINK_TYPE, SNAPLEN, "bench")?;
        synthesize(&cfg, &mut w)?;
        w.into_inner()?.flush()?;
        let file_s = t.elapsed().as_secs_f64();
        println!(
            "round {round}: {:.0} MB, {} packets, {:.0} s of capture time, {} flows (max {} live) | generate: {:.0} MB/s {:.2} Mpkt/s | to file: {:.0} MB/s | peak RSS {:.1} MB",
            bytes / 1e6,
            report.total.packets,
            (report.end_ns - report.start_ns) as f64 / 1e9,
            report.flows,
            report.max_live_flows,
            bytes / 1e6 / gen_s,
            report.total.packets as f64 / 1e6 / gen_s,
            bytes / 1e6 / file_s,
            peak_rss_mb(),
        );
        std::fs::remove_file(&path)?;
    }
    Ok(())
}
