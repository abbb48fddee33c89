//! [`HostAcc`]: the per-host accounting of one window, in capped tables, and the `Evidence`
//! made of it when the window closes. Tables are cleared, not freed, between windows (no
//! allocation on the per-packet path once warm); a key that would grow a full table is not
//! admitted and counted in `untracked`. [`ArpMemory`] is the one piece that outlives a window:
//! which MAC claimed an address first. The evidence lists are made in `finish.rs`.

mod arp;
mod capped;
mod finish;
mod hll;
mod merge;

pub(crate) use arp::ArpMemory;
pub(crate) use hll::Hll;

use capped::Capped;

use crate::evidence::MacAddr;
use rustc_hash::{FxHashMap, FxHashSet};
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr};

/// The most entries a hash table of `slots` slots holds (7/8 of them): one more would double
/// it. The large per-window tables stop there, not at a power of two, so that a flood that
/// fills them costs half the memory.
pub(crate) const fn held_in(slots: usize) -> usize {
    slots / 8 * 7
}

/// Most distinct addresses accounted per window (sources and destinations together): 229,376.
pub const MAX_TRACKED_HOSTS: usize = held_in(1 << 18);
/// Most distinct (initiator, responder, protocol, port) of new flows per window (229,376).
pub const MAX_TRACKED_PROBES: usize = held_in(1 << 18);
/// Most distinct (initiator, responder) of new flows per window (229,376).
pub const MAX_TRACKED_PAIRS: usize = held_in(1 << 18);
/// Most distinct TLS server names counted exactly per window (57,344); beyond, estimated.
pub const MAX_TRACKED_SNI: usize = held_in(1 << 16);
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
    if map.len() < cap {
        return Some(map.entry(key).or_default());
    }
    // Full: looked up without `entry`, which makes room for a new key before it is inserted
    // (a full table would double for nothing).
    let found = map.get_mut(&key);
    if found.is_none() {
        *untracked += 1;
    }
    found
}

/// Adds `key` to `set` unless the set is full and the key new (then counted). A full set is
/// only looked up: an insert, even of a key it holds, would first make room.
#[inline]
fn admit<K: Hash + Eq>(set: &mut FxHashSet<K>, key: K, cap: usize, untracked: &mut u64) {
    if set.len() < cap {
        set.insert(key);
    } else if !set.contains(&key) {
        *untracked += 1;
    }
}

#[inline]
fn bump(c: &mut u32) {
    *c = c.saturating_add(1);
}

/// The per-host tables of one window.
#[derive(Debug, Default)]
pub(crate) struct HostAcc {
    pub(crate) hosts: Capped<IpAddr, HostCounters>,
    probes: Capped<(IpAddr, IpAddr, u8, u16), ProbeCounts>,
    pub(crate) pairs: Capped<(IpAddr, IpAddr), PairCounts>,
    dns: FxHashMap<(IpAddr, IpAddr, u64), DnsCounts>,
    dns_names: FxHashSet<(IpAddr, u64, u64)>,
    arp: FxHashMap<(Ipv4Addr, MacAddr), ArpCounts>,
    arp_targets: FxHashSet<(Ipv4Addr, Ipv4Addr)>,
    transfers: FxHashMap<(IpAddr, IpAddr), (u64, u64)>,
    /// TCP handshakes completed, by (initiator, responder, port): the `completed` of the
    /// connections evidence, read for the probes the window has. Kept apart from the probes so
    /// that a completion counts whether the key's first SYN in the window came before or after
    /// it — and so the same in whichever shard (of the key's flows) it happened.
    completions: FxHashMap<(IpAddr, IpAddr, u16), u32>,
    pub(crate) untracked: u64,
    /// Distinct sources and destinations the full host table did not admit, estimated.
    pub(crate) untracked_src: Hll,
    pub(crate) untracked_dst: Hll,
    /// As one of 2^`shift` shards: the large tables (hosts, pairs, probes) hold 2^`shift`
    /// times fewer keys, so that the shards together hold what one accumulator would.
    pub(crate) shift: u32,
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
        self.completions.clear();
        self.untracked = 0;
        self.untracked_src.clear();
        self.untracked_dst.clear();
    }

    /// Frees the large tables when they hold more than a shard's share (a shard's
    /// accumulator that other shards' were merged into), so that every shard keeps its share.
    pub(crate) fn fit(&mut self) {
        if self.hosts.above(MAX_TRACKED_HOSTS >> self.shift) {
            self.hosts = Capped::default();
        }
        if self.pairs.above(MAX_TRACKED_PAIRS >> self.shift) {
            self.pairs = Capped::default();
        }
        if self.probes.above(MAX_TRACKED_PROBES >> self.shift) {
            self.probes = Capped::default();
        }
        if self.completions.capacity() > MAX_TRACKED_PROBES >> self.shift {
            self.completions = FxHashMap::default();
        }
    }

    /// Whether one of the large tables is full (its lookups then go through its filter).
    #[inline]
    pub(crate) fn full(&self) -> bool {
        self.hosts.filtered() || self.pairs.filtered() || self.probes.filtered()
    }

    /// Asks for the filter lines the lookups of a packet from `src` to `dst` (protocol
    /// `proto`, destination port `port`) will read in the full tables: its hosts, its pair and
    /// the probe it would open.
    #[inline]
    pub(crate) fn prefetch(&self, src: IpAddr, dst: IpAddr, proto: u8, port: u16) {
        self.hosts.prefetch(&src);
        self.hosts.prefetch(&dst);
        self.pairs.prefetch(&(src, dst));
        self.probes.prefetch(&(src, dst, proto, port));
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
        let tracked_src = self.hosts.slot(src, MAX_TRACKED_HOSTS >> self.shift, &mut self.untracked);
        if tracked_src.is_none() {
            self.untracked_src.add(src);
        }
        if let Some(h) = tracked_src {
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
        let tracked_dst = self.hosts.slot(dst, MAX_TRACKED_HOSTS >> self.shift, &mut self.untracked);
        if tracked_dst.is_none() {
            self.untracked_dst.add(dst);
        }
        if let Some(h) = tracked_dst {
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
            && let Some(p) = self.pairs.slot((src, dst), MAX_TRACKED_PAIRS >> self.shift, &mut self.untracked)
        {
            bump(&mut p.packets);
        }
        if (flood || opened.is_some())
            && let Some(p) =
                self.pairs.slot((initiator, responder), MAX_TRACKED_PAIRS >> self.shift, &mut self.untracked)
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
            && let Some(p) = self.probes.slot(
                (initiator, responder, o.proto, o.port),
                MAX_TRACKED_PROBES >> self.shift,
                &mut self.untracked,
            )
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
        // Not counted in `untracked` when full: a completion is not a key of the evidence.
        if let Some(c) =
            slot(&mut self.completions, (initiator, responder, port), MAX_TRACKED_PROBES >> self.shift, &mut 0)
        {
            bump(c);
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
            admit(&mut self.dns_names, (client, domain, hash), MAX_TRACKED_DNS, &mut self.untracked);
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
            admit(&mut self.arp_targets, (sender_ip, target), MAX_TRACKED_ARP, &mut self.untracked);
        }
    }
}
