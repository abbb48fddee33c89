//! [`Extractor`]: packets in, window records out. Windows are tumbling, aligned to multiples
//! of the window length in epoch time, keyed by capture time. A window is written once the
//! highest timestamp seen is `reorder_ns` past its end, so packets out of order by less than
//! that land in their own window; later ones produce a supplementary record marked `late`.

mod close;
mod packet;
mod shard;

use crate::config::ExtractConfig;
use crate::flow_record::FlowRecord;
use crate::flows::FlowTable;
use crate::hello::HelloReassembler;
use crate::hosts::ArpMemory;
use crate::record::WindowRecord;
use crate::window::WindowAcc;
use serde::Serialize;
use std::collections::VecDeque;

/// Counters over a whole extraction.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ExtractCounts {
    /// Packets read (before sampling).
    pub packets_seen: u64,
    /// Packets processed (after sampling).
    pub packets_processed: u64,
    /// Records written.
    pub windows: u64,
    /// Of them, zero rows.
    pub empty_windows: u64,
    /// Supplementary records for packets later than `reorder_ns`.
    pub late_records: u64,
    /// Packets with a timestamp below the highest seen so far.
    pub out_of_order: u64,
    /// Gaps longer than `max_gap_ns` that were not filled.
    pub gaps: u64,
    /// Flows evicted from a full table.
    pub evicted_flows: u64,
    /// Half-open TCP attempts that got no flow (nor flow record): seen while the flow table
    /// was at least half full and never past their SYN and SYN-ACK before another attempt
    /// took their place (docs/FLOWS.md, "Admission"). Window metrics count them as any flow.
    #[serde(skip_serializing_if = "is_zero")]
    pub unadmitted_flows: u64,
    /// The packets of those attempts: in no flow record.
    #[serde(skip_serializing_if = "is_zero")]
    pub unadmitted_packets: u64,
    /// TLS ClientHellos whose server name was read from several TCP segments.
    #[serde(skip_serializing_if = "is_zero")]
    pub tls_hellos_reassembled: u64,
    /// Split ClientHellos given up (too long, waited too long, or no room: docs/LIMITS.md).
    #[serde(skip_serializing_if = "is_zero")]
    pub tls_hellos_dropped: u64,
}

