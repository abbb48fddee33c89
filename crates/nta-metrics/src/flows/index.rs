//! [`FlowIndex`]: flow keys to slab slots, with a counting filter in front for when the table
//! is crowded. Then a flood of spoofed SYNs makes every packet a new key that opens no flow (it
//! goes to the half-open attempts), and each would be a miss in the index — its control bytes,
//! and a bucket on a false fingerprint match, each a cache miss. The filter counts the keys of
//! the index per hash value (its high bits; four counters per flow the table may hold): a zero
//! says "not there" from one line, which the accumulator asks for packets ahead. It only spares
//! work — it says "maybe" for every key the index holds — so nothing it decides is counted.

use super::{FlowKey, hash_key};
use crate::prefetch;
use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

/// Most counters of the filter (4 MiB; a table set to more than a million flows shares them).
const MAX_COUNTERS: usize = 1 << 22;

/// A counter at this value is stuck: it no longer counts down (it says "maybe" for good).
const STUCK: u8 = u8::MAX;

/// The index of a flow table: its keys and their slots. Every call takes the key's hash
/// ([`hash_key`]), made once per packet by the decoding workers
/// ([`Keyed`](super::Keyed)): a table keyed by hash (hashbrown's `HashTable`), not a map that
/// would hash the key again.
#[derive(Debug)]
pub(super) struct FlowIndex {
    map: HashTable<(FlowKey, u32)>,
    /// Per hash value, how many keys of `map` have it (made with the first key).
    counts: Vec<u8>,
    /// 64 less the log2 of the counters (four per flow the table may hold, a power of two): a
    /// hash shifted by it is a counter's number.
    shift: u32,
}

impl FlowIndex {
    /// An index for a table of at most `max_flows` flows.
    pub(super) fn new(max_flows: usize) -> FlowIndex {
        let size = max_flows.saturating_mul(4).next_power_of_two().clamp(64, MAX_COUNTERS);
        FlowIndex { map: HashTable::new(), counts: Vec::new(), shift: 64 - size.trailing_zeros() }
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
        if self.counts.get(self.counter(hash)).is_some_and(|c| *c == 0) {
            return None;
        }
        self.get(key, hash)
    }

    /// Asks for the filter's line that [`FlowIndex::get_filtered`] of a key with `hash` will read.
    #[inline]
    pub(super) fn prefetch(&self, hash: u64) {
        if let Some(c) = self.counts.get(self.counter(hash)) {
            prefetch::read(c);
        }
    }

    /// Indexes `key` at `slot` (one probe whether or not it was indexed).
    pub(super) fn insert(&mut self, key: FlowKey, hash: u64, slot: u32) {
        if self.counts.is_empty() {
            self.counts = vec![0; 1 << (64 - self.shift)];
        }
        let at = self.counter(hash);
        match self.map.entry(hash, |(k, _)| *k == key, |(k, _)| hash_key(k)) {
            Entry::Occupied(mut e) => e.get_mut().1 = slot,
            Entry::Vacant(e) => {
                e.insert((key, slot));
                if let Some(c) = self.counts.get_mut(at) {
                    *c = c.saturating_add(1);
                }
            }
        }
    }

    pub(super) fn remove(&mut self, key: &FlowKey, hash: u64) {
        let at = self.counter(hash);
        if let Ok(e) = self.map.find_entry(hash, |(k, _)| k == key) {
            e.remove();
            if let Some(c) = self.counts.get_mut(at)
                && *c != STUCK
            {
                *c -= 1;
            }
        }
    }

    #[inline]
    fn counter(&self, hash: u64) -> usize {
        (hash >> self.shift) as usize
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
            let maybe = ix.counts.iter().filter(|c| **c != 0).count();
            assert!(maybe == 0 || max_flows == 1, "{maybe} counters left");
        }
    }
}
