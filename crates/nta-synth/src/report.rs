//! What [`synthesize`](crate::synthesize) wrote: [`SynthReport`], with [`SynthCounts`] by
//! protocol and one [`AttackLabel`] per attack; and [`SynthError`].

use crate::config::SynthAttack;
use crate::frame::{AppKind, Built, Proto};
use nta_capture::Label;
use serde::Serialize;

/// Counts of what was written, by protocol (comparable with `nta_parsing::Census`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SynthCounts {
    /// Frames.
    pub packets: u64,
    /// Bytes of frames.
    pub bytes: u64,
    /// ARP frames.
    pub arp: u64,
    /// IPv4 packets.
    pub ipv4: u64,
    /// IPv6 packets.
    pub ipv6: u64,
    /// TCP segments.
    pub tcp: u64,
    /// UDP datagrams.
    pub udp: u64,
    /// ICMP and ICMPv6 messages.
    pub icmp: u64,
    /// ICMP / ICMPv6 errors (destination unreachable).
    pub icmp_errors: u64,
    /// Segments with SYN (SYN-ACK included).
    pub tcp_syn: u64,
    /// Segments with SYN and ACK.
    pub tcp_synack: u64,
    /// Segments with RST.
    pub tcp_rst: u64,
    /// Segments with FIN.
    pub tcp_fin: u64,
    /// DNS queries.
    pub dns_queries: u64,
    /// DNS responses.
    pub dns_responses: u64,
    /// DNS responses with NXDOMAIN.
    pub dns_nxdomain: u64,
    /// TLS ClientHellos (each with a server name).
    pub tls_client_hellos: u64,
    /// HTTP requests.
    pub http_requests: u64,
}

impl SynthCounts {
    pub(crate) fn add(&mut self, b: Built, len: usize) {
        self.packets += 1;
        self.bytes += len as u64;
        if b.proto == Proto::Arp {
            self.arp += 1;
        } else if b.v6 {
            self.ipv6 += 1;
        } else {
            self.ipv4 += 1;
        }
        match b.proto {
            Proto::Arp => {}
            Proto::Tcp(f) => {
                self.tcp += 1;
                let syn = f & 0x02 != 0;
                self.tcp_syn += u64::from(syn);
                self.tcp_synack += u64::from(syn && f & 0x10 != 0);
                self.tcp_rst += u64::from(f & 0x04 != 0);
                self.tcp_fin += u64::from(f & 0x01 != 0);
            }
            Proto::Udp => self.udp += 1,
            Proto::Icmp { error } => {
                self.icmp += 1;
                self.icmp_errors += u64::from(error);
            }
        }
        match b.app {
            AppKind::None => {}
            AppKind::DnsQuery => self.dns_queries += 1,
            AppKind::DnsResponse { nxdomain } => {
                self.dns_responses += 1;
                self.dns_nxdomain += u64::from(nxdomain);
            }
            AppKind::ClientHello => self.tls_client_hellos += 1,
            AppKind::HttpRequest => self.http_requests += 1,
        }
    }
}

/// One injected attack, as written to the labels file (one JSON line each): the shared
/// [`Label`] (kind, interval, attackers, victims) and what the synthesizer did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AttackLabel {
    /// Kind, scheduled interval (cut at the end of the capture) and hosts. Spoofed floods have
    /// no attackers: see `spoofed_sources`; for scans the victims are the probed hosts.
    #[serde(flatten)]
    pub label: Label,
    /// What the synthesizer was asked for (`portscan`, ...).
    pub attack: SynthAttack,
    /// `start_ns` as RFC 3339.
    pub start: String,
    /// `end_ns` as RFC 3339.
    pub end: String,
    /// Timestamp of its first packet (`None` if it wrote none).
    pub first_packet_ns: Option<i64>,
    /// Timestamp of its last packet.
    pub last_packet_ns: Option<i64>,
    /// Random spoofed source addresses were used.
    pub spoofed_sources: bool,
    /// Intensity, in `rate_unit`.
    pub rate: f64,
    /// Unit of `rate`.
    pub rate_unit: &'static str,
    /// Packets written for the attack (the attacker's and the victims' answers).
    pub packets: u64,
    /// Bytes of those packets.
    pub bytes: u64,
    /// The same by protocol.
    pub counts: SynthCounts,
}

/// What [`synthesize`] wrote.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SynthReport {
    /// The seed.
    pub seed: u64,
    /// Capture start, ns.
    pub start_ns: i64,
    /// Capture end (exclusive), ns.
    pub end_ns: i64,
    /// Every packet.
    pub total: SynthCounts,
    /// Packets of normal traffic only.
    pub normal: SynthCounts,
    /// Flows (connections and exchanges) started.
    pub flows: u64,
    /// Most flows alive at once.
    pub max_live_flows: usize,
    /// Generation stopped at `max_bytes`.
    pub size_limited: bool,
    /// One record per attack, in the config's order.
    pub attacks: Vec<AttackLabel>,
}

/// Errors of [`synthesize`].
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// Writing the capture failed.
    #[error("writing the capture: {0}")]
    Io(#[from] std::io::Error),
    /// The configuration cannot be synthesized.
    #[error("invalid configuration: {reason}")]
    Config {
        /// Why.
        reason: String,
    },
}
