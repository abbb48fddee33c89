//! The report `analyze` and `detect` print: the census of what was read, and the incidents.

use nta_analysis::Detection;
use nta_capture::format_rfc3339_ns;
use nta_metrics::ExtractSummary;
use std::io::Write;

/// The capture's census: packets, bytes, time span, protocols — from the extraction's own
/// decoding (the capture is read once).
pub(crate) fn print_census(out: &mut dyn Write, names: &str, s: &ExtractSummary) -> std::io::Result<()> {
    let first = s.files.iter().filter_map(|f| f.first_ts_ns).min();
    let last = s.files.iter().filter_map(|f| f.last_ts_ns).max();
    let (packets, bytes): (u64, u64) = s.files.iter().fold((0, 0), |(p, b), f| (p + f.packets, b + f.bytes));
    let c = &s.census;
    writeln!(out, "{names}")?;
    writeln!(
        out,
        "  {} packets, {:.1} MB, {} .. {}",
        packets,
        bytes as f64 / 1e6,
        first.map(format_rfc3339_ns).unwrap_or_default(),
        last.map(format_rfc3339_ns).unwrap_or_default()
    )?;
    writeln!(
        out,
        "  IPv4 {} IPv6 {} ARP {} | TCP {} UDP {} ICMP {} | DNS {} TLS ClientHello {} HTTP {} | malformed {}",
        c.ipv4,
        c.ipv6,
        c.arp,
        c.tcp,
        c.udp,
        c.icmp + c.icmpv6,
        c.dns,
        c.tls_client_hello,
        c.http_requests,
        c.malformed
    )
}

pub(crate) fn print_report(out: &mut dyn Write, d: &Detection, window: i64, by_time: bool) -> std::io::Result<()> {
    writeln!(
        out,
        "{} windows of {} s: {} abnormal, {} incident(s){}",
        d.windows,
        window as f64 / 1e9,
        d.anomalies.len(),
        d.incidents.len(),
        if by_time || d.incidents.len() < 2 { "" } else { ", most severe first" }
    )?;
    if let Some(why) = &d.rules_only {
        writeln!(out, "judged by the evidence rules only ({why})")?;
    }
    let mut incidents: Vec<&nta_analysis::Incident> = d.incidents.iter().collect();
    if !by_time {
        incidents.sort_by(|a, b| nta_analysis::triage_order(a, b));
    }
    for i in incidents {
        writeln!(out)?;
        writeln!(out, "  {}  {}", i.severity.name().to_uppercase(), headline_or_summary(i))?;
        writeln!(
            out,
            "      {} .. {}  ({} window{}, {}{}{})",
            i.start,
            i.end.get(11..).unwrap_or(&i.end),
            i.windows,
            if i.windows == 1 { "" } else { "s" },
            i.detector,
            i.peak_score.map_or(String::new(), |s| format!(", peak score {s:.2}")),
            i.peak_abs_z.map_or(String::new(), |z| format!(", peak |z| {z:.0}")),
        )?;
        if let Some(peak) = d.anomalies.iter().filter(|a| i.anomalies.contains(&a.id)).max_by(|a, b| {
            a.severity.cmp(&b.severity).then(a.max_abs_z.unwrap_or(0.0).total_cmp(&b.max_abs_z.unwrap_or(0.0)))
        }) {
            for c in peak.explanation.iter().take(3) {
                writeln!(out, "      {}", c.reason)?;
            }
            let srcs: Vec<String> = peak.top_sources.iter().take(3).map(|s| s.ip.to_string()).collect();
            let ports: Vec<String> = peak.top_dst_ports.iter().take(3).map(|p| p.port.to_string()).collect();
            if !srcs.is_empty() {
                writeln!(out, "      top sources {}; top destination ports {}", srcs.join(", "), ports.join(", "))?;
            }
        }
    }
    Ok(())
}

/// The incident's first line: its headline when a kind is named, else its summary.
fn headline_or_summary(i: &nta_analysis::Incident) -> &str {
    if i.kind == nta_capture::AttackKind::Unknown || i.headline.is_empty() { &i.summary } else { &i.headline }
}
