//! [`Label`]: ground truth about a capture — an interval of capture time known to be abnormal,
//! of an [`AttackKind`], with its attackers and victims when known. `nta-cli synth` writes one per
//! injected attack; baselines leave labelled windows out; evaluation scores detections against
//! them. [`read_labels`] reads them (JSON lines) with bounded lines and counts.

use crate::lines::{LineError, LineReader};
use serde::{Deserialize, Serialize};
use std::io::{BufReader, Read};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// The longest line [`read_labels`] accepts, in bytes.
pub const MAX_LABEL_LINE: usize = 1 << 20;
/// The most labels [`read_labels`] accepts from one file.
pub const MAX_LABELS: usize = 100_000;

/// What kind of abnormal traffic: the vocabulary of labels (and of detections that name an
/// attack). Serialized in `snake_case`; the synthesizer's older names (`portscan`, `portsweep`,
/// `synflood`, `udpflood`, `icmpflood`, `exfil`, `ssh_bruteforce`) are read as aliases.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttackKind {
    /// One source probing many ports of one host.
    #[serde(alias = "portscan")]
    PortScan,
    /// One source probing one port (or a few) on many hosts.
    #[serde(alias = "portsweep")]
    HostSweep,
    /// Many SYNs to one service, mostly unanswered or from spoofed sources.
    #[serde(alias = "synflood")]
    SynFlood,
    /// A UDP packet rate far above normal towards one host.
    #[serde(alias = "udpflood")]
    UdpFlood,
    /// An ICMP packet rate far above normal towards one host.
    #[serde(alias = "icmpflood")]
    IcmpFlood,
    /// Data carried in DNS queries and answers (long, high-entropy names, TXT records).
    DnsTunnel,
    /// Many short connections from one source to one authentication service.
    #[serde(alias = "ssh_bruteforce")]
    BruteForce,
    /// A host claiming another's IP address in ARP.
    ArpSpoof,
    /// A bulk upload from one inside host to one outside host.
    #[serde(alias = "exfil")]
    Exfiltration,
    /// Traffic volume far above normal with no more specific explanation.
    VolumeSpike,
    /// Traffic far below normal (an outage, a cut link).
    TrafficDrop,
    /// Abnormal, no rule names it.
    Unknown,
}

impl AttackKind {
    /// Every kind, in declaration order.
    pub const ALL: [AttackKind; 12] = [
        AttackKind::PortScan,
        AttackKind::HostSweep,
        AttackKind::SynFlood,
        AttackKind::UdpFlood,
        AttackKind::IcmpFlood,
        AttackKind::DnsTunnel,
        AttackKind::BruteForce,
        AttackKind::ArpSpoof,
        AttackKind::Exfiltration,
        AttackKind::VolumeSpike,
        AttackKind::TrafficDrop,
        AttackKind::Unknown,
    ];

    /// Its name in JSON and on command lines (`port_scan`, ...).
    pub fn name(self) -> &'static str {
        match self {
            AttackKind::PortScan => "port_scan",
            AttackKind::HostSweep => "host_sweep",
            AttackKind::SynFlood => "syn_flood",
            AttackKind::UdpFlood => "udp_flood",
            AttackKind::IcmpFlood => "icmp_flood",
            AttackKind::DnsTunnel => "dns_tunnel",
            AttackKind::BruteForce => "brute_force",
            AttackKind::ArpSpoof => "arp_spoof",
            AttackKind::Exfiltration => "exfiltration",
            AttackKind::VolumeSpike => "volume_spike",
            AttackKind::TrafficDrop => "traffic_drop",
            AttackKind::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for AttackKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An interval `[start_ns, end_ns)` of capture time labelled abnormal. Other fields of a labels
/// line (what the synthesizer adds: rates, packet counts) are ignored when read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    /// What.
    pub kind: AttackKind,
    /// Start, ns since the Unix epoch.
    pub start_ns: i64,
    /// End (exclusive), ns since the Unix epoch.
    pub end_ns: i64,
    /// The attacking addresses, when known (empty for spoofed floods).
    #[serde(default)]
    pub attackers: Vec<IpAddr>,
    /// The attacked addresses, when known (for scans: the probed ones).
    #[serde(default)]
    pub victims: Vec<IpAddr>,
}

impl Label {
    /// A label without hosts.
    pub fn new(kind: AttackKind, start_ns: i64, end_ns: i64) -> Label {
        Label { kind, start_ns, end_ns, attackers: Vec::new(), victims: Vec::new() }
    }

