//! Frame decoding: link layer → network → transport → application hint, never panicking.
//!
//! Every length is validated once against the bytes present; pnet_packet views are built only
//! over slices long enough for their fixed header, and every sub-slice goes through `get`.

use crate::app;
use crate::summary::{
    App, ArpSummary, Fragment, IcmpSummary, IpSummary, Network, PacketSummary, TcpFlags, TcpSummary, Transport, Tunnel,
    UdpSummary,
};
use crate::{DecodeError, Layer};
use nta_capture::{LinkType, Packet};
use pnet_packet::arp::ArpPacket;
use pnet_packet::ethernet::EthernetPacket;
use pnet_packet::icmp::IcmpPacket;
use pnet_packet::icmpv6::Icmpv6Packet;
use pnet_packet::ipv4::Ipv4Packet;
use pnet_packet::ipv6::Ipv6Packet;
use pnet_packet::tcp::TcpPacket;
use pnet_packet::udp::UdpPacket;
use pnet_packet::vlan::VlanPacket;
use std::net::IpAddr;

/// Most VLAN tags walked before the frame is declared malformed.
const MAX_VLAN_TAGS: u8 = 8;
/// Most IPv6 extension headers walked before the packet is declared malformed.
const MAX_IPV6_EXT: u8 = 16;

/// Decodes one captured packet.
pub fn decode(packet: &Packet<'_>) -> PacketSummary {
    let mut d = Decoder {
        frame: packet.data,
        s: PacketSummary::new(packet.ts_ns, packet.link_type, packet.data.len() as u32, packet.orig_len),
    };
    d.link();
    d.s
}

/// Whether frames of `link_type` are decoded (Ethernet, Linux cooked v1 and v2, raw IP,
/// IPv4, IPv6, BSD null/loopback); others are counted with `link_supported` false.
pub fn link_type_decoded(link_type: LinkType) -> bool {
    matches!(link_type.0, 1 | 113 | 276 | 101 | 12 | 14 | 228 | 229 | 0 | 108)
}

/// Decodes a frame of the given link type (timestamp 0, original length = `data.len()`).
pub fn decode_frame(link_type: LinkType, data: &[u8]) -> PacketSummary {
    decode(&Packet { ts_ns: 0, link_type, caplen: data.len() as u32, orig_len: data.len() as u32, interface: 0, data })
}

struct Decoder<'a> {
    frame: &'a [u8],
    s: PacketSummary,
}

#[inline]
fn be16(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).and_then(|s| s.try_into().ok()).map(u16::from_be_bytes)
}

impl<'a> Decoder<'a> {
    #[inline]
    fn fail(&mut self, e: DecodeError) {
        // Above IP, a first fragment ends early by design: the rest is in later fragments.
        let in_first_fragment = self.s.ip.is_some_and(|ip| ip.fragment == Fragment::First);
        let above_ip = !matches!(
            e.layer,
            Layer::Link | Layer::Vlan | Layer::Pppoe | Layer::Arp | Layer::Ipv4 | Layer::Ipv6 | Layer::Ipv6Ext
        );
        if in_first_fragment && above_ip && e.is_truncation() {
            return;
        }
        if self.s.error.is_none() {
            self.s.error = Some(e);
        }
    }

