//! The evidence rules: fixed, documented tests on a window's per-host [`Evidence`] that name
//! an attack, its attackers and its victims — on their own when the evidence passes a rule's
//! alert bar (a capture with no history is still judged), and as the name of a window the
//! learned detectors flagged when it passes the lower naming bar. docs/ANALYSIS.md states each
//! rule; [`RuleConfig`] holds the bars.

use crate::anomaly::Severity;
use crate::attack::{Finding, Host, MAX_HOSTS, thousands};
use nta_capture::AttackKind;
use nta_metrics::{Evidence, WindowRecord};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// TCP ports of services that authenticate logins: repeated connections to one of them from
/// one client are brute-force evidence.
/// (SMB, 445, and Redis, 6379, are left out: their clients open many connections in normal use.)
pub const AUTH_PORTS: &[u16] =
    &[21, 22, 23, 110, 143, 389, 465, 587, 993, 995, 1433, 1521, 3306, 3389, 5432, 5900, 5901, 27017];

/// The bars of the rules (TOML `[rules]`). Each alert bar is a count per window and, for
/// rates, at least that many per second of window (so longer windows need more evidence).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuleConfig {
    /// Use the rules at all.
    pub enabled: bool,
    /// Port scan: distinct ports probed on one host, mostly unanswered.
    pub scan_ports: u64,
    /// Host sweep: distinct hosts probed on one port (TCP mostly unanswered; ICMP echo; ARP).
    pub sweep_hosts: u64,
    /// SYN flood: SYNs to one host (and per second), at most 20% completing, on few ports.
    pub syn_flood_syns: u64,
    /// …per second of window.
    pub syn_flood_per_s: f64,
    /// UDP flood: UDP packets to one host (and per second) with under 10% sent back.
    pub udp_flood_packets: u64,
    /// …per second of window.
    pub udp_flood_per_s: f64,
    /// ICMP flood: echo requests to one host (and per second).
    pub icmp_flood_echoes: u64,
    /// …per second of window.
    pub icmp_flood_per_s: f64,
    /// DNS tunnel: distinct names under one domain from one client…
    pub dns_tunnel_names: u64,
    /// …with at least this mean name length.
    pub dns_tunnel_mean_len: f64,
    /// Brute force: connections from one client to one authentication service, mostly completing.
    pub brute_force_attempts: u64,
    /// ARP spoofing: replies claiming an address first claimed by another MAC.
    pub arp_spoof_replies: u64,
    /// Exfiltration: bytes (in full-size packets) from an inside to an outside host, under
    /// 10% coming back. Alone it is at most medium: an upload looks the same.
    pub exfil_bytes: u64,
    /// Traffic drop: packets at most this share of the baseline's median…
    pub drop_ratio: f64,
    /// …when the median is at least this many packets.
    pub drop_min_median: f64,
    /// Windows shorter than this (seconds) are fine-grained: the rules also read the evidence
    /// of the span of this length that ends with the window (docs/ANALYSIS.md).
    pub span_s: f64,
}

impl Default for RuleConfig {
    fn default() -> RuleConfig {
        RuleConfig {
            enabled: true,
            scan_ports: 25,
            sweep_hosts: 25,
            syn_flood_syns: 100,
            syn_flood_per_s: 10.0,
            udp_flood_packets: 1000,
            udp_flood_per_s: 100.0,
            icmp_flood_echoes: 500,
            icmp_flood_per_s: 50.0,
            dns_tunnel_names: 20,
            dns_tunnel_mean_len: 30.0,
            brute_force_attempts: 5,
            arp_spoof_replies: 3,
            exfil_bytes: 100_000_000,
            drop_ratio: 0.2,
            drop_min_median: 100.0,
            span_s: 10.0,
        }
    }
}

/// Exfiltration names a flagged window from this many bytes on, whatever its alert bar.
const EXFIL_NAMING_BYTES: u64 = 100_000;

/// A rule names a window the learned detectors flagged at this share of its alert bar.
const NAMING_SHARE: f64 = 0.4;

/// Severity by how far past the alert bar: 10× critical, 3× high, else medium.
fn severity(strength: f64) -> Option<Severity> {
    match strength {
        s if s >= 10.0 => Some(Severity::Critical),
        s if s >= 3.0 => Some(Severity::High),
        s if s >= 1.0 => Some(Severity::Medium),
        _ => None,
    }
}

