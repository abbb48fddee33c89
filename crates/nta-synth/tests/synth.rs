//! nta-synth end to end: what it writes reads back through nta-capture and nta-parsing with
//! no malformed packet and the counts it claims; checksums, TCP sequence numbers, labels,
//! determinism; tshark's opinion when tshark is installed.

use nta_capture::{CaptureReader, CaptureWriter, WriteFormat};
use nta_parsing::{App, Census, Network, PacketSummary, Transport, decode};
use nta_synth::{
    AttackSpec, LINK_TYPE, NS, Profile, SNAPLEN, SynthAttack, SynthConfig, SynthCounts, SynthReport, synthesize,
};
use std::collections::{HashMap, HashSet};
use std::io::Cursor;
use std::net::IpAddr;

fn synth(cfg: &SynthConfig, format: WriteFormat) -> (Vec<u8>, SynthReport) {
    let mut w = CaptureWriter::new(Vec::new(), format, LINK_TYPE, SNAPLEN, "test").unwrap();
    let report = synthesize(cfg, &mut w).unwrap();
    (w.into_inner().unwrap(), report)
}

/// Every packet: timestamp, frame bytes, summary.
fn read(bytes: &[u8]) -> Vec<(i64, Vec<u8>, PacketSummary)> {
    let mut r = CaptureReader::from_reader(Cursor::new(bytes.to_vec())).unwrap();
    let mut out = Vec::new();
    while let Some(p) = r.next_packet().unwrap() {
        out.push((p.ts_ns, p.data.to_vec(), decode(&p)));
    }
    assert!(r.stats().warnings.is_empty(), "{:?}", r.stats().warnings);
    out
}

fn census(pkts: &[(i64, Vec<u8>, PacketSummary)]) -> Census {
    let mut c = Census::default();
    for (_, _, s) in pkts {
        c.add(s);
    }
    c
}

/// The decoder's census and the synthesizer's own counts agree field by field.
fn assert_counts_match(what: &str, c: &Census, s: &SynthCounts) {
    let pairs = [
        ("packets", c.packets, s.packets),
        ("bytes", c.wire_bytes, s.bytes),
        ("arp", c.arp, s.arp),
        ("ipv4", c.ipv4, s.ipv4),
        ("ipv6", c.ipv6, s.ipv6),
        ("tcp", c.tcp, s.tcp),
        ("udp", c.udp, s.udp),
        ("icmp", c.icmp + c.icmpv6, s.icmp),
        ("icmp_errors", c.icmp_errors, s.icmp_errors),
        ("tcp_syn", c.tcp_syn, s.tcp_syn),
        ("tcp_synack", c.tcp_synack, s.tcp_synack),
        ("tcp_rst", c.tcp_rst, s.tcp_rst),
        ("tcp_fin", c.tcp_fin, s.tcp_fin),
        ("dns_queries", c.dns_queries, s.dns_queries),
        ("dns_responses", c.dns_responses, s.dns_responses),
        ("dns_nxdomain", c.dns_nxdomain, s.dns_nxdomain),
        ("tls_client_hello", c.tls_client_hello, s.tls_client_hellos),
        ("tls_sni", c.tls_sni, s.tls_client_hellos),
        ("http_requests", c.http_requests, s.http_requests),
    ];
    for (name, decoded, claimed) in pairs {
        assert_eq!(decoded, claimed, "{what}: {name} decoded {decoded}, synthesizer says {claimed}");
    }
    assert_eq!(c.malformed, 0, "{what}: malformed {:?}", c.malformed_by_layer);
    assert_eq!(c.snap_truncated, 0);
}

fn busy_config(seed: u64) -> SynthConfig {
    let mut cfg = SynthConfig::new(seed, 240 * NS);
    cfg.profile.sessions_per_s = 6.0;
    for (i, kind) in SynthAttack::ALL.into_iter().enumerate() {
        let mut a = AttackSpec::new(kind, (10 + 24 * i as i64) * NS, 15 * NS);
        a.rate = match kind {
            SynthAttack::Synflood | SynthAttack::Udpflood | SynthAttack::Icmpflood => 200.0,
            SynthAttack::Exfil => 300_000.0,
            _ => kind.default_rate(),
        };
        cfg.attacks.push(a);
    }
    cfg
}

