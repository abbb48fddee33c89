//! [`FlowIndex`]: flow keys to slab slots, with a counting filter in front for when the table
//! is crowded. Then a flood of spoofed SYNs makes every packet a new key that opens no flow (it
//! goes to the half-open attempts), and each would be a miss in the index — its control bytes,
//! and a bucket on a false fingerprint match, each a cache miss. The filter counts the keys of
//! the index per hash value (its high bits; four counters per flow the table may hold): a zero
//! says "not there" from one line, which the accumulator asks for packets ahead. It only spares
//! work — it says "maybe" for every key the index holds — so nothing it decides is counted.

use super::FlowKey;
use crate::prefetch;
use rustc_hash::{FxBuildHasher, FxHashMap};
use std::hash::BuildHasher;

/// Most counters of the filter (4 MiB; a table set to more than a million flows shares them).
const MAX_COUNTERS: usize = 1 << 22;

/// A counter at this value is stuck: it no longer counts down (it says "maybe" for good).
const STUCK: u8 = u8::MAX;

/// The index of a flow table: its keys and their slots.
#[derive(Debug)]
pub(super) struct FlowIndex {
    map: FxHashMap<FlowKey, u32>,
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
        FlowIndex { map: FxHashMap::default(), counts: Vec::new(), shift: 64 - size.trailing_zeros() }
    }

    pub(super) fn len(&self) -> usize {
        self.map.len()
    }

    /// The slot of `key`, if indexed.
    #[inline]
    pub(super) fn get(&self, key: &FlowKey) -> Option<u32> {
        self.map.get(key).copied()
    }

    /// [`FlowIndex::get`] through the filter: what a crowded table looks up (most keys of a
    /// flood are in no flow).
    #[inline]
    pub(super) fn get_filtered(&self, key: &FlowKey) -> Option<u32> {
        if self.counts.get(self.counter(key)).is_some_and(|c| *c == 0) {
            return None;
        }
        self.get(key)
    }

    /// Asks for the filter's line that [`FlowIndex::get_filtered`] of `key` will read.
    #[inline]
    pub(super) fn prefetch(&self, key: &FlowKey) {
        if let Some(c) = self.counts.get(self.counter(key)) {
            prefetch::read(c);
        }
    }

    pub(super) fn insert(&mut self, key: FlowKey, slot: u32) {
        if self.counts.is_empty() {
            self.counts = vec![0; 1 << (64 - self.shift)];
        }
        let at = self.counter(&key);
        if self.map.insert(key, slot).is_none()
            && let Some(c) = self.counts.get_mut(at)
        {
            *c = c.saturating_add(1);
        }
    }

    pub(super) fn remove(&mut self, key: &FlowKey) {
        let at = self.counter(key);
        if self.map.remove(key).is_some()
            && let Some(c) = self.counts.get_mut(at)
            && *c != STUCK
        {
            *c -= 1;
        }
    }

    fn counter(&self, key: &FlowKey) -> usize {
        (FxBuildHasher.hash_one(key) >> self.shift) as usize
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
                ix.insert(key(n), n);
            }
            for n in (0..20_000u32).step_by(3) {
                ix.remove(&key(n));
            }
            for n in 0..40_000u32 {
                let want = (n < 20_000 && n % 3 != 0).then_some(n);
                assert_eq!(ix.get_filtered(&key(n)), want, "max_flows {max_flows}, key {n}");
                assert_eq!(ix.get(&key(n)), want);
            }
            // Emptied, the filter says "not there" for every key but those of stuck counters.
            for n in 0..20_000u32 {
                ix.remove(&key(n));
            }
            assert_eq!(ix.len(), 0);
            let maybe = ix.counts.iter().filter(|c| **c != 0).count();
            assert!(maybe == 0 || max_flows == 1, "{maybe} counters left");
        }
    }
}
