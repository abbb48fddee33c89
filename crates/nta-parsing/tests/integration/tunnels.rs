//! Tunnels: on the corpus captures that carry GRE, ERSPAN, IP-in-IP, VXLAN, GENEVE, Teredo,
//! GTP-U or MPLS, the innermost transport of every packet agrees with tshark's protocol
//! layers, and the DNS, TLS ClientHello and HTTP request counts agree.

use crate::common::pcap;
use nta_capture::CaptureReader;
use nta_parsing::{App, DecodeErrorKind, Network, PacketSummary, Transport, Tunnel, TunnelLayer, decode_with};
use std::path::Path;

/// The captures, chosen by tshark's own protocol layers (every corpus capture whose frames
/// name one of the encapsulations), one per line; `#` starts a comment.
const CAPTURES: &str = include_str!("tunnel_captures.txt");

/// Differences explained: (the failure as reported, why).
const KNOWN: &[(&str, &str)] = &[
    (
        "OISF__suricata-verify/tests/vxlan-decoder-01/input.pcap: DNS ours 0, tshark 1",
        "tshark decodes a UDP datagram between ports 12345 and 32021 as DNS, following a conversation it \
         set up from the tunnelled DNS response before; nta reads DNS on ports 53 and 5353 only",
    ),
    (
        "the-tcpdump-group__tcpdump/tests/nhrp-trace.pcap #1: ours none, tshark icmp (eth:ethertype:ip:gre:nhrp:ip:icmp:data)",
        "an NHRP error indication quotes the packet that caused it (as ICMP errors do): nta reads NHRP \
         as GRE's payload, not the quoted packet as traffic",
    ),
];

/// What tshark says of one frame.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Theirs {
    /// The last transport named before any ICMP (whose quoted headers are not the packet's).
    transport: &'static str,
    dns: bool,
    client_hello: bool,
    http_request: bool,
    protocols: String,
}

