//! One focused test per capture of ../shared/pcaps/PICKS.tsv: each is there for an edge case.
//! Expected values come from the manifest's independent census, from the capture bytes read
//! directly, or from the tools' published outputs.

use crate::common::{check_census, decode_file, pcap};
use nta_capture::{ByteOrder, CaptureFormat, CaptureReader, LinkType, TsPrecision, TsResolution};
use nta_parsing::{App, DnsTransport, Fragment, Layer, Network, Transport, Tunnel};

const PPP: &str = "seladb__PcapPlusPlus/Tests/Pcap++Test/PcapExamples/";

fn raw_u32(rel: &str, at: usize, big_endian: bool) -> u32 {
    let bytes = std::fs::read(pcap(rel)).expect("readable");
    let b: [u8; 4] = bytes[at..at + 4].try_into().expect("4 bytes");
    if big_endian { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) }
}

#[test]
fn example_pcap_realistic_traffic() {
    if !nta_corpus::require() {
        return;
    }
    let rel = &format!("{PPP}example.pcap");
    let d = decode_file(rel);
    check_census(rel, &d.census, &["ipv4", "tcp", "udp"]);
    assert_eq!(d.census.malformed, 0);
    assert!(d.census.dns >= 130, "DNS messages: {}", d.census.dns);
    assert!(d.census.http_requests > 100);
}

#[test]
fn many_protocols_span_four_and_a_half_years() {
    if !nta_corpus::require() {
        return;
    }
    let rel = "seladb__PcapPlusPlus/Tests/ExamplesTest/pcap_examples/many-protocols.pcap";
    let d = decode_file(rel);
    check_census(rel, &d.census, &["arp", "ipv4", "ipv6", "tcp", "udp", "icmp", "llc"]);
    let span = d.stats.max_ts_ns.unwrap() - d.stats.min_ts_ns.unwrap();
    assert!(span > 4 * 365 * 86_400 * 1_000_000_000, "span {span} ns");
    // The manifest counts VLAN tags: 44 of them.
    let tags: u64 = d.summaries.iter().map(|s| u64::from(s.vlan.count)).sum();
    assert_eq!(tags, 44);
}

#[test]
fn nanosecond_big_endian_timestamps_to_the_nanosecond() {
    if !nta_corpus::require() {
        return;
    }
    let rel = &format!("{PPP}nanosecs_big_endian.pcap");
    let r = CaptureReader::open(pcap(rel)).unwrap();
    assert_eq!(
        r.format(),
        CaptureFormat::Pcap {
            byte_order: ByteOrder::Big,
            precision: TsPrecision::Nano,
            modified: false,
            compression: nta_capture::Compression::None
        }
    );
    let d = decode_file(rel);
    let (sec, nsec) = (raw_u32(rel, 24, true), raw_u32(rel, 28, true));
    assert_eq!(d.summaries[0].ts_ns, i64::from(sec) * 1_000_000_000 + i64::from(nsec));
    assert_eq!(d.summaries[0].ts_ns, 1_766_361_926_167_647_291);
    check_census(rel, &d.census, &["ipv4", "tcp"]);
}

#[test]
fn pptp_big_endian_with_gre() {
    if !nta_corpus::require() {
        return;
    }
    let rel = "the-tcpdump-group__tcpdump/tests/pptp.pcap";
    let d = decode_file(rel);
    check_census(rel, &d.census, &["ipv4", "tcp"]);
    let gre = d.summaries.iter().filter(|s| s.transport == Transport::Tunnel(Tunnel::Gre)).count();
    assert_eq!(gre, 1);
}

#[test]
fn tcp_handshake_nano_sll() {
    if !nta_corpus::require() {
        return;
    }
    let rel = "the-tcpdump-group__tcpdump/tests/tcp-handshake-nano.pcap";
    let d = decode_file(rel);
    // tcpdump prints this first packet at 17:16:09.924505488 (tests/tcp-handshake-nano.out).
    assert_eq!(d.summaries[0].ts_ns, 1_418_145_369_924_505_488);
    assert_eq!(nta_capture::format_rfc3339_ns(d.summaries[0].ts_ns), "2014-12-09T17:16:09.924505488Z");
    assert!(d.summaries.iter().all(|s| s.link_type == LinkType::LINUX_SLL));
    let flags: Vec<(bool, bool)> =
        d.summaries.iter().map(|s| s.tcp().map(|t| (t.flags.syn(), t.flags.ack())).unwrap()).collect();
    assert_eq!(flags, [(true, false), (true, true), (false, true)], "SYN, SYN-ACK, ACK");
}

