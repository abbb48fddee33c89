//! [`PacketSummary`] and the typed pieces it is made of.

use crate::{DecodeError, DnsSummary, HttpSummary, TlsSummary};
use nta_capture::LinkType;
use serde::{Deserialize, Serialize};
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

impl Default for PacketSummary {
    /// An empty summary (timestamp 0, link type 0, nothing decoded): a slot to decode into.
    fn default() -> PacketSummary {
        PacketSummary::new(0, LinkType(0), 0, 0)
    }
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
