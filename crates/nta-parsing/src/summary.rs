//! [`PacketSummary`] and the typed pieces it is made of.

use crate::tunnel::{Encapsulation, Tunnel};
use crate::{DecodeError, DnsSummary, HttpSummary, TlsSummary};
use nta_capture::LinkType;
use serde::Serialize;
use std::net::{IpAddr, Ipv4Addr};

/// VLAN tags of an Ethernet frame (802.1Q, 802.1ad, QinQ), outermost first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VlanTags {
    /// VLAN id of the outer tag.
    pub outer: Option<u16>,
    /// VLAN id of the second tag.
    pub inner: Option<u16>,
    /// Number of tags (more than two are walked, only two kept).
    pub count: u8,
}

/// The network layer of a frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Network {
    /// Nothing decoded (unsupported link type, or the link layer failed).
    #[default]
    None,
    /// ARP.
    Arp(ArpSummary),
    /// IPv4 (details in [`PacketSummary::ip`]).
    Ipv4,
    /// IPv6 (details in [`PacketSummary::ip`]).
    Ipv6,
    /// 802.3 frame with an LLC header (length instead of EtherType).
    Llc,
    /// Another EtherType (or SLL protocol), not decoded.
    Other {
        /// The EtherType.
        ethertype: u16,
    },
}

/// An ARP message (Ethernet/IPv4 form).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ArpSummary {
    /// 1 = request, 2 = reply.
    pub operation: u16,
    /// Sender protocol address.
    pub sender: Ipv4Addr,
    /// Target protocol address.
    pub target: Ipv4Addr,
    /// Sender hardware address.
    pub sender_mac: [u8; 6],
}

/// Fragmentation state of an IP packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fragment {
    /// Not a fragment.
    #[default]
    No,
    /// First fragment (offset 0, more fragments): carries the transport header.
    First,
    /// A later fragment: no transport header.
    Later,
}

/// An IP header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct IpSummary {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Transport protocol number (IPv4 protocol, or the IPv6 next header after extensions).
    pub protocol: u8,
    /// TTL / hop limit.
    pub ttl: u8,
    /// Fragmentation state.
    pub fragment: Fragment,
    /// IPv6 extension headers walked.
    pub ext_headers: u8,
    /// Length the IP header announces for the whole packet (header included).
    pub total_len: u32,
}

/// TCP flags: the 8 classic bits plus NS in bit 8.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct TcpFlags(pub u16);

impl TcpFlags {
    /// FIN.
    pub const FIN: u16 = 0x01;
    /// SYN.
    pub const SYN: u16 = 0x02;
    /// RST.
    pub const RST: u16 = 0x04;
    /// PSH.
    pub const PSH: u16 = 0x08;
    /// ACK.
    pub const ACK: u16 = 0x10;
    /// URG.
    pub const URG: u16 = 0x20;
    /// ECE.
    pub const ECE: u16 = 0x40;
    /// CWR.
    pub const CWR: u16 = 0x80;
    /// NS (ECN nonce).
    pub const NS: u16 = 0x100;

    /// Whether every bit of `mask` is set.
    #[inline]
    pub fn has(self, mask: u16) -> bool {
        self.0 & mask == mask
    }
    /// SYN set (SYN-ACK included).
    pub fn syn(self) -> bool {
        self.has(Self::SYN)
    }
    /// SYN and ACK set.
    pub fn syn_ack(self) -> bool {
        self.has(Self::SYN | Self::ACK)
    }
    /// RST set.
    pub fn rst(self) -> bool {
        self.has(Self::RST)
    }
    /// FIN set.
    pub fn fin(self) -> bool {
        self.has(Self::FIN)
    }
    /// ACK set.
    pub fn ack(self) -> bool {
        self.has(Self::ACK)
    }
}

/// A TCP segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct TcpSummary {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Flags.
    pub flags: TcpFlags,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack: u32,
    /// Receive window (unscaled).
    pub window: u16,
    /// Payload bytes per the IP length (may exceed what was captured).
    pub payload_len: u32,
    /// Offset of the payload in the frame.
    pub payload_offset: u32,
}

/// A UDP datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct UdpSummary {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Payload bytes per the UDP length.
    pub payload_len: u32,
    /// Offset of the payload in the frame.
    pub payload_offset: u32,
}

/// An ICMP or ICMPv6 message. Headers quoted inside error messages are not decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct IcmpSummary {
    /// ICMPv6 rather than ICMP.
    pub v6: bool,
    /// Type.
    pub icmp_type: u8,
    /// Code.
    pub code: u8,
}

