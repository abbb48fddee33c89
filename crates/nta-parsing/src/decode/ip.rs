//! IPv4, IPv6 (with extension headers), TCP, UDP, ICMP and ICMPv6, and the application
//! hints above them; IP protocols and UDP ports that carry tunnels hand over to `tunnel.rs`.

use super::tunnel::Payload;
use super::{Decoder, MAX_IPV6_EXT, be16};
use crate::app;
use crate::summary::{App, Fragment, IcmpSummary, IpSummary, Network, TcpFlags, TcpSummary, Transport, UdpSummary};
use crate::tunnel::Tunnel;
use crate::{DecodeError, Layer};
use pnet_packet::icmp::IcmpPacket;
use pnet_packet::icmpv6::Icmpv6Packet;
use pnet_packet::ipv4::Ipv4Packet;
use pnet_packet::ipv6::Ipv6Packet;
use pnet_packet::tcp::TcpPacket;
use pnet_packet::udp::UdpPacket;
use std::net::IpAddr;

impl Decoder<'_> {
    pub(super) fn ipv4(&mut self, off: usize) {
        self.ip_at = off;
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

    pub(super) fn ipv6(&mut self, off: usize) {
        self.ip_at = off;
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
    fn transport(&mut self, mut protocol: u8, mut off: usize, end: usize, mut claimed: usize, v6: bool) {
        // IPv4 authentication headers (IPv6 walks them with its extension headers).
        let mut walked = 0;
        while protocol == 51 && !v6 {
            let h = self.range(off, end);
            let (Some(next), Some(units)) = (h.first().copied(), h.get(1).copied()) else {
                return self.fail(DecodeError::truncated(Layer::Ipv4, off, 2, h.len()));
            };
            let len = (usize::from(units) + 2) * 4;
            walked += 1;
            if walked > MAX_IPV6_EXT {
                return self.fail(DecodeError::invalid(Layer::Ipv4, off, "authentication header count", 17));
            }
            if len > h.len() {
                return self.fail(DecodeError::truncated(Layer::Ipv4, off, len, h.len()));
            }
            (protocol, off, claimed) = (next, off + len, claimed.saturating_sub(len));
            if let Some(ip) = self.s.ip.as_mut() {
                ip.protocol = next;
            }
        }
        self.s.transport = match protocol {
            6 => return self.tcp(off, end, claimed),
            17 => return self.udp(off, end),
            1 if !v6 => return self.icmp(off, end, false),
            58 if v6 => return self.icmp(off, end, true),
            47 => {
                self.s.transport = Transport::Tunnel(Tunnel::Gre);
                return self.gre(off, end);
            }
            4 => {
                self.s.transport = Transport::Tunnel(Tunnel::IpInIp);
                return self.enter(Tunnel::IpInIp, None, Payload::Ipv4, off);
            }
            41 => {
                self.s.transport = Transport::Tunnel(Tunnel::Ipv6InIp);
                return self.enter(Tunnel::Ipv6InIp, None, Payload::Ipv6, off);
            }
            50 => {
                self.s.encap.kinds.insert(Tunnel::Esp);
                Transport::Tunnel(Tunnel::Esp)
            }
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
        if sp == 53 || dp == 53 || sp == 5353 || dp == 5353 {
            // Port 53 decides (as Wireshark tries the lower port first): a query to a DNS server
            // from an ephemeral port that happens to be 5353 is DNS, not mDNS.
            let mdns = (sp == 5353 || dp == 5353) && sp != 53 && dp != 53;
            match app::dns_over_udp(self.frame, start, end, mdns) {
                Ok(dns) => self.s.app = App::Dns(dns),
                Err(e) => self.fail(e),
            }
        } else {
            self.udp_tunnel(sp, dp, start, end);
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
