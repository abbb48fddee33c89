//! [`Embryos`]: the half-open TCP attempts a crowded flow table holds apart (packet.rs,
//! "admission"): a fixed array of sets of [`WAYS`] slots indexed by the key's hash, the newest
//! attempt replacing the oldest of its set.

use super::{Flow, FlowKey, NIL};
use crate::prefetch;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A half-open attempt as a set holds it: what the [`Flow`] of a TCP handshake holds, without
/// what such a flow never has (a tunnel record, ICMP type and code, an application hint, a
/// place in the activity list), its key's addresses as 128-bit numbers — 96 bytes on a 32-byte
/// boundary, so a slot spans two cache lines, never three (a `Flow` takes 160).
#[derive(Clone, Copy, Debug)]
#[repr(C, align(32))] // fields in this order: the key's line first, the counters' after
struct Attempt {
    /// The key's lower and higher address (an IPv4 address in the low 32 bits; `bits` tells
    /// which are IPv6).
    lo: u128,
    hi: u128,
    ports: [u16; 2],
    vlan: u16,
    proto: u8,
    /// `lo_initiates`, `syn_pending`, `answered`, `established`, `fin_lo`, `fin_hi`, and
    /// whether `lo` and `hi` are IPv6.
    bits: u8,
    first_ts: i64,
    last_ts: i64,
    flags: [u16; 2],
    tunnel: u32,
    packets: [u64; 2],
    bytes: [u64; 2],
}

/// An address as a 128-bit number (IPv4 in the low 32 bits) and whether it is IPv6.
#[inline]
fn pack(a: IpAddr) -> (u128, bool) {
    match a {
        IpAddr::V4(a) => (u128::from(a.to_bits()), false),
        IpAddr::V6(a) => (a.to_bits(), true),
    }
}

/// The address [`pack`] made.
#[inline]
fn unpack(b: u128, v6: bool) -> IpAddr {
    if v6 { IpAddr::V6(Ipv6Addr::from_bits(b)) } else { IpAddr::V4(Ipv4Addr::from_bits(b as u32)) }
}

impl Attempt {
    const LO_INITIATES: u8 = 1;
    const ANSWERED: u8 = 2;
    const ESTABLISHED: u8 = 4;
    const FIN_LO: u8 = 8;
    const FIN_HI: u8 = 16;
    const SYN_PENDING: u8 = 32;
    const LO_V6: u8 = 64;
    const HI_V6: u8 = 128;

    /// The attempt of flow `f` (a TCP flow not in the table: no tunnel record, no ICMP, no
    /// hint, no neighbours — what [`Attempt::flow`] gives back).
    #[inline]
    fn of(f: &Flow) -> Attempt {
        let bit = |b: bool, v: u8| if b { v } else { 0 };
        let ((lo, lo_v6), (hi, hi_v6)) = (pack(f.key.lo.0), pack(f.key.hi.0));
        Attempt {
            lo,
            hi,
            ports: [f.key.lo.1, f.key.hi.1],
            vlan: f.key.vlan,
            proto: f.key.proto,
            bits: bit(f.lo_initiates, Self::LO_INITIATES)
                | bit(f.answered, Self::ANSWERED)
                | bit(f.established, Self::ESTABLISHED)
                | bit(f.fin_lo, Self::FIN_LO)
                | bit(f.fin_hi, Self::FIN_HI)
                | bit(f.syn_pending, Self::SYN_PENDING)
                | bit(lo_v6, Self::LO_V6)
                | bit(hi_v6, Self::HI_V6),
            first_ts: f.first_ts,
            last_ts: f.last_ts,
            flags: f.flags,
            tunnel: f.key.tunnel,
            packets: f.packets,
            bytes: f.bytes,
        }
    }

    /// Packets of the attempt, both ways.
    #[inline]
    fn packet_count(&self) -> u64 {
        let [lo, hi] = self.packets;
        lo.saturating_add(hi)
    }

    /// The flow key of this attempt.
    #[inline]
    fn key(&self) -> FlowKey {
        let has = |v: u8| self.bits & v != 0;
        let [lo_port, hi_port] = self.ports;
        FlowKey {
            vlan: self.vlan,
            proto: self.proto,
            lo: (unpack(self.lo, has(Self::LO_V6)), lo_port),
            hi: (unpack(self.hi, has(Self::HI_V6)), hi_port),
            tunnel: self.tunnel,
        }
    }

