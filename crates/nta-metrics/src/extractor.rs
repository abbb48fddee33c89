//! [`Extractor`]: packets in, window records out. Windows are tumbling, aligned to multiples
//! of the window length in epoch time, keyed by capture time. A window is written once the
//! highest timestamp seen is `reorder_ns` past its end, so packets out of order by less than
//! that land in their own window; later ones produce a supplementary record marked `late`.

use crate::flows::{FlowConfig, FlowTable};
use crate::record::WindowRecord;
use crate::window::WindowAcc;
use nta_parsing::PacketSummary;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Extraction settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExtractConfig {
    /// Window length, ns.
    pub window_ns: i64,
    /// Runs of empty windows up to this long are written as zero rows; longer gaps are only
    /// recorded (`gap_before_ns` of the next record).
    pub max_gap_ns: i64,
    /// How far behind the highest timestamp seen a packet may be and still join its window.
    pub reorder_ns: i64,
    /// 1 packet in N was processed: counts are scaled by N (`extract_files` does the
    /// selection; an [`Extractor`] fed directly scales what it is given); 1 = every packet.
    pub sample: u32,
    /// Flow table settings.
    pub flows: FlowConfig,
    /// Length of the top-sources and top-ports lists.
    pub top_n: usize,
    /// Worker threads for `extract_files` (0 = one per core).
    pub threads: usize,
}

impl ExtractConfig {
    /// Defaults for a window length: gaps up to 1 h filled, 5 s reordering (or one window,
    /// whichever is longer), every packet, default flow table, top 5, all cores.
    pub fn new(window_ns: i64) -> ExtractConfig {
        ExtractConfig {
            window_ns,
            max_gap_ns: 3_600_000_000_000,
            reorder_ns: window_ns.max(5_000_000_000),
            sample: 1,
            flows: FlowConfig::default(),
            top_n: 5,
            threads: 0,
        }
    }
}

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
}

/// Turns a time-ordered (mostly) stream of packets into window records.
#[derive(Debug)]
pub struct Extractor {
    cfg: ExtractConfig,
    sources: Vec<String>,
    windows: BTreeMap<i64, WindowAcc>,
    pool: Vec<WindowAcc>,
    flows: FlowTable,
    /// Highest timestamp seen.
    clock: Option<i64>,
    /// Index of the window the clock is in.
    current: i64,
    /// Every window below this index has been written.
    written_below: i64,
    last_source: u64,
    counts: ExtractCounts,
}

impl Extractor {
    /// An extractor for packets from `sources` (names used in the `source` field).
    pub fn new(cfg: ExtractConfig, sources: Vec<String>) -> Extractor {
        let flows = FlowTable::new(cfg.flows);
        Extractor {
            cfg,
            sources,
            windows: BTreeMap::new(),
            pool: Vec::new(),
            flows,
            clock: None,
            current: i64::MIN,
            written_below: i64::MIN,
            last_source: 0,
            counts: ExtractCounts::default(),
        }
    }

    /// What was done so far.
    pub fn counts(&self) -> &ExtractCounts {
        &self.counts
    }

    fn index_of(&self, ts: i64) -> i64 {
        ts.div_euclid(self.cfg.window_ns.max(1))
    }

    fn window(&mut self, index: i64) -> &mut WindowAcc {
        let late = index < self.written_below;
        let open = self.flows.len();
        let sources = self.last_source;
        let pool = &mut self.pool;
        self.windows.entry(index).or_insert_with(|| {
            let mut w = pool.pop().unwrap_or_else(WindowAcc::new);
            w.reset(index);
            w.late = late;
            w.open_at_start = open;
            w.sources = sources;
            w
        })
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
                let win = self.window(idx);
                win.gap_before_ns = Some(gap);
                win.ended_flows += ended;
            } else {
                for b in self.current + 1..=idx {
                    let boundary = b.saturating_mul(w);
                    let mut expiries = Vec::new();
                    self.flows.expire(boundary - 1, |t| expiries.push(t));
                    for t in expiries {
                        let i = self.index_of(t);
                        self.window(i).ended_flows += 1;
                    }
                    self.current = b;
                    self.window(b);
                }
            }
        }
        let mut ended = 0;
        self.flows.expire(ts, |_| ended += 1);
        let cur = self.current;
        self.window(cur).ended_flows += ended;
    }

    /// Adds a packet from source `source` (an index into the names given to [`Extractor::new`]);
    /// `emit` receives every record that is complete.
    pub fn push(&mut self, s: &PacketSummary, source: usize, emit: &mut dyn FnMut(WindowRecord)) {
        self.counts.packets_processed += 1;
        self.last_source = 1u64 << source.min(63);
        let ts = s.ts_ns;
        if self.clock.is_some_and(|c| ts < c) {
            self.counts.out_of_order += 1;
        }
        self.advance(ts);
        let idx = self.index_of(ts);
        let ev = self.flows.packet(s, self.clock.unwrap_or(ts).max(ts));
        let win = self.window(idx);
        win.add(s, source);
        win.new_flows += ev.new;
        win.ended_flows += ev.ended;
        win.evicted_flows += ev.evicted;
        win.half_open += u64::from(ev.syn_opened);
        if ev.from_initiator {
            win.initiator_bytes += u64::from(s.wire_len);
        }
        if let Some(ip) = ev.new_initiator {
            win.add_new_flow(ip);
        }
        if ev.syn_opened
            && let (Some(a), Some(b)) = (ev.new_initiator, ev.new_responder)
        {
            win.add_new_connection(a, b);
        }
        self.counts.evicted_flows += ev.evicted;
        if let Some(t) = ev.answered_syn_ts {
            // Answered before its window was written: not half-open after all.
            let i = self.index_of(t);
            if let Some(w) = self.windows.get_mut(&i) {
                w.half_open = w.half_open.saturating_sub(1);
            }
        }
        self.flush(false, emit);
    }

    /// Writes the windows that can no longer receive packets (all of them when `all`).
    fn flush(&mut self, all: bool, emit: &mut dyn FnMut(WindowRecord)) {
        let Some(clock) = self.clock else { return };
        let horizon = clock.saturating_sub(self.cfg.reorder_ns);
        while let Some(entry) = self.windows.first_entry() {
            let index = *entry.key();
            let end = (index + 1).saturating_mul(self.cfg.window_ns);
            if !all && (end > horizon || index >= self.current) {
                break;
            }
            let acc = entry.remove();
            if acc.late {
                self.counts.late_records += 1;
            }
            if acc.is_empty() {
                self.counts.empty_windows += 1;
            }
            self.counts.windows += 1;
            let source = self.source_names(acc.sources);
            emit(acc.finish(self.cfg.window_ns, source, self.cfg.sample, self.cfg.top_n));
            self.written_below = self.written_below.max(index + 1);
            self.pool.push(acc);
        }
    }

    fn source_names(&self, mask: u64) -> String {
        let mut names = Vec::new();
        for (i, name) in self.sources.iter().enumerate().take(64) {
            if mask & (1u64 << i) != 0 {
                names.push(name.as_str());
            }
        }
        names.join(",")
    }

    /// Writes every remaining window.
    pub fn finish(mut self, emit: &mut dyn FnMut(WindowRecord)) -> ExtractCounts {
        self.flush(true, emit);
        self.counts
    }
}
