//! [`HostAcc::merge`]: the per-host tables of one window made by several shards put together,
//! key by key, within the same bounds (a key a full table cannot take is counted in
//! `untracked`, an address also in the estimate of the addresses not admitted).

use super::{
    ArpCounts, DnsCounts, HostAcc, HostCounters, MAX_TRACKED_ARP, MAX_TRACKED_DNS, MAX_TRACKED_HOSTS,
    MAX_TRACKED_PAIRS, MAX_TRACKED_PROBES, MAX_TRACKED_TRANSFERS, admit, slot,
};

fn add32(a: &mut u32, b: u32) {
    *a = a.saturating_add(b);
}

impl HostCounters {
    fn merge(&mut self, o: &HostCounters) {
        self.packets_out += o.packets_out;
        self.bytes_out += o.bytes_out;
        self.packets_in += o.packets_in;
        self.bytes_in += o.bytes_in;
        for (a, b) in [
            (&mut self.syn_out, o.syn_out),
            (&mut self.syn_in, o.syn_in),
            (&mut self.synack_out, o.synack_out),
            (&mut self.synack_in, o.synack_in),
            (&mut self.refused_in, o.refused_in),
            (&mut self.echo_in, o.echo_in),
            (&mut self.udp_out, o.udp_out),
            (&mut self.udp_in, o.udp_in),
            (&mut self.completed_in, o.completed_in),
            (&mut self.new_flows_out, o.new_flows_out),
        ] {
            add32(a, b);
        }
    }
}

impl HostAcc {
    /// Adds the tables of `other` (the same window, other packets) into `self`. The three
    /// large tables (hosts; probes and completions; pairs) are merged side by side on the
    /// pool's threads: disjoint tables, each merged in the order it always was.
    pub(crate) fn merge(&mut self, other: &HostAcc) {
        let (mut by_hosts, mut by_probes, mut by_pairs) = (0u64, 0u64, 0u64);
        let HostAcc { hosts, probes, pairs, completions, untracked_src, untracked_dst, .. } = self;
        rayon::join(
            || {
                for (ip, h) in other.hosts.iter() {
                    match hosts.slot(*ip, MAX_TRACKED_HOSTS, &mut by_hosts) {
                        Some(mine) => mine.merge(h),
                        None => {
                            if h.packets_out > 0 {
                                untracked_src.add(*ip);
                            }
                            if h.packets_in > 0 {
                                untracked_dst.add(*ip);
                            }
                        }
                    }
                }
            },
            || {
                rayon::join(
                    || {
                        for (k, p) in other.probes.iter() {
                            if let Some(mine) = probes.slot(*k, MAX_TRACKED_PROBES, &mut by_probes) {
                                add32(&mut mine.flows, p.flows);
                            }
                        }
                        for (k, c) in &other.completions {
                            if let Some(mine) = slot(completions, *k, MAX_TRACKED_PROBES, &mut 0) {
                                add32(mine, *c);
                            }
                        }
                    },
                    || {
                        for (k, p) in other.pairs.iter() {
                            if let Some(mine) = pairs.slot(*k, MAX_TRACKED_PAIRS, &mut by_pairs) {
                                add32(&mut mine.flows, p.flows);
                                add32(&mut mine.packets, p.packets);
                                add32(&mut mine.connections, p.connections);
                            }
                        }
                    },
                )
            },
        );
        self.untracked += by_hosts + by_probes + by_pairs;
        let untracked = &mut self.untracked;
        for (k, d) in &other.dns {
            if let Some(mine) = slot::<_, DnsCounts>(&mut self.dns, *k, MAX_TRACKED_DNS, untracked) {
                add32(&mut mine.queries, d.queries);
                mine.len_sum += d.len_sum;
                mine.len_max = mine.len_max.max(d.len_max);
                add32(&mut mine.txt, d.txt);
            }
        }
        for k in &other.dns_names {
            admit(&mut self.dns_names, *k, MAX_TRACKED_DNS, untracked);
        }
        for (k, a) in &other.arp {
            if let Some(mine) = slot::<_, ArpCounts>(&mut self.arp, *k, MAX_TRACKED_ARP, untracked) {
                add32(&mut mine.replies, a.replies);
                add32(&mut mine.requests, a.requests);
            }
        }
        for k in &other.arp_targets {
            admit(&mut self.arp_targets, *k, MAX_TRACKED_ARP, untracked);
        }
        for (k, t) in &other.transfers {
            if let Some(mine) = slot(&mut self.transfers, *k, MAX_TRACKED_TRANSFERS, untracked) {
                mine.0 += t.0;
                mine.1 += t.1;
            }
        }
        self.untracked += other.untracked;
        self.untracked_src.merge(&other.untracked_src);
        self.untracked_dst.merge(&other.untracked_dst);
    }
}
