//! [`HostAcc`]: the per-host accounting of one window, in capped tables, and the [`Evidence`]
//! made of it when the window closes. Tables are cleared, not freed, between windows (no
//! allocation on the per-packet path once warm); a key that would grow a full table is not
//! admitted and counted in `untracked`. [`ArpMemory`] is the one piece that outlives a window:
//! which MAC claimed an address first.

use crate::evidence::{
    ArpEvidence, ConnectionEvidence, DnsEvidence, EVIDENCE_LIST_LEN, Evidence, MacAddr, ScannerEvidence, SourceFlows,
    TargetEvidence, TransferEvidence,
};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::hash_map::Entry;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr};

/// Most distinct addresses accounted per window (sources and destinations together).
pub const MAX_TRACKED_HOSTS: usize = 1 << 18;
/// Most distinct (initiator, responder, protocol, port) of new flows per window.
pub const MAX_TRACKED_PROBES: usize = 1 << 18;
/// Most distinct (initiator, responder) of new flows per window.
pub const MAX_TRACKED_PAIRS: usize = 1 << 18;
/// Most distinct (client, resolver, domain) and, separately, (client, domain, name) per window.
pub const MAX_TRACKED_DNS: usize = 1 << 16;
/// Most distinct ARP (sender address, MAC) and (sender, target) per window, and addresses
/// remembered across windows.
pub const MAX_TRACKED_ARP: usize = 1 << 16;
/// Most distinct (sender, receiver) of full-size packets per window.
pub const MAX_TRACKED_TRANSFERS: usize = 1 << 16;
/// The window length the evidence floors are stated for (10 s); shorter windows scale them.
pub const FLOOR_WINDOW_NS: i64 = 10_000_000_000;
/// Packets at least this long (on the wire) count in transfers: bulk data moves in full-size
/// packets, so only they are accounted per pair, keeping small-packet traffic off this table.
pub const BULK_PACKET_BYTES: u32 = 1000;

/// What one address did in the window.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct HostCounters {
    pub(crate) packets_out: u64,
    pub(crate) bytes_out: u64,
    pub(crate) packets_in: u64,
    pub(crate) bytes_in: u64,
    syn_out: u32,
    syn_in: u32,
    synack_out: u32,
    synack_in: u32,
    refused_in: u32,
    echo_in: u32,
    udp_out: u32,
    udp_in: u32,
    completed_in: u32,
    pub(crate) new_flows_out: u32,
}

#[derive(Clone, Copy, Debug, Default)]
struct ProbeCounts {
    flows: u32,
    completed: u32,
}

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PairCounts {
    flows: u32,
    /// SYNs, UDP packets and echo requests from the first to the second (flood traffic).
    packets: u32,
    /// Connections opened by a SYN.
    pub(crate) connections: u32,
}

#[derive(Clone, Copy, Debug, Default)]
struct DnsCounts {
    queries: u32,
    len_sum: u64,
    len_max: u16,
    txt: u32,
}

#[derive(Clone, Copy, Debug, Default)]
struct ArpCounts {
    replies: u32,
    requests: u32,
}

/// A slot for `key` in `map`, unless the map is full and the key new (then counted).
#[inline]
fn slot<'a, K: Hash + Eq, V: Default>(
    map: &'a mut FxHashMap<K, V>,
    key: K,
    cap: usize,
    untracked: &mut u64,
) -> Option<&'a mut V> {
    let full = map.len() >= cap;
    match map.entry(key) {
        Entry::Occupied(e) => Some(e.into_mut()),
        Entry::Vacant(v) if !full => Some(v.insert(V::default())),
        Entry::Vacant(_) => {
            *untracked += 1;
            None
        }
    }
}

#[inline]
fn bump(c: &mut u32) {
    *c = c.saturating_add(1);
}

/// Which MAC claimed an address first, and which address a MAC claimed first, over the whole
/// capture (at most [`MAX_TRACKED_ARP`] of each; later ones are not remembered).
#[derive(Debug, Default)]
pub(crate) struct ArpMemory {
    owner: FxHashMap<Ipv4Addr, MacAddr>,
    home: FxHashMap<MacAddr, Ipv4Addr>,
}

impl ArpMemory {
    pub(crate) fn claim(&mut self, ip: Ipv4Addr, mac: MacAddr) {
        if ip.is_unspecified() {
            return;
        }
        if self.owner.len() < MAX_TRACKED_ARP {
            self.owner.entry(ip).or_insert(mac);
        }
        if self.home.len() < MAX_TRACKED_ARP {
            self.home.entry(mac).or_insert(ip);
        }
    }
}