    /// The flow this attempt was made of.
    #[inline]
    fn flow(&self) -> Flow {
        let has = |v: u8| self.bits & v != 0;
        Flow {
            key: self.key(),
            first_ts: self.first_ts,
            last_ts: self.last_ts,
            lo_initiates: has(Self::LO_INITIATES),
            syn_pending: has(Self::SYN_PENDING),
            answered: has(Self::ANSWERED),
            established: has(Self::ESTABLISHED),
            fin_lo: has(Self::FIN_LO),
            fin_hi: has(Self::FIN_HI),
            packets: self.packets,
            bytes: self.bytes,
            flags: self.flags,
            icmp: (0, 0),
            tunnel: None,
            hinted: false,
            prev: NIL,
            next: NIL,
        }
    }
}

/// Slots of the array of half-open attempts (a power of two): 65,536 × 96 bytes, in sets
/// of [`WAYS`].
pub(crate) const EMBRYO_SLOTS: usize = 1 << 16;
/// Slots per set: an attempt keeps its place until [`WAYS`] newer ones have come to its set
/// (first in, first out), not until the first one that hashes to its slot — under 4 M SYNs a
/// second, a handshake answered within a millisecond keeps its attempt all but surely (a lone
/// slot would lose one in sixteen).
const WAYS: usize = 4;
const SETS: usize = EMBRYO_SLOTS / WAYS;

/// Half-open TCP attempts held apart from the table (module docs). A lookup reads the set's
/// fingerprints first (16 bytes), the slots only on a match.
#[derive(Debug, Default)]
pub(crate) struct Embryos {
    slots: Vec<Attempt>,
    /// Per slot: 0 when empty, else the high half of the key's hash with its low bit set.
    tags: Vec<[u32; WAYS]>,
    /// Per set: the way the next attempt replaces when the set is full.
    next: Vec<u8>,
    /// Slots in use.
    held: u64,
    /// Attempts replaced (or left at the end) before they got a flow.
    pub(crate) forgotten: u64,
    /// Packets of the attempts forgotten.
    pub(crate) forgotten_packets: u64,
    /// As one of 2^`shift` shards: 2^`shift` times fewer sets.
    pub(crate) shift: u32,
}

impl Embryos {
    /// The set and fingerprint of a key with hash `h` ([`super::hash_key`]).
    #[inline]
    fn set_of(&self, h: u64) -> (usize, u32) {
        ((h as usize) & (self.sets() - 1), ((h >> 32) as u32) | 1)
    }

    /// How many sets: [`EMBRYO_SLOTS`] / 4, divided among the shards.
    fn sets(&self) -> usize {
        (SETS >> self.shift).max(1)
    }

    /// The attempt of `key` (whose hash is `hash`), taken out, if one is held and still alive
    /// at `ts`.
    pub(super) fn take(&mut self, key: &FlowKey, hash: u64, ts: i64, idle_ns: i64, active_ns: i64) -> Option<Flow> {
        let (set, tag) = self.set_of(hash);
        let tags = self.tags.get_mut(set)?;
        for (way, t) in tags.iter_mut().enumerate() {
            if *t != tag {
                continue;
            }
            let i = set * WAYS + way;
            let Some(a) = self.slots.get(i) else { continue };
            if a.key() != *key {
                continue;
            }
            if ts.saturating_sub(a.last_ts) >= idle_ns || ts.saturating_sub(a.first_ts) >= active_ns {
                return None;
            }
            *t = 0;
            let f = a.flow();
            self.held = self.held.saturating_sub(1);
            return Some(f);
        }
        None
    }

    /// Holds `f` (the hash of whose key is `hash`; a TCP flow not in the table) in its set: in
    /// an empty slot, else in place of the oldest attempt there (which is forgotten).
    pub(super) fn put(&mut self, f: &Flow, hash: u64) {
        let a = Attempt::of(f);
        if self.slots.is_empty() {
            let sets = self.sets();
            self.slots = vec![a; sets * WAYS];
            self.tags = vec![[0; WAYS]; sets];
            self.next = vec![0; sets];
        }
        let (set, tag) = self.set_of(hash);
        let (Some(tags), Some(next)) = (self.tags.get_mut(set), self.next.get_mut(set)) else { return };
        let way = match tags.iter().position(|t| *t == 0) {
            Some(w) => {
                self.held += 1;
                w
            }
            None => {
                let w = usize::from(*next) % WAYS;
                *next = ((w + 1) % WAYS) as u8;
                self.forgotten += 1;
                // The attempt replaced: its slot's lines are about to be written (and were
                // asked for), so its count costs no other line.
                self.forgotten_packets += self.slots.get(set * WAYS + w).map_or(0, Attempt::packet_count);
                w
            }
        };
        let i = set * WAYS + way;
        if let (Some(t), Some(s)) = (tags.get_mut(way), self.slots.get_mut(i)) {
            (*t, *s) = (tag, a);
        }
    }

