//! nta-metrics end to end: hand-computed windows, windowing rules (alignment, zero rows,
//! gaps, reordering, late packets), flows, sampling, thread-count invariance, splitting and
//! merging, and agreement with tshark on real captures.

use nta_capture::{CaptureReader, CaptureWriter, LinkType, WriteFormat};
use nta_metrics::{ExtractConfig, Extractor, Metric, WindowRecord, extract_files, read_jsonl, write_jsonl_record};
use nta_parsing::{PacketSummary, decode_frame};
use nta_synth::{LINK_TYPE, NS, Profile, SNAPLEN, SynthAttack, SynthConfig, synthesize};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

// ------------------------------------------------------------------ hand-built frames

const MAC_A: [u8; 6] = [2, 0, 0, 0, 0, 0xa];
const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 0xb];

fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&MAC_B);
    f.extend_from_slice(&MAC_A);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, l4: &[u8]) -> Vec<u8> {
    let mut p = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, proto, 0, 0];
    p[2..4].copy_from_slice(&((20 + l4.len()) as u16).to_be_bytes());
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(l4);
    eth(0x0800, &p)
}

fn tcp(src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(&sp.to_be_bytes());
    t.extend_from_slice(&dp.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    t.extend_from_slice(payload);
    ipv4(src, dst, 6, &t)
}

fn udp(src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sp.to_be_bytes());
    u.extend_from_slice(&dp.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    ipv4(src, dst, 17, &u)
}

fn dns(id: u16, response: bool, rcode: u8, name: &str, qtype: u16) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(&[if response { 0x81 } else { 0x01 }, if response { 0x80 | rcode } else { 0 }]);
    m.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    for l in name.split('.') {
        m.push(l.len() as u8);
        m.extend_from_slice(l.as_bytes());
    }
    m.extend_from_slice(&[0, (qtype >> 8) as u8, qtype as u8, 0, 1]);
    m
}

fn icmp_echo(src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
    ipv4(src, dst, 1, &[8, 0, 0, 0, 0, 1, 0, 1, 0xab, 0xcd])
}

fn arp_reply(sender: [u8; 4], target: [u8; 4]) -> Vec<u8> {
    let mut a = vec![0, 1, 8, 0, 6, 4, 0, 2];
    a.extend_from_slice(&MAC_A);
    a.extend_from_slice(&sender);
    a.extend_from_slice(&MAC_B);
    a.extend_from_slice(&target);
    eth(0x0806, &a)
}

const C: [u8; 4] = [10, 0, 0, 1];
const S: [u8; 4] = [10, 0, 0, 2];
const R: [u8; 4] = [10, 0, 0, 53];
const T0: i64 = 1_699_999_800 * NS; // 2023-11-14T22:10:00Z, a multiple of every window used below
const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const FIN: u8 = 0x01;

/// Timestamped frames.
type Frames = Vec<(i64, Vec<u8>)>;
/// Per window: [packets, bytes, tcp, udp], source and destination addresses.
type TsharkWindow = ([u64; 4], std::collections::HashSet<String>, std::collections::HashSet<String>);

fn summary(ts: i64, frame: &[u8]) -> PacketSummary {
    let mut s = decode_frame(LinkType::ETHERNET, frame);
    s.ts_ns = ts;
    s
}

fn run(cfg: ExtractConfig, packets: &[(i64, Vec<u8>)]) -> Vec<WindowRecord> {
    let mut x = Extractor::new(cfg, vec!["hand".into()]);
    let mut out = Vec::new();
    for (ts, f) in packets {
        x.push(&summary(*ts, f), 0, &mut |r| out.push(r));
    }
    x.finish(&mut |r| out.push(r));
    out
}

