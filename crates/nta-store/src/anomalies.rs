//! [`AnomalyStore`]: the append-only anomaly log (`logs/anomalies.jsonl`, one JSON record a
//! line), safe for several writers at once and against crashes and full disks.
//!
//! An append takes an exclusive advisory lock on the file (`flock`), reads the ids stored,
//! writes every new record in one `write`, syncs, and releases the lock: two processes
//! appending at once never duplicate an id or interleave lines. If the write or the sync
//! fails (a full disk), the file is cut back to its length before the append, so it holds
//! exactly what it held, and the error is returned. A crash (kill -9) can leave at most a
//! torn last line: readers skip and report it, and the next append starts on a fresh line.

use crate::Error;
use crate::index::KnownIds;
use nta_analysis::{Anomaly, Detector, Severity};
use nta_capture::{LineError, LineReader};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

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

/// Filters of a listing; every field optional.
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
    /// Capture name containing this text (`source` before 0.2).
    #[serde(alias = "source")]
    pub capture: Option<String>,
    /// This attack kind.
    pub kind: Option<nta_capture::AttackKind>,
    /// This address among the attackers or the victims.
    pub ip: Option<std::net::IpAddr>,
    /// Model score at least this.
    pub min_score: Option<f64>,
    /// Records of this sensor (`--sensor` of a fleet's sensors).
    pub sensor: Option<String>,
    /// The order of a listing and of incidents.
    #[serde(default)]
    pub order: Order,
}

/// The order of a listing: most severe first (triage, the default), or time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Order {
    /// Severity, then model score, then |z| (highest first), then time.
    #[default]
    Severity,
    /// Window start, then id.
    Time,
}

impl std::str::FromStr for Order {
    type Err = String;

    fn from_str(s: &str) -> Result<Order, String> {
        match s {
            "severity" => Ok(Order::Severity),
            "time" => Ok(Order::Time),
            _ => Err(format!("order {s:?}: expected severity or time")),
        }
    }
}

impl Order {
    /// Sorts `v` (in time order already, or not) in this order.
    pub fn sort(self, v: &mut [Anomaly]) {
        v.sort_by(|a, b| self.compare(a, b));
    }

    /// Sorts references the same way.
    pub fn sort_refs(self, v: &mut [&Anomaly]) {
        v.sort_by(|a, b| self.compare(a, b));
    }

    /// The order of two records: (severity, score, |z|, highest first, when by severity), then
    /// window start, then id.
    fn compare(self, a: &Anomaly, b: &Anomaly) -> std::cmp::Ordering {
        let triage = |a: &Anomaly| (a.severity, a.score.unwrap_or(0.0), a.max_abs_z.unwrap_or(0.0));
        let first = match self {
            Order::Severity => triage(b).partial_cmp(&triage(a)).unwrap_or(std::cmp::Ordering::Equal),
            Order::Time => std::cmp::Ordering::Equal,
        };
        first.then(a.window_start_ns.cmp(&b.window_start_ns)).then_with(|| a.id.cmp(&b.id))
    }
}

impl Filter {
    /// Whether `a` passes.
    pub fn matches(&self, a: &Anomaly) -> bool {
        self.since_ns.is_none_or(|t| a.window_end_ns > t)
            && self.until_ns.is_none_or(|t| a.window_start_ns < t)
            && self.min_severity.is_none_or(|s| a.severity >= s)
            && self.detector.is_none_or(|d| a.detector == d)
            && self.capture.as_deref().is_none_or(|s| a.capture.contains(s))
            && self.kind.is_none_or(|k| a.kind == k)
            && self.ip.is_none_or(|ip| a.attackers.iter().chain(&a.victims).any(|h| h.ip == ip))
            && self.min_score.is_none_or(|m| a.score.is_some_and(|s| s >= m))
            && self.sensor.as_deref().is_none_or(|s| a.sensor.as_deref() == Some(s))
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
    /// On error nothing was appended.
    pub fn append(&self, anomalies: &[Anomaly]) -> Result<usize, Error> {
        let io = Error::io(&self.path);
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
        }
        let mut file = std::fs::OpenOptions::new().read(true).append(true).create(true).open(&self.path).map_err(io)?;
        // Released when `file` is closed, on every path out of here.
        file.lock().map_err(Error::io(&self.path))?;
        let index = crate::index::index_path(&self.path);
        let (mut seen, ends_clean) = KnownIds::of(&file, &index).map_err(Error::io(&self.path))?;
        let mut lines = Vec::new();
        if !ends_clean {
            lines.push(b'\n'); // a torn last line from an earlier crash: start afresh
        }
        let mut n = 0;
        for a in anomalies {
            if !seen.insert(&a.id).map_err(Error::io(&self.path))? {
                continue;
            }
            serde_json::to_writer(&mut lines, a).map_err(|e| Error::io(&self.path)(e.into()))?;
            lines.push(b'\n');
            n += 1;
        }
        if n == 0 {
            return Ok(0);
        }
        let before = file.metadata().map_err(Error::io(&self.path))?.len();
        let written = file.write_all(&lines).and_then(|()| file.sync_data());
        if let Err(e) = written {
            // Cut back whatever part was written: the store is exactly as it was.
            let _ = file.set_len(before).and_then(|()| file.sync_data());
            return Err(Error::io(&self.path)(e));
        }
        Ok(n)
    }

    /// Every record; a missing file is an empty store.
    pub fn read(&self) -> Result<StoreRead, Error> {
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(StoreRead::default()),
            Err(source) => return Err(Error::Io { path: self.path.clone(), source }),
        };
        let mut out = StoreRead::default();
        let mut lines = LineReader::new(BufReader::new(file));
        let line_error = |e: LineError| Error::Format { path: self.path.clone(), reason: e.to_string() };
        while let Some(line) = lines.next_line().map_err(line_error)? {
            let text = line.text.trim();
            if text.is_empty() {
                continue;
            }
            match serde_json::from_str::<Anomaly>(text) {
                Ok(a) => out.anomalies.push(a),
                Err(_) if !line.complete => out.torn_last_line = true,
                Err(_) => out.bad_lines += 1,
            }
        }
        Ok(out)
    }

    /// The matching records in time order, `limit` of them from `offset`.
    pub fn list(&self, filter: &Filter, offset: usize, limit: usize) -> Result<Page, Error> {
        let mut all: Vec<Anomaly> = self.read()?.anomalies.into_iter().filter(|a| filter.matches(a)).collect();
        filter.order.sort(&mut all);
        let total = all.len();
        let items = all.into_iter().skip(offset).take(limit).collect();
        Ok(Page { total, offset, items })
    }
}