fn pct(part: u64, whole: u64) -> u64 {
    part.saturating_mul(100).saturating_add(whole / 2).checked_div(whole).unwrap_or(0)
}

fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

/// Whether an address is inside a site (private, loopback, link-local, unique local, CGNAT).
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => {
            let [a, b, ..] = v.octets();
            v.is_private() || v.is_loopback() || v.is_link_local() || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v) => {
            let s = v.segments()[0];
            v.is_loopback() || (s & 0xfe00) == 0xfc00 || (s & 0xffc0) == 0xfe80
        }
    }
}

/// The findings of one window, strongest first (empty when the rules are off). `packets` is
/// the baseline's (median, 10th percentile) of `packets`, when a baseline is used.
pub fn findings(r: &WindowRecord, packets: Option<(f64, f64)>, cfg: &RuleConfig) -> Vec<Finding> {
    if !cfg.enabled {
        return Vec::new();
    }
    let secs = (r.window_ns as f64 / 1e9).max(1e-9);
    let bar = |count: u64, per_s: f64| (count as f64).max(per_s * secs);
    let mut out = Vec::new();
    let e: &Evidence = &r.evidence;
    let mut push = |kind, evidence: f64, alert_bar: f64, attackers: Vec<Host>, victims: Vec<Host>, detail: String| {
        let strength = evidence / alert_bar.max(1.0);
        if strength >= NAMING_SHARE {
            out.push(Finding { kind, strength, severity: severity(strength), attackers, victims, detail });
        }
    };

    for s in &e.scanners {
        let unanswered = s.syns.saturating_sub(s.answered);
        let failing = s.syns == 0 || share(s.answered, s.syns) <= 0.5;
        // A UDP-only "scan" of a host that receives UDP at flood rate is the flood's spread.
        let flooded = |v: &IpAddr| {
            s.syns == 0
                && e.targets
                    .iter()
                    .any(|t| t.ip == *v && t.udp_packets as f64 >= bar(cfg.udp_flood_packets, cfg.udp_flood_per_s))
        };
        // Port scan: many ports of one host.
        // The probes were attempts: SYNs sent or refusals received for half of them at least
        // (not flows first seen mid-stream).
        let attempts = s.syns + s.refused >= s.top_host_ports / 2;
        if let Some(v) = s.top_host.filter(|v| failing && attempts && !flooded(v)) {
            let a =
                Host { ports: Some(s.top_host_ports), syns: Some(s.syns), refused: Some(s.refused), ..Host::new(s.ip) };
            let victim = Host { ports: Some(s.top_host_ports), ..Host::new(v) };
            let detail = format!(
                "{} ports in {}, {}% refused, {}% unanswered",
                thousands(s.top_host_ports),
                span(secs),
                pct(s.refused, s.syns.max(s.probes)),
                pct(unanswered.saturating_sub(s.refused), s.syns.max(1))
            );
            push(AttackKind::PortScan, s.top_host_ports as f64, cfg.scan_ports as f64, vec![a], vec![victim], detail);
        }
        // Host sweep: one port on many hosts (TCP mostly unanswered, ICMP echo, or UDP at
        // twice the bar), or ARP requests for many addresses.
        let per_port = if s.top_port == 0 {
            s.top_port_hosts as f64
        } else if s.syns >= 10 {
            if failing { s.top_port_hosts as f64 } else { 0.0 }
        } else {
            s.top_port_hosts as f64 / 2.0
        };
        let sweep = per_port.max(s.arp_targets as f64);
        if sweep > 0.0 {
            let hosts = s.top_port_hosts.max(s.arp_targets);
            let what = if s.arp_targets as f64 >= per_port {
                "by ARP".to_string()
            } else if s.top_port == 0 {
                "by ICMP echo or neighbour solicitation".to_string()
            } else {
                format!("on port {}", s.top_port)
            };
            let a = Host { hosts: Some(hosts), syns: Some(s.syns), ..Host::new(s.ip) };
            let detail = format!("{} hosts probed {what} in {}", thousands(hosts), span(secs));
            push(AttackKind::HostSweep, sweep, cfg.sweep_hosts as f64, vec![a], Vec::new(), detail);
        }
    }

    for t in &e.targets {
        let sources = |t: &nta_metrics::TargetEvidence| -> Vec<Host> {
            // The sources that sent at least a tenth of what the strongest one did.
            let top = t.top_sources.first().map_or(0, |s| s.packets);
            t.top_sources
                .iter()
                .filter(|s| s.packets > 0 && s.packets.saturating_mul(10) >= top)
                .take(MAX_HOSTS)
                .map(|s| Host { packets: Some(s.packets), ..Host::new(s.ip) })
                .collect()
        };
        // Spoofed when nearly every source sent one or two packets.
        let spoofed = t.sources >= 50 && t.top_sources.first().is_none_or(|s| s.packets <= 2);
        // The pair table full, a target's sources stop at its bound: a spoofed flood's are
        // then told by the window's distinct sources, estimated beyond the host table. With
        // shards each holds its share of the bound, and a target's sources, spread over them,
        // stop a little short of it: half the bound with keys refused is as telling.
        let bound = nta_metrics::MAX_TRACKED_PAIRS as u64;
        let capped = t.sources >= bound || (r.evidence.untracked > 0 && t.sources >= bound / 2);
        let n_sources = if spoofed && capped { r.unique_src_ips.max(t.sources) } else { t.sources };
        let from = match (spoofed, capped) {
            (false, _) => String::new(),
            (true, false) => format!(" from {} sources (spoofed)", thousands(n_sources)),
            (true, true) => format!(" from ~{} sources (spoofed; estimated)", thousands(n_sources)),
        };
        let victim = |t: &nta_metrics::TargetEvidence| Host {
            packets: Some(t.packets),
            hosts: Some(n_sources),
            ..Host::new(t.ip)
        };
        if t.syns > 0 && t.ports <= 10 && share(t.completed, t.syns) <= 0.2 {
            let detail = format!(
                "{} SYNs in {}{from}, {}% answered, {}% completed",
                thousands(t.syns),
                span(secs),
                pct(t.answered, t.syns),
                pct(t.completed, t.syns)
            );
            let attackers = if spoofed { Vec::new() } else { sources(t) };
            let v = Host { syns: Some(t.syns), unanswered: Some(t.syns.saturating_sub(t.answered)), ..victim(t) };
            push(
                AttackKind::SynFlood,
                t.syns as f64,
                bar(cfg.syn_flood_syns, cfg.syn_flood_per_s),
                attackers,
                vec![v],
                detail,
            );
        }
        let dhcp_starvation =
            t.ip == IpAddr::from([255, 255, 255, 255]) && t.top_sources.first().is_some_and(|s| s.ip.is_unspecified());
        if t.udp_packets > 0 && share(t.udp_sent, t.udp_packets) <= 0.1 {
            // One source to one port is a stream unless it is very fast; DHCP requests from
            // 0.0.0.0 to the broadcast address (starvation) count ten times.
            let spread = t.ports >= 10 || t.sources >= 10;
            let weight = if dhcp_starvation {
                10.0
            } else if spread {
                1.0
            } else {
                0.1
            };
            let detail = format!(
                "{} UDP packets in {}{from} to {} ports{}",
                thousands(t.udp_packets),
                span(secs),
                thousands(t.ports),
                if dhcp_starvation { " (DHCP requests from 0.0.0.0: starvation)" } else { "" }
            );
            let attackers = if spoofed { Vec::new() } else { sources(t) };
            let v = Host { ports: Some(t.ports), ..victim(t) };
            push(
                AttackKind::UdpFlood,
                t.udp_packets as f64 * weight,
                bar(cfg.udp_flood_packets, cfg.udp_flood_per_s),
                attackers,
                vec![v],
                detail,
            );
        }
        if t.echo_requests > 0 {
            let detail = format!("{} echo requests in {}{from}", thousands(t.echo_requests), span(secs));
            let attackers = if spoofed { Vec::new() } else { sources(t) };
            push(
                AttackKind::IcmpFlood,
                t.echo_requests as f64,
                bar(cfg.icmp_flood_echoes, cfg.icmp_flood_per_s),
                attackers,
                vec![victim(t)],
                detail,
            );
        }
    }

    for d in &e.dns {
        // Long names count in full; shorter ones in proportion.
        let length = (d.mean_name_len / cfg.dns_tunnel_mean_len.max(1.0)).min(1.0);
        let long = d.max_name_len >= 100;
        let dns_bar = bar(cfg.dns_tunnel_names, cfg.dns_tunnel_names as f64 / 10.0);
        // Short names never alert on their own (a busy resolver's many distinct names of one
        // domain): they only name a window the learned detectors flagged.
        let names =
            if length >= 1.0 || long { d.names as f64 } else { (d.names as f64 * length * length).min(0.99 * dns_bar) };
        let a = Host {
            queries: Some(d.queries),
            names: Some(d.names),
            mean_name_len: Some(d.mean_name_len),
            ..Host::new(d.client)
        };
        let detail = format!(
            "{} queries for {} distinct names of one domain in {}, mean length {:.0}",
            thousands(d.queries),
            thousands(d.names),
            span(secs),
            d.mean_name_len
        );
        push(AttackKind::DnsTunnel, names, dns_bar, vec![a], vec![Host::new(d.resolver)], detail);
    }

    for c in &e.connections {
        if c.proto == 6 && c.attempts >= 3 && AUTH_PORTS.contains(&c.port) && share(c.completed, c.attempts) >= 0.5 {
            let detail = format!("{} connections to port {} in {}", c.attempts, c.port, span(secs));
            push(
                AttackKind::BruteForce,
                c.attempts as f64,
                bar(cfg.brute_force_attempts, cfg.brute_force_attempts as f64 / 10.0),
                vec![Host { attempts: Some(c.attempts), ..Host::new(c.src) }],
                vec![Host { attempts: Some(c.attempts), ports: Some(1), ..Host::new(c.dst) }],
                detail,
            );
        }
    }

    for a in e.arp.iter().filter(|a| !a.owner) {
        let attackers = a.mac_home.map(|h| vec![Host { mac: Some(a.mac), ..Host::new(IpAddr::V4(h)) }]);
        let detail = format!("{} ARP replies from {} for {}", a.replies, a.mac, a.ip);
        push(
            AttackKind::ArpSpoof,
            a.replies as f64,
            cfg.arp_spoof_replies as f64,
            attackers.unwrap_or_default(),
            vec![Host { mac: Some(a.mac), ..Host::new(IpAddr::V4(a.ip)) }],
            detail,
        );
    }

    for t in &e.transfers {
        if is_internal(t.src) && !is_internal(t.dst) && share(t.reverse_bytes, t.bytes) <= 0.1 {
            let detail = format!("{:.1} MB sent to {} in {}", t.bytes as f64 / 1e6, t.dst, span(secs));
            let alert_bar = bar(cfg.exfil_bytes, cfg.exfil_bytes as f64 / 60.0);
            // Named from 1 MB on (an upload and a theft look alike: the learned detectors
            // decide whether it is abnormal); alone at most medium (capped under the high bar).
            let floor = if t.bytes >= EXFIL_NAMING_BYTES { NAMING_SHARE * alert_bar } else { 0.0 };
            push(
                AttackKind::Exfiltration,
                (t.bytes as f64).max(floor).min(alert_bar * 2.99),
                alert_bar,
                vec![Host { bytes_out: Some(t.bytes), ..Host::new(t.src) }],
                vec![Host::new(t.dst)],
                detail,
            );
        }
    }

    // Traffic drop: far below the median and below half of what the quietest tenth of normal
    // windows carry (a network that is often quiet is not "dropping").
    if let Some((m, p10)) = packets.filter(|(m, _)| *m >= cfg.drop_min_median) {
        let ratio = r.packets as f64 / m;
        if ratio <= cfg.drop_ratio / NAMING_SHARE && (r.packets as f64) < 0.5 * p10 {
            // Strength 1 at the bar, growing as traffic vanishes (10 at none at all).
            let strength = (cfg.drop_ratio / ratio.max(cfg.drop_ratio / 10.0)).min(10.0);
            let detail = format!("{} packets against a usual {:.0}", thousands(r.packets), m);
            push(AttackKind::TrafficDrop, strength, 1.0, Vec::new(), Vec::new(), detail);
        }
    }

    out.sort_by(|a, b| b.strength.total_cmp(&a.strength).then(a.kind.cmp(&b.kind)));
    out
}

/// "20 s", "1 min", "250 ms".
fn span(secs: f64) -> String {
    if secs >= 60.0 && (secs % 60.0).abs() < 1e-9 {
        format!("{:.0} min", secs / 60.0)
    } else if secs >= 1.0 {
        format!("{secs:.0} s")
    } else {
        format!("{:.0} ms", secs * 1000.0)
    }
}
