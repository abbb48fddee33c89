//! [`DecodeError`]: which layer of a frame was malformed or cut, where, and how.

use serde::Serialize;
use std::fmt;

/// A protocol layer, for errors and per-layer counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// Ethernet, SLL, SLL2, null/loopback headers.
    Link,
    /// 802.1Q / 802.1ad tags.
    Vlan,
    /// PPPoE session header.
    Pppoe,
    /// ARP.
    Arp,
    /// IPv4 header.
    Ipv4,
    /// IPv6 fixed header.
    Ipv6,
    /// IPv6 extension headers.
    Ipv6Ext,
    /// An encapsulation header: GRE, ERSPAN, PPP in GRE, VXLAN, GENEVE, Teredo, GTP-U, MPLS.
    Tunnel,
    /// TCP header.
    Tcp,
    /// UDP header.
    Udp,
    /// ICMP (v4).
    Icmp,
    /// ICMPv6.
    Icmpv6,
    /// DNS message.
    Dns,
    /// TLS record / handshake.
    Tls,
    /// HTTP request.
    Http,
}

impl Layer {
    /// Every layer, in order.
    pub const ALL: [Layer; 15] = [
        Layer::Link,
        Layer::Vlan,
        Layer::Pppoe,
        Layer::Arp,
        Layer::Ipv4,
        Layer::Ipv6,
        Layer::Ipv6Ext,
        Layer::Tunnel,
        Layer::Tcp,
        Layer::Udp,
        Layer::Icmp,
        Layer::Icmpv6,
        Layer::Dns,
        Layer::Tls,
        Layer::Http,
    ];

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Layer::Link => "link",
            Layer::Vlan => "vlan",
            Layer::Pppoe => "pppoe",
            Layer::Arp => "arp",
            Layer::Ipv4 => "ipv4",
            Layer::Ipv6 => "ipv6",
            Layer::Ipv6Ext => "ipv6_ext",
            Layer::Tunnel => "tunnel",
            Layer::Tcp => "tcp",
            Layer::Udp => "udp",
            Layer::Icmp => "icmp",
            Layer::Icmpv6 => "icmpv6",
            Layer::Dns => "dns",
            Layer::Tls => "tls",
            Layer::Http => "http",
        }
    }
}

/// What was wrong with a layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DecodeErrorKind {
    /// The frame ends before the layer does.
    Truncated {
        /// Bytes the layer needs from its start.
        needed: u32,
        /// Bytes present from its start.
        available: u32,
    },
    /// A field holds a value that cannot be right.
    Invalid {
        /// The field's name.
        field: &'static str,
        /// Its value.
        value: u32,
    },
}

/// A malformed or truncated layer. `Copy`, so it lives inside [`crate::PacketSummary`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct DecodeError {
    /// The layer that failed.
    pub layer: Layer,
    /// Offset of that layer's first byte in the frame.
    pub offset: u32,
    /// What went wrong.
    pub kind: DecodeErrorKind,
}

impl DecodeError {
    pub(crate) fn truncated(layer: Layer, offset: usize, needed: usize, available: usize) -> DecodeError {
        DecodeError {
            layer,
            offset: offset as u32,
            kind: DecodeErrorKind::Truncated { needed: needed as u32, available: available as u32 },
        }
    }

    pub(crate) fn invalid(layer: Layer, offset: usize, field: &'static str, value: u32) -> DecodeError {
        DecodeError { layer, offset: offset as u32, kind: DecodeErrorKind::Invalid { field, value } }
    }

    /// Whether the error is a frame that ends early (as opposed to a bad field).
    pub fn is_truncation(&self) -> bool {
        matches!(self.kind, DecodeErrorKind::Truncated { .. })
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            DecodeErrorKind::Truncated { needed, available } => write!(
                f,
                "{} at byte {}: truncated, needs {needed} bytes, {available} present",
                self.layer.name(),
                self.offset
            ),
            DecodeErrorKind::Invalid { field, value } => {
                write!(f, "{} at byte {}: invalid {field} {value}", self.layer.name(), self.offset)
            }
        }
    }
}
