//! Writes `fixtures/sample.pcap`: a few seconds of hand-built traffic (ARP, DNS, a TCP session
//! with an HTTP request, a TLS ClientHello with SNI, ICMP echo, IPv6 DNS) with valid
//! checksums. Run: `cargo run -p nta-parsing --example make_sample -- fixtures/sample.pcap`.

use nta_capture::{LinkType, PcapWriter};
use pnet_packet::MutablePacket;
use pnet_packet::ethernet::{EtherTypes, MutableEthernetPacket};
use pnet_packet::ip::{IpNextHeaderProtocol, IpNextHeaderProtocols};
use pnet_packet::ipv4::{self, MutableIpv4Packet};
use pnet_packet::ipv6::MutableIpv6Packet;
use pnet_packet::tcp::{self, MutableTcpPacket, TcpFlags};
use pnet_packet::udp::{self, MutableUdpPacket};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 10);
const RESOLVER: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);
const SERVER: Ipv4Addr = Ipv4Addr::new(93, 184, 216, 34);

fn ethernet(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 14 + payload.len()];
    let mut eth = MutableEthernetPacket::new(&mut buf).unwrap();
    eth.set_destination([0x02, 0, 0, 0, 0, 0x01].into());
    eth.set_source([0x02, 0, 0, 0, 0, 0x10].into());
    eth.set_ethertype(pnet_packet::ethernet::EtherType(ethertype));
    eth.payload_mut().copy_from_slice(payload);
    buf
}

fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, proto: IpNextHeaderProtocol, l4: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 20 + l4.len()];
    let mut ip = MutableIpv4Packet::new(&mut buf).unwrap();
    ip.set_version(4);
    ip.set_header_length(5);
    ip.set_total_length((20 + l4.len()) as u16);
    ip.set_ttl(64);
    ip.set_flags(2);
    ip.set_next_level_protocol(proto);
    ip.set_source(src);
    ip.set_destination(dst);
    ip.payload_mut().copy_from_slice(l4);
    let c = ipv4::checksum(&ip.to_immutable());
    ip.set_checksum(c);
    ethernet(EtherTypes::Ipv4.0, &buf)
}

fn udp4(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 8 + payload.len()];
    let mut u = MutableUdpPacket::new(&mut buf).unwrap();
    u.set_source(sport);
    u.set_destination(dport);
    u.set_length((8 + payload.len()) as u16);
    u.payload_mut().copy_from_slice(payload);
    let c = udp::ipv4_checksum(&u.to_immutable(), &src, &dst);
    u.set_checksum(c);
    ipv4(src, dst, IpNextHeaderProtocols::Udp, &buf)
}

#[allow(clippy::too_many_arguments)]
fn tcp4(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut buf = vec![0u8; 20 + payload.len()];
    let mut t = MutableTcpPacket::new(&mut buf).unwrap();
    t.set_source(sport);
    t.set_destination(dport);
    t.set_sequence(seq);
    t.set_acknowledgement(ack);
    t.set_data_offset(5);
    t.set_flags(flags);
    t.set_window(64240);
    t.payload_mut().copy_from_slice(payload);
    let c = tcp::ipv4_checksum(&t.to_immutable(), &src, &dst);
    t.set_checksum(c);
    ipv4(src, dst, IpNextHeaderProtocols::Tcp, &buf)
}

fn dns(id: u16, name: &str, qtype: u16, response: Option<[u8; 4]>) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&(if response.is_some() { 0x8180u16 } else { 0x0100 }).to_be_bytes());
    m.extend_from_slice(&[0, 1, 0, u8::from(response.is_some()), 0, 0, 0, 0]);
    for label in name.split('.') {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.push(0);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    if let Some(addr) = response {
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4]);
        m.extend_from_slice(&addr);
    }
    m
}

fn client_hello(sni: &str) -> Vec<u8> {
    let name = sni.as_bytes();
    let mut ext = Vec::new();
    ext.extend_from_slice(&0u16.to_be_bytes());
    ext.extend_from_slice(&((name.len() + 5) as u16).to_be_bytes());
    ext.extend_from_slice(&((name.len() + 3) as u16).to_be_bytes());
    ext.push(0);
    ext.extend_from_slice(&(name.len() as u16).to_be_bytes());
    ext.extend_from_slice(name);
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[0x42; 32]);
    body.push(0);
    body.extend_from_slice(&[0, 2, 0x13, 0x01, 1, 0]);
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let mut hs = vec![1];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 0x03, 0x01];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