#[test]
fn many_interfaces_eleven_idbs_three_link_types() {
    if !nta_corpus::require() {
        return;
    }
    let rel = &format!("{PPP}many_interfaces-1.pcapng");
    let d = decode_file(rel);
    assert_eq!(d.interfaces.len(), 11);
    let mut lts: Vec<u16> = d.interfaces.iter().map(|i| i.link_type.0).collect();
    lts.sort_unstable();
    lts.dedup();
    assert_eq!(lts, [0, 1, 12]);
    check_census(rel, &d.census, &["ipv4", "tcp", "udp"]);
    // Every packet carries the link type of its own interface.
    for s in &d.summaries {
        assert!(s.link_supported);
    }
}

#[test]
fn pcapng_example_two_resolutions() {
    if !nta_corpus::require() {
        return;
    }
    let rel = &format!("{PPP}pcapng-example.pcapng");
    let d = decode_file(rel);
    assert_eq!(d.interfaces[0].resolution, TsResolution::Pow10(9));
    assert_eq!(d.interfaces[1].resolution, TsResolution::Pow10(6));
    // First EPB at byte 0x1b4: ts_high 0x13bdd5ad, ts_low 0x865023e9 in nanoseconds.
    assert_eq!(d.summaries[0].ts_ns, 0x13bd_d5ad_8650_23e9);
    check_census(rel, &d.census, &["ipv4", "ipv6", "tcp"]);
}

#[test]
fn pcapng_big_endian_conformance() {
    if !nta_corpus::require() {
        return;
    }
    let rel = "hadrielk__pcapng-test-generator/output_be/advanced/test100.pcapng";
    let r = CaptureReader::open(pcap(rel)).unwrap();
    assert!(matches!(r.format(), CaptureFormat::Pcapng { byte_order: ByteOrder::Big, .. }));
    let d = decode_file(rel);
    assert_eq!(d.interfaces.len(), 3);
    check_census(rel, &d.census, &["ipv4", "udp"]);
}

#[test]
fn pcapng_mixed_endian_sections() {
    if !nta_corpus::require() {
        return;
    }
    let rel = "hadrielk__pcapng-test-generator/output_le/difficult/test202.pcapng";
    let d = decode_file(rel);
    assert!(d.stats.sections >= 2, "sections {}", d.stats.sections);
    assert_eq!(d.interfaces.len(), 5);
    check_census(rel, &d.census, &["ipv4", "udp"]);
}

#[test]
fn sll_v1() {
    if !nta_corpus::require() {
        return;
    }
    let rel = &format!("{PPP}sll.pcap");
    let d = decode_file(rel);
    check_census(rel, &d.census, &["arp", "ipv4", "ipv6", "tcp", "udp"]);
    assert_eq!(d.census.malformed, 0);
}

#[test]
fn sll_v2_with_arp_and_rarp() {
    if !nta_corpus::require() {
        return;
    }
    let rel = "zeek__zeek/testing/btest/Traces/linux_dlt_sll2.pcap";
    let d = decode_file(rel);
    check_census(rel, &d.census, &["arp", "ipv4", "ipv6", "icmp", "icmp6"]);
}

#[test]
fn raw_ip_101() {
    if !nta_corpus::require() {
        return;
    }
    let rel = &format!("{PPP}raw_ip.pcap");
    let d = decode_file(rel);
    check_census(rel, &d.census, &["ipv4", "ipv6", "tcp", "udp"]);
}

#[test]
fn linktype_ipv4_228() {
    if !nta_corpus::require() {
        return;
    }
    let rel = &format!("{PPP}linktype_ipv4.pcap");
    let d = decode_file(rel);
    check_census(rel, &d.census, &["ipv4", "udp"]);
    assert_eq!(d.census.dns, 2);
}

#[test]
fn raw_ip_link_type_12() {
    if !nta_corpus::require() {
        return;
    }
    let rel = &format!("{PPP}four_ipv6_http_streams.pcap");
    let d = decode_file(rel);
    assert!(d.summaries.iter().all(|s| s.link_type == LinkType::RAW_BSD12));
    check_census(rel, &d.census, &["ipv6", "tcp"]);
    assert!(d.census.http_requests > 0);
}

