//! [`Metric`]: the numeric fields of a [`WindowRecord`], typed — their names, values and how
//! windows of each combine into a longer step ([`Aggregate`]).

use super::WindowRecord;
use serde::{Deserialize, Serialize};

trait AsF64 {
    fn as_f64(&self) -> f64;
}

impl AsF64 for u64 {
    fn as_f64(&self) -> f64 {
        *self as f64
    }
}

impl AsF64 for f64 {
    fn as_f64(&self) -> f64 {
        *self
    }
}

/// An undefined value (a maximum over nothing) is NaN.
impl AsF64 for Option<u64> {
    fn as_f64(&self) -> f64 {
        self.map_or(f64::NAN, |v| v as f64)
    }
}

/// An undefined value (a mean over nothing) is NaN.
impl AsF64 for Option<f64> {
    fn as_f64(&self) -> f64 {
        self.unwrap_or(f64::NAN)
    }
}

macro_rules! metrics {
    ($($variant:ident => $field:ident),* $(,)?) => {
        /// A numeric field of [`WindowRecord`]: what baselines, features and explanations are
        /// keyed by. Serialized as the field's name.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "snake_case")]
        pub enum Metric {
            $(
                #[doc = concat!("`", stringify!($field), "`")]
                $variant,
            )*
        }

        impl Metric {
            /// Every metric, in record order.
            pub const ALL: &'static [Metric] = &[$(Metric::$variant),*];

            /// The field name.
            pub fn name(self) -> &'static str {
                match self {
                    $(Metric::$variant => stringify!($field),)*
                }
            }
        }

        impl WindowRecord {
            /// The value of `metric` in this window (NaN for an undefined mean).
            pub fn get(&self, metric: Metric) -> f64 {
                match metric {
                    $(Metric::$variant => self.$field.as_f64(),)*
                }
            }
        }
    };
}

metrics! {
    Packets => packets,
    Bytes => bytes,
    MeanPktSize => mean_pkt_size,
    BitsPerS => bits_per_s,
    PacketsPerS => packets_per_s,
    Ipv4Packets => ipv4_packets,
    Ipv6Packets => ipv6_packets,
    ArpPackets => arp_packets,
    ArpReplies => arp_replies,
    OtherPackets => other_packets,
    UndecodedPackets => undecoded_packets,
    TcpPackets => tcp_packets,
    UdpPackets => udp_packets,
    IcmpPackets => icmp_packets,
    Fragments => fragments,
    TruncatedPackets => truncated_packets,
    MalformedPackets => malformed_packets,
    UniqueSrcIps => unique_src_ips,
    UniqueDstIps => unique_dst_ips,
    UniqueSrcPorts => unique_src_ports,
    UniqueDstPorts => unique_dst_ports,
    SrcIpEntropy => src_ip_entropy,
    DstIpEntropy => dst_ip_entropy,
    DstPortEntropy => dst_port_entropy,
    TcpSyn => tcp_syn,
    TcpSynack => tcp_synack,
    TcpRst => tcp_rst,
    TcpFin => tcp_fin,
    DnsQueries => dns_queries,
    DnsResponses => dns_responses,
    DnsNxdomain => dns_nxdomain,
    DnsTxtQueries => dns_txt_queries,
    DnsQnameLenMean => dns_qname_len_mean,
    DnsQnameLenMax => dns_qname_len_max,
    DnsLabelEntropyMean => dns_label_entropy_mean,
    TlsClientHellos => tls_client_hellos,
    UniqueSni => unique_sni,
    HttpRequests => http_requests,
    IcmpUnreachable => icmp_unreachable,
    IcmpEchoRequests => icmp_echo_requests,
    NewFlows => new_flows,
    ActiveFlows => active_flows,
    EndedFlows => ended_flows,
    HalfOpenFlows => half_open_flows,
    EvictedFlows => evicted_flows,
    InitiatorBytes => initiator_bytes,
    MaxSrcNewFlows => max_src_new_flows,
    MaxPairConnections => max_pair_connections
}

impl Metric {
    /// Whether the metric counts things (packets, bytes, addresses, flows), as opposed to a
    /// rate, a mean or an entropy: a count cannot vary by less than 1.
    pub fn is_count(self) -> bool {
        !matches!(
            self,
            Metric::MeanPktSize
                | Metric::BitsPerS
                | Metric::PacketsPerS
                | Metric::SrcIpEntropy
                | Metric::DstIpEntropy
                | Metric::DstPortEntropy
                | Metric::DnsQnameLenMean
                | Metric::DnsLabelEntropyMean
        )
    }
}

/// How windows of a metric combine into a longer step (a chart's point): counts add up,
/// rates and means average, distinct counts and peaks take the largest (the distinct
/// addresses of two windows are not the sum of each's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    /// The sum over the windows (packets, bytes, SYNs, queries, new flows, ...).
    Sum,
    /// The mean over the windows that have a value (rates, means, entropies).
    Mean,
    /// The largest (distinct counts, active and half-open flows, per-source peaks).
    Max,
}

impl Metric {
    /// How this metric's windows combine into a longer step.
    pub fn aggregate(self) -> Aggregate {
        if !self.is_count() {
            // Rates, means and entropies.
            return Aggregate::Mean;
        }
        match self {
            Metric::UniqueSrcIps
            | Metric::UniqueDstIps
            | Metric::UniqueSrcPorts
            | Metric::UniqueDstPorts
            | Metric::DnsQnameLenMax
            | Metric::UniqueSni
            | Metric::ActiveFlows
            | Metric::HalfOpenFlows
            | Metric::MaxSrcNewFlows
            | Metric::MaxPairConnections => Aggregate::Max,
            _ => Aggregate::Sum,
        }
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a [`Metric`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown metric {name:?}")]
pub struct UnknownMetric {
    /// What was given.
    pub name: String,
}

impl std::str::FromStr for Metric {
    type Err = UnknownMetric;

    fn from_str(s: &str) -> Result<Metric, UnknownMetric> {
        Metric::ALL.iter().copied().find(|m| m.name() == s).ok_or_else(|| UnknownMetric { name: s.to_owned() })
    }
}