#[test]
fn everything_reads_back_with_the_counts_the_synthesizer_claims() {
    let cfg = busy_config(11);
    let (bytes, report) = synth(&cfg, WriteFormat::Pcapng);
    let pkts = read(&bytes);
    assert_counts_match("all", &census(&pkts), &report.total);
    // Normal traffic plus each attack adds up to the total.
    let attack_packets: u64 = report.attacks.iter().map(|a| a.packets).sum();
    assert_eq!(report.normal.packets + attack_packets, report.total.packets);
    // Timestamps never go backwards and stay inside the capture.
    assert!(pkts.windows(2).all(|w| w[0].0 <= w[1].0));
    assert!(pkts.iter().all(|(t, _, _)| (report.start_ns..report.end_ns).contains(t)));
    // A realistic mix: every protocol the issue asks for is there.
    let t = &report.normal;
    for (name, n) in [
        ("arp", t.arp),
        ("ipv6", t.ipv6),
        ("dns nxdomain", t.dns_nxdomain),
        ("tls", t.tls_client_hellos),
        ("http", t.http_requests),
        ("icmp errors", t.icmp_errors),
        ("rst", t.tcp_rst),
        ("fin", t.tcp_fin),
    ] {
        assert!(n > 0, "normal traffic has no {name}");
    }
    let kinds: HashSet<u16> = pkts
        .iter()
        .filter_map(|(_, _, s)| match s.app {
            App::Dns(d) => d.qtype,
            _ => None,
        })
        .collect();
    for qtype in [1, 28, 12, 16] {
        assert!(kinds.contains(&qtype), "no DNS qtype {qtype}: {kinds:?}");
    }
}

