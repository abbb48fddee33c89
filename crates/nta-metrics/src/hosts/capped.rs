//! [`Capped`]: a per-window hash table that stops growing at a bound, with a filter in front of
//! it once full. Under a flood of spoofed addresses the table fills within the window's first
//! packets and every later packet is a new key: a lookup that misses in a full hash table
//! probes its control bytes and, on a false fingerprint match, a bucket — each a cache miss.
//! Once full, the table no longer changes, so a Bloom filter of its keys' hashes answers "not
//! there" for most new keys from one word, which the accumulator asks for packets ahead
//! ([`Capped::prefetch`]): eight bits per slot (nine to ten a key), two bits a key, both in the
//! same 64-bit word — a blocked Bloom filter: about one false "maybe" in thirty, where one bit
//! a key gave one in ten, each a lookup that misses the cache. The filter only spares work:
//! it says "maybe" for every key the table holds, so what is counted is what the table alone
//! would count.

use crate::{blocked, prefetch};
use rustc_hash::{FxBuildHasher, FxHashMap};
use std::hash::{BuildHasher, Hash};
use std::ops::Deref;

/// A hash table that holds at most a bound of keys (given on each insert), read as the map.
#[derive(Debug)]
pub(crate) struct Capped<K, V> {
    map: FxHashMap<K, V>,
    /// Two bits per key of the map ([`Capped::bits`]), set once it is full.
    filter: Vec<u64>,
    /// `filter` holds every key of `map`: built when the map was found full, dropped when
    /// it is cleared.
    filtered: bool,
    /// 64 less the log2 of the filter's words: a hash shifted by it is a word's number.
    shift: u32,
}

impl<K, V> Default for Capped<K, V> {
    fn default() -> Capped<K, V> {
        Capped { map: FxHashMap::default(), filter: Vec::new(), filtered: false, shift: 64 }
    }
}

impl<K, V> Deref for Capped<K, V> {
    type Target = FxHashMap<K, V>;

    fn deref(&self) -> &FxHashMap<K, V> {
        &self.map
    }
}

impl<K: Hash + Eq, V: Default> Capped<K, V> {
    /// The entry of `key`, made if the table holds fewer than `cap` keys; `None` (counted in
    /// `untracked`) when the table is full and the key new.
    #[inline]
    pub(crate) fn slot(&mut self, key: K, cap: usize, untracked: &mut u64) -> Option<&mut V> {
        if self.map.len() < cap {
            return Some(self.map.entry(key).or_default());
        }
        // Full: looked up without `entry`, which makes room for a new key before it is
        // inserted (a full table would double for nothing).
        if !self.filtered {
            self.build(cap);
        }
        let found = if self.may_hold(&key) { self.map.get_mut(&key) } else { None };
        if found.is_none() {
            *untracked += 1;
        }
        found
    }

    /// A value to change, if `key` is in the table (never inserted).
    #[inline]
    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.map.get_mut(key)
    }

    /// Asks for the line of the filter that a lookup of `key` will read (once the table is
    /// full; before, lookups go to the table, which this cannot prefetch).
    #[inline]
    pub(crate) fn prefetch(&self, key: &K) {
        if self.filtered
            && let Some(word) = self.filter.get(self.bits(key).0)
        {
            prefetch::read(word);
        }
    }

    /// Whether the table is full and its filter built.
    #[inline]
    pub(crate) fn filtered(&self) -> bool {
        self.filtered
    }

    /// Empties the table (its memory kept) and drops the filter.
    pub(crate) fn clear(&mut self) {
        self.map.clear();
        self.filtered = false;
    }

    /// Whether the table holds more room than `cap` keys need.
    pub(crate) fn above(&self, cap: usize) -> bool {
        self.map.capacity() > cap
    }

    /// The filter's word for `key` and its two bits in it ([`blocked::places`]).
    #[inline]
    fn bits(&self, key: &K) -> (usize, u64) {
        word_bits(FxBuildHasher.hash_one(key), self.shift)
    }

    fn may_hold(&self, key: &K) -> bool {
        let (w, bits) = self.bits(key);
        self.filter.get(w).is_some_and(|word| word & bits == bits)
    }

    /// Sets the filter's bits for every key: eight bits per slot of a table of `cap` keys.
    #[cold]
    fn build(&mut self, cap: usize) {
        let words = (cap.saturating_mul(8) / 64).next_power_of_two().max(1);
        self.shift = 64 - words.trailing_zeros();
        self.filter.clear();
        self.filter.resize(words, 0);
        for key in self.map.keys() {
            let (w, bits) = word_bits(FxBuildHasher.hash_one(key), self.shift);
            if let Some(word) = self.filter.get_mut(w) {
                *word |= bits;
            }
        }
        self.filtered = true;
    }
}

/// The word of hash `h` in a filter and the two bits it sets there.
#[inline]
fn word_bits(h: u64, shift: u32) -> (usize, u64) {
    let (word, a, b) = blocked::places(h, shift);
    (word, (1u64 << a) | (1u64 << b))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A full table with its filter counts as the table alone: every key it holds is found
    /// (no false "not there"), every new key is refused and counted, whatever the bound.
    #[test]
    fn a_full_table_finds_its_keys_and_refuses_new_ones() {
        for cap in [1usize, 7, 1000, 50_000] {
            let mut t: Capped<u64, u32> = Capped::default();
            let mut untracked = 0;
            for k in 0..cap as u64 {
                *t.slot(k * 7919, cap, &mut untracked).unwrap() += 1;
            }
            assert_eq!((t.len(), untracked), (cap, 0));
            for k in 0..cap as u64 {
                assert_eq!(t.slot(k * 7919, cap, &mut untracked).copied(), Some(1), "cap {cap}, key {k}");
            }
            assert!(t.filtered);
            let new = 100_000u64;
            for k in 0..new {
                assert!(t.slot(u64::MAX - k, cap, &mut untracked).is_none());
            }
            assert_eq!((t.len(), untracked), (cap, new));
            // Cleared, it fills again from nothing, with a new filter.
            t.clear();
            assert!(!t.filtered && t.is_empty());
            for k in 0..=cap as u64 {
                t.slot(k + 1_000_000, cap, &mut untracked);
            }
            assert_eq!((t.len(), untracked), (cap, new + 1));
            assert!(t.slot(1_000_000, cap, &mut untracked).is_some());
            assert!(t.slot(7919, cap, &mut untracked).is_none());
        }
    }

    /// Full, the filter lets about one new key in thirty through to the table (two bits a key in
    /// one word, ten bits a key here; one bit a key lets ~9 % of random keys through).
    #[test]
    fn the_filter_stops_most_new_keys() {
        let cap = 100_000usize;
        let mut t: Capped<std::net::IpAddr, u32> = Capped::default();
        // Spoofed sources: random addresses (splitmix64 of the key's number).
        let ip = |n: u32| {
            std::net::IpAddr::V4(std::net::Ipv4Addr::from((crate::test_keys::splitmix(u64::from(n)) >> 32) as u32))
        };
        for n in 0..=cap as u32 {
            t.slot(ip(n), cap, &mut 0);
        }
        assert!(t.filtered);
        let tries = 200_000u32;
        let through = (0..tries).filter(|n| t.may_hold(&ip(10_000_000 + n))).count();
        let rate = through as f64 / f64::from(tries);
        assert!(rate < 0.05, "{through} of {tries} new keys pass ({rate:.3})");
        assert!((0..cap as u32).all(|n| t.may_hold(&ip(n))));
    }
}
