//! [`WindowAcc`]: what one window accumulates. Everything in it merges exactly (integer sums,
//! sets, counts per key), and every derived number is computed at the end from sorted counts,
//! so the result does not depend on packet order, batching or thread count.

mod add;
mod merge;

use crate::counts::{PortCounts, entropy};
use crate::evidence::Evidence;
use crate::hosts::{ArpMemory, Hll, HostAcc};
use crate::record::{TopPort, TopSource, TunnelCounts, WindowRecord};
use nta_capture::format_rfc3339_ns;
use nta_parsing::Tunnel;
use rustc_hash::FxHashSet;
use std::sync::OnceLock;

/// Fixed-point scale of summed DNS name entropies (exact, order-independent sums).
const ENTROPY_SCALE: f64 = 1_000_000.0;

/// Domains whose queries are lookups of addresses (PTR), never tunnel evidence.
fn reverse_domains() -> &'static [u64; 2] {
    static HASHES: OnceLock<[u64; 2]> = OnceLock::new();
    HASHES.get_or_init(|| [nta_parsing::domain_hash("in-addr.arpa"), nta_parsing::domain_hash("ip6.arpa")])
}

/// One window being accumulated.
#[derive(Debug)]
pub(crate) struct WindowAcc {
    pub(crate) index: i64,
    pub(crate) late: bool,
    pub(crate) gap_before_ns: Option<i64>,
    /// Kernel counters of a live capture attributed to this window (received, dropped).
    pub(crate) capture: Option<(u64, u64)>,
    /// Bit i: source i contributed (sources beyond 63 share bit 63).
    pub(crate) sources: u64,
    packets: u64,
    bytes: u64,
    ipv4: u64,
    ipv6: u64,
    arp: u64,
    arp_replies: u64,
    other: u64,
    undecoded: u64,
    tcp: u64,
    udp: u64,
    icmp: u64,
    fragments: u64,
    truncated: u64,
    malformed: u64,
    tcp_syn: u64,
    tcp_synack: u64,
    tcp_rst: u64,
    tcp_fin: u64,
    dns_queries: u64,
    dns_responses: u64,
    dns_nxdomain: u64,
    dns_txt: u64,
    qname_count: u64,
    qname_len_sum: u64,
    qname_len_max: u64,
    qname_entropy_fx: u64,
    tls_hellos: u64,
    sni: FxHashSet<u64>,
    /// Server names beyond [`MAX_TRACKED_SNI`], estimated.
    sni_beyond: Hll,
    http: u64,
    icmp_unreachable: u64,
    icmp_echo: u64,
    /// Packets that came through encapsulations, and per encapsulation.
    tunnelled: u64,
    encapsulations: [u64; Tunnel::ALL.len()],
    /// Per-address accounting (capped): sources, destinations and the evidence lists.
    pub(crate) hosts: HostAcc,
    dst_ports: PortCounts,
    src_ports: PortCounts,
    pub(crate) new_flows: u64,
    pub(crate) ended_flows: u64,
    pub(crate) evicted_flows: u64,
    pub(crate) open_at_start: u64,
    /// Bytes sent by flow initiators.
    pub(crate) initiator_bytes: u64,
    /// SYNs opening connections in this window not answered (yet).
    pub(crate) half_open: u64,
}

impl WindowAcc {
    pub(crate) fn new() -> WindowAcc {
        WindowAcc { dst_ports: PortCounts::new(), src_ports: PortCounts::new(), ..WindowAcc::empty() }
    }

    /// Empties the accumulator for window `index`, keeping its allocations.
    pub(crate) fn reset(&mut self, index: i64) {
        let mut sni = std::mem::take(&mut self.sni);
        let mut sni_beyond = std::mem::take(&mut self.sni_beyond);
        sni_beyond.clear();
        let mut hosts = std::mem::take(&mut self.hosts);
        hosts.clear();
        let mut dst_ports = std::mem::replace(&mut self.dst_ports, PortCounts::none());
        let mut src_ports = std::mem::replace(&mut self.src_ports, PortCounts::none());
        sni.clear();
        dst_ports.clear();
        src_ports.clear();
        *self = WindowAcc { sni, sni_beyond, hosts, dst_ports, src_ports, ..WindowAcc::empty() };
        self.index = index;
    }

