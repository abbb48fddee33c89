//! Property tests: no input makes the reader or the decoder panic or loop.

use crate::common::pcap;
use nta_capture::{CaptureReader, LinkType};
use nta_parsing::{App, Census, Network, decode_frame};
use proptest::prelude::*;

const LINK_TYPES: [u16; 12] = [0, 1, 12, 14, 101, 105, 108, 113, 228, 229, 276, 999];

fn real_frames() -> Vec<(LinkType, Vec<u8>)> {
    let mut out = Vec::new();
    for rel in [
        "seladb__PcapPlusPlus/Tests/ExamplesTest/pcap_examples/many-protocols.pcap",
        "seladb__PcapPlusPlus/Tests/Pcap++Test/PcapExamples/sll.pcap",
        "seladb__PcapPlusPlus/Tests/Pcap++Test/PcapExamples/DnsPackets.pcap",
        "seladb__PcapPlusPlus/Tests/Pcap++Test/PcapExamples/ip6_fragments.pcap",
        "zeek__zeek/testing/btest/Traces/tls/tls13-ech.pcap",
        "zeek__zeek/testing/btest/Traces/linux_dlt_sll2.pcap",
        // Tunnels: GRE in GRE, ERSPAN, VXLAN, GENEVE, GTP-U, Teredo, MPLS, IP in IP.
        "zeek__zeek/testing/btest/Traces/tunnels/gre-within-gre.pcap",
        "zeek__zeek/testing/btest/Traces/erspan.pcap",
        "the-tcpdump-group__tcpdump/tests/vxlan.pcap",
        "the-tcpdump-group__tcpdump/tests/geneve.pcap",
        "seladb__PcapPlusPlus/Tests/Packet++Test/PacketExamples/gtp-u.pcap",
        "zeek__zeek/testing/btest/Traces/tunnels/Teredo.pcap",
        "arkime__arkime/tests/pcap/mpls-basic.pcap",
        "zeek__zeek/testing/btest/Traces/tunnels/6in6in6.pcap",
    ] {
        let mut r = CaptureReader::open(pcap(rel)).unwrap();
        while let Some(p) = r.next_packet().unwrap() {
            out.push((p.link_type, p.data.to_vec()));
        }
    }
    out
}

/// Every prefix of every real frame decodes without panic, and a prefix never claims more
/// than the full frame did at the layers both reached (a prefix cut inside a tunnel header
/// shows the packet that carried it).
#[test]
fn every_truncation_of_real_frames_decodes() {
    if !nta_corpus::require() {
        return;
    }
    let frames = real_frames();
    assert!(frames.len() > 5000);
    assert!(frames.iter().filter(|(lt, f)| decode_frame(*lt, f).encap.depth > 0).count() > 900);
    let mut census = Census::default();
    for (lt, f) in frames.iter().step_by(7) {
        let full = decode_frame(*lt, f);
        for cut in 0..f.len() {
            let s = decode_frame(*lt, &f[..cut]);
            census.add(&s);
            assert!(s.encap.depth <= full.encap.depth);
            if s.ip.is_some() && s.encap.depth == full.encap.depth {
                assert_eq!(s.ip.map(|i| i.src), full.ip.map(|i| i.src));
            }
        }
    }
    assert!(census.packets > 100_000);
}

/// The transport and application a summary reads, without frame offsets.
fn reading(s: &nta_parsing::PacketSummary) -> String {
    let app = match s.app {
        App::None => "none",
        App::Dns(_) => "dns",
        App::TlsClientHello(_) => "tls",
        App::Http(_) => "http",
    };
    format!("{:?} {:?} {:?} {app}", s.network, s.ip, s.ports())
}

/// A real frame inside VXLAN, GENEVE or GRE (transparent bridging) reads as the frame alone.
#[test]
fn wrapped_real_frames_read_as_themselves() {
    if !nta_corpus::require() {
        return;
    }
    let mut wrapped = 0;
    for (lt, f) in real_frames().iter().filter(|(lt, _)| *lt == LinkType::ETHERNET).step_by(3) {
        let alone = decode_frame(*lt, f);
        if !matches!(alone.network, Network::Ipv4 | Network::Ipv6 | Network::Arp(_)) {
            continue;
        }
        for kind in 0..3 {
            let w = wrap(kind, f);
            let s = decode_frame(*lt, &w);
            assert_eq!(reading(&s), reading(&alone), "kind {kind}");
            assert_eq!(s.packet_len(), alone.packet_len());
            assert_eq!(s.encap.depth, alone.encap.depth + 1);
            wrapped += 1;
        }
    }
    assert!(wrapped > 3000);
}

