//! [`FeatureExtractor`]: window records → the model's feature matrix. [`FEATURES`] is the
//! stable, named list; derived features (shares, ratios, per-second rates) make windows of
//! different traffic volumes comparable, and `ln(1 + x)` tames heavy-tailed counts.

use nta_metrics::{Metric, WindowRecord};
use serde::{Deserialize, Serialize};
use smartcore::linalg::basic::matrix::DenseMatrix;

macro_rules! features {
    ($($variant:ident => $name:literal : $doc:literal),* $(,)?) => {
        /// A model feature computed from a [`WindowRecord`].
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Feature {
            $(
                #[doc = $doc]
                $variant,
            )*
        }

        /// Every feature, in matrix-column order.
        pub const FEATURES: &[Feature] = &[$(Feature::$variant),*];

        impl Feature {
            /// The feature's name (its column name).
            pub fn name(self) -> &'static str {
                match self {
                    $(Feature::$variant => $name,)*
                }
            }
        }
    };
}

features! {
    LogPacketsPerS => "log_packets_per_s": "ln(1 + packets per second)",
    LogBytesPerS => "log_bytes_per_s": "ln(1 + bytes per second)",
    MeanPktSize => "mean_pkt_size": "bytes per packet",
    TcpShare => "tcp_share": "TCP packets / packets",
    UdpShare => "udp_share": "UDP packets / packets",
    IcmpShare => "icmp_share": "ICMP packets / packets",
    LogArpPerS => "log_arp_per_s": "ln(1 + ARP frames per second)",
    ArpReplyShare => "arp_reply_share": "ARP replies / ARP frames",
    SynShare => "syn_share": "SYN segments / TCP packets",
    SynAnsweredShare => "syn_answered_share": "SYN-ACKs / pure SYNs (1 when there is no SYN)",
    RstShare => "rst_share": "RST segments / TCP packets",
    FinShare => "fin_share": "FIN segments / TCP packets",
    LogUniqueSrcIps => "log_unique_src_ips": "ln(1 + distinct source addresses)",
    LogUniqueDstIps => "log_unique_dst_ips": "ln(1 + distinct destination addresses)",
    LogUniqueDstPorts => "log_unique_dst_ports": "ln(1 + distinct destination ports)",
    SrcIpEntropy => "src_ip_entropy": "entropy of packets over source addresses, bits",
    DstIpEntropy => "dst_ip_entropy": "entropy of packets over destination addresses, bits",
    DstPortEntropy => "dst_port_entropy": "entropy of packets over destination ports, bits",
    DnsShare => "dns_share": "DNS queries and responses / packets",
    NxdomainShare => "nxdomain_share": "NXDOMAIN / DNS responses",
    TxtShare => "txt_share": "TXT queries / DNS queries",
    DnsQnameLenMean => "dns_qname_len_mean": "mean queried name length (0 without queries)",
    DnsLabelEntropyMean => "dns_label_entropy_mean": "mean entropy of queried names, bits/char (0 without queries)",
    LogNewFlowsPerS => "log_new_flows_per_s": "ln(1 + new flows per second)",
    LogHalfOpenFlows => "log_half_open_flows": "ln(1 + half-open TCP flows)",
    LogIcmpUnreachablePerS => "log_icmp_unreachable_per_s": "ln(1 + ICMP unreachables per second)",
    LogIcmpEchoPerS => "log_icmp_echo_per_s": "ln(1 + ICMP echo requests per second)",
    LogTlsPerS => "log_tls_per_s": "ln(1 + TLS ClientHellos per second)",
    LogHttpPerS => "log_http_per_s": "ln(1 + HTTP requests per second)",
    InitiatorByteShare => "initiator_byte_share": "bytes sent by flow initiators / bytes",
    LogInitiatorBytesPerS => "log_initiator_bytes_per_s": "ln(1 + bytes sent by flow initiators per second)",
    LogMaxSrcNewFlows => "log_max_src_new_flows": "ln(1 + the most flows one address opened per second)",
    LogMaxPairConnections => "log_max_pair_connections": "ln(1 + the most TCP connections from one address to another per second)",
}

