//! The [`Extractor`] as one shard of several ([`crate::shards`]): it holds the windows it closes
//! instead of finishing them, moves its clock on the packets of other shards
//! ([`Extractor::tick`]) and gives its state to the merge.

use super::{ExtractCounts, Extractor};
use crate::config::ExtractConfig;
use crate::hosts::ArpMemory;
use crate::window::WindowAcc;

impl Extractor {
    /// An extractor that is one of 2^`shift` shards: it holds the windows it closes
    /// ([`Extractor::take_held`]) instead of finishing them, and its large per-window tables
    /// and its slots for half-open attempts hold 2^`shift` times fewer keys.
    pub(crate) fn shard(cfg: ExtractConfig, sources: Vec<String>, shift: u32) -> Extractor {
        let mut x = Extractor::new(cfg, sources);
        x.held = Some(Vec::new());
        x.shift = shift;
        x.flows.share(shift);
        x
    }

    /// A packet of another shard at `ts` from `source`: the clock moves as in
    /// [`Extractor::push_frame`] (windows are created, flows expire and windows close at the
    /// same packets in every shard) but nothing is accounted.
    #[inline]
    pub(crate) fn tick(&mut self, seq: u32, ts: i64, source: usize) {
        self.seq = seq;
        self.last_source = 1u64 << source.min(63);
        match self.clock {
            Some(c) if ts <= c && !self.dirty => return,
            Some(_) if ts < self.wake_at => {
                self.clock = Some(ts);
                return;
            }
            _ => {}
        }
        self.advance(ts);
        self.flush(false, &mut |_| {});
    }

    /// The counts of the run so far, the table's and the reassembler's included.
    pub(crate) fn final_counts(&self) -> ExtractCounts {
        let mut c = self.counts();
        c.tls_hellos_reassembled = self.hello.reassembled;
        c.tls_hellos_dropped = self.hello.dropped;
        c
    }

    /// Whether flow records wait for [`Extractor::take_flows`].
    #[inline]
    pub(crate) fn flows_waiting(&self) -> bool {
        self.flows.has_finished()
    }

    /// Sets the sequence number of the next packet given to [`Extractor::push_frame`] (shards).
    pub(crate) fn set_seq(&mut self, seq: u32) {
        self.seq = seq;
    }

    /// The windows closed since the last call, with the sequence number of the packet that
    /// closed them, in the order they closed (shards only).
    pub(crate) fn take_held(&mut self) -> Vec<(u32, WindowAcc)> {
        self.held.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Gives back an accumulator taken with [`Extractor::take_held`].
    pub(crate) fn recycle(&mut self, acc: WindowAcc) {
        self.pool.push(acc);
    }

    /// Every window below `index` has been written (by some shard).
    pub(crate) fn written_below(&mut self, index: i64) {
        self.written_below = self.written_below.max(index);
    }

    /// The index below which every window has been written.
    pub(crate) fn written(&self) -> i64 {
        self.written_below
    }

    /// The ARP memory (shard 0 sees every ARP packet).
    pub(crate) fn arp(&self) -> &ArpMemory {
        &self.arp
    }

    /// Closes every window at the end of the input (held, as a shard's windows are).
    pub(crate) fn close_all(&mut self, seq: u32) {
        self.seq = seq;
        self.flush(true, &mut |_| {});
    }
}
