//! [`FlowIndex`]: flow keys to slab slots, with a counting filter in front for when the table
//! is crowded. Then a flood of spoofed SYNs makes every packet a new key that opens no flow (it
//! goes to the half-open attempts), and each would be a miss in the index — its control bytes,
//! and a bucket on a false fingerprint match, each a cache miss. The filter is a counting Bloom
//! filter blocked by cache line: four one-byte counters per flow the table may hold, each key
//! counted at two of them in the same 64-byte line (the line from the hash's high bits, the two
//! counters from the twelve below). A zero at either says "not there" from one line, which the
//! accumulator asks for packets ahead: a table half full (eight counters a key) lets about one
//! new key in twenty-five through, where one counter a key let one in nine through. It only
//! spares work — it says "maybe" for every key the index holds — so nothing it decides is
//! counted.

use super::{FlowKey, hash_key};
use crate::{blocked, prefetch};
use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

/// Most counters of the filter (4 MiB; a table set to more than a million flows shares them).
const MAX_COUNTERS: usize = 1 << 22;

/// Counters in a line of the filter (one cache line: a key's two counters share it).
const LINE: usize = 64;

/// A line of the filter's counters, aligned on a cache line.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
struct Line([u8; LINE]);

/// A counter at this value is stuck: it no longer counts down (it says "maybe" for good).
const STUCK: u8 = u8::MAX;

/// The index of a flow table: its keys and their slots. Every call takes the key's hash
/// ([`hash_key`]), made once per packet by the decoding workers
/// ([`Keyed`](super::Keyed)): a table keyed by hash (hashbrown's `HashTable`), not a map that
/// would hash the key again.
#[derive(Debug)]
pub(super) struct FlowIndex {
    map: HashTable<(FlowKey, u32)>,
    /// Per counter, how many keys of `map` count at it (made with the first key): two counters
    /// a key ([`FlowIndex::counters`]).
    counts: Vec<Line>,
    /// 64 less the log2 of the filter's lines of 64 counters (four counters per flow the table
    /// may hold, a power of two): a hash shifted by it is a line's number.
    shift: u32,
}

impl FlowIndex {
    /// An index for a table of at most `max_flows` flows.
    pub(super) fn new(max_flows: usize) -> FlowIndex {
        let size = max_flows.saturating_mul(4).next_power_of_two().clamp(LINE, MAX_COUNTERS);
        FlowIndex { map: HashTable::new(), counts: Vec::new(), shift: 64 - (size / LINE).trailing_zeros() }
    }

    pub(super) fn len(&self) -> usize {
        self.map.len()
    }

    /// The slot of `key` (whose hash is `hash`), if indexed.
    #[inline]
    pub(super) fn get(&self, key: &FlowKey, hash: u64) -> Option<u32> {
        self.map.find(hash, |(k, _)| k == key).map(|(_, slot)| *slot)
    }

    /// [`FlowIndex::get`] through the filter: what a crowded table looks up (most keys of a
    /// flood are in no flow).
    #[inline]
    pub(super) fn get_filtered(&self, key: &FlowKey, hash: u64) -> Option<u32> {
        if self.may_hold(hash) { self.get(key, hash) } else { None }
    }

    /// Whether the filter lets a key with `hash` through (true for every key indexed).
    #[inline]
    fn may_hold(&self, hash: u64) -> bool {
        let (line, a, b) = self.counters(hash);
        self.counts.get(line).is_none_or(|l| l.0.get(a).is_some_and(|c| *c != 0) && l.0.get(b).is_some_and(|c| *c != 0))
    }

    /// Asks for the filter's line that [`FlowIndex::get_filtered`] of a key with `hash` will read.
    #[inline]
    pub(super) fn prefetch(&self, hash: u64) {
        if let Some(l) = self.counts.get(self.counters(hash).0) {
            prefetch::read(l);
        }
    }

