//! Answers kept for the version of the store they answered: a listing's total and a summary
//! cost a pass over every matching row, the same question asked again (a dashboard polling,
//! a client paging) costs nothing until the store changes. A few dozen answers at most.

use crate::anomalies::Filter;
use crate::files::SummaryPage;
use nta_analysis::Severity;
use nta_capture::AttackKind;
use std::sync::{Arc, Mutex};

/// Answers kept of each kind.
const KEPT: usize = 64;

/// The store's version: the file (device, inode) and the bytes indexed.
pub(super) type Version = (u64, u64, u64);

/// A summary's question: the store's version, the filter, offset and limit of incidents.
type SummaryKey = (Version, Filter, usize, usize);

/// Counts by severity and kind.
pub(super) type KindCounts = Arc<Vec<(Severity, AttackKind, usize)>>;

/// The last answers, most recent last.
#[derive(Debug, Default)]
pub(super) struct Answers {
    totals: Mutex<Vec<((Version, Filter), usize)>>,
    summaries: Mutex<Vec<(SummaryKey, Arc<SummaryPage>)>>,
    kinds: Mutex<Option<(Version, KindCounts)>>,
}

fn find<K: PartialEq, V: Clone>(kept: &Mutex<Vec<(K, V)>>, key: &K) -> Option<V> {
    let kept = super::lock(kept);
    kept.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

fn keep<K: PartialEq, V>(kept: &Mutex<Vec<(K, V)>>, key: K, value: V) {
    let mut kept = super::lock(kept);
    kept.retain(|(k, _)| *k != key);
    if kept.len() >= KEPT {
        kept.remove(0);
    }
    kept.push((key, value));
}

impl Answers {
    pub(super) fn total(&self, v: Version, f: &Filter) -> Option<usize> {
        find(&self.totals, &(v, f.clone()))
    }

    pub(super) fn keep_total(&self, v: Version, f: &Filter, total: usize) {
        keep(&self.totals, (v, f.clone()), total);
    }

    pub(super) fn summary(&self, v: Version, f: &Filter, offset: usize, limit: usize) -> Option<Arc<SummaryPage>> {
        find(&self.summaries, &(v, f.clone(), offset, limit))
    }

    pub(super) fn keep_summary(&self, v: Version, f: &Filter, offset: usize, limit: usize, s: Arc<SummaryPage>) {
        keep(&self.summaries, (v, f.clone(), offset, limit), s);
    }

    pub(super) fn kinds(&self, v: Version) -> Option<KindCounts> {
        super::lock(&self.kinds).as_ref().filter(|(k, _)| *k == v).map(|(_, c)| c.clone())
    }

    pub(super) fn keep_kinds(&self, v: Version, c: KindCounts) {
        *super::lock(&self.kinds) = Some((v, c));
    }
}
