//! [`Shards`]: the accumulation split over [`ExtractConfig::shards`] extractors by a symmetric flow hash —
//! both directions of a flow go to the same shard, as RSS spreads flows over a NIC's queues and
//! Suricata's and Zeek's workers take them — so that the shards run on as many cores.
//!
//! Every shard walks every packet of a batch: the packets of its flows it accounts
//! ([`Extractor::push_frame`]), the others only move its clock ([`Extractor::tick`]). So every
//! shard creates the same windows, expires flows and closes windows at the same packets as one
//! extractor would, and the shards' accumulators of a window are merged when it closes
//! ([`crate::window::WindowAcc::merge`]). Records are merged in the order one extractor writes
//! them: windows by (packet that closed them, window index), flow records by the packet that
//! ended them, then by shard. The shard count is set, not taken from the thread count: the
//! output is the same whatever the number of threads (a group of shards per thread walks each
//! batch once, in order). Below the tables' bounds it is the output of one
//! extractor; beyond them (a full flow table evicts per shard, each shard admits
//! half-open attempts from its own half-full table) it depends on the shard count, not on
//! threads (docs/FLOWS.md, docs/LIMITS.md).
//!
//! A batch is cut into segments at most [`SEGMENT_EVENTS`] window boundaries or packets behind
//! the clock long, and windows are merged after each segment: a shard holds at most that many
//! closed windows (plus those of one gap), not a batch's worth.

use crate::config::ExtractConfig;
use crate::extractor::{ExtractCounts, Extractor};
use crate::flow_record::FlowRecord;
use crate::flows::Keyed;
use crate::input::{Batch, Meta};
use crate::prefetch;
use crate::record::WindowRecord;
use crate::window::WindowAcc;

/// Flow records' room kept between segments (a gap that ends a whole table needs more, once).
const FLOWS_KEPT: usize = 4096;

/// How many packets ahead the accumulator asks for the cache lines a packet will touch
/// ([`Extractor::prefetch`]): enough for a miss to the memory to complete meanwhile.
const AHEAD: usize = 8;

/// Every so many packets, a walk checks whether its shards are under a flood
/// ([`Extractor::pressed`]): only then does it prefetch.
const PRESSURE_EVERY: usize = 64;

/// Window boundaries crossed (or packets behind the current window) after which a segment
/// ends and the shards' closed windows are merged.
const SEGMENT_EVENTS: u32 = 32;

/// The shard of a packet among `count` (a power of two), from its flow key `k`
/// ([`Keyed::shard_hash`]: the endpoints and protocol, the same both ways; the ports are
/// those the flow table keys on). Packets without IP go to shard 0.
#[inline]
pub(crate) fn shard_of(k: Option<&Keyed>, count: usize) -> u8 {
    if count <= 1 {
        return 0;
    }
    let Some(k) = k else { return 0 };
    // The high bits: Fx's low bits mix least.
    ((k.shard_hash() >> 40) & (count as u64 - 1)) as u8
}

/// One shard: an extractor and the flow records it ended in the current segment.
struct Shard {
    x: Extractor,
    flows: Vec<(u32, FlowRecord)>,
}

impl Shard {
    /// Packet `seq` (metadata `m`, owned by shard `owner`) as seen by shard `me`.
    #[inline]
    fn packet(&mut self, me: u8, owner: u8, b: &Batch, seq: usize, m: &Meta) {
        if owner == me {
            let Some((s, src)) = b.summaries.get(seq) else { return };
            let frame = b.data.get(m.start as usize..(m.start + m.len) as usize).unwrap_or_default();
            self.x.set_seq(seq as u32);
            let keyed = b.keys.get(seq).and_then(Option::as_ref);
            self.x.push_keyed(s, keyed, frame, *src as usize, &mut |_| {});
        } else {
            // Only the clock moves: the packet's time and source are in its metadata.
            self.x.tick(seq as u32, m.ts_ns, m.source as usize);
        }
        if self.x.flows_waiting() {
            self.flows.extend(self.x.take_flows().map(|f| (seq as u32, f)));
        }
    }
}

