//! [`AnomalyStore`]: `logs/anomalies.jsonl`, append-only. Each record is one line written
//! with a single `write` followed by a flush and fsync, so a crash leaves at most a torn last
//! line, which readers skip and report. Appending skips ids already stored: re-running
//! detection does not duplicate.

use crate::Error;
use crate::anomaly::{Anomaly, Detector, Severity};
use nta_metrics::Metric;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The append-only anomaly log.
#[derive(Clone, Debug)]
pub struct AnomalyStore {
    path: PathBuf,
}

/// What a read found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StoreRead {
    /// Records, in file order.
    pub anomalies: Vec<Anomaly>,
    /// The last line was incomplete (a writer was interrupted) and was skipped.
    pub torn_last_line: bool,
    /// Lines that did not parse (other than a torn last line), skipped.
    pub bad_lines: usize,
}

/// Filters of [`AnomalyStore::list`]; every field optional.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Filter {
    /// Windows ending after this (ns).
    pub since_ns: Option<i64>,
    /// Windows starting before this (ns).
    pub until_ns: Option<i64>,
    /// At least this severity.
    pub min_severity: Option<Severity>,
    /// This detector.
    pub detector: Option<Detector>,
    /// Source containing this text.
    pub source: Option<String>,
    /// Model score at least this.
    pub min_score: Option<f64>,
}

impl Filter {
    /// Whether `a` passes.
    pub fn matches(&self, a: &Anomaly) -> bool {
        self.since_ns.is_none_or(|t| a.window_end_ns > t)
            && self.until_ns.is_none_or(|t| a.window_start_ns < t)
            && self.min_severity.is_none_or(|s| a.severity >= s)
            && self.detector.is_none_or(|d| a.detector == d)
            && self.source.as_deref().is_none_or(|s| a.source.contains(s))
            && self.min_score.is_none_or(|m| a.score.is_some_and(|s| s >= m))
    }
}

/// One page of a listing.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page {
    /// Matching records in total.
    pub total: usize,
    /// Offset of the first item.
    pub offset: usize,
    /// The items (time order).
    pub items: Vec<Anomaly>,
}

/// Counts over the store (or a filtered part of it).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Summary {
    /// Records.
    pub total: usize,
    /// By severity name.
    pub by_severity: BTreeMap<String, usize>,
    /// By detector name.
    pub by_detector: BTreeMap<String, usize>,
    /// First window start, ns.
    pub first_ns: Option<i64>,
    /// Last window end, ns.
    pub last_ns: Option<i64>,
    /// Metrics in the explanations' top 3, most frequent first, with counts.
    pub top_metrics: Vec<(Metric, usize)>,
}

impl AnomalyStore {
    /// The store at `path` (created on first append).
    pub fn new(path: impl Into<PathBuf>) -> AnomalyStore {
        AnomalyStore { path: path.into() }
    }

