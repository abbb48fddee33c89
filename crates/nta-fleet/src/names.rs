//! [`SensorName`], [`RecordKind`] and [`NatsUrls`]: how records are named on the bus and in
//! the store — subjects `nta.<kind>.<sensor>`, streams `NTA_<KIND>`, tables `<kind>`, and one
//! id per record from which the JetStream message id and ClickHouse's de-duplication key are
//! made (a record sent twice is stored once).

use crate::Error;
use nta_analysis::{Anomaly, stable_id};
use nta_metrics::{FlowRecord, WindowRecord};
use std::fmt;

/// A sensor's name: 1–64 characters of `A–Z a–z 0–9 _ -` (it is a token of NATS subjects,
/// so no `.`, `*`, `>` or space).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SensorName(String);

/// Longest sensor name, characters.
pub const MAX_SENSOR_NAME: usize = 64;

impl std::str::FromStr for SensorName {
    type Err = Error;

    fn from_str(s: &str) -> Result<SensorName, Error> {
        let bad = |reason| Error::SensorName { name: s.chars().take(80).collect(), reason };
        if s.is_empty() || s.len() > MAX_SENSOR_NAME {
            return Err(bad("1 to 64 characters"));
        }
        if !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
            return Err(bad("letters, digits, _ and - only (it is a NATS subject token)"));
        }
        Ok(SensorName(s.to_owned()))
    }
}

impl SensorName {
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SensorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The three kinds of record a sensor publishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordKind {
    /// Window records (`extract`, `detect`).
    Metrics,
    /// Anomalies (`detect`).
    Anomalies,
    /// Flow records (`flows`, `extract --flows`).
    Flows,
}

impl RecordKind {
    /// Every kind.
    pub const ALL: [RecordKind; 3] = [RecordKind::Metrics, RecordKind::Anomalies, RecordKind::Flows];

    /// `metrics`, `anomalies`, `flows`: the subject's second token and the table's name.
    pub fn name(self) -> &'static str {
        match self {
            RecordKind::Metrics => "metrics",
            RecordKind::Anomalies => "anomalies",
            RecordKind::Flows => "flows",
        }
    }

    /// The JetStream stream holding every sensor's records of this kind.
    pub fn stream(self) -> &'static str {
        match self {
            RecordKind::Metrics => "NTA_METRICS",
            RecordKind::Anomalies => "NTA_ANOMALIES",
            RecordKind::Flows => "NTA_FLOWS",
        }
    }

    /// The subjects of the stream: `nta.<kind>.*`.
    pub fn stream_subjects(self) -> String {
        format!("nta.{}.*", self.name())
    }

    /// The subject `sensor` publishes this kind to: `nta.<kind>.<sensor>`.
    pub fn subject(self, sensor: &SensorName) -> String {
        format!("nta.{}.{}", self.name(), sensor)
    }

    /// The durable consumer ingesters share for this kind.
    pub fn consumer(self) -> &'static str {
        match self {
            RecordKind::Metrics => "nta-ingest-metrics",
            RecordKind::Anomalies => "nta-ingest-anomalies",
            RecordKind::Flows => "nta-ingest-flows",
        }
    }
}

impl std::str::FromStr for RecordKind {
    type Err = String;

    fn from_str(s: &str) -> Result<RecordKind, String> {
        RecordKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("record kind {s:?}: expected metrics, anomalies or flows"))
    }
}

/// The id of a window record: its sensor, capture, window and length; a late
/// (supplementary) record is told apart by its counts.
pub fn window_id(r: &WindowRecord) -> String {
    let sensor = r.sensor.as_deref().unwrap_or_default();
    let (start, len) = (r.window_start_ns.to_le_bytes(), r.window_ns.to_le_bytes());
    if r.late {
        let counts = [r.packets.to_le_bytes(), r.bytes.to_le_bytes()].concat();
        stable_id(&[b"window", sensor.as_bytes(), r.capture.as_bytes(), &start, &len, b"late", &counts])
    } else {
        stable_id(&[b"window", sensor.as_bytes(), r.capture.as_bytes(), &start, &len])
    }
}

/// The id of an anomaly: its own (made of its capture, window, detector and sensor).
pub fn anomaly_id(a: &Anomaly) -> String {
    a.id.clone()
}

/// The id of a flow record: its sensor, start, key and tunnel.
pub fn flow_id(f: &FlowRecord) -> String {
    let sensor = f.sensor.as_deref().unwrap_or_default();
    let ends = format!("{} {} {} {} {}", f.src_ip, f.src_port, f.dst_ip, f.dst_port, f.proto);
    let tunnel = f.tunnel.map(|t| format!("{:?} {:?} {} {}", t.kind, t.id, t.src_ip, t.dst_ip)).unwrap_or_default();
    let vlan = f.vlan.unwrap_or(u16::MAX).to_le_bytes();
    stable_id(&[b"flow", sensor.as_bytes(), &f.first_ns.to_le_bytes(), ends.as_bytes(), &vlan, tunnel.as_bytes()])
}

/// NATS servers, `nats://h1:4222,h2:4222` (the scheme may be left out): the client connects
/// to one and fails over to the others.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NatsUrls(Vec<String>);

impl std::str::FromStr for NatsUrls {
    type Err = Error;

    fn from_str(s: &str) -> Result<NatsUrls, Error> {
        let mut urls = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let bad = |reason: &str| Error::Address { what: "NATS", url: part.to_owned(), reason: reason.to_owned() };
            let rest = part.strip_prefix("nats://").unwrap_or(part);
            if rest.contains("://") {
                return Err(bad("expected nats://HOST:PORT"));
            }
            let (host, port) = rest.rsplit_once(':').ok_or_else(|| bad("expected HOST:PORT"))?;
            if host.is_empty() || port.parse::<u16>().is_err() {
                return Err(bad("expected HOST:PORT with a port of 1 to 65535"));
            }
            urls.push(format!("nats://{rest}"));
        }
        if urls.is_empty() {
            return Err(Error::Address { what: "NATS", url: s.to_owned(), reason: "no server given".to_owned() });
        }
        Ok(NatsUrls(urls))
    }
}

impl NatsUrls {
    /// The servers, `nats://HOST:PORT` each.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    pub(crate) fn addrs(&self) -> Result<Vec<async_nats::ServerAddr>, Error> {
        self.0
            .iter()
            .map(|u| {
                u.parse::<async_nats::ServerAddr>().map_err(|e| Error::Address {
                    what: "NATS",
                    url: u.clone(),
                    reason: e.to_string(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sensor_names_are_subject_tokens() {
        assert!("edge-1".parse::<SensorName>().is_ok());
        assert!("dc2_core".parse::<SensorName>().is_ok());
        for bad in ["", "a.b", "a b", "a*", ">", &"x".repeat(65)] {
            assert!(bad.parse::<SensorName>().is_err(), "{bad:?}");
        }
        let s: SensorName = "edge-1".parse().unwrap();
        assert_eq!(RecordKind::Anomalies.subject(&s), "nta.anomalies.edge-1");
    }

    #[test]
    fn nats_urls_parse() {
        let u: NatsUrls = "nats://127.0.0.1:4222, 10.0.0.2:4223".parse().unwrap();
        assert_eq!(u.as_slice(), ["nats://127.0.0.1:4222", "nats://10.0.0.2:4223"]);
        for bad in ["", "nats://h", "http://h:1", "h:99999", ":4222"] {
            assert!(bad.parse::<NatsUrls>().is_err(), "{bad:?}");
        }
    }
}