/// Walks packets `range` of `b` once for a group of shards (numbered from `first`): each
/// accounts its packets and ticks on the others. One walk per thread reads the batch in order.
fn run_group(first: usize, group: &mut [Shard], count: usize, b: &Batch, range: std::ops::Range<usize>) {
    let (metas, owners) =
        (b.meta.get(range.clone()).unwrap_or_default(), b.shards.get(range.clone()).unwrap_or_default());
    let mut pressed = group.iter().any(|sh| sh.x.pressed());
    // A walk of some of the shards reads their packets' summaries scattered over the batch.
    let partial = group.len() < count;
    for (seq, (m, &owner)) in range.zip(metas.iter().zip(owners)) {
        if seq % PRESSURE_EVERY == 0 {
            pressed = group.iter().any(|sh| sh.x.pressed());
        }
        // Under a flood or when walking some of the shards, the packet `2 × AHEAD` places on,
        // if this walk's: its summary and key (scattered over the batch with several shards;
        // read by the prefetch below, or by the walk).
        let far = seq + 2 * AHEAD;
        if (pressed || partial)
            && let (Some((s, _)), Some(&o)) = (b.summaries.get(far), b.shards.get(far))
            && usize::from(o).wrapping_sub(first) < group.len()
        {
            prefetch::read(&s.app);
            prefetch::read(&s.ts_ns);
            prefetch::read(&s.ip);
            prefetch::read(&s.transport);
            prefetch::read(&s.link_supported);
            if let Some(k) = b.keys.get(far) {
                prefetch::read(k);
            }
        }
        // Under a flood, the packet `AHEAD` places on: its owner asks for the lines it will touch.
        let ahead = seq + AHEAD;
        if pressed
            && let (Some((s, _)), Some(&o)) = (b.summaries.get(ahead), b.shards.get(ahead))
            && let Some(sh) = group.get(usize::from(o).wrapping_sub(first))
        {
            sh.x.prefetch(s, b.keys.get(ahead).and_then(Option::as_ref));
        }
        for (i, sh) in group.iter_mut().enumerate() {
            sh.packet((first + i) as u8, owner, b, seq, m);
        }
        if group.iter().any(|sh| sh.x.over_limit()) {
            break;
        }
    }
}

/// The extractors of [`ExtractConfig::shards`] shares of the flows, and the merge of what they close.
pub(crate) struct Shards {
    cfg: ExtractConfig,
    shards: Vec<Shard>,
    /// The windows written, empty and late (counted as they are merged).
    counts: ExtractCounts,
    /// The clock and its window, as the segments were cut.
    clock: Option<i64>,
    current: i64,
    /// A consumer said stop (a failed write, a cancelled run): the batch ends at the segment.
    stopped: bool,
    /// Reused between merges.
    held: Vec<(u32, i64, usize, WindowAcc)>,
    flows: Vec<(u32, FlowRecord)>,
}

impl Shards {
    /// Shards for packets from `sources`; flow records are made when `export`.
    pub(crate) fn new(cfg: &ExtractConfig, sources: Vec<String>, export: bool) -> Shards {
        let count = cfg.shards.clamp(1, crate::config::MAX_SHARDS);
        let mut shard_cfg = cfg.clone();
        shard_cfg.flows.max_flows = cfg.flows.max_flows.div_ceil(count).max(1);
        let shift = count.trailing_zeros();
        let shards = (0..count)
            .map(|_| {
                let mut x = Extractor::shard(shard_cfg.clone(), sources.clone(), shift);
                if export {
                    x.export_flows();
                }
                Shard { x, flows: Vec::new() }
            })
            .collect();
        Shards {
            cfg: cfg.clone(),
            shards,
            counts: ExtractCounts::default(),
            clock: None,
            current: i64::MIN,
            stopped: false,
            held: Vec::new(),
            flows: Vec::new(),
        }
    }

