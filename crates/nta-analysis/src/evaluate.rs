//! [`evaluate`]: window-level precision and recall of anomalies against attack labels.

use crate::anomaly::Anomaly;
use nta_capture::{AttackKind, Label};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Recall for one attack kind.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KindScore {
    /// Attack kind.
    pub kind: AttackKind,
    /// Windows overlapping its labels.
    pub windows: usize,
    /// Of them, flagged.
    pub detected: usize,
    /// `detected / windows`.
    pub recall: f64,
}

/// Window-level quality.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Evaluation {
    /// Window length, ns.
    pub window_ns: i64,
    /// Flagged windows.
    pub flagged: usize,
    /// Flagged windows overlapping a label.
    pub true_positives: usize,
    /// Flagged windows overlapping none.
    pub false_positives: usize,
    /// Attack windows not flagged.
    pub false_negatives: usize,
    /// `tp / flagged`.
    pub precision: f64,
    /// `tp / attack windows`.
    pub recall: f64,
    /// Per kind.
    pub per_kind: Vec<KindScore>,
    /// Start (RFC 3339) of each false positive window.
    pub false_positive_windows: Vec<String>,
}

/// Compares the flagged windows of `anomalies` with `labels` on the grid of `window_ns`
/// windows: an attack window is any window overlapping a label.
pub fn evaluate(anomalies: &[Anomaly], labels: &[Label], window_ns: i64) -> Evaluation {
    let w = window_ns.max(1);
    let flagged: BTreeMap<i64, &Anomaly> = anomalies.iter().map(|a| (a.window_start_ns, a)).collect();
    let mut attack: BTreeMap<AttackKind, BTreeSet<i64>> = BTreeMap::new();
    for l in labels {
        let set = attack.entry(l.kind).or_default();
        let mut k = l.start_ns.div_euclid(w);
        while k * w < l.end_ns {
            set.insert(k * w);
            k += 1;
        }
    }
    let all_attack: BTreeSet<i64> = attack.values().flatten().copied().collect();
    let tp = flagged.keys().filter(|t| all_attack.contains(t)).count();
    let fp_windows: Vec<String> =
        flagged.iter().filter(|(t, _)| !all_attack.contains(t)).map(|(_, a)| a.window_start.clone()).collect();
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let per_kind = attack
        .iter()
        .map(|(kind, set)| {
            let detected = set.iter().filter(|t| flagged.contains_key(t)).count();
            KindScore { kind: *kind, windows: set.len(), detected, recall: ratio(detected, set.len()) }
        })
        .collect();
    Evaluation {
        window_ns: w,
        flagged: flagged.len(),
        true_positives: tp,
        false_positives: fp_windows.len(),
        false_negatives: all_attack.len() - tp,
        precision: ratio(tp, flagged.len()),
        recall: ratio(tp, all_attack.len()),
        per_kind,
        false_positive_windows: fp_windows,
    }
}
