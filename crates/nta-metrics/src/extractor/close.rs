//! Closing windows: [`Extractor::flush`] writes the windows no packet can still join (the
//! clock `reorder_ns` past their end) and works out when the clock next has something to do.

use super::Extractor;
use crate::record::WindowRecord;

impl Extractor {
    /// Writes the windows that can no longer receive packets (all of them when `all`).
    pub(super) fn flush(&mut self, all: bool, emit: &mut dyn FnMut(WindowRecord)) {
        self.dirty = false;
        self.flush_windows(all, emit);
        // When the clock next has something to do: a window boundary, a window's close, a
        // flow's expiry — or one the packets until then make (no sooner than `least_wait`).
        let boundary = self.current.saturating_add(1).saturating_mul(self.cfg.window_ns);
        let close = match self.windows.front().map(|w| w.index) {
            Some(index) if index < self.current => {
                (index + 1).saturating_mul(self.cfg.window_ns).saturating_add(self.cfg.reorder_ns)
            }
            _ => i64::MAX,
        };
        let made = self.clock.map_or(i64::MIN, |c| c.saturating_add(self.flows.least_wait()));
        self.wake_at = boundary.min(close).min(self.flows.deadline()).min(made);
    }

    fn flush_windows(&mut self, all: bool, emit: &mut dyn FnMut(WindowRecord)) {
        let Some(clock) = self.clock else { return };
        let horizon = clock.saturating_sub(self.cfg.reorder_ns);
        while let Some(index) = self.windows.front().map(|w| w.index) {
            let end = (index + 1).saturating_mul(self.cfg.window_ns);
            if !all && (end > horizon || index >= self.current) {
                break;
            }
            let Some(mut acc) = self.windows.pop_front() else { break };
            if self.live_counters && acc.capture.is_none() {
                acc.capture = Some((0, 0));
            }
            self.written_below = self.written_below.max(index + 1);
            if let Some(held) = self.held.as_mut() {
                held.push((self.seq, acc));
                continue;
            }
            self.counts.written(&acc);
            let source = self.source_names(acc.sources);
            emit(acc.finish(self.cfg.window_ns, source, self.cfg.sample, self.cfg.top_n, &self.arp));
            self.pool.push(acc);
        }
    }

    pub(crate) fn source_names(&self, mask: u64) -> String {
        let mut names = Vec::new();
        for (i, name) in self.sources.iter().enumerate().take(64) {
            if mask & (1u64 << i) != 0 {
                names.push(name.as_str());
            }
        }
        names.join(",")
    }
}