    /// Shards per walk: as many walks as threads (of the current rayon pool), or shards.
    fn per_walk(&self) -> usize {
        let count = self.shards.len().max(1);
        count.div_ceil(rayon::current_num_threads().clamp(1, count))
    }

    /// How many walks (groups of shards, one per thread) each segment of a batch takes.
    pub(crate) fn walks(&self) -> usize {
        self.shards.len().max(1).div_ceil(self.per_walk())
    }

    /// Whether the run created more windows than `max_windows` allows: the caller stops.
    pub(crate) fn over_limit(&self) -> bool {
        self.shards.iter().any(|s| s.x.over_limit())
    }

    /// Accumulates batch `b` (every shard in parallel on the current rayon pool), giving
    /// every window record and flow record it completes to `emit` and `flows` (which return
    /// false to stop: the batch then ends with the segment). `side` runs once, beside the
    /// first segment's walks: the first thread done with its walk takes it (the pipeline
    /// decodes the next batch there).
    pub(crate) fn batch(
        &mut self,
        b: &Batch,
        emit: &mut dyn FnMut(WindowRecord) -> bool,
        flows: &mut dyn FnMut(FlowRecord) -> bool,
        side: impl FnOnce() + Send,
    ) {
        let n = b.summaries.len();
        let mut side = Some(side);
        let mut start = 0;
        while start < n && !self.over_limit() && !self.stopped {
            let end = self.segment_end(b, start);
            // As many groups of shards as threads, each walking the segment once. The other
            // groups are spawned first and the side job last: an idle thread steals the
            // oldest job (a walk), this thread takes the newest (the side job) after its own
            // walk — so the side job fills whichever thread finishes first.
            let (per_group, count) = (self.per_walk(), self.shards.len());
            let side = side.take();
            rayon::in_place_scope(|scope| {
                let mut groups = self.shards.chunks_mut(per_group).enumerate();
                let own = groups.next();
                for (g, group) in groups {
                    scope.spawn(move |_| run_group(g * per_group, group, count, b, start..end));
                }
                if let Some(side) = side {
                    scope.spawn(move |_| side());
                }
                if let Some((g, group)) = own {
                    run_group(g * per_group, group, count, b, start..end);
                }
            });
            self.merge(emit, flows);
            start = end;
        }
        if let Some(side) = side {
            side();
        }
    }

    /// Where the segment from packet `start` ends: after [`SEGMENT_EVENTS`] window
    /// boundaries or packets behind the clock's window, or at the batch's end.
    fn segment_end(&mut self, b: &Batch, start: usize) -> usize {
        let w = self.cfg.window_ns.max(1);
        let mut events = 0u32;
        for (i, m) in b.meta.iter().enumerate().skip(start) {
            let idx = m.ts_ns.div_euclid(w);
            match self.clock {
                Some(c) if m.ts_ns <= c => {
                    if idx < self.current {
                        events += 1;
                    }
                }
                _ => {
                    if self.clock.is_some() && idx > self.current {
                        events = events.saturating_add(u32::try_from(idx - self.current).unwrap_or(u32::MAX));
                    }
                    self.clock = Some(m.ts_ns);
                    self.current = self.current.max(idx);
                }
            }
            if events >= SEGMENT_EVENTS {
                return i + 1;
            }
        }
        b.meta.len()
    }

    /// Attributes a live capture's kernel counters (see [`Extractor::capture_counters`]).
    pub(crate) fn capture_counters(&mut self, ts_ns: Option<i64>, received: u64, dropped: u64) {
        if let Some(s) = self.shards.first_mut() {
            s.x.capture_counters(ts_ns, received, dropped);
        }
    }