#[test]
fn each_attack_alone_matches_its_label() {
    for kind in SynthAttack::ALL {
        let mut cfg = SynthConfig::new(5, 60 * NS);
        cfg.normal = false;
        let mut a = AttackSpec::new(kind, 20 * NS, 10 * NS);
        if kind == SynthAttack::Exfil {
            a.rate = 200_000.0;
        }
        cfg.attacks.push(a);
        let (bytes, report) = synth(&cfg, WriteFormat::PcapNs);
        let pkts = read(&bytes);
        let label = &report.attacks[0];
        assert!(label.packets > 0, "{kind}: nothing written");
        assert_eq!(label.packets, pkts.len() as u64, "{kind}");
        assert_counts_match(kind.name(), &census(&pkts), &label.counts);
        // Every packet inside the labelled interval, both ends reached roughly.
        for (t, _, _) in &pkts {
            assert!((label.label.start_ns..label.label.end_ns).contains(t), "{kind}: packet at {t} outside the label");
        }
        let first = label.first_packet_ns.unwrap();
        let last = label.last_packet_ns.unwrap();
        assert!(first - label.label.start_ns < 2 * NS && label.label.end_ns - last < 3 * NS, "{kind}: {first} {last}");
        // The labelled actors are the ones on the wire.
        let addrs: HashSet<IpAddr> = pkts
            .iter()
            .flat_map(|(_, _, s)| match (s.ip, s.network) {
                (Some(ip), _) => vec![ip.src, ip.dst],
                (None, Network::Arp(arp)) => vec![IpAddr::V4(arp.sender), IpAddr::V4(arp.target)],
                _ => vec![],
            })
            .collect();
        // (An ARP spoofer shows only its MAC: its replies carry the gateway's address.)
        let attackers = if kind == SynthAttack::ArpSpoof { &[][..] } else { &label.label.attackers[..] };
        for ip in attackers.iter().chain(&label.label.victims) {
            assert!(addrs.contains(ip), "{kind}: labelled {ip} never seen");
        }
        assert_eq!(label.spoofed_sources, kind == SynthAttack::Synflood);
        // The signature of each attack.
        let c = census(&pkts);
        match kind {
            SynthAttack::Portscan => {
                let ports: HashSet<u16> = pkts
                    .iter()
                    .filter_map(|(_, _, s)| s.tcp().filter(|t| t.flags.syn() && !t.flags.ack()).map(|t| t.dst_port))
                    .collect();
                assert!(ports.len() > 1000, "{} ports", ports.len());
            }
            SynthAttack::Portsweep => assert!(c.arp > label.label.victims.len() as u64 * 3),
            SynthAttack::Synflood => {
                let srcs: HashSet<IpAddr> = pkts.iter().filter_map(|(_, _, s)| s.ip.map(|ip| ip.src)).collect();
                assert!(srcs.len() > 1500, "{} sources", srcs.len());
                assert!(c.tcp_syn > 2 * c.tcp_synack && c.tcp_synack > 0);
            }
            SynthAttack::Udpflood => assert!(c.udp > 10_000 && c.icmp_errors > 0),
            SynthAttack::Icmpflood => assert!(c.icmp > 10_000),
            SynthAttack::DnsTunnel => {
                let long = pkts
                    .iter()
                    .filter(|(_, _, s)| matches!(s.app, App::Dns(d) if d.qname.is_some_and(|q| q.len > 100 && q.entropy > 4.0)))
                    .count();
                assert_eq!(long as u64, c.dns, "every tunnel query has a long high-entropy name");
            }
            SynthAttack::Exfil => {
                let up: u64 = pkts
                    .iter()
                    .filter(|(_, _, s)| s.ip.is_some_and(|ip| Some(ip.src) == label.label.attackers.first().copied()))
                    .map(|(_, _, s)| u64::from(s.wire_len))
                    .sum();
                assert!(up > 1_800_000, "uploaded {up} bytes in 10 s at 200 kB/s");
            }
            SynthAttack::SshBruteforce => {
                assert!(c.tcp_syn - c.tcp_synack > 25, "{} connections", c.tcp_syn - c.tcp_synack);
            }
            SynthAttack::ArpSpoof => {
                let gw = "10.20.0.1".parse::<std::net::Ipv4Addr>().unwrap();
                assert!(
                    pkts.iter()
                        .all(|(_, _, s)| matches!(s.network, Network::Arp(a) if a.sender == gw && a.operation == 2))
                );
            }
        }
    }
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let cfg = busy_config(3);
    let (a, ra) = synth(&cfg, WriteFormat::Pcapng);
    let (b, rb) = synth(&cfg, WriteFormat::Pcapng);
    assert!(a == b, "same seed, different bytes");
    assert_eq!(ra, rb);
    let (c, _) = synth(&busy_config(4), WriteFormat::Pcapng);
    assert!(a != c);
}

#[test]
fn adding_an_attack_leaves_normal_traffic_alone() {
    let mut quiet = SynthConfig::new(9, 120 * NS);
    quiet.profile = Profile::quiet();
    let mut attacked = quiet.clone();
    attacked.schedule_defaults(&[SynthAttack::Synflood, SynthAttack::DnsTunnel]);
    let (a, ra) = synth(&quiet, WriteFormat::PcapNs);
    let (_, rb) = synth(&attacked, WriteFormat::PcapNs);
    assert_eq!(ra.normal, rb.normal);
    assert!(rb.total.packets > ra.total.packets + 1000);
    assert_eq!(read(&a).len() as u64, ra.total.packets);
}

#[test]
fn every_format_holds_the_same_packets() {
    let mut cfg = SynthConfig::new(2, 30 * NS);
    cfg.schedule_defaults(&[SynthAttack::Portscan]);
    let (ng, _) = synth(&cfg, WriteFormat::Pcapng);
    let (ns, _) = synth(&cfg, WriteFormat::PcapNs);
    let (us, _) = synth(&cfg, WriteFormat::Pcap);
    let (ng, ns, us) = (read(&ng), read(&ns), read(&us));
    assert_eq!(ng.len(), ns.len());
    assert_eq!(ng.len(), us.len());
    for ((a, b), c) in ng.iter().zip(&ns).zip(&us) {
        assert_eq!(a.0, b.0);
        assert_eq!(a.0 / 1000 * 1000, c.0);
        assert!(a.1 == b.1 && a.1 == c.1);
    }
}