/// The little capture of the hand-computed test.
fn hand_packets() -> Vec<(i64, Vec<u8>)> {
    let ms = 1_000_000;
    vec![
        (T0 + 100 * ms, tcp(C, S, 40_000, 80, SYN, b"")),       // 54 bytes
        (T0 + 200 * ms, tcp(S, C, 80, 40_000, SYN | ACK, b"")), // 54
        (T0 + 250 * ms, tcp(C, S, 40_000, 80, ACK, b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n")),
        (T0 + 300 * ms, udp(C, R, 33_333, 53, &dns(7, false, 0, "www.example.com", 1))),
        (T0 + 400 * ms, udp(R, C, 53, 33_333, &dns(7, true, 3, "www.example.com", 1))),
        (T0 + 500 * ms, arp_reply(S, C)),
        (T0 + 600 * ms, icmp_echo(C, S)),
        (T0 + 700 * ms, tcp([10, 0, 0, 9], S, 41_000, 22, SYN, b"")), // never answered
        // second window
        (T0 + 1_500 * ms, tcp(C, S, 40_000, 80, FIN | ACK, b"")),
        (T0 + 1_600 * ms, tcp(S, C, 80, 40_000, FIN | ACK, b"")),
        // window 2 is empty; window 3:
        (T0 + 3_200 * ms, udp(C, R, 33_334, 53, &dns(8, false, 0, "q7zk2m9x.tunnel.example", 16))),
    ]
}

#[test]
fn hand_computed_windows() {
    let pkts = hand_packets();
    let recs = run(ExtractConfig::new(NS), &pkts);
    assert_eq!(recs.len(), 4, "windows 0..=3, window 2 as a zero row");
    let w0 = &recs[0];
    assert_eq!(w0.window_start_ns, T0);
    assert_eq!(w0.window_start, "2023-11-14T22:10:00.000000000Z");
    assert_eq!(w0.window_ns, NS);
    assert_eq!(w0.capture, "hand");
    assert_eq!(w0.packets, 8);
    let bytes: u64 = pkts[..8].iter().map(|(_, f)| f.len() as u64).sum();
    assert_eq!(w0.bytes, bytes);
    assert_eq!(w0.mean_pkt_size, bytes as f64 / 8.0);
    assert_eq!(w0.bits_per_s, bytes as f64 * 8.0);
    assert_eq!(w0.packets_per_s, 8.0);
    assert_eq!((w0.ipv4_packets, w0.ipv6_packets, w0.arp_packets, w0.arp_replies), (7, 0, 1, 1));
    assert_eq!((w0.tcp_packets, w0.udp_packets, w0.icmp_packets), (4, 2, 1));
    // Sources: C x4 (SYN, ACK+GET, DNS query, echo), S x1, R x1, 10.0.0.9 x1 (ARP not counted).
    assert_eq!(w0.unique_src_ips, 4);
    assert_eq!(w0.unique_dst_ips, 3, "S, C, R");
    let h = |counts: &[f64]| {
        let n: f64 = counts.iter().sum();
        -counts.iter().map(|c| c / n * (c / n).log2()).sum::<f64>()
    };
    assert!((w0.src_ip_entropy - h(&[4.0, 1.0, 1.0, 1.0])).abs() < 1e-12);
    // Destinations: S x4 (SYN, GET, echo, SYN from .9), C x2, R x1.
    assert!((w0.dst_ip_entropy - h(&[4.0, 2.0, 1.0])).abs() < 1e-12);
    // Destination ports of TCP/UDP: 80 x2, 40000 x1, 53 x1, 33333 x1, 22 x1.
    assert_eq!(w0.unique_dst_ports, 5);
    assert_eq!(w0.unique_src_ports, 5, "40000, 80, 33333, 53, 41000");
    assert!((w0.dst_port_entropy - h(&[2.0, 1.0, 1.0, 1.0, 1.0])).abs() < 1e-12);
    assert_eq!((w0.tcp_syn, w0.tcp_synack, w0.tcp_rst, w0.tcp_fin), (3, 1, 0, 0));
    assert_eq!((w0.dns_queries, w0.dns_responses, w0.dns_nxdomain, w0.dns_txt_queries), (1, 1, 1, 0));
    assert_eq!(w0.dns_qname_len_mean, Some(15.0));
    assert_eq!(w0.dns_qname_len_max, Some(15));
    // Entropy of "wwwexamplecom": w3 e2 m2 x1 a1 p1 l1 c1 o1 over 13 characters.
    let want = h(&[3.0, 2.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]);
    let got = w0.dns_label_entropy_mean.unwrap();
    assert!((got - want).abs() < 1e-6, "{got} {want}");
    assert_eq!(recs[1].dns_qname_len_mean, None, "no query: the mean is undefined, not 0");
    assert_eq!((w0.http_requests, w0.tls_client_hellos, w0.unique_sni), (1, 0, 0));
    assert_eq!((w0.icmp_echo_requests, w0.icmp_unreachable), (1, 0));
    assert_eq!((w0.malformed_packets, w0.truncated_packets, w0.fragments), (0, 0, 0));
    // Flows: C<->S tcp, C<->R udp, C<->S icmp, .9->S tcp (ARP is not a flow).
    assert_eq!((w0.new_flows, w0.active_flows, w0.ended_flows), (4, 4, 0));
    assert_eq!(w0.half_open_flows, 1, "the SYN from 10.0.0.9 is never answered; C's is");
    let initiators: u64 = [0, 2, 3, 6, 7].iter().map(|i| pkts[*i].1.len() as u64).sum();
    assert_eq!(w0.initiator_bytes, initiators, "SYN, GET, DNS query, echo request, lone SYN");
    assert_eq!(w0.max_src_new_flows, 3, "C opened the TCP, DNS and ICMP flows");
    assert_eq!(w0.max_pair_connections, 1);
    assert_eq!(w0.top_src_by_bytes[0].ip, IpAddr::V4(Ipv4Addr::from(C)));
    assert_eq!(w0.top_src_by_bytes[0].packets, 4);
    assert_eq!(w0.top_src_by_bytes.len(), 4);
    assert_eq!((w0.top_dst_ports[0].port, w0.top_dst_ports[0].packets), (80, 2));
    assert_eq!(w0.top_dst_ports[1].port, 22, "ties broken by the lower port");

    let w1 = &recs[1];
    assert_eq!(w1.window_start_ns, T0 + NS);
    assert_eq!((w1.packets, w1.tcp_fin), (2, 2));
    assert_eq!((w1.new_flows, w1.active_flows, w1.ended_flows), (0, 4, 1), "FIN both ways ends the TCP flow");

    let w2 = &recs[2];
    assert_eq!(w2.packets, 0, "a silent window is a zero row");
    assert_eq!((w2.bytes, w2.unique_src_ips, w2.mean_pkt_size), (0, 0, 0.0));
    assert_eq!(w2.active_flows, 3, "the flows still open carry over");

    let w3 = &recs[3];
    assert_eq!(w3.window_start_ns, T0 + 3 * NS);
    assert_eq!((w3.dns_queries, w3.dns_txt_queries, w3.dns_qname_len_max), (1, 1, Some(23)));
    assert!(recs.iter().all(|r| !r.late && r.gap_before_ns.is_none() && r.sample_rate == 1));

    // Every numeric field is reachable by its typed name.
    for m in Metric::ALL {
        assert_eq!(m.name().parse::<Metric>().unwrap(), *m);
    }
    assert_eq!(w0.get(Metric::TcpSyn), 3.0);
    assert_eq!(w0.get(Metric::DnsQnameLenMean), 15.0);
    assert!(recs[1].get(Metric::DnsQnameLenMean).is_nan());
}

#[test]
fn windows_align_to_epoch_multiples() {
    let pkts = vec![(T0 + 61 * NS + 5, udp(C, R, 1, 53, b"x")), (T0 + 200 * NS, udp(C, R, 1, 53, b"x"))];
    let recs = run(ExtractConfig::new(60 * NS), &pkts);
    let starts: Vec<i64> = recs.iter().map(|r| r.window_start_ns - T0).collect();
    assert_eq!(starts, vec![60 * NS, 120 * NS, 180 * NS]);
    let recs = run(ExtractConfig::new(100_000_000), &pkts[..1]);
    assert_eq!(recs[0].window_start_ns, T0 + 61 * NS);
}

#[test]
fn long_gaps_are_recorded_not_filled() {
    // Two packets four years apart, 1-second windows: two records, not 126 million.
    let later = T0 + 4 * 365 * 86_400 * NS;
    let pkts = vec![(T0, udp(C, R, 1, 53, b"x")), (later, udp(C, R, 1, 53, b"x"))];
    let recs = run(ExtractConfig::new(NS), &pkts);
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[1].gap_before_ns, Some(later - T0 - NS));
    // Thirty minutes apart, 1-minute windows: filled with 29 zero rows.
    let pkts = vec![(T0, udp(C, R, 1, 53, b"x")), (T0 + 30 * 60 * NS, udp(C, R, 1, 53, b"x"))];
    let recs = run(ExtractConfig::new(60 * NS), &pkts);
    assert_eq!(recs.len(), 31);
    assert_eq!(recs.iter().filter(|r| r.packets == 0).count(), 29);
    // The same with max_gap 10 minutes: not filled.
    let mut cfg = ExtractConfig::new(60 * NS);
    cfg.max_gap_ns = 600 * NS;
    assert_eq!(run(cfg, &pkts).len(), 2);
}

#[test]
fn out_of_order_packets_go_to_their_own_window() {
    let ms = 1_000_000;
    let pkts = vec![
        (T0 + 100 * ms, udp(C, R, 1, 53, b"a")),
        (T0 + 1_100 * ms, udp(C, R, 1, 53, b"b")),
        (T0 + 900 * ms, udp(S, R, 1, 53, b"c")), // 200 ms late: window 0
        (T0 + 2_100 * ms, udp(C, R, 1, 53, b"d")),
        (T0 + 9_000 * ms, udp(C, R, 1, 53, b"e")),
        (T0 + 1_500 * ms, udp(S, R, 1, 53, b"f")), // 7.5 s late: beyond the 5 s reorder horizon
    ];
    let recs = run(ExtractConfig::new(NS), &pkts);
    let w0 = recs.iter().find(|r| r.window_start_ns == T0).unwrap();
    assert_eq!((w0.packets, w0.unique_src_ips), (2, 2));
    let w1: Vec<&WindowRecord> = recs.iter().filter(|r| r.window_start_ns == T0 + NS).collect();
    assert_eq!(w1.len(), 2, "the normal record and a late supplement");
    assert_eq!((w1[0].packets, w1[0].late), (1, false));
    assert_eq!((w1[1].packets, w1[1].late), (1, true));
}

#[test]
fn flow_table_is_bounded_and_direction_comes_from_the_syn() {
    // A table of 100: 40 connections, then 1,000 spoofed SYNs (every 10th answered by a
    // SYN-ACK), then the 40 connections again, then one handshake completed in the crowd.
    let client = |i: u32| [10, 1, 0, i as u8];
    let mut pkts = Vec::new();
    let mut t = T0;
    let mut at = |f: Vec<u8>, pkts: &mut Frames| {
        t += 1000;
        pkts.push((t, f));
    };
    for i in 0..40u32 {
        at(tcp(client(i), S, 2000, 22, SYN, b""), &mut pkts);
        at(tcp(S, client(i), 22, 2000, SYN | ACK, b""), &mut pkts);
        at(tcp(client(i), S, 2000, 22, ACK, b""), &mut pkts);
    }
    for i in 0..1000u32 {
        let src = [198, 18, (i >> 8) as u8, i as u8];
        at(tcp(src, S, 1024 + i as u16, 80, SYN, b""), &mut pkts);
        if i % 10 == 0 {
            at(tcp(S, src, 80, 1024 + i as u16, SYN | ACK, b""), &mut pkts);
        }
    }
    for i in 0..40u32 {
        at(tcp(client(i), S, 2000, 22, ACK, b"data"), &mut pkts);
    }
    let late = [10, 2, 0, 1];
    at(tcp(late, S, 3000, 443, SYN, b""), &mut pkts);
    at(tcp(S, late, 443, 3000, SYN | ACK, b""), &mut pkts);
    at(tcp(late, S, 3000, 443, ACK, b""), &mut pkts);
    at(tcp(late, S, 3000, 443, ACK, b"hello"), &mut pkts);
    let mut cfg = ExtractConfig::new(NS);
    cfg.flows.max_flows = 100;
    let mut x = Extractor::new(cfg, vec!["hand".into()]);
    x.export_flows();
    let (mut recs, mut flows) = (Vec::new(), Vec::new());
    for (ts, f) in &pkts {
        x.push_frame(&summary(*ts, f), f, 0, &mut |r| recs.push(r));
        flows.extend(x.take_flows());
    }
    x.end_flows();
    flows.extend(x.take_flows());
    let counts = x.finish(&mut |r| recs.push(r));
    // Window metrics do not depend on admission: every attempt is a new flow, the
    // unanswered ones half-open.
    assert_eq!(recs[0].new_flows, 1041);
    assert_eq!(recs[0].half_open_flows, 900);
    // The flood took no connection's place: nothing evicted, the 40 connections and the late
    // one have one record each with all their packets.
    assert_eq!((recs[0].evicted_flows, counts.evicted_flows), (0, 0));
    let of = |ip: [u8; 4]| flows.iter().filter(|f| f.src_ip == std::net::IpAddr::from(ip)).collect::<Vec<_>>();
    for i in 0..40u32 {
        let mine = of(client(i));
        assert_eq!(mine.len(), 1, "{mine:?}");
        assert_eq!(mine[0].src_packets + mine[0].dst_packets, 4);
    }
    let mine = of(late);
    assert_eq!((mine.len(), mine[0].src_packets, mine[0].dst_packets), (1, 3, 1), "{mine:?}");
    // The first 10 spoofed SYNs got flows (the table was not yet half full); the other 990
    // attempts none, counted with their packets.
    let spoofed: Vec<_> = flows.iter().filter(|f| f.dst_port == 80).collect();
    assert_eq!(spoofed.len(), 10);
    assert_eq!(counts.unadmitted_flows, 990);
    let in_flows: u64 = flows.iter().map(|f| f.src_packets + f.dst_packets).sum();
    assert_eq!(in_flows + counts.unadmitted_packets, pkts.len() as u64);
    // SYN-ACK seen first (capture started mid-handshake): the flow is answered, not half-open.
    let pkts = vec![(T0, tcp(S, C, 80, 40_000, SYN | ACK, b"")), (T0 + 1000, tcp(C, S, 40_000, 80, ACK, b""))];
    let recs = run(ExtractConfig::new(NS), &pkts);
    assert_eq!((recs[0].new_flows, recs[0].half_open_flows), (1, 0));
    // Idle expiry on packet time: a flow last seen at 0 ends at 60 s, in that window.
    let pkts = vec![(T0, udp(C, R, 1, 53, b"x")), (T0 + 90 * NS, udp(S, R, 2, 53, b"y"))];
    let recs = run(ExtractConfig::new(10 * NS), &pkts);
    let ended: Vec<(i64, u64)> =
        recs.iter().filter(|r| r.ended_flows > 0).map(|r| ((r.window_start_ns - T0) / NS, r.ended_flows)).collect();
    assert_eq!(ended, vec![(60, 1)]);
}

// ------------------------------------------------------------------ files

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nta-metrics-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn synth_file(name: &str, seconds: i64, attacks: &[SynthAttack]) -> PathBuf {
    let path = tmp(name);
    let mut cfg = SynthConfig::new(17, seconds * NS);
    cfg.profile = Profile::office();
    cfg.schedule_defaults(attacks);
    let mut w = CaptureWriter::new(std::fs::File::create(&path).unwrap(), WriteFormat::Pcapng, LINK_TYPE, SNAPLEN, "t")
        .unwrap();
    synthesize(&cfg, &mut w).unwrap();
    w.into_inner().unwrap();
    path
}

fn extract(paths: &[PathBuf], cfg: &ExtractConfig) -> Vec<WindowRecord> {
    let mut out = Vec::new();
    let summary = extract_files(paths, cfg, &|_| {}, &mut |r| {
        out.push(r);
        Ok(())
    })
    .unwrap();
    assert!(!summary.had_errors(), "{:?}", summary.files);
    out
}

#[test]
fn thread_count_changes_nothing() {
    let path = synth_file("threads.pcapng", 120, &[SynthAttack::Synflood, SynthAttack::Portscan]);
    let mut cfg = ExtractConfig::new(NS);
    cfg.threads = 1;
    let one = extract(std::slice::from_ref(&path), &cfg);
    for threads in [2, 4] {
        cfg.threads = threads;
        assert!(extract(std::slice::from_ref(&path), &cfg) == one, "{threads} threads differ from 1");
    }
    assert_eq!(one.len(), 120);
}

fn write_packets(path: &Path, pkts: &[(i64, Vec<u8>)]) {
    let mut w =
        CaptureWriter::new(std::fs::File::create(path).unwrap(), WriteFormat::PcapNs, LINK_TYPE, SNAPLEN, "").unwrap();
    for (ts, f) in pkts {
        w.write_packet(*ts, f, f.len() as u32).unwrap();
    }
    w.into_inner().unwrap();
}

fn all_packets(path: &Path) -> Vec<(i64, Vec<u8>)> {
    let mut r = CaptureReader::open(path).unwrap();
    let mut v = Vec::new();
    while let Some(p) = r.next_packet().unwrap() {
        v.push((p.ts_ns, p.data.to_vec()));
    }
    v
}

mod split {
    use super::*;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    fn capture() -> &'static (PathBuf, Frames) {
        static CAP: OnceLock<(PathBuf, Frames)> = OnceLock::new();
        CAP.get_or_init(|| {
            let path = synth_file("split.pcapng", 90, &[SynthAttack::DnsTunnel, SynthAttack::SshBruteforce]);
            let pkts = all_packets(&path);
            (path, pkts)
        })
    }

    fn without_source(mut v: Vec<WindowRecord>) -> Vec<WindowRecord> {
        for r in &mut v {
            r.capture.clear();
        }
        v
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
        /// A capture cut in two files at any packet and extracted as one time line gives the
        /// records of the whole (only `source` differs).
        #[test]
        fn split_in_two_and_merged_equals_whole(cut in 0.0f64..1.0, window_ms in prop::sample::select(vec![100i64, 1000, 7000, 60_000])) {
            let (path, pkts) = capture();
            let at = (pkts.len() as f64 * cut) as usize;
            let (a, b) = (tmp(&format!("a-{at}-{window_ms}.pcap")), tmp(&format!("b-{at}-{window_ms}.pcap")));
            write_packets(&a, &pkts[..at]);
            write_packets(&b, &pkts[at..]);
            let cfg = ExtractConfig::new(window_ms * 1_000_000);
            let whole = without_source(extract(std::slice::from_ref(path), &cfg));
            let parts = without_source(extract(&[b.clone(), a.clone()], &cfg));
            std::fs::remove_file(&a).unwrap();
            std::fs::remove_file(&b).unwrap();
            prop_assert_eq!(whole.len(), parts.len());
            prop_assert!(whole == parts);
        }
    }
}