impl Feature {
    /// The record metric this feature is mostly made of (for explanations in metric terms).
    pub fn metric(self) -> Metric {
        match self {
            Feature::LogPacketsPerS => Metric::Packets,
            Feature::LogBytesPerS => Metric::Bytes,
            Feature::MeanPktSize => Metric::MeanPktSize,
            Feature::TcpShare => Metric::TcpPackets,
            Feature::UdpShare => Metric::UdpPackets,
            Feature::IcmpShare => Metric::IcmpPackets,
            Feature::LogArpPerS => Metric::ArpPackets,
            Feature::ArpReplyShare => Metric::ArpReplies,
            Feature::SynShare => Metric::TcpSyn,
            Feature::SynAnsweredShare => Metric::TcpSynack,
            Feature::RstShare => Metric::TcpRst,
            Feature::FinShare => Metric::TcpFin,
            Feature::LogUniqueSrcIps => Metric::UniqueSrcIps,
            Feature::LogUniqueDstIps => Metric::UniqueDstIps,
            Feature::LogUniqueDstPorts => Metric::UniqueDstPorts,
            Feature::SrcIpEntropy => Metric::SrcIpEntropy,
            Feature::DstIpEntropy => Metric::DstIpEntropy,
            Feature::DstPortEntropy => Metric::DstPortEntropy,
            Feature::DnsShare => Metric::DnsQueries,
            Feature::NxdomainShare => Metric::DnsNxdomain,
            Feature::TxtShare => Metric::DnsTxtQueries,
            Feature::DnsQnameLenMean => Metric::DnsQnameLenMean,
            Feature::DnsLabelEntropyMean => Metric::DnsLabelEntropyMean,
            Feature::LogNewFlowsPerS => Metric::NewFlows,
            Feature::LogHalfOpenFlows => Metric::HalfOpenFlows,
            Feature::LogIcmpUnreachablePerS => Metric::IcmpUnreachable,
            Feature::LogIcmpEchoPerS => Metric::IcmpEchoRequests,
            Feature::LogTlsPerS => Metric::TlsClientHellos,
            Feature::LogHttpPerS => Metric::HttpRequests,
            Feature::InitiatorByteShare | Feature::LogInitiatorBytesPerS => Metric::InitiatorBytes,
            Feature::LogMaxSrcNewFlows => Metric::MaxSrcNewFlows,
            Feature::LogMaxPairConnections => Metric::MaxPairConnections,
        }
    }

    /// The feature of this name.
    pub fn from_name(name: &str) -> Option<Feature> {
        FEATURES.iter().copied().find(|f| f.name() == name)
    }
}

impl std::fmt::Display for Feature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

