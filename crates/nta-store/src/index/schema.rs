//! The index's tables and what one anomaly puts in them.
//!
//! ```text
//! meta(key, value)           file identity, bytes indexed, bad lines, the schema's version
//! captures(id, name)         capture names, numbered
//! sensors(id, name)          sensor names, numbered
//! anomalies(n, id, at, len, start_ns, end_ns, gap, capture, sensor, kind, severity,
//!           detector, score, abs_z, score0, abs_z0, top3, incident, canonical)
//!                            one row per stored line: where it is (`at`, `len`), what the
//!                            filters, the orders and the incident rule read, the id of the
//!                            incident it would begin, and whether the line is exactly what
//!                            this version writes (then sent as it is)
//! hosts(ip, n)               the attackers' and victims' addresses of row n
//! kinds(severity, kind, n)   rows by severity and kind, kept up by every insert (the
//!                            counts `/metrics` and `/api/status` read without a pass)
//! ```
//!
//! Kinds, detectors and metrics are kept by name, never by a position in an enum that a
//! later version could reorder; severity by rank (low 0 … critical 3).

use nta_analysis::{Anomaly, Detector, Severity, stable_id};
use nta_capture::AttackKind;
use nta_metrics::Metric;
use rusqlite::{Connection, params};
use std::net::IpAddr;

/// Bumped when the tables change: an index of another version is rebuilt.
pub(crate) const SCHEMA_VERSION: i64 = 5;

