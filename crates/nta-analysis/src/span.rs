//! Rules at fine grain: with windows shorter than the rules' span (10 s), a slow attack leaves
//! too little in one window (a brute force at 2 connections a second, an ARP spoofer at 3
//! replies), so the rules also read the evidence of the span that ends with the window — the
//! window and the ones before it — and keep what the window itself still shows.

use crate::attack::Finding;
use crate::rules::{RuleConfig, findings};
use nta_capture::AttackKind;
use nta_metrics::WindowRecord;

/// The findings of `recs[i]` (records in time order): its own, and, when its windows are
/// shorter than the span, those of the span ending with it whose attackers or victims the
/// window itself still shows (a traffic drop: when the window itself is low too). `packets`:
/// the baseline's (median, 10th percentile) of `packets` per window.
pub(crate) fn window_findings(
    recs: &[&WindowRecord],
    i: usize,
    packets: Option<(f64, f64)>,
    cfg: &RuleConfig,
) -> Vec<Finding> {
    let Some(r) = recs.get(i) else { return Vec::new() };
    let mut own = findings(r, packets, cfg);
    let span_ns = (cfg.span_s * 1e9) as i64;
    if !cfg.enabled || r.window_ns <= 0 || r.window_ns >= span_ns {
        return own;
    }
    let mut span = (*r).clone();
    let mut windows = 1i64;
    for p in recs.iter().take(i).rev() {
        if p.window_ns != r.window_ns || p.capture != r.capture || p.window_start_ns <= r.window_start_ns - span_ns {
            break;
        }
        span.evidence.merge(&p.evidence);
        span.packets += p.packets;
        windows += 1;
    }
    if windows == 1 {
        return own;
    }
    span.window_ns = r.window_ns * windows;
    let n = windows as f64;
    let scaled = packets.map(|(m, p10)| (m * n, p10 * n));
    let low_now = packets.is_some_and(|(m, _)| (r.packets as f64) <= m * cfg.drop_ratio);
    // The window shows a host when its own evidence names it, or the window just before did:
    // a slow attack (two connections a second) leaves some seconds without a trace.
    let previous = i
        .checked_sub(1)
        .and_then(|j| recs.get(j))
        .filter(|p| p.window_ns == r.window_ns && p.window_start_ns + p.window_ns == r.window_start_ns);
    let shows = |ip| r.evidence.mentions(ip) || previous.is_some_and(|p| p.evidence.mentions(ip));
    for f in findings(&span, scaled, cfg) {
        let shown = match f.kind {
            AttackKind::TrafficDrop => low_now,
            _ => f.attackers.iter().chain(&f.victims).any(|h| shows(h.ip)),
        };
        if !shown {
            continue;
        }
        match own.iter_mut().find(|o| o.kind == f.kind) {
            Some(o) if o.strength >= f.strength => {}
            Some(o) => *o = f,
            None => own.push(f),
        }
    }
    own.sort_by(|a, b| b.strength.total_cmp(&a.strength).then(a.kind.cmp(&b.kind)));
    own
}