/// `inner` in an outer Ethernet + IPv4 frame: VXLAN (0), GENEVE (1) or GRE bridging (2).
fn wrap(kind: u8, inner: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    let tunnel: Vec<u8> = match kind {
        0 => [&[0x11, 0x22, 0x12, 0xb5][..], &[0, 0, 0, 0], &[0x08, 0, 0, 0, 0, 0, 7, 0]].concat(),
        1 => [&[0x11, 0x22, 0x17, 0xc1][..], &[0, 0, 0, 0], &[0, 0, 0x65, 0x58, 0, 0, 7, 0]].concat(),
        _ => vec![0x20, 0x00, 0x65, 0x58, 0, 0, 0, 9],
    };
    let total = (20 + tunnel.len() + inner.len()) as u16;
    let protocol = if kind == 2 { 47 } else { 17 };
    f.extend_from_slice(&[0x45, 0, (total >> 8) as u8, total as u8, 0, 1, 0x40, 0, 64, protocol, 0, 0]);
    f.extend_from_slice(&[10, 99, 0, 1, 10, 99, 0, 2]);
    let mut tunnel = tunnel;
    if kind < 2 {
        let udp_len = (tunnel.len() + inner.len()) as u16;
        tunnel[4..6].copy_from_slice(&udp_len.to_be_bytes());
    }
    f.extend_from_slice(&tunnel);
    f.extend_from_slice(inner);
    f
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_frames_never_panic(lt in proptest::sample::select(&LINK_TYPES[..]), data in proptest::collection::vec(any::<u8>(), 0..300)) {
        let s = decode_frame(LinkType(lt), &data);
        prop_assert_eq!(s.cap_len as usize, data.len());
    }

    #[test]
    fn mutated_real_frames_never_panic(idx in 0usize..5000, flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        if !nta_corpus::require() {
            return Ok(());
        }
        thread_local!(static FRAMES: Vec<(LinkType, Vec<u8>)> = real_frames());
        FRAMES.with(|frames| {
            let (lt, f) = &frames[idx % frames.len()];
            let mut f = f.clone();
            for (at, v) in &flips {
                if !f.is_empty() {
                    let n = f.len();
                    f[at % n] = *v;
                }
            }
            let _ = decode_frame(*lt, &f);
        });
    }

    #[test]
    fn random_files_never_panic_or_hang(data in proptest::collection::vec(any::<u8>(), 0..2000), magic in 0usize..5) {
        let magics: [&[u8]; 5] = [
            &[0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0],
            &[0x0a, 0x0d, 0x0d, 0x0a, 0x1c, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a],
            &[0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0x1c, 0x1a, 0x2b, 0x3c, 0x4d],
            &[0x4d, 0x3c, 0xb2, 0xa1, 2, 0, 4, 0],
            &[],
        ];
        let mut bytes = magics[magic].to_vec();
        bytes.extend_from_slice(&data);
        if let Ok(mut r) = CaptureReader::from_reader(std::io::Cursor::new(bytes)) {
            let mut n = 0;
            while let Ok(Some(p)) = r.next_packet() {
                let _ = nta_parsing::decode(&p);
                n += 1;
                prop_assert!(n <= data.len() + 1, "more packets than bytes: a loop");
            }
        }
    }
}

/// Headers that announce more than the frame holds never point an error (or the innermost
/// packet) beyond it — found by the fuzzer: a GTP-U G-PDU whose extension headers run past the
/// frame, an MPLS stack ending on a pseudowire control word cut short.
#[test]
fn gtp_extension_headers_cut_anywhere_stay_inside_the_frame() {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    f.extend_from_slice(&[0x45, 0, 0, 48, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    f.extend_from_slice(&[0x08, 0x68, 0x08, 0x68, 0, 28, 0, 0]);
    // Version 1, GTP, E flag; G-PDU; TEID 7; sequence, N-PDU, next extension 0x85; then an
    // extension of 2 units announcing another (0xc0) that the frame does not hold.
    f.extend_from_slice(&[0x34, 0xff, 0, 24, 0, 0, 0, 7, 0, 0, 0, 0x85, 2, 0, 0, 0, 0, 0, 0, 0xc0]);
    for cut in 0..=f.len() {
        let s = decode_frame(LinkType::ETHERNET, &f[..cut]);
        if let Some(e) = s.error {
            assert!(e.offset as usize <= cut, "cut {cut}: {e}");
        }
    }
    let s = decode_frame(LinkType::ETHERNET, &f);
    assert!(s.encap.kinds.contains(nta_parsing::Tunnel::GtpU));
    assert!(s.error.is_some_and(|e| e.layer == nta_parsing::Layer::Tunnel), "{:?}", s.error);
    // Linux SLL, MPLS: 14 labels, the last at the bottom, then a control word of 3 bytes.
    let mut m = vec![0u8; 14];
    m.extend_from_slice(&[0x88, 0x47]);
    for i in 0..14 {
        m.extend_from_slice(&[0, 0, if i == 13 { 1 } else { 0 }, 64]);
    }
    m.extend_from_slice(&[0, 0, 0]);
    let s = decode_frame(LinkType(113), &m);
    assert!(s.error.is_some_and(|e| e.offset as usize <= m.len()), "{:?}", s.error);
    assert!(s.encap.overhead as usize <= m.len());
}