pub(crate) const CREATE_TABLES: &str = "
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS captures(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS sensors(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS anomalies(
    n INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    at INTEGER NOT NULL,
    len INTEGER NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    gap INTEGER NOT NULL,
    capture INTEGER NOT NULL,
    sensor INTEGER,
    kind TEXT NOT NULL,
    severity INTEGER NOT NULL,
    detector TEXT NOT NULL,
    score REAL,
    abs_z REAL,
    score0 REAL NOT NULL,
    abs_z0 REAL NOT NULL,
    top3 TEXT NOT NULL,
    incident INTEGER NOT NULL,
    canonical INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS hosts(ip BLOB NOT NULL, n INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS kinds(severity INTEGER NOT NULL, kind TEXT NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY(severity, kind)) WITHOUT ROWID;
";

/// Secondary indexes, made after a first bulk load (faster than kept up row by row) and kept
/// up by every later insert.
pub(crate) const CREATE_INDEXES: &str = "
CREATE INDEX IF NOT EXISTS by_time ON anomalies(start_ns, id);
CREATE INDEX IF NOT EXISTS by_triage ON anomalies(severity DESC, score0 DESC, abs_z0 DESC, start_ns, id);
CREATE INDEX IF NOT EXISTS by_id ON anomalies(id);
CREATE INDEX IF NOT EXISTS by_incident ON anomalies(incident);
CREATE INDEX IF NOT EXISTS by_kind_time ON anomalies(kind, start_ns, id);
CREATE INDEX IF NOT EXISTS by_kind_triage ON anomalies(kind, severity DESC, score0 DESC, abs_z0 DESC, start_ns, id);
CREATE INDEX IF NOT EXISTS by_capture_time ON anomalies(capture, start_ns, id);
CREATE INDEX IF NOT EXISTS by_capture_triage ON anomalies(capture, severity DESC, score0 DESC, abs_z0 DESC, start_ns, id);
CREATE INDEX IF NOT EXISTS by_ip ON hosts(ip, n);
";

/// What the index keeps of one line of the store.
#[derive(Debug)]
pub(crate) struct Row {
    pub(crate) id: String,
    pub(crate) start_ns: i64,
    pub(crate) end_ns: i64,
    pub(crate) gap: i64,
    pub(crate) capture: String,
    pub(crate) sensor: Option<String>,
    pub(crate) kind: AttackKind,
    pub(crate) severity: Severity,
    pub(crate) detector: Detector,
    pub(crate) score: Option<f64>,
    pub(crate) abs_z: Option<f64>,
    pub(crate) top3: String,
    pub(crate) ips: Vec<IpAddr>,
    /// The line is exactly what this version writes for the record.
    pub(crate) canonical: bool,
}

impl Row {
    /// The row of a record.
    pub(crate) fn of(a: &Anomaly, canonical: bool) -> Row {
        let mut ips: Vec<IpAddr> = a.attackers.iter().chain(&a.victims).map(|h| h.ip).collect();
        ips.sort_unstable();
        ips.dedup();
        Row {
            id: a.id.clone(),
            start_ns: a.window_start_ns,
            end_ns: a.window_end_ns,
            gap: a.incident_gap_windows,
            capture: a.capture.clone(),
            sensor: a.sensor.clone(),
            kind: a.kind,
            severity: a.severity,
            detector: a.detector,
            score: a.score,
            abs_z: a.max_abs_z,
            top3: a.explanation.iter().take(3).map(|c| c.metric.name()).collect::<Vec<_>>().join(","),
            ips,
            canonical,
        }
    }
}

/// The rank of a severity (low 0 … critical 3) and back.
pub(crate) fn severity_rank(s: Severity) -> i64 {
    Severity::ALL.iter().position(|x| *x == s).map_or(0, |p| p as i64)
}

pub(crate) fn severity_of_rank(r: i64) -> Severity {
    usize::try_from(r).ok().and_then(|r| Severity::ALL.get(r).copied()).unwrap_or(Severity::Low)
}

/// A kind by name (`unknown` for a name this version does not know).
pub(crate) fn kind_of(name: &str) -> AttackKind {
    AttackKind::ALL.iter().copied().find(|k| k.name() == name).unwrap_or(AttackKind::Unknown)
}

/// The metrics of a `top3` column (names this version does not know are left out).
pub(crate) fn metrics_of(top3: &str) -> [Option<Metric>; 3] {
    let mut out = [None; 3];
    for (slot, name) in out.iter_mut().zip(top3.split(',').filter(|n| !n.is_empty())) {
        *slot = name.parse().ok();
    }
    out
}

/// An incident id (16 hex digits, `nta_analysis::stable_id`) as the `incident` column keeps
/// it: its 64 bits as an integer.
pub(crate) fn incident_key(id: &str) -> Option<i64> {
    let bits = u64::from_str_radix(id, 16).ok().filter(|_| id.len() == 16)?;
    Some(i64::from_ne_bytes(bits.to_ne_bytes()))
}

/// An address as the `hosts` table keeps it (4 or 16 bytes).
pub(crate) fn ip_bytes(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

/// A score as the order keys keep it: absent (or NaN) as 0, as the listing's order reads it.
fn key_of(v: Option<f64>) -> f64 {
    v.filter(|v| !v.is_nan()).unwrap_or(0.0)
}

/// Inserts rows (one transaction is the caller's): `rows` with the byte offset and length of
/// each line.
pub(crate) struct Inserter<'c> {
    anomaly: rusqlite::Statement<'c>,
    host: rusqlite::Statement<'c>,
    capture: rusqlite::Statement<'c>,
    capture_id: rusqlite::Statement<'c>,
    sensor: rusqlite::Statement<'c>,
    sensor_id: rusqlite::Statement<'c>,
    kinds: rusqlite::Statement<'c>,
    /// Rows by severity and kind since the last [`Inserter::finish`].
    pending: std::collections::BTreeMap<(i64, &'static str), i64>,
    /// The last capture and sensor named, with their ids (consecutive rows mostly share them).
    last_capture: Option<(String, i64)>,
    last_sensor: Option<(String, i64)>,
}

impl<'c> Inserter<'c> {
    pub(crate) fn new(c: &'c Connection) -> rusqlite::Result<Inserter<'c>> {
        Ok(Inserter {
            anomaly: c.prepare(
                "INSERT INTO anomalies(id, at, len, start_ns, end_ns, gap, capture, sensor, kind, severity, detector,
                 score, abs_z, score0, abs_z0, top3, incident, canonical) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,
                 ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
            )?,
            host: c.prepare("INSERT INTO hosts(ip, n) VALUES (?1, ?2)")?,
            capture: c.prepare("INSERT OR IGNORE INTO captures(name) VALUES (?1)")?,
            capture_id: c.prepare("SELECT id FROM captures WHERE name = ?1")?,
            sensor: c.prepare("INSERT OR IGNORE INTO sensors(name) VALUES (?1)")?,
            sensor_id: c.prepare("SELECT id FROM sensors WHERE name = ?1")?,
            kinds: c.prepare(
                "INSERT INTO kinds(severity, kind, n) VALUES (?1, ?2, ?3)
                 ON CONFLICT(severity, kind) DO UPDATE SET n = n + ?3",
            )?,
            pending: std::collections::BTreeMap::new(),
            last_capture: None,
            last_sensor: None,
        })
    }

    /// Inserts one row for the line at `at` of `len` bytes.
    pub(crate) fn insert(&mut self, r: &Row, at: u64, len: u64) -> rusqlite::Result<()> {
        let capture = match &self.last_capture {
            Some((name, id)) if *name == r.capture => *id,
            _ => {
                self.capture.execute([&r.capture])?;
                let id: i64 = self.capture_id.query_row([&r.capture], |row| row.get(0))?;
                self.last_capture = Some((r.capture.clone(), id));
                id
            }
        };
        let sensor = match (&r.sensor, &self.last_sensor) {
            (None, _) => None,
            (Some(s), Some((name, id))) if name == s => Some(*id),
            (Some(s), _) => {
                self.sensor.execute([s])?;
                let id: i64 = self.sensor_id.query_row([s], |row| row.get(0))?;
                self.last_sensor = Some((s.clone(), id));
                Some(id)
            }
        };
        // Offsets and lengths of a file stay far below i64::MAX.
        let (at, len) = (i64::try_from(at).unwrap_or(i64::MAX), i64::try_from(len).unwrap_or(i64::MAX));
        let finite = |v: Option<f64>| v.filter(|v| !v.is_nan());
        let n = self.anomaly.insert(params![
            r.id,
            at,
            len,
            r.start_ns,
            r.end_ns,
            r.gap,
            capture,
            sensor,
            r.kind.name(),
            severity_rank(r.severity),
            r.detector.name(),
            finite(r.score),
            finite(r.abs_z),
            key_of(r.score),
            key_of(r.abs_z),
            r.top3,
            incident_key(&stable_id(&[b"incident", r.id.as_bytes()])).unwrap_or(0),
            r.canonical,
        ])?;
        for ip in &r.ips {
            self.host.execute(params![ip_bytes(*ip), n])?;
        }
        *self.pending.entry((severity_rank(r.severity), r.kind.name())).or_insert(0) += 1;
        Ok(())
    }

    /// Adds the rows inserted to the counts by severity and kind (once a block, not a row).
    pub(crate) fn finish(&mut self) -> rusqlite::Result<()> {
        for ((severity, kind), n) in std::mem::take(&mut self.pending) {
            self.kinds.execute(params![severity, kind, n])?;
        }
        Ok(())
    }
}
