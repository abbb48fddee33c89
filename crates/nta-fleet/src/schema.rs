//! The ClickHouse tables of the records and the rows inserted into them.
//!
//! Each table keeps the record whole (`record`, its JSON as the sensor sent it, which the API
//! answers with) beside typed columns to filter and order on. Times are nanoseconds in
//! `Int64` columns with a `DateTime` (seconds) computed from them for the partitioning (no
//! `DateTime64` in ClickHouse 18). Partitions are days; rows are ordered by sensor and time;
//! the engine is `ReplacingMergeTree` over a key that ends with the record's id, so a record
//! inserted twice (a redelivery, a resend) is kept once — readers ask with `FINAL`.

use crate::names::{RecordKind, flow_id, window_id};
use nta_analysis::{Anomaly, Severity};
use nta_metrics::{FlowRecord, WindowRecord};
use serde_json::json;

/// `CREATE TABLE IF NOT EXISTS` of `table` for `kind`.
pub(crate) fn create_table(table: &str, kind: RecordKind) -> String {
    let (columns, time, key) = match kind {
        RecordKind::Metrics => (
            "sensor String, id String, capture String, window_start_ns Int64, window_ns Int64, late UInt8, \
             packets UInt64, bytes UInt64, record String",
            "window_start_ns",
            "sensor, window_start_ns, id",
        ),
        RecordKind::Anomalies => (
            "sensor String, id String, capture String, window_start_ns Int64, window_end_ns Int64, \
             detector String, kind String, severity UInt8, score Nullable(Float64), max_abs_z Nullable(Float64), \
             hosts Array(String), record String",
            "window_start_ns",
            "sensor, window_start_ns, id",
        ),
        RecordKind::Flows => (
            "sensor String, id String, community_id String, proto UInt8, src_ip String, src_port UInt16, \
             dst_ip String, dst_port UInt16, first_ns Int64, last_ns Int64, record String",
            "first_ns",
            "sensor, first_ns, id",
        ),
    };
    format!(
        "CREATE TABLE IF NOT EXISTS {table} ({columns}, \
         time DateTime MATERIALIZED toDateTime(intDiv({time}, 1000000000))) \
         ENGINE = ReplacingMergeTree() PARTITION BY toYYYYMMDD(time) ORDER BY ({key})"
    )
}

/// The rank of a severity in the `severity` column (higher is worse).
pub(crate) fn severity_rank(s: Severity) -> u8 {
    match s {
        Severity::Low => 1,
        Severity::Medium => 2,
        Severity::High => 3,
        Severity::Critical => 4,
    }
}

/// Why a message is not a row: it is not a record of its kind.
#[derive(Debug, thiserror::Error)]
#[error("not a record of its kind: {0}")]
pub struct BadRecord(pub(crate) String);

/// The row (one JSON line, with its newline) of a message of `kind` from `sensor` (the
/// subject's last token, which wins over a `sensor` in the record), appended to `out`: what
/// the ingester inserts.
pub fn encode_row(kind: RecordKind, sensor: &str, payload: &[u8], out: &mut Vec<u8>) -> Result<(), BadRecord> {
    let text = std::str::from_utf8(payload).map_err(|e| BadRecord(e.to_string()))?;
    let bad = |e: serde_json::Error| BadRecord(e.to_string());
    let value = match kind {
        RecordKind::Metrics => {
            let mut r: WindowRecord = serde_json::from_str(text).map_err(bad)?;
            r.sensor = Some(sensor.to_owned());
            json!({
                "sensor": sensor, "id": window_id(&r), "capture": r.capture,
                "window_start_ns": r.window_start_ns, "window_ns": r.window_ns, "late": u8::from(r.late),
                "packets": r.packets, "bytes": r.bytes, "record": serde_json::to_string(&r).map_err(bad)?,
            })
        }
        RecordKind::Anomalies => {
            let mut a: Anomaly = serde_json::from_str(text).map_err(bad)?;
            a.sensor = Some(sensor.to_owned());
            let hosts: Vec<String> = a.attackers.iter().chain(&a.victims).map(|h| h.ip.to_string()).collect();
            json!({
                "sensor": sensor, "id": a.id, "capture": a.capture,
                "window_start_ns": a.window_start_ns, "window_end_ns": a.window_end_ns,
                "detector": a.detector.name(), "kind": a.kind.name(), "severity": severity_rank(a.severity),
                "score": a.score, "max_abs_z": a.max_abs_z, "hosts": hosts,
                "record": serde_json::to_string(&a).map_err(bad)?,
            })
        }
        RecordKind::Flows => {
            let mut f: FlowRecord = serde_json::from_str(text).map_err(bad)?;
            f.sensor = Some(sensor.to_owned());
            json!({
                "sensor": sensor, "id": flow_id(&f), "community_id": f.community_id, "proto": f.proto,
                "src_ip": f.src_ip.to_string(), "src_port": f.src_port,
                "dst_ip": f.dst_ip.to_string(), "dst_port": f.dst_port,
                "first_ns": f.first_ns, "last_ns": f.last_ns, "record": serde_json::to_string(&f).map_err(bad)?,
            })
        }
    };
    serde_json::to_writer(&mut *out, &value).map_err(bad)?;
    out.push(b'\n');
    Ok(())
}