fn tshark(path: &Path) -> Option<Vec<Theirs>> {
    let out = std::process::Command::new("tshark")
        .args(["-n", "-r"])
        .arg(path)
        // Each frame on its own: no IP reassembly, no TCP reassembly (nta decodes frames).
        .args(["-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE", "-o", "tcp.desegment_tcp_streams:FALSE"])
        .args(["-T", "fields", "-e", "frame.protocols", "-e", "tls.handshake.type", "-e", "http.request.method"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    Some(
        text.lines()
            .map(|line| {
                let f: Vec<&str> = line.split('\t').collect();
                let protocols = f.first().copied().unwrap_or_default();
                let mut t = Theirs { transport: "none", protocols: protocols.to_string(), ..Theirs::default() };
                for p in protocols.split(':') {
                    match p {
                        "tcp" => t.transport = "tcp",
                        "udp" => t.transport = "udp",
                        "icmp" | "icmpv6" => {
                            t.transport = if p == "icmp" { "icmp" } else { "icmpv6" };
                            break;
                        }
                        "sctp" => t.transport = "other",
                        "dns" | "mdns" => t.dns = true,
                        _ => {}
                    }
                }
                t.client_hello = f.get(1).is_some_and(|v| v.split(',').any(|x| x == "1"));
                // HTTP over TCP (nta does not count SSDP's HTTP over UDP).
                t.http_request = t.transport == "tcp" && f.get(2).is_some_and(|v| !v.is_empty());
                t
            })
            .collect(),
    )
}

/// Our innermost transport, named as tshark names it (also when its header is cut short). A frame whose innermost packet has no
/// transport (ARP inside VXLAN, a Teredo bubble) has the transport of the UDP-borne tunnel
/// that carried it, which tshark names last.
fn ours(s: &PacketSummary) -> &'static str {
    // tshark does not name the transport of an IPv4 packet that has none of its bytes (it
    // does for IPv6).
    let empty = s.network == Network::Ipv4
        && s.error.is_some_and(|e| matches!(e.kind, DecodeErrorKind::Truncated { available: 0, .. }));
    let named = match s.transport {
        Transport::Other { .. } if empty => "none",
        Transport::Tcp(_) | Transport::Other { protocol: 6 } => "tcp",
        Transport::Udp(_) | Transport::Other { protocol: 17 } => "udp",
        Transport::Icmp(i) if i.v6 => "icmpv6",
        Transport::Icmp(_) | Transport::Other { protocol: 1 } => "icmp",
        Transport::Other { protocol: 58 } => "icmpv6",
        Transport::Other { protocol: 132 } => "other",
        _ => "none",
    };
    let udp_borne = [Tunnel::Vxlan, Tunnel::Geneve, Tunnel::Teredo, Tunnel::GtpU];
    if named == "none" && udp_borne.iter().any(|t| s.encap.kinds.contains(*t)) { "udp" } else { named }
}

#[test]
fn innermost_transport_and_applications_agree_with_tshark() {
    if !nta_corpus::require() {
        return;
    }
    if std::process::Command::new("tshark").arg("--version").output().is_err() {
        eprintln!("skipped innermost_transport_and_applications_agree_with_tshark: tshark not installed");
        return;
    }
    let (mut files, mut packets, mut tunnelled) = (0, 0u64, 0u64);
    let mut other_links = Vec::new();
    let mut by_kind = [0u64; Tunnel::ALL.len()];
    let mut failures = Vec::new();
    for rel in CAPTURES.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let path = pcap(rel);
        let mut reader = CaptureReader::open(&path).unwrap_or_else(|e| panic!("{rel}: {e}"));
        let mut summaries = Vec::new();
        while let Ok(Some(p)) = reader.next_packet() {
            summaries.push(decode_with(&p, TunnelLayer::Inner));
        }
        // Link types nta does not decode (PPP, say: docs/ARCHITECTURE.md) are not compared.
        if summaries.iter().any(|s| !s.link_supported) {
            other_links.push(rel);
            continue;
        }
        let theirs = tshark(&path).unwrap_or_else(|| panic!("tshark failed on {rel}"));
        assert_eq!(summaries.len(), theirs.len(), "{rel}: packets");
        files += 1;
        let (mut dns, mut hello, mut http) = ((0, 0), (0, 0), (0, 0));
        for (i, (s, t)) in summaries.iter().zip(&theirs).enumerate() {
            packets += 1;
            tunnelled += u64::from(s.encap.depth > 0);
            for k in s.encap.kinds.iter() {
                by_kind[k.index()] += 1;
            }
            if ours(s) != t.transport {
                failures.push(format!("{rel} #{}: ours {}, tshark {} ({})", i + 1, ours(s), t.transport, t.protocols));
            }
            dns.0 += u32::from(matches!(s.app, App::Dns(_)));
            dns.1 += u32::from(t.dns);
            hello.0 += u32::from(matches!(s.app, App::TlsClientHello(_)));
            hello.1 += u32::from(t.client_hello);
            http.0 += u32::from(matches!(s.app, App::Http(_)));
            http.1 += u32::from(t.http_request);
        }
        for (what, (a, b)) in [("DNS", dns), ("TLS ClientHello", hello), ("HTTP request", http)] {
            if a != b {
                failures.push(format!("{rel}: {what} ours {a}, tshark {b}"));
            }
        }
    }
    failures.retain(|f| !KNOWN.iter().any(|(known, _)| known == f));
    let kinds: Vec<String> =
        Tunnel::ALL.iter().zip(by_kind).filter(|(_, n)| *n > 0).map(|(t, n)| format!("{} {n}", t.name())).collect();
    eprintln!("{files} captures, {packets} packets, {tunnelled} decoded inside tunnels ({})", kinds.join(", "));
    eprintln!("not compared, of a link type nta does not decode: {}", other_links.join(", "));
    // At most three examples per capture.
    let mut shown: Vec<&String> = Vec::new();
    for f in &failures {
        let file = f.split([' ', ':']).next().unwrap_or_default();
        if shown.iter().filter(|s| s.starts_with(file)).count() < 3 {
            shown.push(f);
        }
    }
    let shown: Vec<&str> = shown.iter().map(|s| s.as_str()).collect();
    assert!(failures.is_empty(), "{} disagreements, for example:\n{}", failures.len(), shown.join("\n"));
    assert!(files >= 100, "{files} captures");
    for t in [Tunnel::Gre, Tunnel::Erspan, Tunnel::IpInIp, Tunnel::Ipv6InIp, Tunnel::Vxlan, Tunnel::Geneve] {
        assert!(by_kind[t.index()] > 0, "no {} packet", t.name());
    }
    for t in [Tunnel::Teredo, Tunnel::GtpU, Tunnel::Mpls] {
        assert!(by_kind[t.index()] > 0, "no {} packet", t.name());
    }
}
