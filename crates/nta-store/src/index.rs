//! [`StoreIndex`]: the anomaly store kept in memory for a server, following appends;
//! readers share immutable [`Snapshot`]s.

use crate::Error;
use crate::anomalies::{AnomalyStore, Filter, Page, sort_anomalies};
use crate::identity::FileKey;
use nta_analysis::Anomaly;
use std::io::{Read, Seek, SeekFrom};
use std::sync::{Arc, Mutex};

/// A store kept in memory for a server's listings: each call checks the file's size and
/// parses only the lines appended since the last call, so a listing costs a `stat` and a
/// filter, not a re-read. A file that shrank or was replaced (another inode) is read afresh;
/// an incomplete last line is left for the next call (a writer may be in the middle of it).
/// Shareable between threads; readers get an immutable [`Snapshot`].
#[derive(Debug)]
pub struct StoreIndex {
    store: AnomalyStore,
    state: Mutex<IndexState>,
}

#[derive(Debug, Default)]
struct IndexState {
    /// Bytes of the file parsed (up to and including the last complete line).
    consumed: u64,
    /// Device and inode of the file parsed (unix), to notice a replacement.
    identity: Option<FileKey>,
    snapshot: Arc<Snapshot>,
}

/// The store's records at one instant, sorted by window start then id.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// The records.
    pub anomalies: Vec<Anomaly>,
    /// Complete lines that did not parse, skipped.
    pub bad_lines: usize,
}

impl Snapshot {
    /// The matching records, `limit` of them from `offset` (cloning only those).
    pub fn list(&self, filter: &Filter, offset: usize, limit: usize) -> Page {
        let mut matching: Vec<&Anomaly> = self.anomalies.iter().filter(|a| filter.matches(a)).collect();
        if filter.order != crate::anomalies::Order::Time {
            filter.order.sort_refs(&mut matching);
        }
        let total = matching.len();
        let items = matching.into_iter().skip(offset).take(limit).cloned().collect();
        Page { total, offset, items }
    }

    /// The record with this id.
    pub fn get(&self, id: &str) -> Option<&Anomaly> {
        self.anomalies.iter().find(|a| a.id == id)
    }
}

impl StoreIndex {
    /// An index of `store`, empty until the first [`StoreIndex::snapshot`].
    pub fn new(store: AnomalyStore) -> StoreIndex {
        StoreIndex { store, state: Mutex::new(IndexState::default()) }
    }

    /// The records as the file holds them now.
    pub fn snapshot(&self) -> Result<Arc<Snapshot>, Error> {
        let path = self.store.path();
        let io = |source| Error::Io { path: path.to_owned(), source };
        let mut st = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                *st = IndexState::default();
                return Ok(st.snapshot.clone());
            }
            Err(e) => return Err(io(e)),
        };
        let id = FileKey::of(&meta);
        if meta.len() < st.consumed || !st.identity.is_some_and(|k| k.same_file(&id)) {
            *st = IndexState { identity: Some(id), ..IndexState::default() };
        }
        if meta.len() == st.consumed {
            return Ok(st.snapshot.clone());
        }
        let mut file = std::fs::File::open(path).map_err(io)?;
        file.seek(SeekFrom::Start(st.consumed)).map_err(io)?;
        let mut tail = Vec::new();
        file.take(meta.len() - st.consumed).read_to_end(&mut tail).map_err(io)?;
        let Some(complete) = tail.iter().rposition(|b| *b == b'\n').map(|i| i + 1) else {
            return Ok(st.snapshot.clone());
        };
        let mut next = (*st.snapshot).clone();
        for line in tail.get(..complete).unwrap_or_default().split(|b| *b == b'\n') {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<Anomaly>(line) {
                Ok(a) => next.anomalies.push(a),
                Err(_) => next.bad_lines += 1,
            }
        }
        sort_anomalies(&mut next.anomalies);
        st.consumed += complete as u64;
        st.snapshot = Arc::new(next);
        Ok(st.snapshot.clone())
    }
}