fn frames() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    // ARP who-has 192.168.1.1 and the reply.
    let arp = |op: u8, sha: [u8; 6], spa: Ipv4Addr, tpa: Ipv4Addr| {
        let mut a = vec![0, 1, 8, 0, 6, 4, 0, op];
        a.extend_from_slice(&sha);
        a.extend_from_slice(&spa.octets());
        a.extend_from_slice(&[0; 6]);
        a.extend_from_slice(&tpa.octets());
        ethernet(EtherTypes::Arp.0, &a)
    };
    out.push(arp(1, [2, 0, 0, 0, 0, 0x10], CLIENT, RESOLVER));
    out.push(arp(2, [2, 0, 0, 0, 0, 0x01], RESOLVER, CLIENT));
    out.push(udp4(CLIENT, RESOLVER, 53001, 53, &dns(0x1234, "www.example.com", 1, None)));
    out.push(udp4(RESOLVER, CLIENT, 53, 53001, &dns(0x1234, "www.example.com", 1, Some(SERVER.octets()))));
    out.push(udp4(CLIENT, RESOLVER, 53002, 53, &dns(0x1235, "no-such-host.example", 1, None)));
    let mut nx = dns(0x1235, "no-such-host.example", 1, None);
    nx[2..4].copy_from_slice(&0x8183u16.to_be_bytes());
    out.push(udp4(RESOLVER, CLIENT, 53, 53002, &nx));
    // TCP session to port 80 with an HTTP request, then FIN teardown.
    let (c, s) = (1000u32, 5000u32);
    let get = b"GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: nta-sample\r\n\r\n";
    out.push(tcp4(CLIENT, SERVER, 40000, 80, c, 0, TcpFlags::SYN, &[]));
    out.push(tcp4(SERVER, CLIENT, 80, 40000, s, c + 1, TcpFlags::SYN | TcpFlags::ACK, &[]));
    out.push(tcp4(CLIENT, SERVER, 40000, 80, c + 1, s + 1, TcpFlags::ACK, &[]));
    out.push(tcp4(CLIENT, SERVER, 40000, 80, c + 1, s + 1, TcpFlags::PSH | TcpFlags::ACK, get));
    out.push(tcp4(SERVER, CLIENT, 80, 40000, s + 1, c + 1 + get.len() as u32, TcpFlags::FIN | TcpFlags::ACK, &[]));
    out.push(tcp4(CLIENT, SERVER, 40000, 80, c + 1 + get.len() as u32, s + 2, TcpFlags::FIN | TcpFlags::ACK, &[]));
    // TLS ClientHello with SNI on 443, and a refused connection (RST).
    out.push(tcp4(
        CLIENT,
        SERVER,
        40001,
        443,
        7000,
        9000,
        TcpFlags::PSH | TcpFlags::ACK,
        &client_hello("www.example.com"),
    ));
    out.push(tcp4(CLIENT, SERVER, 40002, 8443, 100, 0, TcpFlags::SYN, &[]));
    out.push(tcp4(SERVER, CLIENT, 8443, 40002, 0, 101, TcpFlags::RST | TcpFlags::ACK, &[]));
    // ICMP echo request.
    let mut icmp = vec![8, 0, 0, 0, 0, 1, 0, 1];
    icmp.extend_from_slice(b"nta-sample-ping!");
    let sum = pnet_packet::util::checksum(&icmp, 1);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    out.push(ipv4(CLIENT, SERVER, IpNextHeaderProtocols::Icmp, &icmp));
    // A DNS AAAA query over IPv6.
    let (s6, d6) = (Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x10), Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1));
    let q = dns(0x1236, "www.example.com", 28, None);
    let mut u = vec![0u8; 8 + q.len()];
    let mut up = MutableUdpPacket::new(&mut u).unwrap();
    up.set_source(53003);
    up.set_destination(53);
    up.set_length((8 + q.len()) as u16);
    up.payload_mut().copy_from_slice(&q);
    let csum = udp::ipv6_checksum(&up.to_immutable(), &s6, &d6);
    up.set_checksum(csum);
    let mut ip6 = vec![0u8; 40 + u.len()];
    let mut p6 = MutableIpv6Packet::new(&mut ip6).unwrap();
    p6.set_version(6);
    p6.set_payload_length(u.len() as u16);
    p6.set_next_header(IpNextHeaderProtocols::Udp);
    p6.set_hop_limit(64);
    p6.set_source(s6);
    p6.set_destination(d6);
    p6.payload_mut().copy_from_slice(&u);
    out.push(ethernet(EtherTypes::Ipv6.0, &ip6));
    let _ = IpAddr::V4(CLIENT);
    out
}

fn main() -> std::io::Result<()> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "fixtures/sample.pcap".into());
    let file = std::fs::File::create(&path)?;
    let mut w = PcapWriter::new(std::io::BufWriter::new(file), LinkType::ETHERNET, 65535, true)?;
    let start = 1_767_225_600_000_000_000i64; // 2026-01-01T00:00:00Z
    for (i, f) in frames().iter().enumerate() {
        w.write_packet(start + i as i64 * 250_000_123, f, f.len() as u32)?;
    }
    w.into_inner()?;
    Ok(())
}
