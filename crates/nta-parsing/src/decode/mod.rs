//! Frame decoding: link layer → network → transport → application hint, through
//! encapsulations down to the innermost packet, never panicking.
//!
//! Every length is validated once against the bytes present; pnet_packet views are built only
//! over slices long enough for their fixed header, and every sub-slice goes through `get`.
//! `ip.rs` decodes IP and transports, `tunnel.rs` the encapsulations: each walks back into
//! the link or IP decoder at most [`MAX_ENCAP_DEPTH`] times, so recursion is bounded.

mod ip;
mod tunnel;

use crate::summary::{ArpSummary, Fragment, Network, PacketSummary};
use crate::tunnel::TunnelLayer;
use crate::{DecodeError, Layer};
use nta_capture::{LinkType, Packet};
use pnet_packet::arp::ArpPacket;
use pnet_packet::ethernet::EthernetPacket;
use pnet_packet::vlan::VlanPacket;

/// Most VLAN tags walked before the frame is declared malformed.
const MAX_VLAN_TAGS: u8 = 8;
/// Most IPv6 extension headers walked before the packet is declared malformed.
const MAX_IPV6_EXT: u8 = 16;
/// Most encapsulations walked through (IP-in-IP, GRE, ERSPAN, VXLAN, GENEVE, Teredo, GTP-U,
/// MPLS) before the packet is declared malformed; Suricata's default is 16, Zeek's 2.
pub const MAX_ENCAP_DEPTH: u8 = 8;

/// Decodes one captured packet down to the innermost packet of its tunnels.
pub fn decode(packet: &Packet<'_>) -> PacketSummary {
    decode_with(packet, TunnelLayer::Inner)
}

/// Decodes one captured packet, analysing the given layer of tunnelled packets.
pub fn decode_with(packet: &Packet<'_>, layer: TunnelLayer) -> PacketSummary {
    let mut s = PacketSummary::new(packet.ts_ns, packet.link_type, 0, 0);
    decode_into(packet, layer, &mut s);
    s
}

/// [`decode_with`] into `out` (whatever it held is replaced): a batch decodes into summaries
/// it keeps, without moving each from the decoder to its place.
pub fn decode_into(packet: &Packet<'_>, layer: TunnelLayer, out: &mut PacketSummary) {
    *out = PacketSummary::new(packet.ts_ns, packet.link_type, packet.data.len() as u32, packet.orig_len);
    let mut d = Decoder { frame: packet.data, s: out, layer, partial: false, ip_at: 0 };
    d.link();
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
    s: &'a mut PacketSummary,
    layer: TunnelLayer,
    /// Inside a tunnel carried by the first fragment of its packet: inner layers may end
    /// early by design (the rest is in later fragments).
    partial: bool,
    /// Offset of the IP header in `s.ip`.
    ip_at: usize,
}

#[inline]
fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4).and_then(|s| s.try_into().ok()).map(u32::from_be_bytes)
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
        if e.is_truncation() && (self.partial || (in_first_fragment && above_ip)) {
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
            1 => self.ethernet(0),
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

    fn ethernet(&mut self, off: usize) {
        match EthernetPacket::new(self.from(off)) {
            Some(eth) => self.ethertype(eth.get_ethertype().0, off + 14),
            None => self.fail(DecodeError::truncated(Layer::Link, off, 14, self.from(off).len())),
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
                0x894f => {
                    self.s.network = Network::Other { ethertype };
                    return self.nsh(off);
                }
                // Cisco MetaData: 6 bytes (version, length, option, security group tag), then
                // the EtherType of what follows.
                0x8909 => match be16(self.frame, off + 6) {
                    Some(next) => (ethertype, off) = (next, off + 8),
                    None => return self.fail(DecodeError::truncated(Layer::Vlan, off, 8, self.from(off).len())),
                },
                0x8847 | 0x8848 => {
                    self.s.network = Network::Other { ethertype };
                    return self.mpls(off);
                }
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
        if claimed > available && !self.s.snap_truncated() && !self.partial {
            self.fail(DecodeError::truncated(layer, off, claimed, available));
        }
        off + claimed.min(available)
    }
}