impl IcmpSummary {
    /// An error message (destination unreachable, time exceeded, ...), which quotes a header.
    pub fn is_error(&self) -> bool {
        if self.v6 { (1..=4).contains(&self.icmp_type) } else { matches!(self.icmp_type, 3 | 4 | 5 | 11 | 12) }
    }
    /// Destination unreachable (ICMP type 3, ICMPv6 type 1).
    pub fn is_unreachable(&self) -> bool {
        if self.v6 { self.icmp_type == 1 } else { self.icmp_type == 3 }
    }
    /// Echo request (ICMP 8, ICMPv6 128).
    pub fn is_echo_request(&self) -> bool {
        if self.v6 { self.icmp_type == 128 } else { self.icmp_type == 8 }
    }
}

/// The transport layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Transport {
    /// Nothing decoded (no IP, a later fragment, or an error before it).
    #[default]
    None,
    /// TCP.
    Tcp(TcpSummary),
    /// UDP.
    Udp(UdpSummary),
    /// ICMP or ICMPv6.
    Icmp(IcmpSummary),
    /// An encapsulation not decoded inside: ESP, a GRE payload nta does not decode, the
    /// depth limit, or [`TunnelLayer::Outer`] (UDP-borne tunnels stay [`Transport::Udp`]).
    Tunnel(Tunnel),
    /// Another protocol number.
    Other {
        /// The IP protocol number.
        protocol: u8,
    },
}

/// An application-layer hint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum App {
    /// None recognised.
    #[default]
    None,
    /// A DNS (or mDNS) message.
    Dns(DnsSummary),
    /// A TLS ClientHello.
    TlsClientHello(TlsSummary),
    /// An HTTP request.
    Http(HttpSummary),
}

/// Everything nta keeps of one frame: owned, `Copy`, no heap memory.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct PacketSummary {
    /// Capture timestamp, ns since the epoch.
    pub ts_ns: i64,
    /// Original (on-the-wire) length.
    pub wire_len: u32,
    /// Captured length.
    pub cap_len: u32,
    /// Link type of the frame.
    pub link_type: LinkType,
    /// Whether the link type is one we decode.
    pub link_supported: bool,
    /// VLAN tags.
    pub vlan: VlanTags,
    /// Network layer.
    pub network: Network,
    /// The IP header, for IPv4 and IPv6: the innermost one (see [`PacketSummary::encap`]).
    pub ip: Option<IpSummary>,
    /// Transport layer.
    pub transport: Transport,
    /// The encapsulations the packet came through, and the outermost tunnel's endpoints.
    pub encap: Encapsulation,
    /// Application hint.
    pub app: App,
    /// The first decode error, if any; everything before it is filled in.
    pub error: Option<DecodeError>,
}

impl PacketSummary {
    pub(crate) fn new(ts_ns: i64, link_type: LinkType, cap_len: u32, wire_len: u32) -> PacketSummary {
        PacketSummary {
            ts_ns,
            wire_len,
            cap_len,
            link_type,
            link_supported: true,
            vlan: VlanTags::default(),
            network: Network::None,
            ip: None,
            transport: Transport::None,
            encap: Encapsulation::default(),
            app: App::None,
            error: None,
        }
    }

    /// Length of the packet that metrics count: the original length less the encapsulation
    /// overhead, so a packet weighs the same inside a tunnel as outside.
    #[inline]
    pub fn packet_len(&self) -> u32 {
        self.wire_len.saturating_sub(self.encap.overhead)
    }

    /// Whether the frame was cut by the capture's snaplen.
    pub fn snap_truncated(&self) -> bool {
        self.cap_len < self.wire_len
    }

    /// The error, unless it only says the frame was cut by the snaplen (not malformed).
    pub fn malformed(&self) -> Option<DecodeError> {
        self.error.filter(|e| !(e.is_truncation() && self.snap_truncated()))
    }

    /// TCP fields, if TCP.
    pub fn tcp(&self) -> Option<&TcpSummary> {
        match &self.transport {
            Transport::Tcp(t) => Some(t),
            _ => None,
        }
    }

    /// UDP fields, if UDP.
    pub fn udp(&self) -> Option<&UdpSummary> {
        match &self.transport {
            Transport::Udp(u) => Some(u),
            _ => None,
        }
    }

    /// Source and destination ports, for TCP and UDP.
    pub fn ports(&self) -> Option<(u16, u16)> {
        match &self.transport {
            Transport::Tcp(t) => Some((t.src_port, t.dst_port)),
            Transport::Udp(u) => Some((u.src_port, u.dst_port)),
            _ => None,
        }
    }
}