#[test]
fn sources_are_named_and_overlapping_files_merge() {
    let (path, pkts) = {
        let p = synth_file("merge.pcapng", 30, &[]);
        let v = all_packets(&p);
        (p, v)
    };
    // Interleave: even packets in one file, odd in the other.
    let even: Vec<_> = pkts.iter().step_by(2).cloned().collect();
    let odd: Vec<_> = pkts.iter().skip(1).step_by(2).cloned().collect();
    let (a, b) = (tmp("even.pcap"), tmp("odd.pcap"));
    write_packets(&a, &even);
    write_packets(&b, &odd);
    let cfg = ExtractConfig::new(NS);
    let merged = extract(&[a.clone(), b.clone()], &cfg);
    let whole = extract(std::slice::from_ref(&path), &cfg);
    assert_eq!(merged.len(), whole.len());
    for (m, w) in merged.iter().zip(&whole) {
        assert_eq!(m.packets, w.packets);
        assert_eq!(m.new_flows, w.new_flows);
        assert_eq!(m.capture, format!("{},{}", a.display(), b.display()));
    }
}

#[test]
fn sampling_scales_counts_and_says_so() {
    let path = synth_file("sample.pcapng", 60, &[SynthAttack::Udpflood]);
    let mut cfg = ExtractConfig::new(10 * NS);
    let full = extract(std::slice::from_ref(&path), &cfg);
    cfg.sample = 10;
    let sampled = extract(std::slice::from_ref(&path), &cfg);
    assert_eq!(full.len(), sampled.len());
    let (pf, ps): (u64, u64) = (full.iter().map(|r| r.packets).sum(), sampled.iter().map(|r| r.packets).sum());
    assert!(ps % 10 == 0 && ps.abs_diff(pf) <= 10 * full.len() as u64, "{pf} vs {ps}");
    assert!(sampled.iter().all(|r| r.sample_rate == 10));
}