    /// Asks for the lines an attempt of a key with `hash` will touch: its set's fingerprints
    /// and the slot the next attempt there takes (under a flood the sets are full: the oldest
    /// way).
    #[inline]
    pub(super) fn prefetch(&self, hash: u64) {
        let (set, _) = self.set_of(hash);
        let Some(tags) = self.tags.get(set) else { return };
        prefetch::read(tags);
        let way = self.next.get(set).map_or(0, |n| usize::from(*n) % WAYS);
        let i = set * WAYS + way;
        if let Some(a) = self.slots.get(i) {
            // A slot spans two lines: its first and last bytes.
            prefetch::write(&a.lo);
            prefetch::write(&a.bytes);
        }
    }

    /// Attempts held now.
    pub(crate) fn held(&self) -> u64 {
        self.held
    }

    /// Packets of the attempts held now (a pass over the slots).
    pub(super) fn held_packets(&self) -> u64 {
        let held = self.tags.iter().flatten().map(|t| *t != 0);
        held.zip(&self.slots).filter(|(h, _)| *h).map(|(_, a)| a.packet_count()).fold(0, u64::saturating_add)
    }

    /// Forgets every attempt held (the end of the input).
    pub(crate) fn clear(&mut self) {
        self.forgotten += self.held;
        self.forgotten_packets += self.held_packets();
        *self = Embryos { forgotten: self.forgotten, forgotten_packets: self.forgotten_packets, ..Embryos::default() };
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Every flow an attempt may be made of comes back field for field, whatever its flags
    /// and its key's addresses (IPv4, IPv6, either family at either end, a tunnel's number).
    #[test]
    fn an_attempt_gives_back_its_flow() {
        assert_eq!(std::mem::size_of::<Attempt>(), 96);
        let v4 = |n: u8| IpAddr::V4(Ipv4Addr::new(192, 0, 2, n));
        let keys = [
            FlowKey { vlan: 0, proto: 6, lo: (v4(1), 1025), hi: (v4(2), 80), tunnel: 0 },
            FlowKey {
                vlan: 4094,
                proto: 6,
                lo: (IpAddr::V6(Ipv6Addr::LOCALHOST), 0),
                hi: (IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 7)), 65_535),
                tunnel: 0,
            },
            FlowKey {
                vlan: 1,
                proto: 17,
                lo: (IpAddr::V4(Ipv4Addr::BROADCAST), 7),
                hi: (IpAddr::V6(Ipv6Addr::new(0xffff, 1, 2, 3, 4, 5, 6, 0xffff)), 8),
                tunnel: u32::MAX,
            },
            FlowKey {
                vlan: 2,
                proto: 6,
                lo: (IpAddr::V6(Ipv6Addr::UNSPECIFIED), 1),
                hi: (IpAddr::V4(Ipv4Addr::UNSPECIFIED), 2),
                tunnel: 3,
            },
        ];
        for key in keys {
            for bits in 0u8..64 {
                let b = |i: u8| bits & (1 << i) != 0;
                let f = Flow {
                    key,
                    first_ts: -5,
                    last_ts: i64::MAX,
                    lo_initiates: b(0),
                    syn_pending: b(5),
                    answered: b(1),
                    established: b(2),
                    fin_lo: b(3),
                    fin_hi: b(4),
                    packets: [u64::MAX, u64::from(bits)],
                    bytes: [7, u64::MAX - 1],
                    flags: [0x1ff, u16::from(bits)],
                    icmp: (0, 0),
                    tunnel: None,
                    hinted: false,
                    prev: NIL,
                    next: NIL,
                };
                assert_eq!(format!("{:?}", Attempt::of(&f).flow()), format!("{f:?}"), "bits {bits:#b}");
            }
        }
    }
}
