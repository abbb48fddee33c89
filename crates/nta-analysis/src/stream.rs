//! [`StreamDetector`]: detection of a stream, one window at a time, with the windows before it
//! as context — so a live run finds what one run over the whole capture finds.

use crate::detect::{DetectConfig, Detection, detect_after};
use nta_baselines::Baseline;
use nta_metrics::WindowRecord;
use nta_ml::Model;
use std::collections::VecDeque;

/// The most windows kept as context: enough for the rules' span (10 s) down to 100 ms windows;
/// shorter windows see a shorter span in a stream than in one run over the capture.
pub const MAX_CONTEXT_WINDOWS: usize = 100;

/// Judges windows as they close, keeping the last ones as context.
#[derive(Debug, Default)]
pub struct StreamDetector {
    history: VecDeque<WindowRecord>,
}

impl StreamDetector {
    /// A detector with no context yet.
    pub fn new() -> StreamDetector {
        StreamDetector::default()
    }

    /// Judges `r`, the next window of the stream.
    pub fn push(
        &mut self,
        r: WindowRecord,
        model: Option<&Model>,
        baseline: Option<&Baseline>,
        cfg: &DetectConfig,
    ) -> Result<Detection, nta_ml::Error> {
        let d = detect_after(self.history.make_contiguous(), std::slice::from_ref(&r), model, baseline, cfg)?;
        let span = (cfg.rules.span_s * 1e9) as i64;
        let for_span = if r.window_ns > 0 { (span / r.window_ns).max(0) as usize + 1 } else { 1 };
        let keep = for_span.max(cfg.fine_persistence).min(MAX_CONTEXT_WINDOWS);
        if !r.late {
            self.history.push_back(r);
        }
        while self.history.len() > keep {
            self.history.pop_front();
        }
        Ok(d)
    }
}
