//! Prints one line per packet of a capture: timestamp, interface, link type and lengths.
//! `cargo run -p nta-capture --example dump -- FILE`

use std::io::Write;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: dump FILE")?;
    let mut reader = nta_capture::CaptureReader::open(&path)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    while let Some(p) = reader.next_packet()? {
        let line = writeln!(
            out,
            "{} if={} {} caplen={} len={}",
            nta_capture::format_rfc3339_ns(p.ts_ns),
            p.interface,
            p.link_type,
            p.caplen,
            p.orig_len
        );
        if line.is_err() {
            return Ok(()); // stdout closed (e.g. piped into head)
        }
    }
    for w in &reader.stats().warnings {
        eprintln!("warning: {w}");
    }
    Ok(())
}
