//! The tunnels carried in UDP, each recognised by its header on its port: VXLAN and
//! VXLAN-GPE (with NSH), GENEVE, GTP-U (and GTPv0) and Teredo.

use super::{Payload, ip_by_version, next_protocol};
use crate::decode::{Decoder, be16, be32};
use crate::tunnel::Tunnel;
use crate::{DecodeError, Layer};

/// Most GTP-U extension headers walked before the packet is declared malformed.
const MAX_GTP_EXTENSIONS: u32 = 16;

impl Decoder<'_> {
    /// VXLAN (RFC 7348): 8 bytes with the I flag set, then Ethernet.
    pub(super) fn vxlan(&mut self, h: &[u8], off: usize) {
        let Some(hdr) = h.get(..8) else { return };
        if hdr.first().is_some_and(|f| f & 0x08 != 0) {
            let vni = be32(hdr, 4).map(|v| v >> 8);
            self.enter(Tunnel::Vxlan, vni, Payload::Ethernet, off + 8);
        }
    }

    /// VXLAN-GPE: like VXLAN, with a next-protocol byte (read as Wireshark does, whether or
    /// not the P flag announces it; 0 without P is Ethernet).
    pub(super) fn vxlan_gpe(&mut self, h: &[u8], off: usize) {
        let Some(hdr) = h.get(..8) else { return };
        let flags = hdr.first().copied().unwrap_or_default();
        if flags & 0x30 != 0 {
            return;
        }
        let vni = be32(hdr, 4).map(|v| v >> 8);
        match next_protocol(hdr.get(3).copied(), flags & 0x04 == 0) {
            Some(payload) => self.enter(Tunnel::Vxlan, vni, payload, off + 8),
            None => self.s.encap.kinds.insert(Tunnel::Vxlan),
        }
    }

    /// A Network Service Header (RFC 8300) at `off`: its length, then the next protocol.
    pub(in crate::decode) fn nsh(&mut self, off: usize) {
        self.s.encap.kinds.insert(Tunnel::Nsh);
        let h = self.from(off);
        let (Some(units), Some(next)) = (h.get(1).copied(), h.get(3).copied()) else {
            return self.fail(DecodeError::truncated(Layer::Tunnel, off, 4, h.len()));
        };
        let len = usize::from(units & 0x3f) * 4;
        if len < 8 {
            return self.fail(DecodeError::invalid(Layer::Tunnel, off, "NSH length", len as u32));
        }
        if len > h.len() {
            return self.fail(DecodeError::truncated(Layer::Tunnel, off, len, h.len()));
        }
        if let Some(payload) = next_protocol(Some(next), false) {
            self.enter(Tunnel::Nsh, None, payload, off + len);
        }
    }

    /// GENEVE (RFC 8926): version 0, 8 bytes plus options, a protocol type.
    pub(super) fn geneve(&mut self, h: &[u8], off: usize) {
        let Some(first) = h.first().copied() else { return };
        let Some(protocol) = be16(h, 2) else { return };
        if first >> 6 != 0 {
            return;
        }
        self.s.encap.kinds.insert(Tunnel::Geneve);
        let len = 8 + usize::from(first & 0x3f) * 4;
        if len > h.len() {
            return self.fail(DecodeError::truncated(Layer::Tunnel, off, len, h.len()));
        }
        let vni = be32(h, 4).map(|v| v >> 8);
        let payload = match protocol {
            0x6558 => Payload::Ethernet,
            0x0800 => Payload::Ipv4,
            0x86dd => Payload::Ipv6,
            _ => return,
        };
        self.enter(Tunnel::Geneve, vni, payload, off + len);
    }

    /// GTP-U (3GPP TS 29.281): version 1, protocol type GTP; only G-PDUs (type 255) carry a
    /// user packet. Optional fields and extension headers are walked.
    pub(super) fn gtp_u(&mut self, h: &[u8], off: usize) {
        if !self.gtp_header(h, 1, 8) {
            return;
        }
        let flags = h.first().copied().unwrap_or_default();
        let teid = be32(h, 4);
        let mut len = 8;
        if flags & 0x07 != 0 {
            len = 12;
            let mut next = h.get(11).copied();
            let mut walked = 0;
            while next.is_some_and(|n| n != 0) {
                walked += 1;
                if walked > MAX_GTP_EXTENSIONS {
                    return self.fail(DecodeError::invalid(Layer::Tunnel, off, "GTP extension count", walked));
                }
                let Some(units) = h.get(len).copied() else {
                    return self.fail(DecodeError::truncated(Layer::Tunnel, off, len + 4, h.len()));
                };
                if units == 0 {
                    return self.fail(DecodeError::invalid(Layer::Tunnel, off + len, "GTP extension length", 0));
                }
                len += usize::from(units) * 4;
                next = h.get(len - 1).copied();
            }
            if len > h.len() {
                return self.fail(DecodeError::truncated(Layer::Tunnel, off, len, h.len()));
            }
        }
        if let Some(payload) = ip_by_version(h.get(len)) {
            self.enter(Tunnel::GtpU, teid, payload, off + len);
        }
    }

    /// A GTP header of `version` with the protocol-type bit (GTP, not GTP'), at least `min`
    /// bytes: named; whether it is a G-PDU (type 255), the one message carrying a user packet.
    pub(super) fn gtp_header(&mut self, h: &[u8], version: u8, min: usize) -> bool {
        let (Some(flags), Some(kind)) = (h.first().copied(), h.get(1).copied()) else { return false };
        if flags >> 5 != version || flags & 0x10 == 0 || h.len() < min {
            return false;
        }
        self.s.encap.kinds.insert(Tunnel::GtpU);
        kind == 0xff
    }

    /// GTP version 0 (GSM 09.60, UDP port 3386): a 20-byte header; T-PDUs (type 255) carry
    /// a user packet. GTP' (charging records, protocol type 0) is not a tunnel.
    pub(super) fn gtp_v0(&mut self, h: &[u8], off: usize) {
        if !self.gtp_header(h, 0, 20) {
            return;
        }
        // The tunnel id is 8 bytes: its low 32 bits name the tunnel here.
        if let Some(payload) = ip_by_version(h.get(20)) {
            self.enter(Tunnel::GtpU, be32(h, 16), payload, off + 20);
        }
    }

    /// Teredo (RFC 4380): optional authentication and origin indication, then IPv6.
    pub(super) fn teredo(&mut self, h: &[u8], off: usize) {
        let mut at = 0;
        for _ in 0..2 {
            match be16(h, at) {
                Some(0x0001) => {
                    let id = h.get(at + 2).copied().unwrap_or_default();
                    let auth = h.get(at + 3).copied().unwrap_or_default();
                    at += 4 + usize::from(id) + usize::from(auth) + 9;
                }
                Some(0x0000) => at += 8,
                _ => break,
            }
        }
        if h.get(at).is_some_and(|b| b >> 4 == 6) && h.len().saturating_sub(at) >= 40 {
            self.enter(Tunnel::Teredo, None, Payload::Ipv6, off + at);
        }
    }
}