#[test]
fn null_loopback_host_byte_order() {
    if !nta_corpus::require() {
        return;
    }
    let rel = &format!("{PPP}null_loopback.pcap");
    let d = decode_file(rel);
    check_census(rel, &d.census, &["ipv4", "ipv6", "tcp", "udp"]);
    // The third frame does not carry a loopback header at all (AF 0x0008000f): malformed link.
    assert_eq!(d.summaries[2].malformed().map(|e| e.layer), Some(Layer::Link));
}

#[test]
fn vlan_single_and_double_tags() {
    if !nta_corpus::require() {
        return;
    }
    let rel = &format!("{PPP}VlanPackets.pcap");
    let d = decode_file(rel);
    check_census(rel, &d.census, &["ipv4", "icmp", "llc"]);
    let tags: u64 = d.summaries.iter().map(|s| u64::from(s.vlan.count)).sum();
    assert_eq!(tags, 44, "the manifest counts 44 VLAN tags");
    for (s, f) in d.summaries.iter().zip(&d.frames) {
        if s.vlan.count > 0 {
            let tci = u16::from_be_bytes([f[14], f[15]]) & 0x0fff;
            assert_eq!(s.vlan.outer, Some(tci));
        }
        if s.vlan.count > 1 {
            let tci = u16::from_be_bytes([f[18], f[19]]) & 0x0fff;
            assert_eq!(s.vlan.inner, Some(tci));
        }
    }
}

#[test]
fn qinq_802_1ad() {
    if !nta_corpus::require() {
        return;
    }
    let rel = "the-tcpdump-group__tcpdump/tests/802.1ad_QinQ.pcap";
    let d = decode_file(rel);
    check_census(rel, &d.census, &["arp"]);
    for (s, f) in d.summaries.iter().zip(&d.frames) {
        assert_eq!(u16::from_be_bytes([f[12], f[13]]), 0x88a8, "S-tag EtherType");
        assert_eq!(s.vlan.count, 2);
        assert_eq!(s.vlan.outer, Some(u16::from_be_bytes([f[14], f[15]]) & 0x0fff));
        assert_eq!(s.vlan.inner, Some(u16::from_be_bytes([f[18], f[19]]) & 0x0fff));
        assert!(matches!(s.network, Network::Arp(_)));
    }
}

#[test]
fn ipv4_fragments() {
    if !nta_corpus::require() {
        return;
    }
    let rel = &format!("{PPP}ip4_fragments.pcap");
    let d = decode_file(rel);
    check_census(rel, &d.census, &["ipv4", "ipfrag", "udp"]);
    let later = d.summaries.iter().filter(|s| s.ip.unwrap().fragment == Fragment::Later);
    for s in later {
        assert_eq!(s.transport, Transport::None, "later fragments carry no ports");
    }
    assert_eq!(d.census.malformed, 0);
}

#[test]
fn ipv6_fragments() {
    if !nta_corpus::require() {
        return;
    }
    let rel = &format!("{PPP}ip6_fragments.pcap");
    let d = decode_file(rel);
    check_census(rel, &d.census, &["ipv6", "ipfrag", "udp"]);
    assert_eq!(d.census.malformed, 0);
}

#[test]
fn ipv6_routing_header() {
    if !nta_corpus::require() {
        return;
    }
    let rel = "the-tcpdump-group__tcpdump/tests/ipv6-routing-header.pcap";
    let d = decode_file(rel);
    check_census(rel, &d.census, &["ipv6", "ipv6_exthdr", "udp", "icmp6"]);
}

#[test]
fn dns_names_udp_and_mdns() {
    if !nta_corpus::require() {
        return;
    }
    let rel = &format!("{PPP}DnsPackets.pcap");
    let d = decode_file(rel);
    let row = crate::common::row(rel);
    assert_eq!(d.census.dns, row.features["dns"] + row.features["mdns"]);
    assert_eq!(d.census.mdns, row.features["mdns"]);
    // Check every query's name statistics against a direct walk of its (uncompressed) labels.
    let mut checked = 0;
    for (s, f) in d.summaries.iter().zip(&d.frames) {
        let (App::Dns(dns), Some(udp)) = (s.app, s.udp()) else { continue };
        if dns.response || dns.questions == 0 {
            continue;
        }
        let mut pos = udp.payload_offset as usize + 12;
        let (mut labels, mut len) = (0u8, 0u16);
        while f[pos] != 0 && f[pos] & 0xc0 == 0 {
            len += u16::from(f[pos]) + u16::from(labels > 0);
            labels += 1;
            pos += 1 + usize::from(f[pos]);
        }
        if f[pos] != 0 {
            continue; // compressed: not walked here
        }
        let q = dns.qname.unwrap();
        assert_eq!((q.labels, q.len), (labels, len));
        assert_eq!(dns.qtype, Some(u16::from_be_bytes([f[pos + 1], f[pos + 2]])));
        checked += 1;
    }
    assert!(checked > 100, "checked {checked}");
}