#[test]
fn size_limit_stops_and_clips_labels() {
    let mut cfg = busy_config(1);
    cfg.max_bytes = Some(3_000_000);
    let (bytes, report) = synth(&cfg, WriteFormat::Pcap);
    assert!(report.size_limited);
    assert!((3_000_000..3_100_000).contains(&(bytes.len() as u64)), "{}", bytes.len());
    assert!(report.end_ns < cfg.start_ns + cfg.duration_ns);
    for l in &report.attacks {
        assert!(l.label.start_ns < report.end_ns && l.label.end_ns <= report.end_ns);
    }
}

/// RFC 1071 sum, written here independently of pnet.
fn ones_sum(mut acc: u32, bytes: &[u8]) -> u32 {
    let mut chunks = bytes.chunks_exact(2);
    for c in &mut chunks {
        acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u32::from(*last) << 8;
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

#[test]
fn every_checksum_verifies() {
    let (bytes, _) = synth(&busy_config(8), WriteFormat::PcapNs);
    let mut checked = 0;
    for (_, f, s) in read(&bytes) {
        let Some(ip) = s.ip else { continue };
        let (l4, pseudo) = match ip.src {
            IpAddr::V4(src) => {
                assert_eq!(fold(ones_sum(0, &f[14..34])), 0xffff, "IPv4 header checksum");
                let IpAddr::V4(dst) = ip.dst else { unreachable!() };
                let l4 = &f[34..];
                let mut p = ones_sum(0, &src.octets());
                p = ones_sum(p, &dst.octets());
                (l4, p + u32::from(ip.protocol) + l4.len() as u32)
            }
            IpAddr::V6(src) => {
                let IpAddr::V6(dst) = ip.dst else { unreachable!() };
                let l4 = &f[54..];
                let mut p = ones_sum(0, &src.octets());
                p = ones_sum(p, &dst.octets());
                (l4, p + u32::from(ip.protocol) + l4.len() as u32)
            }
        };
        let sum = match s.transport {
            Transport::Icmp(i) if !i.v6 => ones_sum(0, l4),
            _ => ones_sum(pseudo, l4),
        };
        assert_eq!(fold(sum), 0xffff, "bad checksum in {s:?}");
        checked += 1;
    }
    assert!(checked > 10_000);
}

#[test]
fn tcp_sequence_and_ack_numbers_follow_the_data() {
    let mut cfg = SynthConfig::new(21, 180 * NS);
    cfg.schedule_defaults(&[SynthAttack::Exfil, SynthAttack::SshBruteforce]);
    let (bytes, _) = synth(&cfg, WriteFormat::PcapNs);
    // Next expected sequence number per direction (src, sport, dst, dport).
    let mut next: HashMap<(IpAddr, u16, IpAddr, u16), u32> = HashMap::new();
    let (mut data_segments, mut checked_acks) = (0, 0);
    for (_, _, s) in read(&bytes) {
        let (Some(ip), Some(t)) = (s.ip, s.tcp()) else { continue };
        let key = (ip.src, t.src_port, ip.dst, t.dst_port);
        let len = t.payload_len + u32::from(t.flags.syn()) + u32::from(t.flags.fin());
        if t.flags.rst() {
            continue;
        }
        match next.get(&key) {
            Some(&want) if !t.flags.syn() => {
                assert_eq!(t.seq, want, "sequence gap in {key:?}");
                if t.payload_len > 0 {
                    data_segments += 1;
                }
            }
            _ => {}
        }
        next.insert(key, t.seq.wrapping_add(len));
        if t.flags.ack() {
            let back = (ip.dst, t.dst_port, ip.src, t.src_port);
            if let Some(&sent) = next.get(&back) {
                // Never acknowledges bytes not yet sent (wrapping comparison).
                assert!(sent.wrapping_sub(t.ack) < 1 << 31, "ACK beyond the data in {key:?}");
                checked_acks += 1;
            }
        }
    }
    assert!(data_segments > 1000 && checked_acks > 1000, "{data_segments} {checked_acks}");
}

#[test]
fn rates_vary_over_time() {
    let mut cfg = SynthConfig::new(4, 1200 * NS);
    cfg.profile = Profile::quiet();
    let (bytes, _) = synth(&cfg, WriteFormat::PcapNs);
    let mut per_minute = [0f64; 20];
    for (t, _, s) in read(&bytes) {
        if s.tcp().is_some_and(|t| t.flags.syn() && !t.flags.ack()) {
            per_minute[((t - cfg.start_ns) / (60 * NS)) as usize] += 1.0;
        }
    }
    let mean = per_minute.iter().sum::<f64>() / 20.0;
    let sd = (per_minute.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 19.0).sqrt();
    // A Poisson count of this mean alone would give sd ~ sqrt(mean); the wave and noise add more.
    assert!(mean > 15.0 && sd > 1.5 * mean.sqrt(), "mean {mean} sd {sd}");
}

#[test]
fn bad_configs_are_refused() {
    let mut w = CaptureWriter::new(Vec::new(), WriteFormat::Pcap, LINK_TYPE, SNAPLEN, "").unwrap();
    let mut cfg = SynthConfig::new(1, 0);
    assert!(synthesize(&cfg, &mut w).is_err());
    cfg.duration_ns = 60 * NS;
    cfg.attacks.push(AttackSpec::new(SynthAttack::Portscan, 61 * NS, NS));
    assert!(synthesize(&cfg, &mut w).is_err(), "attack after the end");
    cfg.attacks[0] = AttackSpec::parse("arp_spoof,attacker=8.8.8.8", 0).unwrap();
    assert!(synthesize(&cfg, &mut w).is_err(), "ARP spoofing from outside the LAN");
}

/// tshark, where installed (CI installs it), finds no malformed packet, no error and no bad
/// checksum.
#[test]
fn tshark_agrees() {
    if std::process::Command::new("tshark").arg("--version").output().is_err() {
        eprintln!("tshark not installed: skipped");
        return;
    }
    let dir = std::env::temp_dir().join(format!("nta-synth-tshark-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("busy.pcapng");
    let (bytes, report) = synth(&busy_config(12), WriteFormat::Pcapng);
    std::fs::write(&path, bytes).unwrap();
    let run = |filter: &str| {
        let out = std::process::Command::new("tshark")
            .args(["-n", "-r"])
            .arg(&path)
            .args(["-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE"])
            .args(["-Y", filter, "-T", "fields", "-e", "frame.number"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).lines().count() as u64
    };
    assert_eq!(run("frame"), report.total.packets);
    assert_eq!(run("_ws.malformed || _ws.expert.severity == error"), 0, "malformed or erroneous packets");
    let bad = "ip.checksum.status == \"Bad\" || tcp.checksum.status == \"Bad\" || udp.checksum.status == \"Bad\" \
               || icmp.checksum.status == \"Bad\" || icmpv6.checksum.status == \"Bad\"";
    assert_eq!(run(bad), 0, "bad checksums");
    assert_eq!(run("tcp.checksum.status == \"Good\""), report.total.tcp);
    assert_eq!(run("dns.flags.response == 0"), report.total.dns_queries);
    assert_eq!(run("tls.handshake.extensions_server_name"), report.total.tls_client_hellos);
    assert_eq!(run("http.request"), report.total.http_requests);
    assert_eq!(run("tcp.analysis.lost_segment || tcp.analysis.ack_lost_segment || tcp.analysis.out_of_order"), 0);
    std::fs::remove_dir_all(&dir).unwrap();
}