#[test]
fn the_fixture_shows_its_attacks() {
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/test_net_traffic.pcapng");
    let recs = extract(&[fixture], &ExtractConfig::new(10 * NS));
    assert_eq!(recs.len(), 180, "30 minutes of 10-second windows");
    let max_by = |m: Metric| {
        recs.iter()
            .filter(|r| r.get(m).is_finite())
            .max_by(|a, b| a.get(m).total_cmp(&b.get(m)))
            .map(|r| r.window_start[11..16].to_owned())
            .unwrap()
    };
    // Labels: portscan 09:04, synflood 09:08, dns_tunnel 09:12, ssh 09:16, exfil 09:20,
    // icmpflood 09:24, arp_spoof 09:27.
    assert_eq!(max_by(Metric::TcpSyn), "09:08");
    assert_eq!(max_by(Metric::HalfOpenFlows), "09:08");
    assert_eq!(max_by(Metric::SrcIpEntropy), "09:08");
    assert_eq!(max_by(Metric::DnsQnameLenMean), "09:12");
    assert_eq!(max_by(Metric::IcmpEchoRequests), "09:24");
    assert_eq!(max_by(Metric::ArpReplies), "09:27");
    let scan = recs.iter().filter(|r| r.window_start[11..16] == *"09:04").map(|r| r.unique_dst_ports).max().unwrap();
    let normal = recs.iter().filter(|r| r.window_start[11..13] == *"09" && r.window_start[14..15] == *"0").count();
    assert!(scan > 300 && normal > 0, "{scan}");
}

