//! fixtures/sample.pcap (made by `examples/make_sample.rs`): every layer decodes as built.

use nta_capture::CaptureReader;
use nta_parsing::{App, HttpMethod, census_of, decode};
use std::path::PathBuf;

fn sample() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/sample.pcap")
}

#[test]
fn sample_fixture_census() {
    let mut r = CaptureReader::open(sample()).unwrap();
    let (c, err) = census_of(&mut r);
    assert!(err.is_none());
    assert_eq!((c.packets, c.arp, c.ipv4, c.ipv6, c.tcp, c.udp, c.icmp), (17, 2, 14, 1, 9, 5, 1));
    assert_eq!((c.dns, c.dns_queries, c.dns_responses, c.dns_nxdomain), (5, 3, 2, 1));
    assert_eq!((c.tcp_syn, c.tcp_synack, c.tcp_fin, c.tcp_rst), (3, 1, 2, 1));
    assert_eq!((c.tls_client_hello, c.tls_sni, c.http_requests, c.malformed), (1, 1, 1, 0));
}

#[test]
fn sample_fixture_names() {
    let mut r = CaptureReader::open(sample()).unwrap();
    let mut seen = Vec::new();
    while let Some(p) = r.next_packet().unwrap() {
        let s = decode(&p);
        match s.app {
            App::Http(h) => {
                assert_eq!(h.method, HttpMethod::Get);
                seen.push(String::from_utf8(h.host.unwrap().bytes(p.data).to_vec()).unwrap());
            }
            App::TlsClientHello(t) => seen.push(String::from_utf8(t.sni.unwrap().bytes(p.data).to_vec()).unwrap()),
            App::Dns(d) if !d.response => {
                let q = d.qname.unwrap();
                seen.push(format!("{}/{}/{}", q.len, q.labels, d.qtype.unwrap()));
            }
            _ => {}
        }
    }
    assert_eq!(seen, ["15/3/1", "20/2/1", "www.example.com", "www.example.com", "15/3/28"]);
}

/// Port 53 decides DNS against mDNS: the sample's first query, its source port rewritten to
/// 5353, is still a DNS query; with both ports 5353 it is mDNS.
#[test]
fn port_53_is_dns_even_from_source_port_5353() {
    let mut r = CaptureReader::open(sample()).unwrap();
    let mut frame = None;
    while let Some(p) = r.next_packet().unwrap() {
        if matches!(decode(&p).app, App::Dns(d) if !d.response) {
            frame = Some(p.data.to_vec());
            break;
        }
    }
    let mut f = frame.unwrap();
    let udp = 14 + usize::from(f[14] & 0x0f) * 4;
    let mdns_of = |f: &[u8]| match nta_parsing::decode_frame(nta_capture::LinkType::ETHERNET, f).app {
        App::Dns(d) => Some(d.mdns),
        _ => None,
    };
    assert_eq!(mdns_of(&f), Some(false));
    f[udp..udp + 2].copy_from_slice(&5353u16.to_be_bytes());
    assert_eq!(mdns_of(&f), Some(false), "to port 53 from 5353: DNS");
    f[udp + 2..udp + 4].copy_from_slice(&5353u16.to_be_bytes());
    assert_eq!(mdns_of(&f), Some(true), "5353 to 5353: mDNS");
}

/// `link_type_decoded` says exactly which link types `decode` walks into.
#[test]
fn link_type_decoded_matches_the_decoder() {
    for lt in 0..=300u16 {
        let lt = nta_capture::LinkType(lt);
        let s = nta_parsing::decode_frame(lt, &[0u8; 64]);
        assert_eq!(nta_parsing::link_type_decoded(lt), s.link_supported, "{lt:?}");
    }
}