    /// Its file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends the records whose id is not stored yet; returns how many were appended.
    pub fn append(&self, anomalies: &[Anomaly]) -> Result<usize, Error> {
        let io = |source| Error::Io { path: self.path.clone(), source };
        let existing: HashSet<String> = self.read()?.anomalies.into_iter().map(|a| a.id).collect();
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&self.path).map_err(io)?;
        // A torn last line from an earlier crash: start on a fresh line.
        if let Ok(bytes) = std::fs::read(&self.path)
            && bytes.last().is_some_and(|b| *b != b'\n')
        {
            file.write_all(b"\n").map_err(io)?;
        }
        let mut n = 0;
        let mut seen = existing;
        for a in anomalies {
            if !seen.insert(a.id.clone()) {
                continue;
            }
            let mut line =
                serde_json::to_vec(a).map_err(|e| Error::Io { path: self.path.clone(), source: e.into() })?;
            line.push(b'\n');
            file.write_all(&line).map_err(io)?;
            file.flush().map_err(io)?;
            n += 1;
        }
        file.sync_data().map_err(io)?;
        Ok(n)
    }

    /// Every record; a missing file is an empty store.
    pub fn read(&self) -> Result<StoreRead, Error> {
        let file = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(StoreRead::default()),
            Err(source) => return Err(Error::Io { path: self.path.clone(), source }),
        };
        let mut out = StoreRead::default();
        let mut reader = BufReader::new(file);
        let mut line = String::new();
        loop {
            line.clear();
            let n = reader.read_line(&mut line).map_err(|source| Error::Io { path: self.path.clone(), source })?;
            if n == 0 {
                return Ok(out);
            }
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Anomaly>(line.trim()) {
                Ok(a) => out.anomalies.push(a),
                Err(_) if !line.ends_with('\n') => out.torn_last_line = true,
                Err(_) => out.bad_lines += 1,
            }
        }
    }

    /// The matching records in time order, `limit` of them from `offset`.
    pub fn list(&self, filter: &Filter, offset: usize, limit: usize) -> Result<Page, Error> {
        let mut all: Vec<Anomaly> = self.read()?.anomalies.into_iter().filter(|a| filter.matches(a)).collect();
        sort_anomalies(&mut all);
        let total = all.len();
        let items = all.into_iter().skip(offset).take(limit).collect();
        Ok(Page { total, offset, items })
    }

    /// Counts of the matching records.
    pub fn summary(&self, filter: &Filter) -> Result<Summary, Error> {
        let all: Vec<Anomaly> = self.read()?.anomalies.into_iter().filter(|a| filter.matches(a)).collect();
        Ok(summarize(&all))
    }
}

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
    identity: Option<(u64, u64)>,
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
        let mut total = 0;
        let mut items = Vec::new();
        for a in self.anomalies.iter().filter(|a| filter.matches(a)) {
            if total >= offset && items.len() < limit {
                items.push(a.clone());
            }
            total += 1;
        }
        Page { total, offset, items }
    }

    /// The record with this id.
    pub fn get(&self, id: &str) -> Option<&Anomaly> {
        self.anomalies.iter().find(|a| a.id == id)
    }
}

#[cfg(unix)]
fn identity(m: &std::fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn identity(_: &std::fs::Metadata) -> Option<(u64, u64)> {
    None
}

fn sort_anomalies(v: &mut [Anomaly]) {
    v.sort_by(|a, b| a.window_start_ns.cmp(&b.window_start_ns).then_with(|| a.id.cmp(&b.id)));
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
        let id = identity(&meta);
        if meta.len() < st.consumed || id != st.identity {
            *st = IndexState { identity: id, ..IndexState::default() };
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

/// Counts by severity and detector, time range and top metrics of `anomalies`.
pub fn summarize<'a>(anomalies: impl IntoIterator<Item = &'a Anomaly>) -> Summary {
    let mut s = Summary::default();
    let mut metrics: BTreeMap<Metric, usize> = BTreeMap::new();
    let (mut severities, mut detectors) = (BTreeMap::<&str, usize>::new(), BTreeMap::<&str, usize>::new());
    for a in anomalies {
        s.total += 1;
        *severities.entry(a.severity.name()).or_insert(0) += 1;
        *detectors.entry(a.detector.name()).or_insert(0) += 1;
        s.first_ns = Some(s.first_ns.map_or(a.window_start_ns, |t| t.min(a.window_start_ns)));
        s.last_ns = Some(s.last_ns.map_or(a.window_end_ns, |t| t.max(a.window_end_ns)));
        for c in a.explanation.iter().take(3) {
            *metrics.entry(c.metric).or_insert(0) += 1;
        }
    }
    s.by_severity = severities.into_iter().map(|(k, n)| (k.to_owned(), n)).collect();
    s.by_detector = detectors.into_iter().map(|(k, n)| (k.to_owned(), n)).collect();
    let mut top: Vec<(Metric, usize)> = metrics.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    top.truncate(10);
    s.top_metrics = top;
    s
}