/// The per-host tables of one window.
#[derive(Debug, Default)]
pub(crate) struct HostAcc {
    pub(crate) hosts: FxHashMap<IpAddr, HostCounters>,
    probes: FxHashMap<(IpAddr, IpAddr, u8, u16), ProbeCounts>,
    pub(crate) pairs: FxHashMap<(IpAddr, IpAddr), PairCounts>,
    dns: FxHashMap<(IpAddr, IpAddr, u64), DnsCounts>,
    dns_names: FxHashSet<(IpAddr, u64, u64)>,
    arp: FxHashMap<(Ipv4Addr, MacAddr), ArpCounts>,
    arp_targets: FxHashSet<(Ipv4Addr, Ipv4Addr)>,
    transfers: FxHashMap<(IpAddr, IpAddr), (u64, u64)>,
    pub(crate) untracked: u64,
}

/// A flow this packet opened (from the flow table).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Opened {
    /// The packet's sender is the initiator (else its receiver: a SYN-ACK seen first).
    pub(crate) from_src: bool,
    /// IANA protocol number.
    pub(crate) proto: u8,
    /// The responder's port (0 without ports).
    pub(crate) port: u16,
    /// Opened by a TCP SYN.
    pub(crate) syn: bool,
    /// Scan evidence: TCP, UDP, ICMP echo or IPv6 neighbour solicitation.
    pub(crate) probe: bool,
}

/// TCP flag facts of one packet that the host tables count.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TcpFacts {
    pub(crate) syn: bool,
    pub(crate) syn_ack: bool,
    pub(crate) rst: bool,
}

impl HostAcc {
    pub(crate) fn clear(&mut self) {
        self.hosts.clear();
        self.probes.clear();
        self.pairs.clear();
        self.dns.clear();
        self.dns_names.clear();
        self.arp.clear();
        self.arp_targets.clear();
        self.transfers.clear();
        self.untracked = 0;
    }

