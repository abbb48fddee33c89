//! The same traffic delivered inside VXLAN or GENEVE, as a cloud traffic mirror delivers it,
//! gives the same windows (apart from the tunnel counters), the same anomalies and the same
//! flows: a port scan inside VXLAN is still named a port scan by its inner attacker.

use nta_analysis::{Analysis, AnalyzeOptions, analyze};
use nta_capture::{AttackKind, CaptureWriter, WriteFormat};
use nta_synth::{AttackSpec, LINK_TYPE, NS, SNAPLEN, SynthAttack, SynthConfig, Wrap, WrapKind, synthesize};
use std::path::PathBuf;

/// Synthesizes the capture of seed 4242 (15 minutes, a port scan, a SYN flood and a DNS
/// tunnel), wrapped as `wrap` says, and analyses it.
fn run(wrap: Option<Wrap>) -> (Analysis, PathBuf) {
    let dir = std::env::temp_dir().join(format!("nta-tunnels-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}.pcap", wrap.map_or("plain".to_string(), |w| w.kind.to_string())));
    let mut cfg = SynthConfig::new(4242, 15 * 60 * NS);
    cfg.wrap = wrap;
    cfg.attacks = vec![
        AttackSpec::new(SynthAttack::Portscan, 4 * 60 * NS, 30 * NS),
        AttackSpec::new(SynthAttack::Synflood, 8 * 60 * NS, 40 * NS),
        AttackSpec::new(SynthAttack::DnsTunnel, 11 * 60 * NS, 60 * NS),
    ];
    let file = std::fs::File::create(&path).unwrap();
    let mut w = CaptureWriter::new(std::io::BufWriter::new(file), WriteFormat::Pcap, LINK_TYPE, SNAPLEN, "t").unwrap();
    synthesize(&cfg, &mut w).unwrap();
    drop(w.into_inner().unwrap());
    let opts = AnalyzeOptions::default();
    (analyze(std::slice::from_ref(&path), &opts, &|_| {}, &Default::default()).unwrap(), path)
}

/// A value without the fields that name the capture (and ids derived from it).
fn anonymous(v: impl serde::Serialize) -> serde_json::Value {
    let mut v = serde_json::to_value(v).unwrap();
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                for k in ["id", "capture", "model", "baseline", "anomalies"] {
                    m.remove(k);
                }
                m.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut v);
    v
}

#[test]
fn traffic_inside_vxlan_and_geneve_reads_as_without_them() {
    let (plain, plain_path) = run(None);
    let portscan = plain.detection.anomalies.iter().find(|a| a.kind == AttackKind::PortScan).expect("a port scan");
    let scanner = portscan.attackers.first().expect("its attacker").ip;
    for kind in [WrapKind::Vxlan, WrapKind::Geneve] {
        let (wrapped, path) = run(Some(Wrap::new(kind)));
        // Every packet came through the tunnel, counted per window.
        let total: u64 = wrapped.records.iter().map(|r| r.packets).sum();
        let tunnelled: u64 = wrapped.records.iter().map(|r| r.tunnels.packets).sum();
        let per_kind: u64 = wrapped
            .records
            .iter()
            .map(|r| if kind == WrapKind::Vxlan { r.tunnels.vxlan } else { r.tunnels.geneve })
            .sum();
        assert!(total > 100_000, "{total} packets");
        assert_eq!((tunnelled, per_kind), (total, total), "{kind}");
        assert!(plain.records.iter().all(|r| r.tunnels.is_empty()));
        // Apart from those counters, the same windows: same bytes (the encapsulation is not
        // counted), addresses, ports, flows and evidence.
        assert_eq!(plain.records.len(), wrapped.records.len());
        for (a, b) in plain.records.iter().zip(&wrapped.records) {
            let mut b = b.clone();
            b.tunnels = Default::default();
            b.capture.clone_from(&a.capture);
            assert_eq!(a, &b, "{kind}: window {}", a.window_start);
        }
        assert_eq!(anonymous(&plain.detection.anomalies), anonymous(&wrapped.detection.anomalies), "{kind}");
        assert_eq!(anonymous(&plain.detection.incidents), anonymous(&wrapped.detection.incidents), "{kind}");
        let scan = wrapped.detection.anomalies.iter().find(|a| a.kind == AttackKind::PortScan).expect("named");
        assert_eq!(scan.attackers.first().map(|h| h.ip), Some(scanner), "{kind}: {}", scan.summary);
        std::fs::remove_file(path).ok();
    }
    std::fs::remove_file(plain_path).ok();
}
