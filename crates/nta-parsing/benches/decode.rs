//! Read + decode throughput on a large capture in page cache (a bench binary: `cargo bench -p
//! nta-parsing --bench decode`). The capture is built by repeating the frames of real captures
//! from ../shared/pcaps with advancing timestamps; its size is `NTA_BENCH_MB` (default 1024).
//! Reported: MB/s and packets/s for reading alone, and for reading + full decode (DNS, TLS,
//! HTTP hints) + census, on one thread.

use nta_capture::{CaptureReader, LinkType, PcapWriter};
use nta_parsing::{Census, decode};
use std::io::BufWriter;
use std::path::PathBuf;
use std::time::Instant;

fn build(path: &PathBuf, target: u64) -> std::io::Result<()> {
    let root = nta_corpus::pcap("seladb__PcapPlusPlus/Tests");
    let mut frames = Vec::new();
    for rel in ["Pcap++Test/PcapExamples/example.pcap", "ExamplesTest/pcap_examples/many-protocols.pcap"] {
        let mut r = CaptureReader::open(root.join(rel)).map_err(std::io::Error::other)?;
        while let Some(p) = r.next_packet().map_err(std::io::Error::other)? {
            frames.push(p.data.to_vec());
        }
    }
    let mut w = PcapWriter::new(BufWriter::new(std::fs::File::create(path)?), LinkType::ETHERNET, 65535, true)?;
    let (mut written, mut ts) = (24u64, 1_700_000_000_000_000_000i64);
    'outer: loop {
        for f in &frames {
            w.write_packet(ts, f, f.len() as u32)?;
            ts += 20_000;
            written += 16 + f.len() as u64;
            if written >= target {
                break 'outer;
            }
        }
    }
    w.into_inner()?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    let mb: u64 = std::env::var("NTA_BENCH_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(1024);
    let path = std::env::temp_dir().join(format!("nta-bench-{mb}MB.pcap"));
    if std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) < mb << 20 {
        build(&path, mb << 20)?;
    }
    let size = std::fs::metadata(&path)?.len() as f64;
    for round in 0..3 {
        let t = Instant::now();
        let mut r = CaptureReader::open(&path)?;
        let mut n = 0u64;
        while let Some(p) = r.next_packet()? {
            n += u64::from(p.caplen > 0);
        }
        let read = t.elapsed().as_secs_f64();

        let t = Instant::now();
        let mut r = CaptureReader::open(&path)?;
        let mut census = Census::default();
        while let Some(p) = r.next_packet()? {
            census.add(&decode(&p));
        }
        let full = t.elapsed().as_secs_f64();
        println!(
            "round {round}: {:.0} MB, {n} packets | read: {:.0} MB/s {:.2} Mpkt/s | read+decode+census: {:.0} MB/s {:.2} Mpkt/s (tcp {}, dns {}, tls {}, http {})",
            size / 1e6,
            size / 1e6 / read,
            n as f64 / 1e6 / read,
            size / 1e6 / full,
            n as f64 / 1e6 / full,
            census.tcp,
            census.dns,
            census.tls_client_hello,
            census.http_requests
        );
    }
    Ok(())
}
