//! [`Wrap`]: every generated frame delivered inside VXLAN or GENEVE, as a cloud traffic
//! mirror (AWS VPC Traffic Mirroring, Azure vTAP, a gateway load balancer) delivers it to a
//! sensor: outer Ethernet, IPv4 from the mirror source to the collector, UDP to 4789 or 6081
//! from a source port hashed from the inner flow, the tunnel header with its VNI.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// The encapsulation a [`Wrap`] uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WrapKind {
    /// VXLAN, UDP port 4789 (AWS and Azure mirroring).
    Vxlan,
    /// GENEVE, UDP port 6081 (gateway load balancers).
    Geneve,
}

impl FromStr for WrapKind {
    type Err = String;
    fn from_str(s: &str) -> Result<WrapKind, String> {
        match s.to_ascii_lowercase().as_str() {
            "vxlan" => Ok(WrapKind::Vxlan),
            "geneve" => Ok(WrapKind::Geneve),
            other => Err(format!("unknown encapsulation {other:?} (vxlan, geneve)")),
        }
    }
}

impl fmt::Display for WrapKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WrapKind::Vxlan => "vxlan",
            WrapKind::Geneve => "geneve",
        })
    }
}

/// How to wrap every frame: the encapsulation, its VNI and the tunnel's endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wrap {
    /// VXLAN or GENEVE.
    pub kind: WrapKind,
    /// Virtual network identifier (24 bits).
    pub vni: u32,
    /// The mirror source (outer IPv4 source).
    pub src: Ipv4Addr,
    /// The collector, where the sensor listens (outer IPv4 destination).
    pub dst: Ipv4Addr,
}

impl Wrap {
    /// `kind` from 10.99.0.1 to the collector 10.99.0.2, VNI 7.
    pub fn new(kind: WrapKind) -> Wrap {
        Wrap { kind, vni: 7, src: Ipv4Addr::new(10, 99, 0, 1), dst: Ipv4Addr::new(10, 99, 0, 2) }
    }

    /// Bytes the wrapper adds before each frame: Ethernet 14, IPv4 20, UDP 8, tunnel 8.
    pub const OVERHEAD: usize = 50;

    /// Writes `inner` wrapped into `out` (cleared first). `ip_id` numbers the outer packets.
    pub fn encapsulate(&self, inner: &[u8], ip_id: u16, out: &mut Vec<u8>) {
        out.clear();
        // Outer Ethernet: the collector's and the mirror's (locally administered) MACs.
        out.extend_from_slice(&[0x02, 0x00, 0x5e, 0x00, 0x00, 0x02, 0x02, 0x00, 0x5e, 0x00, 0x00, 0x01, 0x08, 0x00]);
        let udp_len = 8 + 8 + inner.len();
        let total = (20 + udp_len).min(usize::from(u16::MAX)) as u16;
        let mut ip = [0u8; 20];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        ip[4..6].copy_from_slice(&ip_id.to_be_bytes());
        ip[6] = 0x40; // don't fragment
        ip[8] = 64;
        ip[9] = 17;
        ip[12..16].copy_from_slice(&self.src.octets());
        ip[16..20].copy_from_slice(&self.dst.octets());
        let checksum = ipv4_checksum(&ip);
        ip[10..12].copy_from_slice(&checksum.to_be_bytes());
        out.extend_from_slice(&ip);
        let port: u16 = match self.kind {
            WrapKind::Vxlan => 4789,
            WrapKind::Geneve => 6081,
        };
        // The source port spreads flows over paths (RFC 7348): a hash of the inner frame's
        // flow fields, the same both ways.
        out.extend_from_slice(&flow_port(inner).to_be_bytes());
        out.extend_from_slice(&port.to_be_bytes());
        out.extend_from_slice(&(udp_len.min(usize::from(u16::MAX)) as u16).to_be_bytes());
        // UDP checksum 0: allowed over IPv4, and what VXLAN endpoints send.
        out.extend_from_slice(&[0, 0]);
        let vni = (self.vni & 0x00ff_ffff) << 8;
        match self.kind {
            WrapKind::Vxlan => out.extend_from_slice(&[0x08, 0, 0, 0]),
            // Version 0, no options; protocol: transparent Ethernet bridging.
            WrapKind::Geneve => out.extend_from_slice(&[0, 0, 0x65, 0x58]),
        }
        out.extend_from_slice(&vni.to_be_bytes());
        out.extend_from_slice(inner);
    }
}

/// The one's-complement checksum of an IPv4 header (its checksum field zero).
fn ipv4_checksum(header: &[u8; 20]) -> u16 {
    let sum: u32 = header.chunks_exact(2).map(|w| u32::from(u16::from_be_bytes([w[0], w[1]]))).sum();
    let folded = (sum & 0xffff) + (sum >> 16);
    !(((folded & 0xffff) + (folded >> 16)) as u16)
}

/// A source port in 49152..65535 from the inner frame's addresses and ports, symmetric.
fn flow_port(inner: &[u8]) -> u16 {
    // Ethernet + IPv4: addresses at 26 (4 bytes each), ports at 34; IPv6: addresses at 22 (16
    // bytes each), ports at 54.
    let (at, len, ports) = match inner.get(12..14) {
        Some([0x08, 0x00]) => (26, 4, 34),
        Some([0x86, 0xdd]) => (22, 16, 54),
        _ => (0, 0, 34),
    };
    let bytes = |from: usize, n: usize| inner.get(from..from + n).unwrap_or_default();
    let h = |addr: &[u8], port: &[u8]| {
        addr.iter().chain(port).fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(*b)).wrapping_mul(0x0100_0193))
    };
    let (ea, eb) = (h(bytes(at, len), bytes(ports, 2)), h(bytes(at + len, len), bytes(ports + 2, 2)));
    let mixed = ea.min(eb).wrapping_mul(31) ^ ea.max(eb);
    49152 + (mixed % 16384) as u16
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn checksum_of_a_known_header() {
        // RFC 1071's example header from Wikipedia's IPv4 checksum article: 0xb861.
        let h: [u8; 20] = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8,
            0x00, 0xc7,
        ];
        assert_eq!(ipv4_checksum(&h), 0xb861);
    }

    #[test]
    fn wrapped_frame_layout() {
        let inner = vec![0xaa; 60];
        let mut out = Vec::new();
        Wrap::new(WrapKind::Vxlan).encapsulate(&inner, 1, &mut out);
        assert_eq!(out.len(), inner.len() + Wrap::OVERHEAD);
        assert_eq!(&out[36..38], &4789u16.to_be_bytes());
        assert_eq!(out[42], 0x08);
        assert_eq!(&out[46..49], &[0, 0, 7]);
        assert_eq!(&out[50..], &inner[..]);
    }
}
