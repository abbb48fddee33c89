//! Encapsulations: IP-in-IP, GRE (with PPP, transparent Ethernet bridging, ERSPAN I/II/III),
//! 802.11 in Aruba's GRE, VXLAN and VXLAN-GPE, GENEVE, Teredo, GTP-U (and GTPv0), MPLS label
//! stacks and NSH.
//!
//! Each header is checked against the bytes present, then [`Decoder::enter`] records the
//! encapsulation and decodes what it carries with the same link and IP decoders, at most
//! [`MAX_ENCAP_DEPTH`] deep. A UDP payload on a tunnel's port that does not look like that
//! tunnel stays plain UDP; an inner packet of which nothing decodes leaves the packet as its
//! carrier showed it (the error is kept).

mod udp;

use super::{Decoder, MAX_ENCAP_DEPTH, be16, be32};
use crate::summary::{App, Fragment, Network, Transport};
use crate::tunnel::{OuterTunnel, Tunnel, TunnelLayer};
use crate::{DecodeError, Layer};

/// Most MPLS labels walked before the packet is declared malformed.
const MAX_MPLS_LABELS: u32 = 16;

/// What an encapsulation carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Payload {
    /// An Ethernet frame (VXLAN, GENEVE, GRE transparent bridging, ERSPAN).
    Ethernet,
    /// An IPv4 packet.
    Ipv4,
    /// An IPv6 packet.
    Ipv6,
    /// An MPLS label stack.
    Mpls,
    /// A PPP frame (PPTP's enhanced GRE).
    Ppp,
    /// A Network Service Header.
    Nsh,
    /// An IEEE 802.11 frame (Aruba's GRE).
    Ieee80211,
    /// What an EtherType announces (GRE's protocol type).
    Ethertype(u16),
}

/// The payload of a VXLAN-GPE or NSH next-protocol value (0 is Ethernet when `zero_is_ethernet`).
fn next_protocol(value: Option<u8>, zero_is_ethernet: bool) -> Option<Payload> {
    match value? {
        0 if zero_is_ethernet => Some(Payload::Ethernet),
        1 => Some(Payload::Ipv4),
        2 => Some(Payload::Ipv6),
        3 => Some(Payload::Ethernet),
        4 => Some(Payload::Nsh),
        5 => Some(Payload::Mpls),
        _ => None,
    }
}

/// The IP payload a version nibble announces (MPLS, GTP-U and ERSPAN carry IP unannounced).
fn ip_by_version(first: Option<&u8>) -> Option<Payload> {
    match first.map(|b| b >> 4) {
        Some(4) => Some(Payload::Ipv4),
        Some(6) => Some(Payload::Ipv6),
        _ => None,
    }
}

