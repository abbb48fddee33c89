//! [`Embryos`]: the half-open TCP attempts a crowded flow table holds apart (packet.rs,
//! "admission"): a fixed array of sets of [`WAYS`] slots indexed by the key's hash, the newest
//! attempt replacing the oldest of its set.

use super::{Flow, FlowKey};
use crate::prefetch;

/// Slots of the array of half-open attempts (a power of two): 65,536 × ~180 bytes, in sets
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
    slots: Vec<Flow>,
    /// Per slot: 0 when empty, else the high half of the key's hash with its low bit set.
    tags: Vec<[u32; WAYS]>,
    /// Per set: the way the next attempt replaces when the set is full.
    next: Vec<u8>,
    /// Per slot: the packets of the attempt held (saturating).
    packets: Vec<u32>,
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
            let Some(f) = self.slots.get(i) else { continue };
            if f.key != *key {
                continue;
            }
            if ts.saturating_sub(f.last_ts) >= idle_ns || ts.saturating_sub(f.first_ts) >= active_ns {
                return None;
            }
            *t = 0;
            let f = *f;
            if let Some(p) = self.packets.get_mut(i) {
                *p = 0;
            }
            self.held = self.held.saturating_sub(1);
            return Some(f);
        }
        None
    }

    /// Holds `f` (the hash of whose key is `hash`) in its set: in an empty slot, else in place
    /// of the oldest attempt there (which is forgotten).
    pub(super) fn put(&mut self, f: Flow, hash: u64) {
        if self.slots.is_empty() {
            let sets = self.sets();
            self.slots = vec![f; sets * WAYS];
            self.tags = vec![[0; WAYS]; sets];
            self.next = vec![0; sets];
            self.packets = vec![0; sets * WAYS];
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
                self.forgotten_packets += self.packets.get(set * WAYS + w).map_or(0, |p| u64::from(*p));
                w
            }
        };
        let i = set * WAYS + way;
        let packets = u32::try_from(f.packets.iter().sum::<u64>()).unwrap_or(u32::MAX);
        if let (Some(t), Some(s), Some(p)) = (tags.get_mut(way), self.slots.get_mut(i), self.packets.get_mut(i)) {
            (*t, *s, *p) = (tag, f, packets);
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
        if let Some(f) = self.slots.get(i) {
            // A slot spans three or four lines: one field in each part of it.
            prefetch::write(&f.key);
            prefetch::write(&f.packets);
            prefetch::write(&f.tunnel);
            prefetch::write(&f.next);
        }
        if let Some(p) = self.packets.get(i) {
            prefetch::write(p);
        }
    }

    /// Attempts held now.
    pub(crate) fn held(&self) -> u64 {
        self.held
    }

    /// Packets of the attempts held now (a pass over the counts).
    pub(super) fn held_packets(&self) -> u64 {
        self.packets.iter().map(|p| u64::from(*p)).sum()
    }

    /// Forgets every attempt held (the end of the input).
    pub(crate) fn clear(&mut self) {
        self.forgotten += self.held;
        self.forgotten_packets += self.held_packets();
        *self = Embryos { forgotten: self.forgotten, forgotten_packets: self.forgotten_packets, ..Embryos::default() };
    }
}