    /// Indexes `key` at `slot` (one probe whether or not it was indexed).
    pub(super) fn insert(&mut self, key: FlowKey, hash: u64, slot: u32) {
        if self.counts.is_empty() {
            self.counts = vec![Line([0; LINE]); 1 << (64 - self.shift)];
        }
        match self.map.entry(hash, |(k, _)| *k == key, |(k, _)| hash_key(k)) {
            Entry::Occupied(mut e) => e.get_mut().1 = slot,
            Entry::Vacant(e) => {
                e.insert((key, slot));
                let (line, a, b) = self.counters(hash);
                if let Some(l) = self.counts.get_mut(line) {
                    for at in [a, b] {
                        if let Some(c) = l.0.get_mut(at) {
                            *c = c.saturating_add(1);
                        }
                    }
                }
            }
        }
    }

    /// Forgets every key (the filter's memory kept).
    pub(super) fn clear(&mut self) {
        self.map.clear();
        self.counts.fill(Line([0; LINE]));
    }

    pub(super) fn remove(&mut self, key: &FlowKey, hash: u64) {
        if let Ok(e) = self.map.find_entry(hash, |(k, _)| k == key) {
            e.remove();
            let (line, a, b) = self.counters(hash);
            if let Some(l) = self.counts.get_mut(line) {
                for at in [a, b] {
                    if let Some(c) = l.0.get_mut(at)
                        && *c != STUCK
                    {
                        *c -= 1;
                    }
                }
            }
        }
    }

    /// The line of a key with `hash` and its two counters there ([`blocked::places`]).
    #[inline]
    fn counters(&self, hash: u64) -> (usize, usize, usize) {
        blocked::places(hash, self.shift)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    fn key(n: u32) -> FlowKey {
        let a = IpAddr::V4(Ipv4Addr::from(n));
        let b = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        FlowKey { vlan: 0, proto: 6, lo: (a, (n % 50_000) as u16), hi: (b, 443), tunnel: 0 }
    }

    /// Through the filter, every indexed key is found and every other is not, as keys come and
    /// go — including counters that reached their top (a tiny table: 64 counters for
    /// thousands of keys) and stay "maybe".
    #[test]
    fn the_filter_never_hides_an_indexed_key() {
        for max_flows in [1usize, 10_000] {
            let mut ix = FlowIndex::new(max_flows);
            for n in 0..20_000u32 {
                ix.insert(key(n), hash_key(&key(n)), n);
            }
            for n in (0..20_000u32).step_by(3) {
                ix.remove(&key(n), hash_key(&key(n)));
            }
            for n in 0..40_000u32 {
                let want = (n < 20_000 && n % 3 != 0).then_some(n);
                let h = hash_key(&key(n));
                assert_eq!(ix.get_filtered(&key(n), h), want, "max_flows {max_flows}, key {n}");
                assert_eq!(ix.get(&key(n), h), want);
            }
            // Emptied, the filter says "not there" for every key but those of stuck counters.
            for n in 0..20_000u32 {
                ix.remove(&key(n), hash_key(&key(n)));
            }
            assert_eq!(ix.len(), 0);
            let maybe = ix.counts.iter().flat_map(|l| l.0).filter(|c| *c != 0).count();
            assert!(maybe == 0 || max_flows == 1, "{maybe} counters left");
        }
    }

    /// Half full, the filter lets about one new key in thirty through (two counters a key in
    /// one line, ten counters a key here; one counter a key lets ~9 % of random keys through).
    #[test]
    fn the_filter_stops_most_new_keys_of_a_crowded_table() {
        let max_flows = 100_000;
        let mut ix = FlowIndex::new(max_flows);
        // A spoofed flood's keys: random source addresses and ports to one server.
        let spoofed = |n: u32| {
            let r = crate::test_keys::splitmix(u64::from(n));
            let a = IpAddr::V4(Ipv4Addr::from((r >> 32) as u32));
            let b = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
            FlowKey { vlan: 0, proto: 6, lo: (a, r as u16), hi: (b, 443), tunnel: 0 }
        };
        for n in 0..(max_flows / 2) as u32 {
            ix.insert(spoofed(n), hash_key(&spoofed(n)), n);
        }
        let tries = 200_000u32;
        let through = (0..tries).filter(|n| ix.may_hold(hash_key(&spoofed(1_000_000 + n)))).count();
        let rate = through as f64 / f64::from(tries);
        assert!(rate < 0.05, "{through} of {tries} new keys pass ({rate:.3})");
        assert!(rate > 0.0, "a filter this full lets some through");
    }
}
