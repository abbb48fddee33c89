//! [`WindowAcc::merge`]: the accumulators of one window made by several shards (each holding
//! the packets of its share of the flows) put together — the base of sharded extraction
//! (issue 20). Below the tables' bounds, merging the shares gives the record one accumulator
//! would have made of all the packets.

use super::WindowAcc;

impl WindowAcc {
    /// Adds `other` (the same window, other packets) into `self`.
    pub(crate) fn merge(&mut self, other: &WindowAcc) {
        self.late |= other.late;
        self.gap_before_ns = self.gap_before_ns.or(other.gap_before_ns);
        self.capture = match (self.capture, other.capture) {
            (Some(a), Some(b)) => Some((a.0 + b.0, a.1 + b.1)),
            (a, b) => a.or(b),
        };
        self.sources |= other.sources;
        for (a, b) in [
            (&mut self.packets, other.packets),
            (&mut self.bytes, other.bytes),
            (&mut self.ipv4, other.ipv4),
            (&mut self.ipv6, other.ipv6),
            (&mut self.arp, other.arp),
            (&mut self.arp_replies, other.arp_replies),
            (&mut self.other, other.other),
            (&mut self.undecoded, other.undecoded),
            (&mut self.tcp, other.tcp),
            (&mut self.udp, other.udp),
            (&mut self.icmp, other.icmp),
            (&mut self.fragments, other.fragments),
            (&mut self.truncated, other.truncated),
            (&mut self.malformed, other.malformed),
            (&mut self.tcp_syn, other.tcp_syn),
            (&mut self.tcp_synack, other.tcp_synack),
            (&mut self.tcp_rst, other.tcp_rst),
            (&mut self.tcp_fin, other.tcp_fin),
            (&mut self.dns_queries, other.dns_queries),
            (&mut self.dns_responses, other.dns_responses),
            (&mut self.dns_nxdomain, other.dns_nxdomain),
            (&mut self.dns_txt, other.dns_txt),
            (&mut self.qname_count, other.qname_count),
            (&mut self.qname_len_sum, other.qname_len_sum),
            (&mut self.qname_entropy_fx, other.qname_entropy_fx),
            (&mut self.tls_hellos, other.tls_hellos),
            (&mut self.http, other.http),
            (&mut self.icmp_unreachable, other.icmp_unreachable),
            (&mut self.icmp_echo, other.icmp_echo),
            (&mut self.tunnelled, other.tunnelled),
            (&mut self.new_flows, other.new_flows),
            (&mut self.ended_flows, other.ended_flows),
            (&mut self.evicted_flows, other.evicted_flows),
            (&mut self.open_at_start, other.open_at_start),
            (&mut self.initiator_bytes, other.initiator_bytes),
            (&mut self.half_open, other.half_open),
        ] {
            *a += b;
        }
        self.qname_len_max = self.qname_len_max.max(other.qname_len_max);
        for (a, b) in self.encapsulations.iter_mut().zip(other.encapsulations) {
            *a += b;
        }
        for h in &other.sni {
            self.add_sni(*h);
        }
        self.sni_beyond.merge(&other.sni_beyond);
        self.dst_ports.merge(&other.dst_ports);
        self.src_ports.merge(&other.src_ports);
        self.hosts.merge(&other.hosts);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::hosts::{ArpMemory, Opened};
    use nta_parsing::Transport;
    use std::hash::BuildHasher;

    /// The fixture's packets split in shares by a symmetric hash of their address pair (as
    /// RSS spreads flows over queues), accumulated apart and merged: the records are those of
    /// one accumulator, whatever the number of shares.
    #[test]
    fn merged_shares_make_the_record_of_the_whole() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/test_net_traffic.pcapng");
        let mut reader = nta_capture::CaptureReader::open(std::path::Path::new(path)).unwrap();
        let mut packets = Vec::new();
        while let Some(p) = reader.next_packet().unwrap() {
            packets.push(nta_parsing::decode(&p));
        }
        assert!(packets.len() > 10_000);
        // The first SYN of each pair opens a flow (enough to exercise the probe and pair
        // tables the same way in every share).
        let opened = |s: &nta_parsing::PacketSummary| match (s.ip, s.transport) {
            (Some(ip), Transport::Tcp(t)) if t.flags.syn() && !t.flags.ack() => {
                Some(Opened { from_src: true, proto: ip.protocol, port: t.dst_port, syn: true, probe: true })
            }
            _ => None,
        };
        let share_of = |s: &nta_parsing::PacketSummary, n: u64| -> usize {
            let Some(ip) = s.ip else { return 0 };
            let (a, b) = if ip.src <= ip.dst { (ip.src, ip.dst) } else { (ip.dst, ip.src) };
            (rustc_hash::FxBuildHasher.hash_one((a, b)) % n) as usize
        };
        let record = |acc: &WindowAcc| {
            let mut r = acc.finish(10_000_000_000, "t".into(), 1, 10, &ArpMemory::default());
            r.evidence.untracked = 0;
            serde_json::to_string(&r).unwrap()
        };
        let mut whole = WindowAcc::new();
        whole.reset(0);
        for s in &packets {
            whole.add(s, 0, opened(s));
        }
        let want = record(&whole);
        for n in [2u64, 3, 8] {
            let mut shares: Vec<WindowAcc> = (0..n)
                .map(|_| {
                    let mut w = WindowAcc::new();
                    w.reset(0);
                    w
                })
                .collect();
            for s in &packets {
                shares.get_mut(share_of(s, n)).unwrap().add(s, 0, opened(s));
            }
            let mut merged = WindowAcc::new();
            merged.reset(0);
            for sh in &shares {
                merged.merge(sh);
            }
            assert_eq!(record(&merged), want, "{n} shares");
        }
    }
}