impl Decoder<'_> {
    /// Records the encapsulation `kind` (with its `id`) and, analysing the inner layer,
    /// decodes the `payload` that starts at `off` in place of what carried it.
    pub(super) fn enter(&mut self, kind: Tunnel, id: Option<u32>, payload: Payload, off: usize) {
        self.s.encap.kinds.insert(kind);
        if !matches!(kind, Tunnel::Mpls | Tunnel::Nsh)
            && self.s.encap.outer.is_none()
            && let Some(ip) = self.s.ip
            && let Ok(ip_offset) = u16::try_from(self.ip_at)
        {
            let ipv6 = ip.src.is_ipv6();
            self.s.encap.outer = Some(OuterTunnel { kind, id, ip_offset, ipv6 });
        }
        if self.layer == TunnelLayer::Outer {
            return;
        }
        if self.s.encap.depth >= MAX_ENCAP_DEPTH {
            let depth = u32::from(self.s.encap.depth) + 1;
            return self.fail(DecodeError::invalid(Layer::Tunnel, off, "encapsulation depth", depth));
        }
        let saved = (self.s.network, self.s.ip, self.s.transport, self.s.app, self.s.encap, self.partial, self.ip_at);
        self.partial |= self.s.ip.is_some_and(|ip| ip.fragment == Fragment::First);
        self.s.encap.depth += 1;
        self.s.encap.overhead = off as u32;
        self.s.network = Network::None;
        self.s.ip = None;
        self.s.transport = Transport::None;
        self.s.app = App::None;
        match payload {
            Payload::Ethernet => self.ethernet(off),
            Payload::Ipv4 => self.ipv4(off),
            Payload::Ipv6 => self.ipv6(off),
            Payload::Mpls => self.mpls(off),
            Payload::Ppp => self.ppp(off),
            Payload::Nsh => self.nsh(off),
            Payload::Ieee80211 => self.ieee80211(off),
            Payload::Ethertype(ethertype) => self.ethertype(ethertype, off),
        }
        if matches!(self.s.network, Network::None | Network::Other { .. } | Network::Llc) {
            // Nothing inside decoded (or a protocol nta does not read): the packet stays what
            // its carrier showed.
            // The encapsulation stays named, the outer tunnel recorded.
            let kinds = self.s.encap.kinds;
            (self.s.network, self.s.ip, self.s.transport, self.s.app, self.s.encap, self.partial, self.ip_at) = saved;
            self.s.encap.kinds = kinds;
        }
    }

    /// A UDP payload at `off..end` on a tunnel's port.
    pub(super) fn udp_tunnel(&mut self, sp: u16, dp: u16, off: usize, end: usize) {
        let port = |p: u16| sp == p || dp == p;
        let h = self.range(off, end);
        if port(4789) {
            self.vxlan(h, off);
        } else if port(4790) {
            self.vxlan_gpe(h, off);
        } else if port(6081) {
            self.geneve(h, off);
        } else if port(2152) {
            self.gtp_u(h, off);
        } else if port(3386) {
            self.gtp_v0(h, off);
        } else if port(3544) {
            self.teredo(h, off);
        } else if port(4754) {
            self.gre(off, end);
        } else if port(6635) {
            self.mpls(off);
        }
    }

    /// GRE (RFC 2784, 2890; version 1 is PPTP's enhanced GRE, RFC 2637). Source routing
    /// (RFC 1701) and other versions are named, not decoded.
    pub(super) fn gre(&mut self, off: usize, end: usize) {
        self.s.encap.kinds.insert(Tunnel::Gre);
        let h = self.range(off, end);
        let (Some(flags), Some(protocol)) = (be16(h, 0), be16(h, 2)) else {
            return self.fail(DecodeError::truncated(Layer::Tunnel, off, 4, h.len()));
        };
        let version = flags & 7;
        if version > 1 || flags & 0x4000 != 0 {
            return;
        }
        let mut len = 4;
        if flags & 0x8000 != 0 {
            len += 4;
        }
        let key = if flags & 0x2000 != 0 {
            len += 4;
            // Version 1 keys are payload length and call id: the call id names the session.
            be32(h, len - 4).map(|k| if version == 1 { k & 0xffff } else { k })
        } else {
            None
        };
        let sequenced = flags & 0x1000 != 0;
        if sequenced {
            len += 4;
        }
        if version == 1 && flags & 0x0080 != 0 {
            len += 4;
        }
        if len > h.len() {
            return self.fail(DecodeError::truncated(Layer::Tunnel, off, len, h.len()));
        }
        let inner = off + len;
        match protocol {
            0x6558 => self.enter(Tunnel::Gre, key, Payload::Ethernet, inner),
            0x880b => self.enter(Tunnel::Gre, key, Payload::Ppp, inner),
            // Cisco MetaData inside GRE: the EtherType first, then 6 bytes (version, length,
            // option, security group tag).
            0x8909 => {
                if let Some(ethertype) = be16(h, len).filter(|_| h.len() >= len + 8) {
                    self.enter(Tunnel::Gre, key, Payload::Ethertype(ethertype), inner + 8);
                }
            }
            // WCCP redirection: a 4-byte redirect header, then the IP packet.
            0x883e => {
                if let Some(payload) = ip_by_version(h.get(len + 4)) {
                    self.enter(Tunnel::Gre, key, payload, inner + 4);
                }
            }
            // Type I has no ERSPAN header (and no sequence number); type II has 8 bytes.
            0x88be if !sequenced => self.enter(Tunnel::Erspan, None, Payload::Ethernet, inner),
            0x88be => self.erspan(inner, end, false),
            0x22eb => self.erspan(inner, end, true),
            // Aruba access points tunnel 802.11 frames to their controller (as Zeek reads them).
            0x8200..=0x82ff | 0x9000 => self.enter(Tunnel::Gre, key, Payload::Ieee80211, inner),
            // Otherwise the protocol type is an EtherType: IPv4, IPv6, ARP, MPLS, VLAN, ...
            ethertype => self.enter(Tunnel::Gre, key, Payload::Ethertype(ethertype), inner),
        }
    }

    /// An ERSPAN type II (8-byte) or type III (12 bytes, 20 with the platform subheader)
    /// header at `off`.
    fn erspan(&mut self, off: usize, end: usize, type_iii: bool) {
        self.s.encap.kinds.insert(Tunnel::Erspan);
        let h = self.range(off, end);
        let fixed = if type_iii { 12 } else { 8 };
        if h.len() < fixed {
            return self.fail(DecodeError::truncated(Layer::Tunnel, off, fixed, h.len()));
        }
        let version = h.first().map_or(0, |b| b >> 4);
        if version != if type_iii { 2 } else { 1 } {
            return self.fail(DecodeError::invalid(Layer::Tunnel, off, "ERSPAN version", u32::from(version)));
        }
        let session = be16(h, 2).map(|s| u32::from(s & 0x3ff));
        if !type_iii {
            return self.enter(Tunnel::Erspan, session, Payload::Ethernet, off + 8);
        }
        let flags = be16(h, 10).unwrap_or_default();
        let len = if flags & 1 != 0 { 20 } else { 12 };
        if h.len() < len {
            return self.fail(DecodeError::truncated(Layer::Tunnel, off, len, h.len()));
        }
        // Frame type: 0 Ethernet, 2 IP.
        let payload = match (flags >> 10) & 0x1f {
            0 => Some(Payload::Ethernet),
            2 => ip_by_version(h.get(len)),
            _ => None,
        };
        if let Some(payload) = payload {
            self.enter(Tunnel::Erspan, session, payload, off + len);
        }
    }

    /// PPP inside GRE: optional address and control bytes, a 1- or 2-byte protocol. Only IP
    /// is decoded (compressed or encrypted payloads and link control are not).
    fn ppp(&mut self, off: usize) {
        let h = self.from(off);
        let at = if h.starts_with(&[0xff, 0x03]) { 2 } else { 0 };
        let (protocol, len) = match h.get(at) {
            Some(p) if p & 1 == 1 => (u16::from(*p), 1),
            Some(_) => match be16(h, at) {
                Some(p) => (p, 2),
                None => return self.fail(DecodeError::truncated(Layer::Tunnel, off, at + 2, h.len())),
            },
            None => return self.fail(DecodeError::truncated(Layer::Tunnel, off, at + 1, h.len())),
        };
        match protocol {
            0x0021 => self.ipv4(off + at + len),
            0x0057 => self.ipv6(off + at + len),
            _ => {}
        }
    }

    /// An IEEE 802.11 data frame: its MAC header, then LLC/SNAP and an EtherType. Management,
    /// control, null and encrypted frames carry nothing to decode.
    fn ieee80211(&mut self, off: usize) {
        let h = self.from(off);
        let (Some(fc0), Some(fc1)) = (h.first().copied(), h.get(1).copied()) else {
            return self.fail(DecodeError::truncated(Layer::Link, off, 24, h.len()));
        };
        let (data, subtype) = ((fc0 >> 2) & 3 == 2, fc0 >> 4);
        if !data || subtype & 0x04 != 0 || fc1 & 0x40 != 0 {
            return;
        }
        let mut len = if fc1 & 0x03 == 0x03 { 30 } else { 24 };
        let qos = subtype & 0x08 != 0;
        if qos {
            len += if fc1 & 0x80 != 0 { 6 } else { 2 };
            // An A-MSDU: the first subframe, after its destination, source and length.
            if h.get(len - 2).is_some_and(|c| c & 0x80 != 0) {
                len += 14;
            }
        }
        match h.get(len..len + 8) {
            Some([0xaa, 0xaa, 0x03, _, _, _, t0, t1]) => self.ethertype(u16::from_be_bytes([*t0, *t1]), off + len + 8),
            Some(_) => self.s.network = Network::Llc,
            None => self.fail(DecodeError::truncated(Layer::Link, off, len + 8, h.len())),
        }
    }

    /// An MPLS label stack at `off`: 4-byte entries to the bottom-of-stack bit, then IP by
    /// its version nibble, or (nibble 0) a pseudowire control word and Ethernet.
    pub(super) fn mpls(&mut self, off: usize) {
        self.s.encap.kinds.insert(Tunnel::Mpls);
        let mut at = off;
        let mut labels = 0;
        loop {
            let Some(entry) = self.frame.get(at..at + 4) else {
                return self.fail(DecodeError::truncated(Layer::Tunnel, at, 4, self.from(at).len()));
            };
            labels += 1;
            if labels > MAX_MPLS_LABELS {
                return self.fail(DecodeError::invalid(Layer::Tunnel, off, "MPLS label count", labels));
            }
            at += 4;
            if entry.get(2).is_some_and(|b| b & 1 != 0) {
                break;
            }
        }
        let payload = match self.frame.get(at).map(|b| b >> 4) {
            Some(0) if self.frame.len() < at + 4 => {
                return self.fail(DecodeError::truncated(Layer::Tunnel, at, 4, self.from(at).len()));
            }
            Some(0) => {
                at += 4;
                Payload::Ethernet
            }
            _ => match ip_by_version(self.frame.get(at)) {
                Some(p) => p,
                None => return,
            },
        };
        self.enter(Tunnel::Mpls, None, payload, at);
    }
}
