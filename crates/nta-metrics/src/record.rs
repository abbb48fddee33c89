//! [`WindowRecord`]: one line of `metrics.jsonl`. Every field is defined in docs/METRICS.md.

mod metric;

pub use metric::{Aggregate, Metric, UnknownMetric};

use crate::evidence::Evidence;
use nta_parsing::Tunnel;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// A source address and what it sent in the window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TopSource {
    /// The address (outer IP source).
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "192.0.2.7"))]
    pub ip: IpAddr,
    /// Bytes it sent (original frame lengths).
    pub bytes: u64,
    /// Packets it sent.
    pub packets: u64,
}

/// A destination port and how many packets went to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TopPort {
    /// TCP or UDP destination port.
    pub port: u16,
    /// Packets.
    pub packets: u64,
}

/// Packets of a window that came through encapsulations: in all, and per encapsulation (a
/// packet in VXLAN in GRE counts for both). Counters, not metrics: baselines and models do
/// not read them. Zero counts are left out.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TunnelCounts {
    /// Packets that came through (or ended in) at least one encapsulation.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub packets: u64,
    /// GRE (IP protocol 47 or UDP 4754), ERSPAN's carrier included.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gre: u64,
    /// ERSPAN type I, II or III.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub erspan: u64,
    /// IPv4 inside IP.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub ip_in_ip: u64,
    /// IPv6 inside IP (6in4, 6in6).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub ipv6_in_ip: u64,
    /// ESP (encrypted: not decoded inside).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub esp: u64,
    /// VXLAN and VXLAN-GPE.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub vxlan: u64,
    /// GENEVE.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub geneve: u64,
    /// Teredo.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub teredo: u64,
    /// GTP-U.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gtp_u: u64,
    /// MPLS label stacks.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub mpls: u64,
    /// Network Service Headers.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub nsh: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl TunnelCounts {
    /// From the packets that came through tunnels and the per-[`Tunnel`] counts, scaled by `k`.
    pub fn new(packets: u64, per_kind: &[u64; Tunnel::ALL.len()], k: u64) -> TunnelCounts {
        let n = |t: Tunnel| per_kind.get(t.index()).copied().unwrap_or(0) * k;
        TunnelCounts {
            packets: packets * k,
            gre: n(Tunnel::Gre),
            erspan: n(Tunnel::Erspan),
            ip_in_ip: n(Tunnel::IpInIp),
            ipv6_in_ip: n(Tunnel::Ipv6InIp),
            esp: n(Tunnel::Esp),
            vxlan: n(Tunnel::Vxlan),
            geneve: n(Tunnel::Geneve),
            teredo: n(Tunnel::Teredo),
            gtp_u: n(Tunnel::GtpU),
            mpls: n(Tunnel::Mpls),
            nsh: n(Tunnel::Nsh),
        }
    }

    /// Whether no packet came through a tunnel.
    pub fn is_empty(&self) -> bool {
        *self == TunnelCounts::default()
    }
}