#[test]
fn dns_over_tcp() {
    if !nta_corpus::require() {
        return;
    }
    let rel = "debsrc__dnscap/dnscap-2.1.1/src/test/dnso1tcp.pcap";
    let d = decode_file(rel);
    let dns = d.dns();
    assert!(dns.len() >= 40, "{} messages", dns.len());
    assert!(dns.iter().all(|m| m.transport == DnsTransport::Tcp));
    assert!(dns.iter().any(|m| m.response) && dns.iter().any(|m| !m.response));
    assert_eq!(d.census.malformed, 0);
}

#[test]
fn tls13_ech_client_hello_sni() {
    if !nta_corpus::require() {
        return;
    }
    let rel = "zeek__zeek/testing/btest/Traces/tls/tls13-ech.pcap";
    let d = decode_file(rel);
    let mut snis = Vec::new();
    for (s, f) in d.summaries.iter().zip(&d.frames) {
        if let App::TlsClientHello(t) = s.app {
            let sni = t.sni.expect("SNI present");
            snis.push(String::from_utf8(sni.bytes(f).to_vec()).unwrap());
        }
    }
    assert_eq!(snis.len(), 2);
    for sni in &snis {
        assert!(sni.contains('.') && sni.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-'), "{sni}");
    }
}

#[test]
fn pcapng_behind_a_pcap_name() {
    if !nta_corpus::require() {
        return;
    }
    let rel = "seladb__PcapPlusPlus/Tests/Packet++Test/PacketExamples/IcmpPackets.pcap";
    let r = CaptureReader::open(pcap(rel)).unwrap();
    assert!(matches!(r.format(), CaptureFormat::Pcapng { .. }));
    let d = decode_file(rel);
    check_census(rel, &d.census, &["ipv4", "icmp"]);
}

#[test]
fn snaplen_cut_tcp_headers_are_not_malformed() {
    if !nta_corpus::require() {
        return;
    }
    let rel = "zeek__zeek/testing/btest/Traces/tcp/truncated-header.pcap";
    let d = decode_file(rel);
    check_census(rel, &d.census, &["ipv4", "tcp"]);
    assert_eq!(d.census.snap_truncated, 24);
    assert_eq!(d.census.malformed, 0);
    assert_eq!(d.stats.truncated, 24);
}

#[test]
fn out_of_order_timestamps_are_counted() {
    if !nta_corpus::require() {
        return;
    }
    let rel = "OISF__suricata-verify/tests/dnp3/dnp3-too-long-reassembly-request/input.pcap";
    let d = decode_file(rel);
    assert_eq!(d.stats.out_of_order, 65, "the manifest counts 65 backward steps");
    assert!(d.stats.warnings.iter().any(|w| matches!(w, nta_capture::Warning::OutOfOrder { count: 65 })));
}

#[test]
fn empty_pcapng() {
    if !nta_corpus::require() {
        return;
    }
    let rel = "hadrielk__pcapng-test-generator/output_le/basic/test002.pcapng";
    let d = decode_file(rel);
    assert_eq!(d.census.packets, 0);
    assert_eq!(d.stats.sections, 1);
    assert!(d.stats.first_ts_ns.is_none());
}

#[test]
fn iodine_dns_tunnel_has_long_high_entropy_names() {
    if !nta_corpus::require() {
        return;
    }
    let rel = "elastic__examples/Security Analytics/dns_tunnel_detection/dns-tunnel-iodine.pcap";
    let d = decode_file(rel);
    check_census(rel, &d.census, &["arp", "ipv4", "udp"]);
    let names: Vec<_> = d.dns().iter().filter_map(|x| x.qname).collect();
    let mean_len = names.iter().map(|n| f64::from(n.len)).sum::<f64>() / names.len() as f64;
    let mean_entropy = names.iter().map(|n| f64::from(n.entropy)).sum::<f64>() / names.len() as f64;
    // Ordinary names (DnsPackets.pcap) for comparison.
    let normal = decode_file(&format!("{PPP}DnsPackets.pcap"));
    let normal_names: Vec<_> = normal.dns().iter().filter_map(|x| x.qname).collect();
    let normal_len = normal_names.iter().map(|n| f64::from(n.len)).sum::<f64>() / normal_names.len() as f64;
    let normal_entropy = normal_names.iter().map(|n| f64::from(n.entropy)).sum::<f64>() / normal_names.len() as f64;
    assert!(mean_len > 2.0 * normal_len, "iodine {mean_len:.1} vs normal {normal_len:.1}");
    // Measured: 3.51 vs 3.34 bits/char. Whole-name entropy separates weakly (short iodine
    // control queries dilute it); the longest label separates strongly.
    assert!(mean_entropy > normal_entropy, "entropy: iodine {mean_entropy:.2} vs normal {normal_entropy:.2}");
    let longest =
        |v: &[nta_parsing::NameStats]| v.iter().map(|n| f64::from(n.longest_label)).sum::<f64>() / v.len() as f64;
    let (l_iodine, l_normal) = (longest(&names), longest(&normal_names));
    // Measured: 17.1 vs 10.7 bytes.
    assert!(l_iodine > 1.4 * l_normal, "longest label: iodine {l_iodine:.1} vs normal {l_normal:.1}");
}

#[test]
fn nmap_version_scan() {
    if !nta_corpus::require() {
        return;
    }
    let rel = "zeek__zeek/testing/btest/Traces/nmap-vsn.pcap";
    let d = decode_file(rel);
    check_census(rel, &d.census, &["arp", "ipv4", "tcp", "udp"]);
    let requests = d.summaries.iter().filter(|s| matches!(s.network, Network::Arp(a) if a.operation == 1)).count();
    assert!(requests > 400, "ARP sweep: {requests} requests");
}

#[test]
fn ipv6_dos_flood_with_extension_headers() {
    if !nta_corpus::require() {
        return;
    }
    let rel = "OISF__suricata-verify/tests/ipv6-evasion/ipv6-dos-with-ext-headers-6/denial6-6.pcap";
    let d = decode_file(rel);
    check_census(rel, &d.census, &["ipv6", "ipv6_exthdr", "ipfrag", "udp", "icmp6"]);
}

#[test]
fn http_inside_vxlan_and_pings_inside_geneve() {
    if !nta_corpus::require() {
        return;
    }
    // Zeek's traces: tshark sees an HTTP exchange over 12 TCP segments inside VXLAN, and 6
    // ICMP echoes inside GENEVE.
    let rel = "zeek__zeek/testing/btest/Traces/tunnels/vxlan-encapsulated-http.pcap";
    let d = decode_file(rel);
    assert_eq!((d.census.tcp, d.census.udp, d.census.http_requests), (12, 0, 1));
    assert_eq!(d.census.encapsulations[Tunnel::Vxlan.index()], 12);
    let s = &d.summaries[0];
    let outer = s.encap.outer.expect("the VXLAN endpoints");
    assert_eq!((outer.kind, s.encap.depth, s.encap.overhead), (Tunnel::Vxlan, 1, 50));
    let (src, _) = outer.endpoints(&d.frames[0]).expect("endpoints in the frame");
    assert_ne!(Some(src), s.ip.map(|ip| ip.src), "the inner packet's addresses, not the tunnel's");
    let rel = "zeek__zeek/testing/btest/Traces/tunnels/geneve.pcap";
    let d = decode_file(rel);
    assert_eq!((d.census.icmp, d.census.udp), (6, 0));
    assert!(
        d.summaries.iter().all(|s| matches!(s.transport, Transport::Icmp(i) if i.icmp_type == 8 || i.icmp_type == 0))
    );
    // Read as the tunnels themselves: 6 UDP datagrams, still named GENEVE.
    let mut reader = CaptureReader::open(pcap(rel)).unwrap();
    let (outer, _) = nta_parsing::census_of_layer(&mut reader, nta_parsing::TunnelLayer::Outer);
    assert_eq!((outer.icmp, outer.udp, outer.encapsulations[Tunnel::Geneve.index()]), (0, 6, 6));
}