#[test]
fn jsonl_round_trip_and_torn_last_line() {
    let recs = run(ExtractConfig::new(NS), &hand_packets());
    let path = tmp("m.jsonl");
    let mut buf = Vec::new();
    for r in &recs {
        write_jsonl_record(&mut buf, r).unwrap();
    }
    std::fs::write(&path, &buf).unwrap();
    let read = read_jsonl(&path).unwrap();
    assert_eq!(read.records, recs);
    assert!(!read.torn_last_line);
    // A writer killed mid-line: the torn line is skipped and reported.
    buf.extend_from_slice(b"{\"window_start\":\"2023-");
    std::fs::write(&path, &buf).unwrap();
    let read = read_jsonl(&path).unwrap();
    assert_eq!(read.records, recs);
    assert!(read.torn_last_line);
    // A bad line in the middle is an error with its number.
    let mut bad = b"{}\n".to_vec();
    bad.extend_from_slice(&buf);
    std::fs::write(&path, &bad).unwrap();
    let err = read_jsonl(&path).unwrap_err().to_string();
    assert!(err.contains(":1:"), "{err}");
}

#[test]
fn unreadable_inputs_are_reported_and_the_rest_goes_on() {
    let good = synth_file("good.pcapng", 10, &[]);
    let text = tmp("notes.pcap");
    std::fs::write(&text, b"this is not a capture\n").unwrap();
    let cut = tmp("cut.pcapng");
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let cfg = ExtractConfig::new(NS);
    let mut n = 0;
    let summary = extract_files(&[good.clone(), text, cut], &cfg, &|_| {}, &mut |_| {
        n += 1;
        Ok(())
    })
    .unwrap();
    assert!(summary.had_errors());
    assert!(summary.files[1].error.as_deref().unwrap().contains("not a pcap"), "{:?}", summary.files[1]);
    assert!(
        summary.files[2].warnings.iter().any(|w| w.contains("cut short") || w.contains("truncated")),
        "{:?}",
        summary.files[2]
    );
    assert!(summary.files[2].packets > 0);
    assert_eq!(n, 10);
}