impl ExtractCounts {
    /// Counts the record of `acc` as written.
    pub(crate) fn written(&mut self, acc: &WindowAcc) {
        self.late_records += u64::from(acc.late);
        self.empty_windows += u64::from(acc.is_empty());
        self.windows += 1;
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Turns a time-ordered (mostly) stream of packets into window records.
#[derive(Debug)]
pub struct Extractor {
    cfg: ExtractConfig,
    sources: Vec<String>,
    /// The open windows in the order of their index (most packets go to the last).
    windows: VecDeque<WindowAcc>,
    pool: Vec<WindowAcc>,
    flows: FlowTable,
    /// Which MAC claimed an address first (ARP spoofing evidence).
    arp: ArpMemory,
    /// ClientHellos split over several segments.
    hello: HelloReassembler,
    /// Highest timestamp seen.
    clock: Option<i64>,
    /// Index of the window the clock is in.
    current: i64,
    /// Every window below this index has been written.
    written_below: i64,
    last_source: u64,
    counts: ExtractCounts,
    /// Windows created so far (written or open), zero rows included.
    created: u64,
    /// A live source reports kernel counters: every window carries them (0 when none came).
    live_counters: bool,
    /// As a shard ([`crate::shards`]): closed windows are held here with the sequence number
    /// of the packet that closed them, to be merged with the other shards' and finished there.
    held: Option<Vec<(u32, WindowAcc)>>,
    /// The sequence number of the packet being processed (shards only).
    seq: u32,
    /// The clock can move up to (not including) this time without anything to do but move:
    /// no window boundary, no flow due to expire, no window due to close.
    wake_at: i64,
    /// Windows were created outside a packet (kernel counters): the next tick flushes.
    dirty: bool,
    /// One of 2^`shift` shards: the large per-window tables hold a share of their bound.
    shift: u32,
}

impl Extractor {
    /// An extractor for packets from `sources` (names used in the `source` field).
    pub fn new(cfg: ExtractConfig, sources: Vec<String>) -> Extractor {
        let flows = FlowTable::new(cfg.flows);
        Extractor {
            cfg,
            sources,
            windows: VecDeque::new(),
            pool: Vec::new(),
            flows,
            arp: ArpMemory::default(),
            hello: HelloReassembler::default(),
            clock: None,
            current: i64::MIN,
            written_below: i64::MIN,
            last_source: 0,
            counts: ExtractCounts::default(),
            created: 0,
            live_counters: false,
            held: None,
            seq: 0,
            wake_at: i64::MIN,
            dirty: false,
            shift: 0,
        }
    }

    /// What was done so far.
    pub fn counts(&self) -> ExtractCounts {
        let mut c = self.counts.clone();
        self.count_unadmitted(&mut c);
        c
    }

    /// The attempts flow admission held apart and never admitted (read from the table, not
    /// counted per packet).
    fn count_unadmitted(&self, c: &mut ExtractCounts) {
        c.unadmitted_flows = self.flows.unadmitted();
        c.unadmitted_packets = self.flows.unadmitted_packets();
    }

    fn index_of(&self, ts: i64) -> i64 {
        ts.div_euclid(self.cfg.window_ns.max(1))
    }

    /// Attributes a live capture's kernel counters (received, dropped since the last call) to
    /// the window of `ts_ns` (the newest packet read when they were read), or to the current
    /// window when there is no packet yet. From the first call on, every window carries the
    /// counters (`capture_received`, `capture_dropped`), 0 when none came in its span.
    pub fn capture_counters(&mut self, ts_ns: Option<i64>, received: u64, dropped: u64) {
        self.live_counters = true;
        let index = match ts_ns.or(self.clock) {
            Some(ts) => self.index_of(ts),
            None => return,
        };
        if let Some(w) = self.window(index) {
            let (r, d) = w.capture.unwrap_or((0, 0));
            w.capture = Some((r + received, d + dropped));
        }
        self.dirty = true;
        self.wake_at = i64::MIN;
    }

    /// Whether the run created more windows than `max_windows` allows: the caller stops.
    pub fn over_limit(&self) -> bool {
        self.created > self.cfg.max_windows
    }

    /// Window `index`, created if it is not open (always `Some`: the deque holds it).
    #[inline]
    fn window(&mut self, index: i64) -> Option<&mut WindowAcc> {
        let at = if self.windows.back().is_some_and(|w| w.index == index) {
            self.windows.len() - 1
        } else {
            self.find_or_open(index)
        };
        self.windows.get_mut(at)
    }

    /// The position of window `index` in `windows`, created there if it is not open.
    #[cold]
    fn find_or_open(&mut self, index: i64) -> usize {
        match self.windows.binary_search_by_key(&index, |w| w.index) {
            Ok(at) => at,
            Err(at) => {
                self.created += 1;
                let mut w = self.pool.pop().unwrap_or_else(WindowAcc::new);
                w.reset(index);
                w.hosts.shift = self.shift;
                w.late = index < self.written_below;
                w.open_at_start = self.flows.len();
                w.sources = self.last_source;
                self.windows.insert(at, w);
                at
            }
        }
    }

    /// The open window `index`, if any.
    fn open_window(&mut self, index: i64) -> Option<&mut WindowAcc> {
        let at = self.windows.binary_search_by_key(&index, |w| w.index).ok()?;
        self.windows.get_mut(at)
    }

    /// Moves the clock to `ts`: windows whose start it passes are created (zero rows) and
    /// flows expire on the way.
    fn advance(&mut self, ts: i64) {
        let idx = self.index_of(ts);
        let Some(clock) = self.clock else {
            self.clock = Some(ts);
            self.current = idx;
            self.window(idx);
            return;
        };
        if ts <= clock {
            return;
        }
        self.clock = Some(ts);
        let w = self.cfg.window_ns;
        if idx > self.current {
            let gap = (idx - self.current - 1).saturating_mul(w);
            if gap > self.cfg.max_gap_ns {
                // Not filled: expire everything up to now.
                let mut ended = 0;
                self.flows.expire(ts, |_| ended += 1);
                self.counts.gaps += 1;
                self.current = idx;
                if let Some(win) = self.window(idx) {
                    win.gap_before_ns = Some(gap);
                    win.ended_flows += ended;
                }
            } else {
                for b in self.current + 1..=idx {
                    if self.over_limit() {
                        break;
                    }
                    let boundary = b.saturating_mul(w);
                    let mut expiries = Vec::new();
                    self.flows.expire(boundary - 1, |t| expiries.push(t));
                    for t in expiries {
                        let i = self.index_of(t);
                        if let Some(w) = self.window(i) {
                            w.ended_flows += 1;
                        }
                    }
                    self.current = b;
                    self.window(b);
                }
            }
        }
        let mut ended = 0;
        self.flows.expire(ts, |_| ended += 1);
        if ended > 0 {
            // The current window exists (made above or by an earlier packet, written only once
            // the clock is past it): looked up only when there is something to add.
            let cur = self.current;
            if let Some(w) = self.window(cur) {
                w.ended_flows += ended;
            }
        }
    }

    /// Makes a [`FlowRecord`] of every flow that ends ([`Extractor::take_flows`]).
    pub fn export_flows(&mut self) {
        self.flows.export();
    }

    /// The records of the flows that ended since the last call (none unless
    /// [`Extractor::export_flows`]).
    pub fn take_flows(&mut self) -> std::vec::Drain<'_, FlowRecord> {
        self.flows.take_finished()
    }

    /// Ends every flow still open (exporting: their records become available to
    /// [`Extractor::take_flows`]); window records are not touched.
    pub fn end_flows(&mut self) {
        self.flows.finish_all();
    }

    /// [`Extractor::end_flows`] a part at a time: ends at most `limit` flows (take their
    /// records before the next call) and returns whether some remain open.
    pub fn end_some_flows(&mut self, limit: usize) -> bool {
        self.flows.finish_some(limit)
    }

    /// Writes every remaining window.
    pub fn finish(mut self, emit: &mut dyn FnMut(WindowRecord)) -> ExtractCounts {
        self.flush(true, emit);
        self.final_counts()
    }
}