    fn empty() -> WindowAcc {
        WindowAcc {
            index: 0,
            late: false,
            gap_before_ns: None,
            capture: None,
            sources: 0,
            packets: 0,
            bytes: 0,
            ipv4: 0,
            ipv6: 0,
            arp: 0,
            arp_replies: 0,
            other: 0,
            undecoded: 0,
            tcp: 0,
            udp: 0,
            icmp: 0,
            fragments: 0,
            truncated: 0,
            malformed: 0,
            tcp_syn: 0,
            tcp_synack: 0,
            tcp_rst: 0,
            tcp_fin: 0,
            dns_queries: 0,
            dns_responses: 0,
            dns_nxdomain: 0,
            dns_txt: 0,
            qname_count: 0,
            qname_len_sum: 0,
            qname_len_max: 0,
            qname_entropy_fx: 0,
            tls_hellos: 0,
            sni: FxHashSet::default(),
            sni_beyond: Hll::default(),
            http: 0,
            icmp_unreachable: 0,
            icmp_echo: 0,
            tunnelled: 0,
            encapsulations: [0; Tunnel::ALL.len()],
            hosts: HostAcc::default(),
            dst_ports: PortCounts::none(),
            src_ports: PortCounts::none(),
            new_flows: 0,
            ended_flows: 0,
            evicted_flows: 0,
            open_at_start: 0,
            half_open: 0,
            initiator_bytes: 0,
        }
    }

    /// Whether any packet was added.
    pub(crate) fn is_empty(&self) -> bool {
        self.packets == 0
    }

    /// The record; counts scaled by `sample_rate`. The evidence lists are made beside the rest
    /// (on another thread of the pool when one is free: a flood's full tables take tens of
    /// milliseconds each, while the other threads wait for the window to close).
    pub(crate) fn finish(
        &self,
        window_ns: i64,
        source: String,
        sample_rate: u32,
        top_n: usize,
        arp: &ArpMemory,
    ) -> WindowRecord {
        let (evidence, mut record) =
            rayon::join(|| self.hosts.evidence(arp, window_ns), || self.record(window_ns, source, sample_rate, top_n));
        record.evidence = evidence;
        record
    }