/// The metrics of one time window. Counts are packets unless the name says otherwise.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WindowRecord {
    /// Start of the window, RFC 3339 UTC with nanoseconds.
    pub window_start: String,
    /// Start of the window, ns since the Unix epoch (a multiple of `window_ns`).
    pub window_start_ns: i64,
    /// Window length, ns.
    pub window_ns: i64,
    /// The capture file(s) the packets came from, comma-separated: canonical paths, so one
    /// capture has one name whatever path named it (standard input is `-`). Called `source`
    /// before 0.2 (read under both names).
    #[serde(alias = "source")]
    pub capture: String,
    /// 1 when every packet was processed; N when 1 packet in N was (counts are scaled by N).
    pub sample_rate: u32,
    /// A supplementary record for packets that arrived after this window had been written.
    pub late: bool,
    /// Capture time without packets before this window, when longer than the maximum gap that
    /// is filled with zero rows; `null` otherwise.
    pub gap_before_ns: Option<i64>,
    /// Live capture only: packets the kernel received for the capture while this window was
    /// being read (after the filter; from libpcap's counters). Absent for files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_received: Option<u64>,
    /// Live capture only: packets the kernel and the interface dropped meanwhile — traffic
    /// that happened but is missing from every count of this window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_dropped: Option<u64>,

    /// Frames.
    pub packets: u64,
    /// Sum of original (on-the-wire) frame lengths.
    pub bytes: u64,
    /// `bytes / packets` (0 when there are no packets).
    pub mean_pkt_size: f64,
    /// `bytes * 8 / window seconds`.
    pub bits_per_s: f64,
    /// `packets / window seconds`.
    pub packets_per_s: f64,

    /// Frames whose (outer) network layer is IPv4.
    pub ipv4_packets: u64,
    /// Frames whose (outer) network layer is IPv6.
    pub ipv6_packets: u64,
    /// ARP and RARP frames.
    pub arp_packets: u64,
    /// ARP replies (operation 2).
    pub arp_replies: u64,
    /// Frames of another network layer, or none decoded.
    pub other_packets: u64,
    /// Frames of a link type nta does not decode (802.11 radiotap, ...): counted, not
    /// analysed; a window of nothing else is never flagged.
    #[serde(default)]
    pub undecoded_packets: u64,
    /// Outer IP protocol / IPv6 next header TCP (fragments and cut headers included).
    pub tcp_packets: u64,
    /// Outer IP protocol UDP.
    pub udp_packets: u64,
    /// Outer IP protocol ICMP or ICMPv6.
    pub icmp_packets: u64,
    /// IP fragments (first and later).
    pub fragments: u64,
    /// Frames cut by the capture's snaplen.
    pub truncated_packets: u64,
    /// Frames with a decode error that is not a snaplen cut.
    pub malformed_packets: u64,

    /// Distinct outer IP source addresses (IPv4 and IPv6).
    pub unique_src_ips: u64,
    /// Distinct outer IP destination addresses.
    pub unique_dst_ips: u64,
    /// Distinct TCP and UDP source ports (one set for both).
    pub unique_src_ports: u64,
    /// Distinct TCP and UDP destination ports (one set for both).
    pub unique_dst_ports: u64,
    /// Shannon entropy, bits, of IP packets over source addresses.
    pub src_ip_entropy: f64,
    /// Shannon entropy, bits, of IP packets over destination addresses.
    pub dst_ip_entropy: f64,
    /// Shannon entropy, bits, of TCP and UDP packets over destination ports.
    pub dst_port_entropy: f64,

    /// TCP segments with SYN (SYN-ACK included).
    pub tcp_syn: u64,
    /// TCP segments with SYN and ACK.
    pub tcp_synack: u64,
    /// TCP segments with RST.
    pub tcp_rst: u64,
    /// TCP segments with FIN.
    pub tcp_fin: u64,

    /// DNS messages to port 53 with QR = 0 (UDP and TCP).
    pub dns_queries: u64,
    /// DNS messages from port 53 with QR = 1.
    pub dns_responses: u64,
    /// Of `dns_responses`, those with RCODE 3 (NXDOMAIN).
    pub dns_nxdomain: u64,
    /// Of `dns_queries`, those asking for TXT records.
    pub dns_txt_queries: u64,
    /// Mean length of the first question's name in `dns_queries` (presentation form, no final
    /// dot); `null` when the window has no query with a question.
    pub dns_qname_len_mean: Option<f64>,
    /// Longest such name; `null` when there is none.
    pub dns_qname_len_max: Option<u64>,
    /// Mean Shannon entropy (bits per character) of those names' label bytes; `null` likewise.
    pub dns_label_entropy_mean: Option<f64>,

    /// TLS ClientHellos.
    pub tls_client_hellos: u64,
    /// Distinct server names (SNI) in them, case-insensitive.
    pub unique_sni: u64,
    /// HTTP requests (a method at the start of a TCP payload).
    pub http_requests: u64,
    /// ICMP type 3 / ICMPv6 type 1 messages.
    pub icmp_unreachable: u64,
    /// ICMP type 8 / ICMPv6 type 128 messages.
    pub icmp_echo_requests: u64,

    /// Flows whose first packet is in this window.
    pub new_flows: u64,
    /// Flows alive during the window: open at its start plus `new_flows`.
    pub active_flows: u64,
    /// Flows that ended in the window (TCP closed by FIN both ways or RST, idle or active timeout).
    pub ended_flows: u64,
    /// TCP connections opened by a SYN in this window that got no packet back by the time the
    /// window was written (at least `reorder_ns` after its end).
    pub half_open_flows: u64,
    /// Flows evicted from the full flow table in this window (oldest first).
    pub evicted_flows: u64,
    /// Bytes (original lengths) of IP packets sent by their flow's initiator — requests and
    /// uploads, as opposed to what responders send back.
    pub initiator_bytes: u64,
    /// The most flows opened in this window by one address (fan-out: scans, brute force).
    pub max_src_new_flows: u64,
    /// The most TCP connections (SYNs opening a flow) from one address to another in this
    /// window: brute force, beaconing, scans of one host.
    pub max_pair_connections: u64,

    /// The 5 source addresses that sent the most bytes (ties: lower address first).
    pub top_src_by_bytes: Vec<TopSource>,
    /// The 5 destination ports with the most packets (ties: lower port first).
    pub top_dst_ports: Vec<TopPort>,
    /// Packets that came through tunnels, per encapsulation (docs/METRICS.md, "Tunnels").
    /// Absent when none did.
    #[serde(default, skip_serializing_if = "TunnelCounts::is_empty")]
    pub tunnels: TunnelCounts,
    /// Who did what to whom: per-host evidence lists (docs/METRICS.md, "Evidence"). Records
    /// written before it existed read as empty.
    #[serde(default, skip_serializing_if = "Evidence::is_empty")]
    pub evidence: Evidence,
    /// The sensor that saw it (`--sensor`), when it was published to a fleet; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensor: Option<String>,
}

impl WindowRecord {
    /// Window end (exclusive), ns.
    pub fn window_end_ns(&self) -> i64 {
        self.window_start_ns.saturating_add(self.window_ns)
    }
}
