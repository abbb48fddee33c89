//! The evidence lists of a window, made from its host tables when it closes.

use super::{ArpMemory, FLOOR_WINDOW_NS, HostAcc, HostCounters};
use crate::counts::{TopN, top_n};
use crate::evidence::{
    ArpEvidence, ConnectionEvidence, DnsEvidence, EVIDENCE_LIST_LEN, Evidence, ScannerEvidence, SourceFlows,
    TargetEvidence, TransferEvidence,
};
use rustc_hash::{FxHashMap, FxHashSet};
use std::net::{IpAddr, Ipv4Addr};

impl HostAcc {
    /// The window's evidence lists.
    pub(crate) fn evidence(&self, memory: &ArpMemory, window_ns: i64) -> Evidence {
        let mut ev = Evidence { untracked: self.untracked, ..Evidence::default() };
        // Floors are for 10 s windows; shorter windows scale them down (at least 1), so a
        // slow attack still leaves a trace in each short window for rules over a span.
        let scale = (window_ns as f64 / FLOOR_WINDOW_NS as f64).min(1.0);
        let floor = |n: u32| ((f64::from(n) * scale).ceil() as u32).max(1);
        let floor64 = |n: u64| ((n as f64 * scale).ceil() as u64).max(1);
        let host = |ip: &IpAddr| self.hosts.get(ip).copied().unwrap_or_default();

        // Scanners: probes per initiator first, by sorting the initiators of the probe table
        // (one address per probe, no hash table); the grouping by host and by port only for
        // the sources ranked (a spoofed flood in short windows makes every source a
        // candidate: ranking them first keeps this linear and its memory small).
        // The addresses sort as integers (an `IpAddr` compares variant first, slower).
        let (mut v4, mut v6): (Vec<u32>, Vec<u128>) = (Vec::new(), Vec::new());
        for (src, ..) in self.probes.keys() {
            match src {
                IpAddr::V4(a) => v4.push(a.to_bits()),
                IpAddr::V6(a) => v6.push(a.to_bits()),
            }
        }
        v4.sort_unstable();
        v6.sort_unstable();
        let mut arp_by_src: FxHashMap<Ipv4Addr, u64> = FxHashMap::default();
        for (sender, _) in &self.arp_targets {
            *arp_by_src.entry(*sender).or_insert(0) += 1;
        }
        // (address, probes, ARP targets), most active first.
        let rank = |a: &(IpAddr, u64, u64), b: &(IpAddr, u64, u64)| b.1.max(b.2).cmp(&a.1.max(a.2)).then(a.0.cmp(&b.0));
        let mut ranked = TopN::new(EVIDENCE_LIST_LEN, rank);
        let mut candidate = |ip: IpAddr, probes: u64, arp: u64| {
            if probes >= floor64(10) || arp >= floor64(10) {
                ranked.push((ip, probes, arp));
            }
        };
        for run in v4.chunk_by(|a, b| a == b) {
            if let Some(&a) = run.first() {
                let ip = Ipv4Addr::from_bits(a);
                candidate(IpAddr::V4(ip), run.len() as u64, arp_by_src.get(&ip).copied().unwrap_or(0));
            }
        }
        for run in v6.chunk_by(|a, b| a == b) {
            if let Some(&a) = run.first() {
                candidate(IpAddr::V6(std::net::Ipv6Addr::from_bits(a)), run.len() as u64, 0);
            }
        }
        for (&ip, &arp) in &arp_by_src {
            if v4.binary_search(&ip.to_bits()).is_err() {
                candidate(IpAddr::V4(ip), 0, arp);
            }
        }
        drop((v4, v6));
        let ranked = ranked.into_sorted();
        let mut per_pair: FxHashMap<(IpAddr, IpAddr), u64> = FxHashMap::default();
        let mut per_port: FxHashMap<(IpAddr, u16), u64> = FxHashMap::default();
        if !ranked.is_empty() {
            for (src, dst, proto, port) in self.probes.keys() {
                if !ranked.iter().any(|r| r.0 == *src) {
                    continue;
                }
                *per_pair.entry((*src, *dst)).or_insert(0) += 1;
                let port = if matches!(proto, 1 | 58) { 0 } else { *port };
                *per_port.entry((*src, port)).or_insert(0) += 1;
            }
        }
        // Per source ranked: its distinct hosts, the host it probed most and the port it
        // probed most (ties: the lower one).
        let mut top_hosts: FxHashMap<IpAddr, (IpAddr, u64, u64)> = FxHashMap::default();
        for ((src, dst), n) in &per_pair {
            let e = top_hosts.entry(*src).or_insert((*dst, *n, 0));
            e.2 += 1;
            if *n > e.1 || (*n == e.1 && *dst < e.0) {
                (e.0, e.1) = (*dst, *n);
            }
        }
        let mut top_ports: FxHashMap<IpAddr, (u16, u64)> = FxHashMap::default();
        for ((src, port), n) in &per_port {
            let e = top_ports.entry(*src).or_insert((*port, *n));
            if *n > e.1 || (*n == e.1 && *port < e.0) {
                *e = (*port, *n);
            }
        }
        ev.scanners = ranked
            .into_iter()
            .map(|(ip, probes, arp_targets)| {
                let top = top_hosts.get(&ip).copied();
                let port = top_ports.get(&ip).copied();
                let h = host(&ip);
                ScannerEvidence {
                    ip,
                    probes,
                    hosts: top.map_or(0, |t| t.2),
                    top_host: top.map(|t| t.0),
                    top_host_ports: top.map_or(0, |t| t.1),
                    top_port: port.map_or(0, |p| p.0),
                    top_port_hosts: port.map_or(0, |p| p.1),
                    syns: u64::from(h.syn_out),
                    answered: u64::from(h.synack_in),
                    refused: u64::from(h.refused_in),
                    arp_targets,
                }
            })
            .collect();

        // Targets: the receivers of many SYNs, UDP packets or echo requests; their sources and
        // ports in one pass over pairs and probes.
        let strength = |h: &HostCounters| h.syn_in.max(h.udp_in).max(h.echo_in);
        let targets = top_n(
            self.hosts
                .iter()
                .filter(|(_, h)| h.syn_in >= floor(20) || h.udp_in >= floor(100) || h.echo_in >= floor(20))
                .map(|(ip, h)| (*ip, *h)),
            EVIDENCE_LIST_LEN,
            |a: &(IpAddr, HostCounters), b: &(IpAddr, HostCounters)| {
                strength(&b.1).cmp(&strength(&a.1)).then(a.0.cmp(&b.0))
            },
        );
        // Each target's five busiest sources (and how many it had), in memory for ten.
        let busiest = |a: &SourceFlows, b: &SourceFlows| {
            b.packets.cmp(&a.packets).then(b.flows.cmp(&a.flows)).then(a.ip.cmp(&b.ip))
        };
        let mut sources: Vec<_> = targets.iter().map(|_| TopN::new(5, busiest)).collect();
        let mut ports: Vec<FxHashSet<(u8, u16)>> = vec![FxHashSet::default(); targets.len()];
        if !targets.is_empty() {
            let slot_of = |ip: &IpAddr| targets.iter().position(|(t, _)| t == ip);
            for ((a, b), p) in self.pairs.iter() {
                if let Some(k) = slot_of(b)
                    && let Some(v) = sources.get_mut(k)
                {
                    v.push(SourceFlows { ip: *a, flows: u64::from(p.flows), packets: u64::from(p.packets) });
                }
            }
            for (_, dst, proto, port) in self.probes.keys() {
                if let Some(k) = slot_of(dst)
                    && let Some(v) = ports.get_mut(k)
                {
                    v.insert((*proto, *port));
                }
            }
        }
        ev.targets = targets
            .into_iter()
            .zip(sources.into_iter().zip(ports))
            .map(|((ip, h), (sources, ports))| {
                let n_sources = sources.seen;
                TargetEvidence {
                    ip,
                    packets: h.packets_in,
                    bytes: h.bytes_in,
                    syns: u64::from(h.syn_in),
                    answered: u64::from(h.synack_out),
                    completed: u64::from(h.completed_in),
                    udp_packets: u64::from(h.udp_in),
                    udp_sent: u64::from(h.udp_out),
                    echo_requests: u64::from(h.echo_in),
                    sources: n_sources,
                    ports: ports.len() as u64,
                    top_sources: sources.into_sorted(),
                }
            })
            .collect();

        // Connections: repeated flows to one service (ranked first: the completions of the
        // first ten only are looked up).
        ev.connections = top_n(
            self.probes.iter().filter(|(_, p)| p.flows >= floor(3)).map(|(k, p)| (p.flows, *k)),
            EVIDENCE_LIST_LEN,
            |a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)),
        )
        .into_iter()
        .map(|(attempts, (src, dst, proto, port))| ConnectionEvidence {
            src,
            dst,
            proto,
            port,
            attempts: u64::from(attempts),
            completed: if proto == 6 {
                u64::from(self.completions.get(&(src, dst, port)).copied().unwrap_or(0))
            } else {
                0
            },
        })
        .collect();

        // DNS: per (client, resolver, domain).
        let mut names: FxHashMap<(IpAddr, u64), u64> = FxHashMap::default();
        for (client, domain, _) in &self.dns_names {
            *names.entry((*client, *domain)).or_insert(0) += 1;
        }
        let mut dns: Vec<DnsEvidence> = self
            .dns
            .iter()
            .filter(|(_, d)| d.queries >= floor(5))
            .map(|((client, resolver, domain), d)| DnsEvidence {
                client: *client,
                resolver: *resolver,
                domain_hash: *domain,
                queries: u64::from(d.queries),
                names: names.get(&(*client, *domain)).copied().unwrap_or(0),
                mean_name_len: d.len_sum as f64 / f64::from(d.queries.max(1)),
                max_name_len: u64::from(d.len_max),
                txt_queries: u64::from(d.txt),
            })
            .collect();
        dns.sort_by(|a, b| {
            b.queries.cmp(&a.queries).then((a.client, a.resolver, a.domain_hash).cmp(&(
                b.client,
                b.resolver,
                b.domain_hash,
            )))
        });
        dns.truncate(EVIDENCE_LIST_LEN);
        ev.dns = dns;

        // Transfers: each direction of a pair on its own.
        let mut transfers: Vec<TransferEvidence> = Vec::new();
        for ((lo, hi), (fwd, rev)) in &self.transfers {
            for (src, dst, bytes, back) in [(*lo, *hi, *fwd, *rev), (*hi, *lo, *rev, *fwd)] {
                if bytes >= floor64(100_000) {
                    let reverse_packets = self.hosts.get(&dst).map_or(0, |h| h.packets_out);
                    transfers.push(TransferEvidence { src, dst, bytes, reverse_bytes: back, reverse_packets });
                }
            }
        }
        transfers.sort_by(|a, b| b.bytes.cmp(&a.bytes).then((a.src, a.dst).cmp(&(b.src, b.dst))));
        transfers.truncate(EVIDENCE_LIST_LEN);
        ev.transfers = transfers;

        // ARP: addresses claimed by two MACs or more.
        let mut claimants: FxHashMap<Ipv4Addr, u32> = FxHashMap::default();
        for (ip, _) in self.arp.keys() {
            *claimants.entry(*ip).or_insert(0) += 1;
        }
        let mut arp: Vec<ArpEvidence> = self
            .arp
            .iter()
            // Contested: claimed by two MACs in the window, or by one that is not the MAC first
            // seen claiming it (the owner may be silent in a short window).
            .filter(|((ip, mac), _)| {
                claimants.get(ip).is_some_and(|n| *n >= 2) || memory.owner.get(ip).is_some_and(|o| o != mac)
            })
            .map(|((ip, mac), c)| ArpEvidence {
                ip: *ip,
                mac: *mac,
                replies: u64::from(c.replies),
                requests: u64::from(c.requests),
                owner: memory.owner.get(ip) == Some(mac),
                mac_home: memory.home.get(mac).copied().filter(|h| h != ip),
            })
            .collect();
        arp.sort_by(|a, b| {
            (b.replies + b.requests).cmp(&(a.replies + a.requests)).then((a.ip, a.mac).cmp(&(b.ip, b.mac)))
        });
        arp.truncate(EVIDENCE_LIST_LEN);
        ev.arp = arp;
        ev
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::hosts::{Opened, TcpFacts};

    /// A SYN from `src` to `dst`:`port` opening a flow.
    fn syn(acc: &mut HostAcc, src: IpAddr, dst: IpAddr, port: u16) {
        let tcp = TcpFacts { syn: true, ..TcpFacts::default() };
        let opened = Opened { from_src: true, proto: 6, port, syn: true, probe: true };
        acc.packet(src, dst, 60, Some(tcp), false, false, false, Some(opened));
    }

    #[test]
    fn scanners_of_a_spoofed_flood_in_short_windows() {
        // 1 s windows scale the floor of 10 probes down to 1: every spoofed source of a flood
        // is a candidate (their grouping is one pass, not one per source). The scanner probes
        // two hosts on two ports each, the same number of times: the lower host and port win.
        let mut acc = HostAcc::default();
        let scanner: IpAddr = "192.0.2.9".parse().unwrap();
        let (low, high): (IpAddr, IpAddr) = ("10.0.0.5".parse().unwrap(), "10.0.0.7".parse().unwrap());
        for (dst, port) in [(high, 22), (low, 80), (high, 80), (low, 22)] {
            syn(&mut acc, scanner, dst, port);
        }
        for i in 0..50_000u32 {
            syn(&mut acc, IpAddr::V4(Ipv4Addr::from(0x0b00_0000 + i)), low, 80);
        }
        let ev = acc.evidence(&ArpMemory::default(), 1_000_000_000);
        assert_eq!(ev.scanners.len(), EVIDENCE_LIST_LEN);
        let s = ev.scanners.first().unwrap();
        assert_eq!((s.ip, s.probes, s.hosts), (scanner, 4, 2));
        assert_eq!((s.top_host, s.top_host_ports, s.top_port, s.top_port_hosts), (Some(low), 2, 22, 2));
        assert_eq!(ev.targets.first().map(|t| (t.ip, t.syns)), Some((low, 50_002)));
    }
}