    /// Merges the windows the shards closed, in the order one extractor closes them, and
    /// hands out the flow records they ended, in the order of the packets that ended them.
    fn merge(&mut self, emit: &mut dyn FnMut(WindowRecord) -> bool, flows: &mut dyn FnMut(FlowRecord) -> bool) {
        // Every shard has written what any has (a window only one shard held, behind the clock).
        let written = self.shards.iter().map(|s| s.x.written()).max().unwrap_or(i64::MIN);
        let single = self.shards.len() == 1;
        for (i, sh) in self.shards.iter_mut().enumerate() {
            sh.x.written_below(written);
            self.held.extend(sh.x.take_held().into_iter().map(|(seq, acc)| (seq, acc.index, i, acc)));
            if single {
                // Already in order: no copy.
                for (_, f) in sh.flows.drain(..) {
                    self.stopped |= !flows(f);
                }
                sh.flows.shrink_to(FLOWS_KEPT);
            } else {
                self.flows.append(&mut sh.flows);
            }
        }
        self.flows.sort_by_key(|(seq, _)| *seq);
        for (_, f) in self.flows.drain(..) {
            self.stopped |= !flows(f);
        }
        self.flows.shrink_to(FLOWS_KEPT);
        if self.held.is_empty() {
            return;
        }
        self.held.sort_by_key(|(seq, index, shard, _)| (*seq, *index, *shard));
        // Taken and put back: the buffer's room is kept between merges.
        let mut buffer = std::mem::take(&mut self.held);
        let mut held = buffer.drain(..).peekable();
        while let Some((seq, index, owner, mut acc)) = held.next() {
            while let Some((_, _, other, more)) = held.next_if(|(s, i, _, _)| (*s, *i) == (seq, index)) {
                acc.merge(&more);
                if let Some(sh) = self.shards.get_mut(other) {
                    sh.x.recycle(more);
                }
            }
            if let Some(r) = self.finish(&acc) {
                self.stopped |= !emit(r);
            }
            acc.hosts.fit();
            if let Some(sh) = self.shards.get_mut(owner) {
                sh.x.recycle(acc);
            }
        }
        drop(held);
        self.held = buffer;
    }

    /// The record of a merged window, counted.
    fn finish(&mut self, acc: &WindowAcc) -> Option<WindowRecord> {
        self.counts.written(acc);
        let first = self.shards.first()?;
        let source = first.x.source_names(acc.sources);
        Some(acc.finish(self.cfg.window_ns, source, self.cfg.sample, self.cfg.top_n, first.x.arp()))
    }

    /// Ends every flow still open (their records to `flows`, by shard), writes every window
    /// still open and returns the counts of the whole run.
    pub(crate) fn finish_all(
        mut self,
        emit: &mut dyn FnMut(WindowRecord) -> bool,
        flows: &mut dyn FnMut(FlowRecord) -> bool,
    ) -> ExtractCounts {
        // What the last segment ended, then the flows still open, shard by shard (after the
        // last packet: no order among them but the shards').
        self.merge(emit, flows);
        for sh in &mut self.shards {
            // A part at a time: a full table's records are never all held at once.
            loop {
                let more = sh.x.end_some_flows(FLOWS_KEPT);
                for f in sh.x.take_flows() {
                    self.stopped |= !flows(f);
                }
                if !more {
                    break;
                }
            }
            sh.x.close_all(u32::MAX);
        }
        self.merge(emit, flows);
        let mut c = std::mem::take(&mut self.counts);
        for (i, sh) in self.shards.iter().enumerate() {
            let s = sh.x.final_counts();
            if i == 0 {
                c.gaps = s.gaps;
            }
            c.packets_processed += s.packets_processed;
            c.out_of_order += s.out_of_order;
            c.evicted_flows += s.evicted_flows;
            c.unadmitted_flows += s.unadmitted_flows;
            c.unadmitted_packets += s.unadmitted_packets;
            c.tls_hellos_reassembled += s.tls_hellos_reassembled;
            c.tls_hellos_dropped += s.tls_hellos_dropped;
        }
        c
    }
}