// ------------------------------------------------------------------ tshark

/// Per-window packets, bytes, TCP, UDP and unique source/destination addresses of the outer
/// IP header, computed from tshark's dissection.
fn tshark_windows(path: &Path, window_ns: i64) -> Option<Vec<(i64, [u64; 6])>> {
    let out = std::process::Command::new("tshark")
        .args(["-n", "-r"])
        .arg(path)
        .args(["-T", "fields", "-E", "separator=\t", "-E", "occurrence=f"])
        .args(["-e", "frame.time_epoch", "-e", "frame.len", "-e", "frame.protocols"])
        .args(["-e", "ip.src", "-e", "ip.dst", "-e", "ip.proto", "-e", "ipv6.src", "-e", "ipv6.dst"])
        .output()
        .ok()?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut windows: std::collections::BTreeMap<i64, TsharkWindow> = Default::default();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let (secs, frac) = f[0].split_once('.').unwrap_or((f[0], "0"));
        let ns = secs.parse::<i64>().unwrap() * NS + format!("{frac:0<9}")[..9].parse::<i64>().unwrap();
        let w = windows.entry(ns.div_euclid(window_ns)).or_default();
        w.0[0] += 1;
        w.0[1] += f[1].parse::<u64>().unwrap();
        let protos: Vec<&str> = f[2].split(':').collect();
        let outer = protos.iter().position(|p| *p == "ip" || *p == "ipv6");
        let Some(at) = outer else { continue };
        let (src, dst, proto) = if protos[at] == "ip" {
            (f[3], f[4], f[5].parse::<u8>().unwrap_or(0))
        } else {
            let next = protos[at + 1..].iter().find(|p| !p.starts_with("ipv6.")).copied().unwrap_or("");
            let proto = match next {
                "tcp" => 6,
                "udp" => 17,
                _ => 0,
            };
            (f[6], f[7], proto)
        };
        w.0[2] += u64::from(proto == 6);
        w.0[3] += u64::from(proto == 17);
        w.1.insert(src.to_owned());
        w.2.insert(dst.to_owned());
    }
    Some(
        windows
            .into_iter()
            .map(|(k, (c, s, d))| (k * window_ns, [c[0], c[1], c[2], c[3], s.len() as u64, d.len() as u64]))
            .collect(),
    )
}

