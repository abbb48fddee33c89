//! The encapsulations a [`PacketSummary`](crate::PacketSummary) records: [`Tunnel`], the
//! [`TunnelSet`] of one packet, its [`OuterTunnel`] and [`Encapsulation`], and the
//! [`TunnelLayer`] analysed.

use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// An encapsulation: a tunnel nta decodes through, or (ESP) only names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tunnel {
    /// GRE (IP protocol 47, or UDP port 4754), version 0 or 1 (PPTP).
    Gre,
    /// ERSPAN type I, II or III inside GRE.
    Erspan,
    /// IPv4 inside IPv4 or IPv6 (IP protocol 4).
    IpInIp,
    /// IPv6 inside IPv4 or IPv6 (IP protocol 41: 6in4, 6in6).
    Ipv6InIp,
    /// ESP (IP protocol 50): encrypted, named but not decoded inside.
    Esp,
    /// VXLAN (UDP port 4789) and VXLAN-GPE (4790).
    Vxlan,
    /// GENEVE (UDP port 6081).
    Geneve,
    /// Teredo: IPv6 inside UDP port 3544.
    Teredo,
    /// GTP-U (UDP port 2152): user-plane G-PDUs of mobile cores.
    GtpU,
    /// An MPLS label stack (EtherType 0x8847/0x8848, or inside GRE).
    Mpls,
    /// A Network Service Header (service function chaining: EtherType 0x894f, VXLAN-GPE).
    Nsh,
}

impl Tunnel {
    /// Every encapsulation, in the order of [`TunnelSet`]'s bits.
    pub const ALL: [Tunnel; 11] = [
        Tunnel::Gre,
        Tunnel::Erspan,
        Tunnel::IpInIp,
        Tunnel::Ipv6InIp,
        Tunnel::Esp,
        Tunnel::Vxlan,
        Tunnel::Geneve,
        Tunnel::Teredo,
        Tunnel::GtpU,
        Tunnel::Mpls,
        Tunnel::Nsh,
    ];

    /// Snake-case name, as serialized.
    pub fn name(self) -> &'static str {
        match self {
            Tunnel::Gre => "gre",
            Tunnel::Erspan => "erspan",
            Tunnel::IpInIp => "ip_in_ip",
            Tunnel::Ipv6InIp => "ipv6_in_ip",
            Tunnel::Esp => "esp",
            Tunnel::Vxlan => "vxlan",
            Tunnel::Geneve => "geneve",
            Tunnel::Teredo => "teredo",
            Tunnel::GtpU => "gtp_u",
            Tunnel::Mpls => "mpls",
            Tunnel::Nsh => "nsh",
        }
    }

    /// Position in [`Tunnel::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether the tunnel's id names the overlay in both directions (a VXLAN or GENEVE VNI,
    /// an ERSPAN session), as opposed to one direction only (a GTP TEID, a GRE key, which
    /// each side picks for what it receives).
    pub fn id_names_overlay(self) -> bool {
        matches!(self, Tunnel::Vxlan | Tunnel::Geneve | Tunnel::Erspan)
    }
}

/// A set of [`Tunnel`]s: the encapsulations one packet passed through.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TunnelSet(u16);

impl TunnelSet {
    /// Adds `t`.
    #[inline]
    pub fn insert(&mut self, t: Tunnel) {
        self.0 |= 1 << t.index();
    }
    /// Whether `t` is in the set.
    #[inline]
    pub fn contains(self, t: Tunnel) -> bool {
        self.0 & (1 << t.index()) != 0
    }
    /// Whether the set is empty.
    #[inline]
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// Adds one to the count of each member (counts indexed by [`Tunnel::index`]).
    #[inline]
    pub fn count_into(self, counts: &mut [u64; Tunnel::ALL.len()]) {
        for t in self.iter() {
            if let Some(n) = counts.get_mut(t.index()) {
                *n += 1;
            }
        }
    }

    /// The members, in [`Tunnel::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Tunnel> {
        let mut bits = self.0;
        std::iter::from_fn(move || {
            let i = bits.trailing_zeros() as usize;
            bits &= bits.wrapping_sub(1);
            Tunnel::ALL.get(i).copied()
        })
    }
}

impl Serialize for TunnelSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// The outermost IP tunnel a packet came through: what carried it, not what it says. Its
/// endpoints are read from the frame ([`OuterTunnel::endpoints`]), as [`TextRef`](crate::TextRef)s
/// are: the summary stays small.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct OuterTunnel {
    /// The encapsulation.
    pub kind: Tunnel,
    /// Its id: the VXLAN or GENEVE VNI, the GRE key, the ERSPAN session, the GTP TEID.
    pub id: Option<u32>,
    /// Offset in the frame of the IP header that carried the tunnel.
    pub ip_offset: u16,
    /// That header is IPv6.
    pub ipv6: bool,
}

impl OuterTunnel {
    /// The tunnel's endpoints (source and destination of the IP header that carried it), read
    /// from the frame the summary was decoded from; `None` for another frame or none.
    pub fn endpoints(&self, frame: &[u8]) -> Option<(IpAddr, IpAddr)> {
        let at = usize::from(self.ip_offset);
        if self.ipv6 {
            let a: [u8; 16] = frame.get(at + 8..at + 24)?.try_into().ok()?;
            let b: [u8; 16] = frame.get(at + 24..at + 40)?.try_into().ok()?;
            Some((IpAddr::from(a), IpAddr::from(b)))
        } else {
            let a: [u8; 4] = frame.get(at + 12..at + 16)?.try_into().ok()?;
            let b: [u8; 4] = frame.get(at + 16..at + 20)?.try_into().ok()?;
            Some((IpAddr::from(a), IpAddr::from(b)))
        }
    }
}

/// What a packet was wrapped in, when it came through encapsulations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Encapsulation {
    /// Every encapsulation seen (walked through, or named as the end of decoding).
    pub kinds: TunnelSet,
    /// Encapsulation layers walked through (at most [`MAX_ENCAP_DEPTH`](crate::MAX_ENCAP_DEPTH)).
    pub depth: u8,
    /// The outermost IP-borne tunnel.
    pub outer: Option<OuterTunnel>,
    /// Bytes of the frame before the innermost packet (its link or IP header): the cost of
    /// the encapsulations. 0 without them.
    pub overhead: u32,
}

impl std::str::FromStr for TunnelLayer {
    type Err = String;
    fn from_str(s: &str) -> Result<TunnelLayer, String> {
        match s.to_ascii_lowercase().as_str() {
            "inner" => Ok(TunnelLayer::Inner),
            "outer" => Ok(TunnelLayer::Outer),
            other => Err(format!("unknown tunnel layer {other:?} (inner, outer)")),
        }
    }
}

/// Which layer of a tunnelled packet nta analyses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TunnelLayer {
    /// The innermost packet: what the hosts said to each other (the default).
    #[default]
    Inner,
    /// The outermost packet: the tunnels themselves, as before nta decoded them. The
    /// encapsulations are still named.
    Outer,
}
