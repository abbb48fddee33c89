//! The records the index tests store: the fixture's anomalies, varied.
#![allow(dead_code)]

use nta_analysis::{AnalyzeOptions, Anomaly, analyze};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::OnceLock;

pub(crate) fn fixture_anomalies() -> &'static Vec<Anomaly> {
    static A: OnceLock<Vec<Anomaly>> = OnceLock::new();
    A.get_or_init(|| {
        let pcap = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/test_net_traffic.pcapng");
        analyze(&[pcap], &AnalyzeOptions::default(), &|_| {}, &Default::default()).unwrap().detection.anomalies
    })
}

pub(crate) fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nta-index-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The fixture's anomalies four times over: two captures, no sensor and two sensors; copies
/// 1 and 3 each alone in time (their incidents as the fixture's), copy 2 half a window after
/// copy 0 (the two interleave: no incident spans them), hosts moved per copy, some without a
/// model score.
pub(crate) fn varied() -> Vec<Anomaly> {
    let base = fixture_anomalies();
    let span =
        base.iter().map(|a| a.window_end_ns).max().unwrap() - base.iter().map(|a| a.window_start_ns).min().unwrap();
    let mut out = Vec::new();
    for copy in 0..4usize {
        for (i, a) in base.iter().enumerate() {
            let mut a = a.clone();
            a.id = format!("{copy:02x}{i:014x}");
            a.capture = format!("cap-{}.pcap", copy % 2);
            a.sensor = match copy {
                0 | 1 => None,
                2 => Some("s1".into()),
                _ => Some("s2".into()),
            };
            let shift = match copy {
                0 => 0,
                1 => span + 3_600_000_000_000,
                2 => 5_000_000_000,
                _ => 2 * (span + 3_600_000_000_000),
            };
            a.window_start_ns += shift;
            a.window_end_ns += shift;
            for h in a.attackers.iter_mut().chain(a.victims.iter_mut()) {
                if let IpAddr::V4(v4) = h.ip {
                    let o = v4.octets();
                    h.ip = IpAddr::from([o[0], o[1], copy as u8, o[3]]);
                }
            }
            if copy == 3 && i % 3 == 0 {
                a.score = None;
            }
            out.push(a);
        }
    }
    // Not in time order in the file: the later half first.
    let third = out.len() / 3;
    out.rotate_left(third);
    out
}