#[test]
fn agrees_with_tshark_on_real_captures() {
    if !nta_corpus::require() {
        return;
    }
    if std::process::Command::new("tshark").arg("--version").output().is_err() {
        eprintln!("tshark not installed: skipped");
        return;
    }
    let root = nta_corpus::pcap("seladb__PcapPlusPlus/Tests");
    let files = [
        ("Pcap++Test/PcapExamples/example.pcap", 100_000_000),
        ("Pcap++Test/PcapExamples/sll.pcap", NS),
        ("ExamplesTest/pcap_examples/many-protocols.pcap", 60 * NS),
        ("Packet++Test/PacketExamples/Dns.pcap", NS),
        ("Packet++Test/PacketExamples/DnsEdit.pcap", NS),
        ("Packet++Test/PacketExamples/dns_over_tcp.pcapng", NS),
    ];
    let mut compared = 0;
    for (rel, window) in files {
        let path = root.join(rel);
        let want = tshark_windows(&path, window).unwrap();
        let mut cfg = ExtractConfig::new(window);
        cfg.reorder_ns = (nta_metrics::MAX_OPEN_WINDOWS - 2) * window; // the widest horizon allowed
        let got: Vec<(i64, [u64; 6])> = extract(std::slice::from_ref(&path), &cfg)
            .into_iter()
            .filter(|r| r.packets > 0)
            .map(|r| {
                (
                    r.window_start_ns,
                    [r.packets, r.bytes, r.tcp_packets, r.udp_packets, r.unique_src_ips, r.unique_dst_ips],
                )
            })
            .collect();
        assert_eq!(got, want, "{rel}: [packets, bytes, tcp, udp, unique src, unique dst] per window");
        compared += got.len();
    }
    assert!(compared > 100, "{compared} windows compared");
}

/// A tiny window, a reorder horizon or a gap fill over too many windows are refused before
/// anything is read; a run that would create more windows than its bound stops with an error,
/// having delivered at most that many.
#[test]
fn window_bounds_are_refused_up_front_and_a_run_stops_at_its_limit() {
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/test_net_traffic.pcapng");
    let run = |cfg: &ExtractConfig| {
        let mut n = 0u64;
        let r = extract_files(std::slice::from_ref(&fixture), cfg, &|_| {}, &mut |_| {
            n += 1;
            Ok(())
        });
        (r.map(|_| ()).map_err(|e| e.to_string()), n)
    };
    let refused = |cfg: ExtractConfig, says: &str| {
        let (r, n) = run(&cfg);
        let e = r.unwrap_err();
        assert!(e.contains(says), "{e}");
        assert_eq!(n, 0, "nothing delivered: {e}");
    };
    refused(ExtractConfig::new(1_000), "at least 1 ms");
    refused(ExtractConfig::new(0), "at least 1 ms");
    refused(ExtractConfig::new(-NS), "at least 1 ms");
    refused(ExtractConfig { reorder_ns: 3600 * NS, ..ExtractConfig::new(NS) }, "windows open");
    refused(ExtractConfig { max_gap_ns: 200_000 * NS, ..ExtractConfig::new(NS) }, "zero rows");
    refused(ExtractConfig { max_windows: 0, ..ExtractConfig::new(NS) }, "max_windows");
    let mut many_flows = ExtractConfig::new(NS);
    many_flows.flows.max_flows = nta_metrics::MAX_FLOWS + 1;
    refused(many_flows, "max_flows");
    // At 1 ms the defaults adapt (64 ms of reordering, gaps filled up to 100 s) and are valid.
    let ms = ExtractConfig::new(1_000_000);
    assert_eq!((ms.reorder_ns, ms.max_gap_ns), (64_000_000, 100 * NS));
    assert!(ms.validate().is_ok());
    // 30 minutes of 1 ms windows would be 1.8 M rows: stopped at the bound.
    let (r, n) = run(&ExtractConfig { max_windows: 5_000, ..ms });
    assert!(r.unwrap_err().contains("more than 5000 windows"));
    assert!(n <= 5_000, "{n} delivered");
}

