//! Live capture under load (a bench binary, root only:
//! `cargo bench -p nta-cli --features live --bench live`). A veth pair with one end in a
//! network namespace; a SYN flood of small packets (1.56 M packets of 60–74 bytes, made by
//! nta-synth) replayed with `tcpreplay --topspeed -K` `NTA_BENCH_REPLAYS` times (default 5)
//! while nta captures and extracts 1-second windows on the other end, with a kernel ring of
//! 8 MiB and of 64 MiB. Prints the rate tcpreplay reached, what the kernel received and
//! dropped, and the CPU time nta used per million packets.

use nta_capture::{CaptureWriter, WriteFormat};
use nta_live::{LiveCapture, LiveOptions, LiveStream};
use nta_metrics::{CaptureSource, ExtractConfig, extract_sources};
use nta_synth::{AttackSpec, LINK_TYPE, NS, SNAPLEN, SynthAttack, SynthConfig, synthesize};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn run(cmd: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(cmd).args(args).output().map_err(|e| format!("{cmd}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!("{cmd} {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// CPU seconds (user + system) this process used so far.
fn cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or_default().split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn main() -> Result<(), String> {
    if !cfg!(feature = "live") {
        println!("skipped: built without live capture (cargo bench -p nta-cli --features live --bench live)");
        return Ok(());
    }
    if run("id", &["-u"]).map(|u| u.trim() == "0") != Ok(true) || run("tcpreplay", &["-V"]).is_err() {
        println!("skipped: needs root, network namespaces and tcpreplay");
        return Ok(());
    }
    let replays: usize = std::env::var("NTA_BENCH_REPLAYS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let flood = std::env::temp_dir().join("nta-bench-flood.pcap");
    if !flood.is_file() {
        let mut cfg = SynthConfig::new(1, 60 * NS);
        cfg.normal = false;
        cfg.attacks.push(AttackSpec { rate: 20_000.0, ..AttackSpec::new(SynthAttack::Synflood, 0, 60 * NS) });
        let file = std::fs::File::create(&flood).map_err(|e| e.to_string())?;
        let mut w = CaptureWriter::new(std::io::BufWriter::new(file), WriteFormat::Pcap, LINK_TYPE, SNAPLEN, "bench")
            .map_err(|e| e.to_string())?;
        synthesize(&cfg, &mut w).map_err(|e| e.to_string())?;
        w.into_inner().map_err(|e| e.to_string())?;
    }
    let (ns, host, peer) = ("ntabench", "ntabench0", "ntabench1");
    let _ = run("ip", &["link", "del", host]);
    let _ = run("ip", &["netns", "del", ns]);
    run("ip", &["netns", "add", ns])?;
    run("ip", &["link", "add", host, "type", "veth", "peer", "name", peer])?;
    run("ip", &["link", "set", peer, "netns", ns])?;
    let _ = run("sysctl", &["-qw", &format!("net.ipv6.conf.{host}.disable_ipv6=1")]);
    run("ip", &["link", "set", host, "up"])?;
    run("ip", &["netns", "exec", ns, "ip", "link", "set", peer, "up"])?;
    println!("| ring | replayed | tcpreplay rate | captured | kernel received | dropped | nta CPU s per M packets |");
    println!("|---|---|---|---|---|---|---|");
    for ring_mib in [8u32, 64] {
        let options = LiveOptions { buffer_size: ring_mib << 20, ..LiveOptions::default() };
        let capture = LiveCapture::open(host, &options).map_err(|e| e.to_string())?;
        let stop = Arc::new(AtomicBool::new(false));
        let stream = LiveStream::new(capture, Arc::clone(&stop), None);
        let stats = stream.stats();
        let cpu0 = cpu_s();
        let worker = std::thread::spawn(move || {
            let source = CaptureSource::Stream { name: "bench".into(), reader: Box::new(stream), counters: None };
            extract_sources(vec![source], &ExtractConfig::new(NS), &|_| {}, &mut |_| Ok(()))
        });
        std::thread::sleep(Duration::from_millis(300));
        let mut rates = Vec::new();
        for _ in 0..replays {
            let out = run(
                "ip",
                &[
                    "netns",
                    "exec",
                    ns,
                    "tcpreplay",
                    "-q",
                    "-K",
                    "-i",
                    peer,
                    "--topspeed",
                    flood.to_str().unwrap_or_default(),
                ],
            )?;
            if let Some(pps) = out.lines().find_map(|l| l.trim().strip_prefix("Rated:")).and_then(|l| {
                l.split(',')
                    .find(|p| p.contains("pps"))
                    .and_then(|p| p.trim().trim_end_matches("pps").trim().parse::<f64>().ok())
            }) {
                rates.push(pps);
            }
        }
        // Let the ring drain, then stop.
        let began = Instant::now();
        let mut last = 0;
        loop {
            std::thread::sleep(Duration::from_millis(300));
            let now = stats.lock().map(|s| s.packets).unwrap_or(0);
            if now == last || began.elapsed() > Duration::from_secs(30) {
                break;
            }
            last = now;
        }
        stop.store(true, Ordering::Relaxed);
        worker.join().map_err(|_| "the capture thread panicked".to_owned())?.map_err(|e| e.to_string())?;
        let cpu = cpu_s() - cpu0;
        let s = stats.lock().map(|s| *s).unwrap_or_default();
        let mean = rates.iter().sum::<f64>() / rates.len().max(1) as f64;
        println!(
            "| {ring_mib} MiB | {replays} × 1.56 M | {:.2} Mpps | {} | {} | {} ({:.1} %) | {:.2} |",
            mean / 1e6,
            s.packets,
            s.capture.received,
            s.capture.dropped_kernel + s.capture.dropped_interface,
            100.0 * (s.capture.dropped_kernel + s.capture.dropped_interface) as f64 / s.capture.received.max(1) as f64,
            cpu / (s.packets.max(1) as f64 / 1e6)
        );
    }
    let _ = run("ip", &["link", "del", host]);
    let _ = run("ip", &["netns", "del", ns]);
    Ok(())
}