    /// [`WindowAcc::finish`] without the evidence lists.
    fn record(&self, window_ns: i64, source: String, sample_rate: u32, top_n: usize) -> WindowRecord {
        let k = u64::from(sample_rate.max(1));
        let start = self.index.saturating_mul(window_ns);
        let secs = window_ns as f64 / 1e9;
        let packets = self.packets * k;
        let bytes = self.bytes * k;
        let hosts = &self.hosts.hosts;
        let mut counts: Vec<u64> = hosts.values().map(|h| h.packets_out).filter(|p| *p > 0).collect();
        // Beyond the host table's bound, the addresses it could not admit are estimated.
        let unique_src_ips = counts.len() as u64 + self.hosts.untracked_src.estimate();
        let src_ip_entropy = entropy(&mut counts);
        counts.clear();
        counts.extend(hosts.values().map(|h| h.packets_in).filter(|p| *p > 0));
        let unique_dst_ips = counts.len() as u64 + self.hosts.untracked_dst.estimate();
        let dst_ip_entropy = entropy(&mut counts);
        counts.clear();
        counts.extend(self.dst_ports.touched.iter().map(|p| u64::from(self.dst_ports.get(*p))));
        let dst_port_entropy = entropy(&mut counts);

        let top_src = crate::counts::top_n(
            hosts.iter().filter(|(_, h)| h.packets_out > 0).map(|(ip, h)| TopSource {
                ip: *ip,
                bytes: h.bytes_out * k,
                packets: h.packets_out * k,
            }),
            top_n,
            |a, b| b.bytes.cmp(&a.bytes).then(a.ip.cmp(&b.ip)),
        );
        let mut top_ports: Vec<TopPort> = self
            .dst_ports
            .touched
            .iter()
            .map(|p| TopPort { port: *p, packets: u64::from(self.dst_ports.get(*p)) * k })
            .collect();
        top_ports.sort_unstable_by(|a, b| b.packets.cmp(&a.packets).then(a.port.cmp(&b.port)));
        top_ports.truncate(top_n);

        let mean = |sum: u64, n: u64| if n == 0 { 0.0 } else { sum as f64 / n as f64 };
        WindowRecord {
            window_start: format_rfc3339_ns(start),
            window_start_ns: start,
            window_ns,
            capture: source,
            sample_rate: sample_rate.max(1),
            late: self.late,
            gap_before_ns: self.gap_before_ns,
            capture_received: self.capture.map(|c| c.0),
            capture_dropped: self.capture.map(|c| c.1),
            packets,
            bytes,
            mean_pkt_size: mean(bytes, packets),
            bits_per_s: bytes as f64 * 8.0 / secs,
            packets_per_s: packets as f64 / secs,
            ipv4_packets: self.ipv4 * k,
            ipv6_packets: self.ipv6 * k,
            arp_packets: self.arp * k,
            arp_replies: self.arp_replies * k,
            other_packets: self.other * k,
            undecoded_packets: self.undecoded * k,
            tcp_packets: self.tcp * k,
            udp_packets: self.udp * k,
            icmp_packets: self.icmp * k,
            fragments: self.fragments * k,
            truncated_packets: self.truncated * k,
            malformed_packets: self.malformed * k,
            unique_src_ips,
            unique_dst_ips,
            unique_src_ports: self.src_ports.touched.len() as u64,
            unique_dst_ports: self.dst_ports.touched.len() as u64,
            src_ip_entropy,
            dst_ip_entropy,
            dst_port_entropy,
            tcp_syn: self.tcp_syn * k,
            tcp_synack: self.tcp_synack * k,
            tcp_rst: self.tcp_rst * k,
            tcp_fin: self.tcp_fin * k,
            dns_queries: self.dns_queries * k,
            dns_responses: self.dns_responses * k,
            dns_nxdomain: self.dns_nxdomain * k,
            dns_txt_queries: self.dns_txt * k,
            dns_qname_len_mean: (self.qname_count > 0).then(|| mean(self.qname_len_sum, self.qname_count)),
            dns_qname_len_max: (self.qname_count > 0).then_some(self.qname_len_max),
            dns_label_entropy_mean: (self.qname_count > 0)
                .then(|| mean(self.qname_entropy_fx, self.qname_count) / ENTROPY_SCALE),
            tls_client_hellos: self.tls_hellos * k,
            unique_sni: self.sni.len() as u64 + self.sni_beyond.estimate(),
            http_requests: self.http * k,
            icmp_unreachable: self.icmp_unreachable * k,
            icmp_echo_requests: self.icmp_echo * k,
            new_flows: self.new_flows,
            active_flows: self.open_at_start + self.new_flows,
            ended_flows: self.ended_flows,
            half_open_flows: self.half_open,
            initiator_bytes: self.initiator_bytes * k,
            max_src_new_flows: hosts.values().map(|h| h.new_flows_out).max().map_or(0, u64::from),
            max_pair_connections: self.hosts.pairs.values().map(|p| p.connections).max().map_or(0, u64::from),
            evicted_flows: self.evicted_flows,
            top_src_by_bytes: top_src,
            top_dst_ports: top_ports,
            sensor: None,
            tunnels: TunnelCounts::new(self.tunnelled, &self.encapsulations, k),
            evidence: Evidence::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hosts::MAX_TRACKED_SNI;

    #[test]
    fn server_names_are_held_up_to_the_bound_and_estimated_beyond() {
        let mut acc = WindowAcc::new();
        let n = 200_000u64;
        for i in 0..n {
            // Twice each: repeats are not counted twice, exactly or estimated.
            acc.add_sni(i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            acc.add_sni(i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        }
        assert_eq!(acc.sni.len(), MAX_TRACKED_SNI, "the exact set stops at its bound");
        let unique = acc.sni.len() as u64 + acc.sni_beyond.estimate();
        let err = (unique as f64 - n as f64).abs() / n as f64;
        assert!(err < 0.02, "estimated {unique} of {n} ({:.2} %)", err * 100.0);
        acc.reset(1);
        assert_eq!((acc.sni.len(), acc.sni_beyond.estimate()), (0, 0));
    }
}