/// A stream source with kernel counters: every window carries them, and they add up to what
/// the counters said; a file's records carry none.
#[test]
fn live_counters_are_attributed_to_windows() {
    use nta_metrics::{CaptureCounters, CaptureSource, CounterProbe, extract_sources};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/test_net_traffic.pcapng");
    let calls = Arc::new(AtomicU64::new(0));
    let c = Arc::clone(&calls);
    // Each read of the counters: 1,000 more received, 7 more dropped.
    let probe: CounterProbe = Arc::new(move || {
        let n = c.fetch_add(1, Ordering::Relaxed) + 1;
        CaptureCounters { received: n * 1_000, dropped: n * 7 }
    });
    let reader = Box::new(std::fs::File::open(&fixture).unwrap());
    let source = CaptureSource::Stream { name: "live:test".into(), reader, counters: Some(probe) };
    let mut out = Vec::new();
    extract_sources(vec![source], &ExtractConfig::new(10 * NS), &|_| {}, &mut |r| {
        out.push(r);
        Ok(())
    })
    .unwrap();
    let n = calls.load(Ordering::Relaxed);
    assert!(n >= 2, "{n} reads");
    assert!(out.iter().all(|r| r.capture_received.is_some() && r.capture_dropped.is_some()));
    assert_eq!(out.iter().map(|r| r.capture_received.unwrap()).sum::<u64>(), n * 1_000);
    assert_eq!(out.iter().map(|r| r.capture_dropped.unwrap()).sum::<u64>(), n * 7);
    assert!(out.iter().all(|r| r.capture == "live:test"));
    let file = extract(&[fixture], &ExtractConfig::new(10 * NS));
    assert!(file.iter().all(|r| r.capture_received.is_none() && r.capture_dropped.is_none()));
    assert!(!serde_json::to_string(&file[0]).unwrap().contains("capture_"));
}

/// A spoofed SYN flood with more sources in one window than the host table admits (229,376):
/// the distinct sources are estimated beyond it (HyperLogLog, 0.8 % standard error), within
/// 3 standard errors of the exact count.
#[test]
fn distinct_sources_beyond_the_host_table_are_estimated() {
    let path = tmp("spoofed.pcap");
    let mut cfg = SynthConfig::new(3, 2 * NS);
    cfg.normal = false;
    cfg.attacks
        .push(nta_synth::AttackSpec { rate: 600_000.0, ..nta_synth::AttackSpec::new(SynthAttack::Synflood, 0, NS) });
    let mut w =
        CaptureWriter::new(std::fs::File::create(&path).unwrap(), WriteFormat::Pcap, LINK_TYPE, SNAPLEN, "t").unwrap();
    synthesize(&cfg, &mut w).unwrap();
    w.into_inner().unwrap();
    // The exact count, from the capture itself.
    let mut sources = std::collections::HashSet::new();
    let mut reader = CaptureReader::open(&path).unwrap();
    while let Some(p) = reader.next_packet().unwrap() {
        if let Some(ip) = nta_parsing::decode(&p).ip {
            sources.insert(ip.src);
        }
    }
    let records = extract(std::slice::from_ref(&path), &ExtractConfig::new(10 * NS));
    let flood = records.iter().max_by_key(|r| r.packets).unwrap();
    assert!(sources.len() > 500_000, "{}", sources.len());
    let err = (flood.unique_src_ips as f64 - sources.len() as f64).abs() / sources.len() as f64;
    assert!(
        err < 0.024,
        "estimated {} of {} distinct sources ({:.2} %)",
        flood.unique_src_ips,
        sources.len(),
        err * 100.0
    );
    assert!(flood.evidence.untracked > 0, "the table was full");
    assert_eq!(flood.evidence.targets.first().map(|t| t.syns > 500_000), Some(true));
    std::fs::remove_file(&path).ok();
}

/// A spoofed flood whose victim answers three SYNs in ten, each answer a thousand SYNs
/// later: with a table too small for the flood, the attempts wait apart (flow admission)
/// and every answer still finds its SYN, so the window metrics are those of a table that holds
/// everything.
#[test]
fn window_metrics_do_not_depend_on_flow_admission() {
    let n = 200_000u32;
    // Random sources and ports, as a spoofing tool draws them (SplitMix64 of the index).
    let mix = |i: u32| {
        let mut z = u64::from(i).wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let src = |i: u32| {
        let z = mix(i);
        [1 + (z % 200) as u8, (z >> 8) as u8, (z >> 16) as u8, (z >> 24) as u8]
    };
    let port = |i: u32| 1024 + ((mix(i) >> 40) % 60_000) as u16;
    let mut pkts = Vec::new();
    let mut t = T0;
    let answered = |i: u32| i % 10 < 3;
    for i in 0..n + 1000 {
        t += 250;
        if i < n {
            pkts.push((t, tcp(src(i), S, port(i), 80, SYN, b"")));
        }
        if let Some(j) = i.checked_sub(1000).filter(|j| answered(*j)) {
            pkts.push((t + 1, tcp(S, src(j), 80, port(j), SYN | ACK, b"")));
        }
    }
    let big = run(ExtractConfig::new(10 * NS), &pkts);
    let mut cfg = ExtractConfig::new(10 * NS);
    cfg.flows.max_flows = 1000;
    let small = run(cfg, &pkts);
    let facts = |r: &[WindowRecord]| (r[0].new_flows, r[0].half_open_flows, r[0].evicted_flows);
    assert_eq!(facts(&big), (u64::from(n), u64::from(n - (0..n).filter(|i| answered(*i)).count() as u32), 0));
    assert_eq!(facts(&small), facts(&big));
}
