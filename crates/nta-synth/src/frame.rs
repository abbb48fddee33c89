//! [`Frame`]: builds Ethernet frames (ARP, IPv4/IPv6 with TCP, UDP, ICMP, ICMPv6) into one
//! reused buffer with pnet_packet's mutable packets; every checksum is computed.

use pnet_packet::MutablePacket;
use pnet_packet::arp::{ArpHardwareTypes, ArpOperation, MutableArpPacket};
use pnet_packet::ethernet::{EtherType, EtherTypes, MutableEthernetPacket};
use pnet_packet::icmp::{self, IcmpCode, IcmpType, MutableIcmpPacket};
use pnet_packet::icmpv6::{self, Icmpv6Code, Icmpv6Type, MutableIcmpv6Packet};
use pnet_packet::ip::{IpNextHeaderProtocol, IpNextHeaderProtocols};
use pnet_packet::ipv4::{self, MutableIpv4Packet};
use pnet_packet::ipv6::MutableIpv6Packet;
use pnet_packet::tcp::{self, MutableTcpPacket};
use pnet_packet::udp::{self, MutableUdpPacket};
use std::net::{IpAddr, Ipv4Addr};

/// A MAC address.
pub(crate) type Mac = [u8; 6];
/// ff:ff:ff:ff:ff:ff.
pub(crate) const BROADCAST: Mac = [0xff; 6];

/// TCP flag bits.
pub(crate) mod flags {
    pub(crate) const FIN: u8 = 0x01;
    pub(crate) const SYN: u8 = 0x02;
    pub(crate) const RST: u8 = 0x04;
    pub(crate) const PSH: u8 = 0x08;
    pub(crate) const ACK: u8 = 0x10;
}

/// One end of a conversation as seen on the LAN: the MAC the frame carries (the gateway's for
/// external hosts), the address and the port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ep {
    pub(crate) mac: Mac,
    pub(crate) ip: IpAddr,
    pub(crate) port: u16,
}

impl Ep {
    pub(crate) fn with_port(self, port: u16) -> Ep {
        Ep { port, ..self }
    }
}

/// What a frame is, for the synthesizer's own counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Proto {
    #[default]
    Arp,
    Tcp(u8),
    Udp,
    Icmp {
        error: bool,
    },
}

/// The application message a frame starts, for the synthesizer's own counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum AppKind {
    #[default]
    None,
    DnsQuery,
    DnsResponse {
        nxdomain: bool,
    },
    ClientHello,
    HttpRequest,
}

/// What was built.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Built {
    pub(crate) v6: bool,
    pub(crate) proto: Proto,
    pub(crate) app: AppKind,
}

impl Built {
    pub(crate) fn with_app(self, app: AppKind) -> Built {
        Built { app, ..self }
    }
}

/// The reused frame buffer.
#[derive(Debug)]
pub(crate) struct Frame {
    pub(crate) buf: Vec<u8>,
    /// IPv4 identification of the last packet (the engine keeps one counter per stream).
    pub(crate) ip_id: u16,
}

const ETH: usize = 14;
/// SYN options: MSS 1460, NOP, window scale 7, NOP, NOP, SACK permitted.
const SYN_OPTIONS: [u8; 12] = [2, 4, 0x05, 0xb4, 1, 3, 3, 7, 1, 1, 4, 2];

impl Frame {
    pub(crate) fn new() -> Frame {
        Frame { buf: Vec::with_capacity(65_536), ip_id: 0x1d2c }
    }

    fn ethernet(&mut self, dst: Mac, src: Mac, ethertype: EtherType, len: usize) {
        self.buf.clear();
        self.buf.resize(ETH + len, 0);
        if let Some(mut eth) = MutableEthernetPacket::new(&mut self.buf) {
            eth.set_destination(dst.into());
            eth.set_source(src.into());
            eth.set_ethertype(ethertype);
        }
    }