    /// One IP packet from `src` to `dst`.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn packet(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        wire_len: u32,
        tcp: Option<TcpFacts>,
        udp: bool,
        echo_request: bool,
        unreachable: bool,
        opened: Option<Opened>,
    ) {
        let bytes = u64::from(wire_len);
        if let Some(h) = slot(&mut self.hosts, src, MAX_TRACKED_HOSTS, &mut self.untracked) {
            if opened.is_some_and(|o| o.from_src) {
                bump(&mut h.new_flows_out);
            }
            h.packets_out += 1;
            h.bytes_out += bytes;
            if let Some(t) = tcp {
                if t.syn {
                    bump(&mut h.syn_out);
                }
                if t.syn_ack {
                    bump(&mut h.synack_out);
                }
            }
            if udp {
                bump(&mut h.udp_out);
            }
        }
        if let Some(h) = slot(&mut self.hosts, dst, MAX_TRACKED_HOSTS, &mut self.untracked) {
            if opened.is_some_and(|o| !o.from_src) {
                bump(&mut h.new_flows_out);
            }
            h.packets_in += 1;
            h.bytes_in += bytes;
            if let Some(t) = tcp {
                if t.syn {
                    bump(&mut h.syn_in);
                }
                if t.syn_ack {
                    bump(&mut h.synack_in);
                }
                if t.rst {
                    bump(&mut h.refused_in);
                }
            }
            if udp {
                bump(&mut h.udp_in);
            }
            if echo_request {
                bump(&mut h.echo_in);
            }
            if unreachable {
                bump(&mut h.refused_in);
            }
        }
        // Pairs: flood packets from the sender, flows from their initiator (one lookup when
        // both, the common case: a SYN or a first UDP packet).
        let flood = tcp.is_some_and(|t| t.syn) || udp || echo_request;
        let (initiator, responder) = match opened {
            Some(o) if !o.from_src => (dst, src),
            _ => (src, dst),
        };
        if flood
            && opened.is_some_and(|o| !o.from_src)
            && let Some(p) = slot(&mut self.pairs, (src, dst), MAX_TRACKED_PAIRS, &mut self.untracked)
        {
            bump(&mut p.packets);
        }
        if (flood || opened.is_some())
            && let Some(p) = slot(&mut self.pairs, (initiator, responder), MAX_TRACKED_PAIRS, &mut self.untracked)
        {
            if flood && opened.is_none_or(|o| o.from_src) {
                bump(&mut p.packets);
            }
            if let Some(o) = opened {
                bump(&mut p.flows);
                if o.syn {
                    bump(&mut p.connections);
                }
            }
        }
        if let Some(o) = opened.filter(|o| o.probe)
            && let Some(p) =
                slot(&mut self.probes, (initiator, responder, o.proto, o.port), MAX_TRACKED_PROBES, &mut self.untracked)
        {
            bump(&mut p.flows);
        }
        if wire_len >= BULK_PACKET_BYTES {
            // Keyed by the lower address first, so both directions share an entry.
            let (key, forward) = if src <= dst { ((src, dst), true) } else { ((dst, src), false) };
            if let Some(t) = slot(&mut self.transfers, key, MAX_TRACKED_TRANSFERS, &mut self.untracked) {
                if forward {
                    t.0 += bytes;
                } else {
                    t.1 += bytes;
                }
            }
        }
    }

    /// A TCP handshake from `initiator` to `port` of `responder` completed.
    pub(crate) fn established(&mut self, initiator: IpAddr, responder: IpAddr, port: u16) {
        if let Some(h) = self.hosts.get_mut(&responder) {
            bump(&mut h.completed_in);
        }
        if let Some(p) = self.probes.get_mut(&(initiator, responder, 6, port)) {
            bump(&mut p.completed);
        }
    }

    /// A DNS query from `client` to `resolver` for a name of `len` characters.
    pub(crate) fn dns_query(&mut self, client: IpAddr, resolver: IpAddr, name: (u64, u64, u16), txt: bool) {
        let (domain, hash, len) = name;
        if let Some(d) = slot(&mut self.dns, (client, resolver, domain), MAX_TRACKED_DNS, &mut self.untracked) {
            bump(&mut d.queries);
            d.len_sum += u64::from(len);
            d.len_max = d.len_max.max(len);
            if txt {
                bump(&mut d.txt);
            }
            if self.dns_names.len() < MAX_TRACKED_DNS || self.dns_names.contains(&(client, domain, hash)) {
                self.dns_names.insert((client, domain, hash));
            } else {
                self.untracked += 1;
            }
        }
    }

    /// An ARP message: `sender` claims `sender_ip`; a request asks for `target`.
    pub(crate) fn arp(&mut self, sender_ip: Ipv4Addr, sender: MacAddr, reply: bool, target: Ipv4Addr) {
        if sender_ip.is_unspecified() {
            return; // a probe (RFC 5227): claims nothing
        }
        if let Some(a) = slot(&mut self.arp, (sender_ip, sender), MAX_TRACKED_ARP, &mut self.untracked) {
            if reply {
                bump(&mut a.replies);
            } else {
                bump(&mut a.requests);
            }
        }
        if !reply && target != sender_ip {
            if self.arp_targets.len() < MAX_TRACKED_ARP || self.arp_targets.contains(&(sender_ip, target)) {
                self.arp_targets.insert((sender_ip, target));
            } else {
                self.untracked += 1;
            }
        }
    }

    /// The window's evidence lists.
    pub(crate) fn evidence(&self, memory: &ArpMemory, window_ns: i64) -> Evidence {
        let mut ev = Evidence { untracked: self.untracked, ..Evidence::default() };
        // Floors are for 10 s windows; shorter windows scale them down (at least 1), so a
        // slow attack still leaves a trace in each short window for rules over a span.
        let scale = (window_ns as f64 / FLOOR_WINDOW_NS as f64).min(1.0);
        let floor = |n: u32| ((f64::from(n) * scale).ceil() as u32).max(1);
        let floor64 = |n: u64| ((n as f64 * scale).ceil() as u64).max(1);
        let host = |ip: &IpAddr| self.hosts.get(ip).copied().unwrap_or_default();

        // Scanners: probes per initiator first (one pass); the grouping by host and by port
        // only for those past the floor (none under a spoofed flood).
        let mut probes_by_src: FxHashMap<IpAddr, u64> = FxHashMap::default();
        for (src, _, _, _) in self.probes.keys() {
            *probes_by_src.entry(*src).or_insert(0) += 1;
        }
        let mut arp_by_src: FxHashMap<IpAddr, u64> = FxHashMap::default();
        for (sender, _) in &self.arp_targets {
            *arp_by_src.entry(IpAddr::V4(*sender)).or_insert(0) += 1;
        }
        let mut chosen: Vec<IpAddr> = probes_by_src
            .iter()
            .filter(|(_, n)| **n >= floor64(10))
            .map(|(ip, _)| *ip)
            .chain(arp_by_src.iter().filter(|(_, n)| **n >= floor64(10)).map(|(ip, _)| *ip))
            .collect();
        chosen.sort_unstable();
        chosen.dedup();
        let mut per_pair: FxHashMap<(IpAddr, IpAddr), u64> = FxHashMap::default();
        let mut per_port: FxHashMap<(IpAddr, u16), u64> = FxHashMap::default();
        if !chosen.is_empty() {
            for (src, dst, proto, port) in self.probes.keys() {
                if chosen.binary_search(src).is_err() {
                    continue;
                }
                *per_pair.entry((*src, *dst)).or_insert(0) += 1;
                let port = if matches!(proto, 1 | 58) { 0 } else { *port };
                *per_port.entry((*src, port)).or_insert(0) += 1;
            }
        }
        let mut scanners: Vec<ScannerEvidence> = chosen
            .iter()
            .map(|&ip| {
                let top = per_pair
                    .iter()
                    .filter(|((a, _), _)| *a == ip)
                    .max_by(|x, y| x.1.cmp(y.1).then(y.0.1.cmp(&x.0.1)))
                    .map(|((_, b), n)| (*b, *n));
                let port = per_port
                    .iter()
                    .filter(|((a, _), _)| *a == ip)
                    .max_by(|x, y| x.1.cmp(y.1).then(y.0.1.cmp(&x.0.1)))
                    .map(|((_, p), n)| (*p, *n));
                let h = host(&ip);
                ScannerEvidence {
                    ip,
                    probes: probes_by_src.get(&ip).copied().unwrap_or(0),
                    hosts: per_pair.keys().filter(|(a, _)| *a == ip).count() as u64,
                    top_host: top.map(|t| t.0),
                    top_host_ports: top.map_or(0, |t| t.1),
                    top_port: port.map_or(0, |p| p.0),
                    top_port_hosts: port.map_or(0, |p| p.1),
                    syns: u64::from(h.syn_out),
                    answered: u64::from(h.synack_in),
                    refused: u64::from(h.refused_in),
                    arp_targets: arp_by_src.get(&ip).copied().unwrap_or(0),
                }
            })
            .collect();
        scanners.sort_by(|a, b| b.probes.max(b.arp_targets).cmp(&a.probes.max(a.arp_targets)).then(a.ip.cmp(&b.ip)));
        scanners.truncate(EVIDENCE_LIST_LEN);
        ev.scanners = scanners;

        // Targets: the receivers of many SYNs, UDP packets or echo requests; their sources and
        // ports in one pass over pairs and probes.
        let mut targets: Vec<(IpAddr, HostCounters)> = self
            .hosts
            .iter()
            .filter(|(_, h)| h.syn_in >= floor(20) || h.udp_in >= floor(100) || h.echo_in >= floor(20))
            .map(|(ip, h)| (*ip, *h))
            .collect();
        let strength = |h: &HostCounters| h.syn_in.max(h.udp_in).max(h.echo_in);
        targets.sort_by(|a, b| strength(&b.1).cmp(&strength(&a.1)).then(a.0.cmp(&b.0)));
        targets.truncate(EVIDENCE_LIST_LEN);
        let mut sources: Vec<Vec<SourceFlows>> = vec![Vec::new(); targets.len()];
        let mut ports: Vec<FxHashSet<(u8, u16)>> = vec![FxHashSet::default(); targets.len()];
        if !targets.is_empty() {
            let slot_of = |ip: &IpAddr| targets.iter().position(|(t, _)| t == ip);
            for ((a, b), p) in &self.pairs {
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
            .map(|((ip, h), (mut sources, ports))| {
                let n_sources = sources.len() as u64;
                sources.sort_by(|a, b| b.packets.cmp(&a.packets).then(b.flows.cmp(&a.flows)).then(a.ip.cmp(&b.ip)));
                sources.truncate(5);
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
                    top_sources: sources,
                }
            })
            .collect();

        // Connections: repeated flows to one service.
        let mut conns: Vec<ConnectionEvidence> = self
            .probes
            .iter()
            .filter(|(_, p)| p.flows >= floor(3))
            .map(|((src, dst, proto, port), p)| ConnectionEvidence {
                src: *src,
                dst: *dst,
                proto: *proto,
                port: *port,
                attempts: u64::from(p.flows),
                completed: u64::from(p.completed),
            })
            .collect();
        conns.sort_by(|a, b| {
            b.attempts.cmp(&a.attempts).then((a.src, a.dst, a.proto, a.port).cmp(&(b.src, b.dst, b.proto, b.port)))
        });
        conns.truncate(EVIDENCE_LIST_LEN);
        ev.connections = conns;

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