impl Feature {
    /// The feature's value for one window.
    pub fn value(self, r: &WindowRecord) -> f64 {
        let secs = (r.window_ns as f64 / 1e9).max(1e-9);
        let per_s = |v: u64| (v as f64 / secs).ln_1p();
        let pure_syn = r.tcp_syn.saturating_sub(r.tcp_synack);
        match self {
            Feature::LogPacketsPerS => per_s(r.packets),
            Feature::LogBytesPerS => per_s(r.bytes),
            Feature::MeanPktSize => r.mean_pkt_size,
            Feature::TcpShare => ratio(r.tcp_packets, r.packets),
            Feature::UdpShare => ratio(r.udp_packets, r.packets),
            Feature::IcmpShare => ratio(r.icmp_packets, r.packets),
            Feature::LogArpPerS => per_s(r.arp_packets),
            Feature::ArpReplyShare => ratio(r.arp_replies, r.arp_packets),
            Feature::SynShare => ratio(r.tcp_syn, r.tcp_packets),
            Feature::SynAnsweredShare => {
                if pure_syn == 0 {
                    1.0
                } else {
                    (r.tcp_synack as f64 / pure_syn as f64).min(1.0)
                }
            }
            Feature::RstShare => ratio(r.tcp_rst, r.tcp_packets),
            Feature::FinShare => ratio(r.tcp_fin, r.tcp_packets),
            Feature::LogUniqueSrcIps => (r.unique_src_ips as f64).ln_1p(),
            Feature::LogUniqueDstIps => (r.unique_dst_ips as f64).ln_1p(),
            Feature::LogUniqueDstPorts => (r.unique_dst_ports as f64).ln_1p(),
            Feature::SrcIpEntropy => r.src_ip_entropy,
            Feature::DstIpEntropy => r.dst_ip_entropy,
            Feature::DstPortEntropy => r.dst_port_entropy,
            Feature::DnsShare => ratio(r.dns_queries + r.dns_responses, r.packets),
            Feature::NxdomainShare => ratio(r.dns_nxdomain, r.dns_responses),
            Feature::TxtShare => ratio(r.dns_txt_queries, r.dns_queries),
            Feature::DnsQnameLenMean => r.dns_qname_len_mean.unwrap_or(0.0),
            Feature::DnsLabelEntropyMean => r.dns_label_entropy_mean.unwrap_or(0.0),
            Feature::LogNewFlowsPerS => per_s(r.new_flows),
            Feature::LogHalfOpenFlows => (r.half_open_flows as f64).ln_1p(),
            Feature::LogIcmpUnreachablePerS => per_s(r.icmp_unreachable),
            Feature::LogIcmpEchoPerS => per_s(r.icmp_echo_requests),
            Feature::LogTlsPerS => per_s(r.tls_client_hellos),
            Feature::LogHttpPerS => per_s(r.http_requests),
            Feature::InitiatorByteShare => ratio(r.initiator_bytes, r.bytes),
            Feature::LogInitiatorBytesPerS => per_s(r.initiator_bytes),
            Feature::LogMaxSrcNewFlows => per_s(r.max_src_new_flows),
            Feature::LogMaxPairConnections => per_s(r.max_pair_connections),
        }
    }
}

/// Why windows were left out of a matrix.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtractStats {
    /// Records offered.
    pub records: usize,
    /// Rows in the matrix.
    pub rows: usize,
    /// `late` supplements (partial windows) left out.
    pub skipped_late: usize,
    /// Windows with a NaN or infinite feature left out.
    pub skipped_non_finite: usize,
}

/// Turns window records into the feature matrix.
#[derive(Clone, Debug, Default)]
pub struct FeatureExtractor;

impl FeatureExtractor {
    /// The feature names, in column order.
    pub fn names(&self) -> Vec<String> {
        FEATURES.iter().map(|f| f.name().to_owned()).collect()
    }

    /// One row per usable record (n × `FEATURES.len()`), the index of each row's record, and
    /// what was skipped and why. `None` when no record is usable.
    pub fn extract_batch(&self, records: &[WindowRecord]) -> (Option<DenseMatrix<f64>>, Vec<usize>, ExtractStats) {
        let mut stats = ExtractStats { records: records.len(), ..ExtractStats::default() };
        let mut values = Vec::with_capacity(records.len() * FEATURES.len());
        let mut indices = Vec::with_capacity(records.len());
        let mut row = Vec::with_capacity(FEATURES.len());
        for (i, r) in records.iter().enumerate() {
            if r.late {
                stats.skipped_late += 1;
                continue;
            }
            row.clear();
            row.extend(FEATURES.iter().map(|f| f.value(r)));
            if row.iter().any(|v| !v.is_finite()) {
                stats.skipped_non_finite += 1;
                continue;
            }
            values.extend_from_slice(&row);
            indices.push(i);
        }
        stats.rows = indices.len();
        let matrix =
            DenseMatrix::new(indices.len(), FEATURES.len(), values, false).ok().filter(|_| !indices.is_empty());
        (matrix, indices, stats)
    }
}