    /// Ethernet + IP header for `l4_len` bytes of `proto`; returns the offset of layer 4, or
    /// `None` when the two addresses are of different families.
    fn ip(&mut self, src: &Ep, dst: &Ep, proto: IpNextHeaderProtocol, l4_len: usize, ttl: u8) -> Option<usize> {
        match (src.ip, dst.ip) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                self.ethernet(dst.mac, src.mac, EtherTypes::Ipv4, 20 + l4_len);
                self.ip_id = self.ip_id.wrapping_add(1);
                let mut ip = MutableIpv4Packet::new(self.buf.get_mut(ETH..)?)?;
                ip.set_version(4);
                ip.set_header_length(5);
                ip.set_total_length(u16::try_from(20 + l4_len).ok()?);
                ip.set_identification(self.ip_id);
                ip.set_flags(if proto == IpNextHeaderProtocols::Tcp { 2 } else { 0 });
                ip.set_ttl(ttl);
                ip.set_next_level_protocol(proto);
                ip.set_source(s);
                ip.set_destination(d);
                let c = ipv4::checksum(&ip.to_immutable());
                ip.set_checksum(c);
                Some(ETH + 20)
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                self.ethernet(dst.mac, src.mac, EtherTypes::Ipv6, 40 + l4_len);
                let mut ip = MutableIpv6Packet::new(self.buf.get_mut(ETH..)?)?;
                ip.set_version(6);
                ip.set_payload_length(u16::try_from(l4_len).ok()?);
                ip.set_next_header(proto);
                ip.set_hop_limit(ttl);
                ip.set_source(s);
                ip.set_destination(d);
                Some(ETH + 40)
            }
            _ => None,
        }
    }

    /// A TCP segment; SYNs carry the usual options.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn tcp(
        &mut self,
        src: &Ep,
        dst: &Ep,
        ttl: u8,
        seq: u32,
        ack: u32,
        fl: u8,
        window: u16,
        payload: &[u8],
    ) -> Option<Built> {
        let opts: &[u8] = if fl & flags::SYN != 0 { &SYN_OPTIONS } else { &[] };
        let hdr = 20 + opts.len();
        let off = self.ip(src, dst, IpNextHeaderProtocols::Tcp, hdr + payload.len(), ttl)?;
        self.buf.get_mut(off + 20..off + hdr)?.copy_from_slice(opts);
        self.buf.get_mut(off + hdr..)?.copy_from_slice(payload);
        let mut t = MutableTcpPacket::new(self.buf.get_mut(off..)?)?;
        t.set_source(src.port);
        t.set_destination(dst.port);
        t.set_sequence(seq);
        t.set_acknowledgement(if fl & flags::ACK != 0 { ack } else { 0 });
        t.set_data_offset((hdr / 4) as u8);
        t.set_flags(fl);
        t.set_window(window);
        let c = match (src.ip, dst.ip) {
            (IpAddr::V4(s), IpAddr::V4(d)) => tcp::ipv4_checksum(&t.to_immutable(), &s, &d),
            (IpAddr::V6(s), IpAddr::V6(d)) => tcp::ipv6_checksum(&t.to_immutable(), &s, &d),
            _ => return None,
        };
        t.set_checksum(c);
        Some(Built { v6: src.ip.is_ipv6(), proto: Proto::Tcp(fl), app: AppKind::None })
    }

    /// A UDP datagram.
    pub(crate) fn udp(&mut self, src: &Ep, dst: &Ep, ttl: u8, payload: &[u8]) -> Option<Built> {
        let off = self.ip(src, dst, IpNextHeaderProtocols::Udp, 8 + payload.len(), ttl)?;
        let mut u = MutableUdpPacket::new(self.buf.get_mut(off..)?)?;
        u.set_source(src.port);
        u.set_destination(dst.port);
        u.set_length(u16::try_from(8 + payload.len()).ok()?);
        u.payload_mut().copy_from_slice(payload);
        let c = match (src.ip, dst.ip) {
            (IpAddr::V4(s), IpAddr::V4(d)) => udp::ipv4_checksum(&u.to_immutable(), &s, &d),
            (IpAddr::V6(s), IpAddr::V6(d)) => udp::ipv6_checksum(&u.to_immutable(), &s, &d),
            _ => return None,
        };
        u.set_checksum(c);
        Some(Built { v6: src.ip.is_ipv6(), proto: Proto::Udp, app: AppKind::None })
    }

    #[allow(clippy::too_many_arguments)]
    /// An ICMP (IPv4) or ICMPv6 message: type, code, the 4 bytes after the checksum, and the
    /// body (echo data, or the quoted datagram of an error).
    pub(crate) fn icmp(
        &mut self,
        src: &Ep,
        dst: &Ep,
        ttl: u8,
        ty: u8,
        code: u8,
        rest: u32,
        body: &[u8],
    ) -> Option<Built> {
        let v6 = src.ip.is_ipv6();
        let proto = if v6 { IpNextHeaderProtocols::Icmpv6 } else { IpNextHeaderProtocols::Icmp };
        let off = self.ip(src, dst, proto, 8 + body.len(), ttl)?;
        let l4 = self.buf.get_mut(off..)?;
        l4.get_mut(4..8)?.copy_from_slice(&rest.to_be_bytes());
        l4.get_mut(8..)?.copy_from_slice(body);
        let error = if v6 { ty < 128 } else { matches!(ty, 3 | 4 | 5 | 11 | 12) };
        match (src.ip, dst.ip) {
            (IpAddr::V4(_), IpAddr::V4(_)) => {
                let mut p = MutableIcmpPacket::new(l4)?;
                p.set_icmp_type(IcmpType(ty));
                p.set_icmp_code(IcmpCode(code));
                let c = icmp::checksum(&p.to_immutable());
                p.set_checksum(c);
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                let mut p = MutableIcmpv6Packet::new(l4)?;
                p.set_icmpv6_type(Icmpv6Type(ty));
                p.set_icmpv6_code(Icmpv6Code(code));
                let c = icmpv6::checksum(&p.to_immutable(), &s, &d);
                p.set_checksum(c);
            }
            _ => return None,
        }
        Some(Built { v6, proto: Proto::Icmp { error }, app: AppKind::None })
    }

    /// An ARP request (`reply` false, to broadcast) or reply.
    pub(crate) fn arp(
        &mut self,
        eth_dst: Mac,
        reply: bool,
        sender: (Mac, Ipv4Addr),
        target: (Mac, Ipv4Addr),
    ) -> Option<Built> {
        self.ethernet(eth_dst, sender.0, EtherTypes::Arp, 28);
        let mut a = MutableArpPacket::new(self.buf.get_mut(ETH..)?)?;
        a.set_hardware_type(ArpHardwareTypes::Ethernet);
        a.set_protocol_type(EtherTypes::Ipv4);
        a.set_hw_addr_len(6);
        a.set_proto_addr_len(4);
        a.set_operation(ArpOperation(if reply { 2 } else { 1 }));
        a.set_sender_hw_addr(sender.0.into());
        a.set_sender_proto_addr(sender.1);
        a.set_target_hw_addr(target.0.into());
        a.set_target_proto_addr(target.1);
        // Ethernet's 60-byte minimum: ARP frames are padded on the wire.
        self.buf.resize(60, 0);
        Some(Built { v6: false, proto: Proto::Arp, app: AppKind::None })
    }

    /// The IP datagram of the frame just built (what an ICMP error quotes).
    pub(crate) fn ip_bytes(&self) -> &[u8] {
        self.buf.get(ETH..).unwrap_or_default()
    }
}