    /// Whether `[start_ns, end_ns)` overlaps the label.
    pub fn overlaps(&self, start_ns: i64, end_ns: i64) -> bool {
        start_ns < self.end_ns && self.start_ns < end_ns
    }
}

/// Why a labels file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LabelError {
    /// Opening or reading failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A line is not a label.
    #[error("{}: line {line}: {reason}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// Reads labels from JSON lines with at least `kind`, `start_ns` and `end_ns` (what
/// `nta-cli synth` writes). Blank lines are skipped; a line over [`MAX_LABEL_LINE`] bytes, more
/// than [`MAX_LABELS`] labels, an unknown kind or an end before the start is an error naming the
/// line.
pub fn read_labels(path: &Path) -> Result<Vec<Label>, LabelError> {
    let file = std::fs::File::open(path).map_err(|source| LabelError::Io { path: path.to_owned(), source })?;
    parse_labels(file, path)
}

/// [`read_labels`] from any reader; `path` only names the source in errors.
pub fn parse_labels(reader: impl Read, path: &Path) -> Result<Vec<Label>, LabelError> {
    let format = |line: usize, reason: String| LabelError::Format { path: path.to_owned(), line, reason };
    let mut lines = LineReader::with_max(BufReader::new(reader), MAX_LABEL_LINE);
    let mut out = Vec::new();
    loop {
        let line = match lines.next_line() {
            Ok(Some(l)) => l,
            Ok(None) => return Ok(out),
            Err(LineError::Io { source, .. }) => return Err(LabelError::Io { path: path.to_owned(), source }),
            Err(LineError::TooLong { line, max }) => return Err(format(line, format!("longer than {max} bytes"))),
            Err(LineError::NotUtf8 { line }) => return Err(format(line, "not UTF-8 text".into())),
        };
        let text = line.text.trim();
        if text.is_empty() {
            continue;
        }
        let label: Label = serde_json::from_str(text).map_err(|e| format(line.number, e.to_string()))?;
        if label.end_ns < label.start_ns {
            return Err(format(line.number, format!("end_ns {} before start_ns {}", label.end_ns, label.start_ns)));
        }
        if out.len() == MAX_LABELS {
            return Err(format(line.number, format!("more than {MAX_LABELS} labels")));
        }
        out.push(label);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Label>, LabelError> {
        parse_labels(text.as_bytes(), Path::new("l.jsonl"))
    }

    #[test]
    fn reads_new_and_old_names_and_ignores_extra_fields() {
        let labels = parse(concat!(
            r#"{"kind":"portscan","start_ns":1,"end_ns":5,"rate":150.0,"attackers":["10.0.0.1"]}"#,
            "\n\n",
            r#"{"kind":"exfiltration","start_ns":7,"end_ns":7}"#,
        ))
        .unwrap();
        assert_eq!(labels.len(), 2);
        assert_eq!(labels[0].kind, AttackKind::PortScan);
        assert_eq!(labels[0].attackers, vec!["10.0.0.1".parse::<IpAddr>().unwrap()]);
        assert_eq!(labels[1], Label::new(AttackKind::Exfiltration, 7, 7));
        for kind in AttackKind::ALL {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{kind}\""));
            assert_eq!(serde_json::from_str::<AttackKind>(&json).unwrap(), kind);
        }
    }

    #[test]
    fn bad_lines_are_errors_naming_the_line() {
        let err = parse("\n{\"kind\":\"ddos\",\"start_ns\":1,\"end_ns\":2}").unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("unknown variant"), "{err}");
        let err = parse(r#"{"kind":"unknown","start_ns":3,"end_ns":2}"#).unwrap_err().to_string();
        assert!(err.contains("line 1") && err.contains("before start_ns"), "{err}");
        let long =
            format!("{{\"kind\":\"unknown\",\"start_ns\":1,\"end_ns\":2,\"x\":\"{}\"}}", "a".repeat(MAX_LABEL_LINE));
        let err = parse(&long).unwrap_err().to_string();
        assert!(err.contains("longer than"), "{err}");
        let many = "{\"kind\":\"unknown\",\"start_ns\":1,\"end_ns\":2}\n".repeat(MAX_LABELS + 1);
        let err = parse(&many).unwrap_err().to_string();
        assert!(err.contains(&format!("line {}", MAX_LABELS + 1)), "{err}");
    }
}
