//! `nta-cli inspect FILE...`: what capinfos says, plus nta's decode census.

use anyhow::{Context, Result};
use nta_capture::{CaptureReader, LinkType, ReadStats, format_rfc3339_ns};
use nta_parsing::{Census, TunnelLayer, census_of_layer};
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Capture files (pcap, pcapng, optionally gzip-compressed)
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// One JSON object per file instead of text
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    tunnels: crate::config::TunnelArgs,
}

#[derive(Debug, Serialize)]
struct LinkCount {
    link_type: LinkType,
    name: String,
    packets: u64,
}

/// The per-file report; `--json` prints it as is.
#[derive(Debug, Serialize)]
struct Report {
    file: String,
    format: Option<String>,
    sections: u32,
    interfaces: usize,
    packets: u64,
    /// Sum of original (on-the-wire) lengths.
    bytes: u64,
    captured_bytes: u64,
    link_types: Vec<LinkCount>,
    first_ts_ns: Option<i64>,
    last_ts_ns: Option<i64>,
    first_ts: Option<String>,
    last_ts: Option<String>,
    duration_ns: Option<i64>,
    out_of_order: u64,
    truncated: u64,
    malformed: u64,
    census: Option<Census>,
    warnings: Vec<String>,
    error: Option<String>,
}

fn report(path: &std::path::Path, layer: TunnelLayer) -> Report {
    let mut r = Report {
        file: path.display().to_string(),
        format: None,
        sections: 0,
        interfaces: 0,
        packets: 0,
        bytes: 0,
        captured_bytes: 0,
        link_types: Vec::new(),
        first_ts_ns: None,
        last_ts_ns: None,
        first_ts: None,
        last_ts: None,
        duration_ns: None,
        out_of_order: 0,
        truncated: 0,
        malformed: 0,
        census: None,
        warnings: Vec::new(),
        error: None,
    };
    let mut reader = match CaptureReader::open(path) {
        Ok(reader) => reader,
        Err(e) => {
            r.error = Some(e.to_string());
            return r;
        }
    };
    let (census, error) = census_of_layer(&mut reader, layer);
    let stats: &ReadStats = reader.stats();
    r.format = Some(reader.format().short_name());
    r.sections = stats.sections;
    r.interfaces = reader.interfaces().len();
    r.packets = stats.packets;
    r.bytes = stats.wire_bytes;
    r.captured_bytes = stats.captured_bytes;
    r.link_types = stats
        .link_types
        .iter()
        .map(|(lt, n)| LinkCount { link_type: *lt, name: lt.to_string(), packets: *n })
        .collect();
    r.first_ts_ns = stats.first_ts_ns;
    r.last_ts_ns = stats.last_ts_ns;
    r.first_ts = stats.first_ts_ns.map(format_rfc3339_ns);
    r.last_ts = stats.last_ts_ns.map(format_rfc3339_ns);
    r.duration_ns = stats.min_ts_ns.zip(stats.max_ts_ns).map(|(a, b)| b.saturating_sub(a));
    r.out_of_order = stats.out_of_order;
    r.truncated = stats.truncated;
    r.malformed = census.malformed;
    r.warnings = stats.warnings.iter().map(ToString::to_string).collect();
    if stats.warnings_dropped > 0 {
        r.warnings.push(format!("{} more warnings not shown", stats.warnings_dropped));
    }
    r.census = Some(census);
    r.error = error.map(|e| e.to_string());
    r
}

fn print_text(out: &mut impl Write, r: &Report) -> std::io::Result<()> {
    writeln!(out, "File:              {}", r.file)?;
    if let Some(format) = &r.format {
        writeln!(out, "Format:            {format}")?;
        if r.sections > 0 {
            writeln!(out, "Sections:          {}", r.sections)?;
        }
        writeln!(out, "Interfaces:        {}", r.interfaces)?;
        let links: Vec<String> = r.link_types.iter().map(|l| format!("{} ({} packets)", l.name, l.packets)).collect();
        writeln!(out, "Link types:        {}", if links.is_empty() { "-".into() } else { links.join(", ") })?;
        writeln!(out, "Packets:           {}", r.packets)?;
        writeln!(out, "Bytes (wire):      {}", r.bytes)?;
        writeln!(out, "Bytes (captured):  {}", r.captured_bytes)?;
        writeln!(out, "Truncated packets: {}", r.truncated)?;
        if let (Some(first), Some(last)) = (&r.first_ts, &r.last_ts) {
            writeln!(out, "First packet:      {first}")?;
            writeln!(out, "Last packet:       {last}")?;
        }
        if let Some(d) = r.duration_ns {
            writeln!(out, "Duration:          {}.{:09} s", d / 1_000_000_000, d % 1_000_000_000)?;
        }
        if r.out_of_order > 0 {
            writeln!(out, "Out of order:      {}", r.out_of_order)?;
        }
    }
    if let Some(c) = &r.census {
        writeln!(out, "Protocols:")?;
        let rows: [(&str, u64); 20] = [
            ("ARP", c.arp),
            ("IPv4", c.ipv4),
            ("IPv6", c.ipv6),
            ("TCP", c.tcp),
            ("UDP", c.udp),
            ("ICMP", c.icmp),
            ("ICMPv6", c.icmpv6),
            ("DNS", c.dns),
            ("mDNS", c.mdns),
            ("TLS ClientHello", c.tls_client_hello),
            ("TLS with SNI", c.tls_sni),
            ("HTTP requests", c.http_requests),
            ("fragments", c.fragments),
            ("VLAN tagged", c.vlan_tagged),
            ("in tunnels", c.tunnels),
            ("LLC", c.llc),
            ("other L3", c.other_network),
            ("other L4", c.other_transport),
            ("unsupported link", c.unsupported_link),
            ("snaplen-cut", c.snap_truncated),
        ];
        for (name, n) in rows.iter().filter(|(_, n)| *n > 0) {
            writeln!(out, "  {name:<17}{n}")?;
        }
        if c.tunnels > 0 {
            writeln!(out, "Encapsulations:")?;
            for (t, n) in nta_parsing::Tunnel::ALL.iter().zip(c.encapsulations).filter(|(_, n)| *n > 0) {
                writeln!(out, "  {:<17}{n}", t.name())?;
            }
        }
        writeln!(out, "Malformed:         {}", c.malformed)?;
        for (layer, n) in nta_parsing::Layer::ALL.iter().zip(c.malformed_by_layer).filter(|(_, n)| *n > 0) {
            writeln!(out, "  {:<17}{n}", layer.name())?;
        }
    }
    for w in &r.warnings {
        writeln!(out, "Warning:           {w}")?;
    }
    if let Some(e) = &r.error {
        writeln!(out, "Error:             {e}")?;
    }
    writeln!(out)
}

pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut failed = false;
    for path in &args.files {
        let r = report(path, args.tunnels.tunnels);
        failed |= r.error.is_some();
        if args.json {
            serde_json::to_writer(&mut out, &r).context("writing JSON")?;
            writeln!(out).context("writing to stdout")?;
        } else {
            print_text(&mut out, &r).context("writing to stdout")?;
        }
        out.flush().context("writing to stdout")?;
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