    #[inline]
    fn from(&self, off: usize) -> &'a [u8] {
        self.frame.get(off..).unwrap_or_default()
    }

    #[inline]
    fn range(&self, start: usize, end: usize) -> &'a [u8] {
        self.frame.get(start..end).unwrap_or_default()
    }

    fn link(&mut self) {
        match self.s.link_type.0 {
            1 => self.ethernet(),
            // Linux cooked headers are read directly: pnet_packet's SLLPacket sizes its address
            // field from the frame's own length byte and panics when that exceeds the frame
            // (found by the property tests).
            113 => match be16(self.frame, 14).filter(|_| self.frame.len() >= 16) {
                Some(protocol) => self.ethertype(protocol, 16),
                None => self.fail(DecodeError::truncated(Layer::Link, 0, 16, self.frame.len())),
            },
            276 => match be16(self.frame, 0).filter(|_| self.frame.len() >= 20) {
                Some(protocol) => self.ethertype(protocol, 20),
                None => self.fail(DecodeError::truncated(Layer::Link, 0, 20, self.frame.len())),
            },
            101 | 12 | 14 => self.raw_ip(0),
            228 => self.ipv4(0),
            229 => self.ipv6(0),
            0 | 108 => self.null_loopback(),
            _ => self.s.link_supported = false,
        }
    }

    fn ethernet(&mut self) {
        match EthernetPacket::new(self.frame) {
            Some(eth) => self.ethertype(eth.get_ethertype().0, 14),
            None => self.fail(DecodeError::truncated(Layer::Link, 0, 14, self.frame.len())),
        }
    }

    fn ethertype(&mut self, mut ethertype: u16, mut off: usize) {
        loop {
            match ethertype {
                0x8100 | 0x88a8 | 0x9100 | 0x9200 => {
                    let Some(tag) = VlanPacket::new(self.from(off)) else {
                        self.fail(DecodeError::truncated(Layer::Vlan, off, 4, self.from(off).len()));
                        return;
                    };
                    if self.s.vlan.count >= MAX_VLAN_TAGS {
                        let count = u32::from(self.s.vlan.count) + 1;
                        return self.fail(DecodeError::invalid(Layer::Vlan, off, "tag count", count));
                    }
                    let vlan = &mut self.s.vlan;
                    let id = tag.get_vlan_identifier();
                    match vlan.count {
                        0 => vlan.outer = Some(id),
                        1 => vlan.inner = Some(id),
                        _ => {}
                    }
                    vlan.count += 1;
                    ethertype = tag.get_ethertype().0;
                    off += 4;
                }
                0x0800 => return self.ipv4(off),
                0x86dd => return self.ipv6(off),
                0x0806 | 0x8035 => return self.arp(off),
                0x8864 => return self.pppoe(off),
                e if e < 0x0600 => {
                    self.s.network = Network::Llc;
                    return;
                }
                e => {
                    self.s.network = Network::Other { ethertype: e };
                    return;
                }
            }
        }
    }

    fn pppoe(&mut self, off: usize) {
        // 6-byte PPPoE session header, then the 2-byte PPP protocol.
        match be16(self.frame, off + 6) {
            Some(0x0021) => self.ipv4(off + 8),
            Some(0x0057) => self.ipv6(off + 8),
            Some(p) => self.s.network = Network::Other { ethertype: p },
            None => self.fail(DecodeError::truncated(Layer::Pppoe, off, 8, self.from(off).len())),
        }
    }

    fn raw_ip(&mut self, off: usize) {
        match self.frame.get(off).map(|b| b >> 4) {
            Some(4) => self.ipv4(off),
            Some(6) => self.ipv6(off),
            Some(v) => self.fail(DecodeError::invalid(Layer::Link, off, "IP version", u32::from(v))),
            None => self.fail(DecodeError::truncated(Layer::Link, off, 1, 0)),
        }
    }

    fn null_loopback(&mut self) {
        let Some(af) = self.frame.get(..4).and_then(|s| <[u8; 4]>::try_from(s).ok()) else {
            return self.fail(DecodeError::truncated(Layer::Link, 0, 4, self.frame.len()));
        };
        // The address family is in the writer's byte order (null) or network order (loop):
        // accept either, as tcpdump does.
        let (le, be) = (u32::from_le_bytes(af), u32::from_be_bytes(af));
        let is = |values: &[u32]| values.contains(&le) || values.contains(&be);
        if is(&[2]) {
            self.ipv4(4)
        } else if is(&[10, 24, 28, 30]) {
            self.ipv6(4)
        } else {
            self.fail(DecodeError::invalid(Layer::Link, 0, "address family", le));
        }
    }

    fn arp(&mut self, off: usize) {
        match ArpPacket::new(self.from(off)) {
            Some(arp) => {
                self.s.network = Network::Arp(ArpSummary {
                    operation: arp.get_operation().0,
                    sender: arp.get_sender_proto_addr(),
                    target: arp.get_target_proto_addr(),
                    sender_mac: arp.get_sender_hw_addr().octets(),
                })
            }
            None => {
                self.s.network = Network::Other { ethertype: 0x0806 };
                self.fail(DecodeError::truncated(Layer::Arp, off, 28, self.from(off).len()));
            }
        }
    }

    /// Where a layer's claimed length ends, clamped to the bytes captured. A claim beyond the
    /// frame is an error only when the capture did not cut the frame.
    fn claimed_end(&mut self, layer: Layer, off: usize, claimed: usize) -> usize {
        let available = self.frame.len().saturating_sub(off);
        if claimed > available && !self.s.snap_truncated() {
            self.fail(DecodeError::truncated(layer, off, claimed, available));
        }
        off + claimed.min(available)
    }

    fn ipv4(&mut self, off: usize) {
        let data = self.from(off);
        let Some(ip) = Ipv4Packet::new(data) else {
            self.s.network = Network::Ipv4;
            return self.fail(DecodeError::truncated(Layer::Ipv4, off, 20, data.len()));
        };
        self.s.network = Network::Ipv4;
        let version = ip.get_version();
        if version != 4 {
            return self.fail(DecodeError::invalid(Layer::Ipv4, off, "version", u32::from(version)));
        }
        let ihl = usize::from(ip.get_header_length()) * 4;
        let total = usize::from(ip.get_total_length());
        let frag_offset = ip.get_fragment_offset();
        let more_fragments = ip.get_flags() & 0x1 != 0;
        let fragment = if frag_offset > 0 {
            Fragment::Later
        } else if more_fragments {
            Fragment::First
        } else {
            Fragment::No
        };
        let protocol = ip.get_next_level_protocol().0;
        self.s.ip = Some(IpSummary {
            src: IpAddr::V4(ip.get_source()),
            dst: IpAddr::V4(ip.get_destination()),
            protocol,
            ttl: ip.get_ttl(),
            fragment,
            ext_headers: 0,
            total_len: total as u32,
        });
        if ihl < 20 {
            return self.fail(DecodeError::invalid(Layer::Ipv4, off, "header length", ihl as u32));
        }
        if ihl > data.len() {
            return self.fail(DecodeError::truncated(Layer::Ipv4, off, ihl, data.len()));
        }
        // A total length of 0 is what TCP segmentation offload leaves in outgoing captures.
        let claimed = if total == 0 { data.len() } else { total };
        if claimed < ihl {
            return self.fail(DecodeError::invalid(Layer::Ipv4, off, "total length", total as u32));
        }
        let end = self.claimed_end(Layer::Ipv4, off, claimed);
        if fragment != Fragment::Later {
            self.transport(protocol, off + ihl, end, claimed - ihl, false);
        }
    }

    fn ipv6(&mut self, off: usize) {
        let data = self.from(off);
        self.s.network = Network::Ipv6;
        let Some(ip) = Ipv6Packet::new(data) else {
            return self.fail(DecodeError::truncated(Layer::Ipv6, off, 40, data.len()));
        };
        let version = ip.get_version();
        if version != 6 {
            return self.fail(DecodeError::invalid(Layer::Ipv6, off, "version", u32::from(version)));
        }
        let payload = usize::from(ip.get_payload_length());
        // Payload length 0: a jumbogram or segmentation offload; use what was captured.
        let claimed = if payload == 0 { data.len() } else { 40 + payload };
        let end = self.claimed_end(Layer::Ipv6, off, claimed);
        let mut summary = IpSummary {
            src: IpAddr::V6(ip.get_source()),
            dst: IpAddr::V6(ip.get_destination()),
            protocol: ip.get_next_header().0,
            ttl: ip.get_hop_limit(),
            fragment: Fragment::No,
            ext_headers: 0,
            total_len: claimed as u32,
        };
        let mut next = summary.protocol;
        let mut pos = off + 40;
        let outcome = loop {
            let hdr = self.range(pos, end);
            let len = match next {
                0 | 43 | 60 | 135 | 139 | 140 | 253 | 254 => hdr.get(1).map(|l| (usize::from(*l) + 1) * 8),
                51 => hdr.get(1).map(|l| (usize::from(*l) + 2) * 4),
                44 => Some(8),
                _ => break Ok(()),
            };
            if summary.ext_headers >= MAX_IPV6_EXT {
                break Err(DecodeError::invalid(Layer::Ipv6Ext, pos, "extension header count", 17));
            }
            let Some(len) = len.filter(|l| *l <= hdr.len()) else {
                break Err(DecodeError::truncated(Layer::Ipv6Ext, pos, len.unwrap_or(8), hdr.len()));
            };
            if next == 44 {
                let frag = be16(hdr, 2).unwrap_or_default();
                summary.fragment = if frag & 0xfff8 != 0 {
                    Fragment::Later
                } else if frag & 1 != 0 {
                    Fragment::First
                } else {
                    summary.fragment
                };
            }
            next = hdr.first().copied().unwrap_or_default();
            summary.ext_headers += 1;
            pos += len;
            if summary.fragment == Fragment::Later {
                break Ok(());
            }
        };
        summary.protocol = next;
        self.s.ip = Some(summary);
        if let Err(e) = outcome {
            return self.fail(e);
        }
        if summary.fragment != Fragment::Later {
            let claimed_transport = (off + claimed).saturating_sub(pos);
            self.transport(next, pos, end, claimed_transport, true);
        }
    }

    /// `off..end` are the captured transport bytes; `claimed` what the IP header announces.
    fn transport(&mut self, protocol: u8, off: usize, end: usize, claimed: usize, v6: bool) {
        self.s.transport = match protocol {
            6 => return self.tcp(off, end, claimed),
            17 => return self.udp(off, end),
            1 if !v6 => return self.icmp(off, end, false),
            58 if v6 => return self.icmp(off, end, true),
            47 => Transport::Tunnel(Tunnel::Gre),
            4 => Transport::Tunnel(Tunnel::IpInIp),
            41 => Transport::Tunnel(Tunnel::Ipv6InIp),
            50 => Transport::Tunnel(Tunnel::Esp),
            p => Transport::Other { protocol: p },
        }
    }

    fn tcp(&mut self, off: usize, end: usize, claimed: usize) {
        let data = self.range(off, end);
        let Some(tcp) = TcpPacket::new(data) else {
            self.s.transport = Transport::Other { protocol: 6 };
            return self.fail(DecodeError::truncated(Layer::Tcp, off, 20, data.len()));
        };
        let doff = usize::from(tcp.get_data_offset()) * 4;
        let ns = data.get(12).map_or(0, |b| u16::from(b & 1) << 8);
        let summary = TcpSummary {
            src_port: tcp.get_source(),
            dst_port: tcp.get_destination(),
            flags: TcpFlags(u16::from(tcp.get_flags()) | ns),
            seq: tcp.get_sequence(),
            ack: tcp.get_acknowledgement(),
            window: tcp.get_window(),
            payload_len: claimed.saturating_sub(doff) as u32,
            payload_offset: (off + doff) as u32,
        };
        self.s.transport = Transport::Tcp(summary);
        if doff < 20 {
            return self.fail(DecodeError::invalid(Layer::Tcp, off, "data offset", doff as u32));
        }
        if doff > data.len() {
            return self.fail(DecodeError::truncated(Layer::Tcp, off, doff, data.len()));
        }
        let start = off + doff;
        if start >= end {
            return;
        }
        let (sp, dp) = (summary.src_port, summary.dst_port);
        if sp == 53 || dp == 53 {
            // DNS over TCP: a 2-byte length prefix. Only a segment that starts a message is
            // decoded; anything else is a continuation, not an error.
            if let Ok(dns) = app::dns_over_tcp(self.frame, start, end) {
                self.s.app = App::Dns(dns);
            }
            return;
        }
        match app::tls_client_hello(self.frame, start, end) {
            Ok(Some(tls)) => return self.s.app = App::TlsClientHello(tls),
            Ok(None) => {}
            Err(e) => return self.fail(e),
        }
        match app::http_request(self.frame, start, end) {
            Ok(Some(http)) => self.s.app = App::Http(http),
            Ok(None) => {}
            Err(e) => self.fail(e),
        }
    }

    fn udp(&mut self, off: usize, end: usize) {
        let data = self.range(off, end);
        let Some(udp) = UdpPacket::new(data) else {
            self.s.transport = Transport::Other { protocol: 17 };
            return self.fail(DecodeError::truncated(Layer::Udp, off, 8, data.len()));
        };
        let len = usize::from(udp.get_length());
        let summary = UdpSummary {
            src_port: udp.get_source(),
            dst_port: udp.get_destination(),
            payload_len: len.saturating_sub(8) as u32,
            payload_offset: (off + 8) as u32,
        };
        self.s.transport = Transport::Udp(summary);
        if len < 8 {
            return self.fail(DecodeError::invalid(Layer::Udp, off, "length", len as u32));
        }
        // A first fragment carries the UDP header of the whole datagram: its length reaches
        // into later fragments.
        let first_fragment = self.s.ip.is_some_and(|ip| ip.fragment == Fragment::First);
        let end = if first_fragment { end.min(off + len) } else { self.claimed_end(Layer::Udp, off, len).min(end) };
        let start = off + 8;
        let (sp, dp) = (summary.src_port, summary.dst_port);
        if dp == 4789 {
            self.s.tunnel = Some(Tunnel::Vxlan);
        } else if sp == 53 || dp == 53 || sp == 5353 || dp == 5353 {
            // Port 53 decides (as Wireshark tries the lower port first): a query to a DNS server
            // from an ephemeral port that happens to be 5353 is DNS, not mDNS.
            let mdns = (sp == 5353 || dp == 5353) && sp != 53 && dp != 53;
            match app::dns_over_udp(self.frame, start, end, mdns) {
                Ok(dns) => self.s.app = App::Dns(dns),
                Err(e) => self.fail(e),
            }
        }
    }

    fn icmp(&mut self, off: usize, end: usize, v6: bool) {
        let data = self.range(off, end);
        let (layer, parsed) = if v6 {
            (Layer::Icmpv6, Icmpv6Packet::new(data).map(|p| (p.get_icmpv6_type().0, p.get_icmpv6_code().0)))
        } else {
            (Layer::Icmp, IcmpPacket::new(data).map(|p| (p.get_icmp_type().0, p.get_icmp_code().0)))
        };
        match parsed {
            Some((icmp_type, code)) => self.s.transport = Transport::Icmp(IcmpSummary { v6, icmp_type, code }),
            None => {
                self.s.transport = Transport::Other { protocol: if v6 { 58 } else { 1 } };
                self.fail(DecodeError::truncated(layer, off, 4, data.len()));
            }
        }
    }
}
