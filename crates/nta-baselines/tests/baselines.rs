//! Baselines: exact statistics, order invariance, seasonal fallback, label exclusion, the
//! deviation rules, and the attacks of the synthetic fixture.

use nta_baselines::{
    Baseline, BuildOptions, MAD_SCALE, Method, P10_P90_SCALE, Seasonality, Stats, Thresholds, deviation,
};
use nta_capture::{AttackKind, Label, read_labels};
use nta_metrics::{ExtractConfig, Metric, WindowRecord, extract_files};
use std::path::PathBuf;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[test]
fn exact_statistics_of_small_inputs() {
    let s = Stats::of(&mut [100.0, 3.0, 1.0, 4.0, 2.0]).unwrap();
    assert_eq!((s.count, s.mean, s.median, s.mad, s.min, s.max), (5, 22.0, 3.0, 1.0, 1.0, 100.0));
    assert!(close(s.std, (7610.0f64 / 5.0).sqrt()), "{}", s.std);
    // numpy.percentile(..., [1, 5, 25, 75, 95, 99]) of [1, 2, 3, 4, 100]
    assert!(close(s.p1, 1.04) && close(s.p5, 1.2) && close(s.p25, 2.0) && close(s.p75, 4.0));
    assert!(close(s.p95, 80.8) && close(s.p99, 96.16), "{} {}", s.p95, s.p99);
    let e = Stats::of(&mut [4.0, 1.0, 3.0, 2.0]).unwrap();
    assert_eq!((e.median, e.mad), (2.5, 1.0));
    let one = Stats::of(&mut [7.0]).unwrap();
    assert_eq!((one.median, one.mad, one.std, one.p1, one.p99), (7.0, 0.0, 0.0, 7.0, 7.0));
    assert!(Stats::of(&mut []).is_none());
}

#[test]
fn deviation_rules() {
    // 1..=9: median 5, MAD 2 → 2.9652; p10 1.8, p90 8.2 → 6.4 / 2.5631 = 2.4970: the MAD wins.
    let robust = Stats::of(&mut [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]).unwrap();
    let (z, m) = deviation(15.0, &robust);
    assert_eq!(m, Method::Robust);
    assert!(close(z, 10.0 / (2.0 * MAD_SCALE)), "{z}");
    // Bursty: most windows 0, a quarter busy. MAD 0, but p90 − p10 = 40: that scale is used.
    let mut bursty = vec![0.0; 15];
    bursty.extend([40.0; 5]);
    let b = Stats::of(&mut bursty).unwrap();
    assert_eq!((b.mad, b.p10, b.p90), (0.0, 0.0, 40.0));
    let (z, m) = deviation(52.0, &b);
    assert_eq!(m, Method::Robust);
    assert!(close(z, 52.0 / (40.0 / P10_P90_SCALE)), "{z}");
    // A count nearly always 1 (p10 = p90): the scale is the counting noise √2, not 0.
    let mut ones = vec![1.0; 19];
    ones.push(3.0);
    let o = Stats::of(&mut ones).unwrap();
    let (z, m) = nta_baselines::deviation_of(21.0, &o, true);
    assert_eq!(m, Method::Robust);
    assert!(close(z, 20.0 / 2f64.sqrt()), "{z}");
    assert_eq!(nta_baselines::deviation_of(21.0, &o, false).1, Method::Std, "not a count: the std");
    // A constant count: counting noise too (not the relative rule).
    let (z, m) = nta_baselines::deviation_of(4.0, &Stats::of(&mut [0.0; 10]).unwrap(), true);
    assert_eq!((z, m), (4.0, Method::Robust));
    // MAD and spread 0 but not constant: standard deviation.
    let spiky = Stats::of(&mut [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 10.0]).unwrap();
    let (z, m) = deviation(12.0, &spiky);
    assert_eq!(m, Method::Std);
    assert!(close(z, (12.0 - spiky.mean) / spiky.std));
    // Constant: relative difference to the median (at least 1).
    let flat = Stats::of(&mut [0.0; 10]).unwrap();
    assert_eq!(deviation(40.0, &flat), (40.0, Method::Relative));
    let flat5 = Stats::of(&mut [5.0; 10]).unwrap();
    assert_eq!(deviation(10.0, &flat5), (1.0, Method::Relative));
}

/// Windows of 10 s from `start_h` o'clock: packets = i % 7 + 10, tcp_syn = 2 × (i % 3).
fn synthetic_records(start_s: i64, n: usize) -> Vec<WindowRecord> {
    let fixture = fixture_records();
    let template = fixture[0].clone();
    (0..n)
        .map(|i| {
            let mut r = template.clone();
            r.window_start_ns = (start_s + 10 * i as i64) * 1_000_000_000;
            r.window_ns = 10_000_000_000;
            r.packets = (i % 7) as u64 + 10;
            r.tcp_syn = 2 * (i % 3) as u64;
            r
        })
        .collect()
}

fn fixture_records() -> Vec<WindowRecord> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/test_net_traffic.pcapng");
    let mut out = Vec::new();
    extract_files(&[path], &ExtractConfig::new(10_000_000_000), &|_| {}, &mut |r| {
        out.push(r);
        Ok(())
    })
    .unwrap();
    out
}

const NINE: i64 = 1_772_442_000; // 2026-03-02T09:00:00Z (a Monday)

#[test]
fn input_order_does_not_matter() {
    let recs = fixture_records();
    let a = Baseline::build("b", "t", &recs, vec![], &[], BuildOptions::default()).unwrap();
    let mut shuffled = recs.clone();
    shuffled.reverse();
    shuffled.rotate_left(37);
    let b = Baseline::build("b", "t", &shuffled, vec![], &[], BuildOptions::default()).unwrap();
    assert!(a == b, "bit-identical statistics whatever the order");
    let p = &a.global[&Metric::Packets];
    let mut v: Vec<f64> = recs.iter().map(|r| r.packets as f64).collect();
    v.sort_by(f64::total_cmp);
    assert_eq!(p.count, 180);
    assert_eq!(p.min, v[0]);
    assert_eq!(p.median, (v[89] + v[90]) / 2.0);
}

#[test]
fn seasonal_slots_fall_back_to_global_when_thin() {
    // 40 windows at 09:xx, 10 at 10:xx; slots need 30.
    let mut recs = synthetic_records(NINE, 40);
    recs.extend(synthetic_records(NINE + 3600, 10).into_iter().map(|mut r| {
        r.packets += 1000;
        r
    }));
    let opts = BuildOptions { by: Seasonality::HourOfDay, ..BuildOptions::default() };
    let b = Baseline::build("s", "t", &recs, vec![], &[], opts).unwrap();
    let s = b.seasonal.as_ref().unwrap();
    assert_eq!(s.slots.len(), 24);
    assert_eq!(s.slots[9].windows, 40);
    assert!(s.slots[9].profile.is_some());
    assert_eq!(s.slots[10].windows, 10);
    assert!(s.slots[10].profile.is_none());
    assert_eq!(s.fallback_slots.len(), 23);
    assert!(s.fallback_slots.contains(&10) && !s.fallback_slots.contains(&9));
    // Hour 9 is judged against hour 9 only; hour 10 against everything.
    assert_eq!(b.profile_for(NINE * 1_000_000_000).1, Some(9));
    assert_eq!(b.profile_for((NINE + 3600) * 1_000_000_000).1, None);
    assert_eq!(b.profile_for(NINE * 1_000_000_000).0[&Metric::Packets].max, 16.0);
    assert_eq!(b.global[&Metric::Packets].max, 1016.0);
    // Day of week: 2026-03-02 is a Monday (slot 0).
    assert_eq!(Seasonality::DayOfWeek.slot(NINE * 1_000_000_000), Some(0));
    assert_eq!(Seasonality::DayOfWeek.slot((NINE + 6 * 86_400) * 1_000_000_000), Some(6));
    assert_eq!(Seasonality::HourOfDay.slot((NINE + 3600 * 15) * 1_000_000_000), Some(0));
}

#[test]
fn label_exclusion_save_load_and_versions() {
    let recs = synthetic_records(NINE, 60);
    // Two labels covering windows 10..=12 and 30 (a label inside a window excludes it).
    let exclude = [
        Label::new(AttackKind::Unknown, (NINE + 100) * 1_000_000_000, (NINE + 125) * 1_000_000_000),
        Label::new(AttackKind::PortScan, (NINE + 303) * 1_000_000_000, (NINE + 304) * 1_000_000_000),
    ];
    let b = Baseline::build("x", "t", &recs, vec!["m.jsonl".into()], &exclude, BuildOptions::default()).unwrap();
    assert_eq!((b.windows, b.excluded_windows), (56, 4));
    assert_eq!(b.window_ns, 10_000_000_000);
    assert_eq!(b.time_range.first_ns, NINE * 1_000_000_000);
    let dir = std::env::temp_dir().join(format!("nta-baselines-{}", std::process::id()));
    let path = dir.join("x.json");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(&path, b.to_json().unwrap()).unwrap();
    assert!(Baseline::load(&path).unwrap() == b);
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    v["schema_version"] = 2.into();
    std::fs::write(&path, v.to_string()).unwrap();
    assert!(Baseline::load(&path).unwrap_err().to_string().contains("schema version"));
    // Tampered numbers: refused with the reason.
    let good: serde_json::Value = serde_json::from_slice(&b.to_json().unwrap()).unwrap();
    type Tamper = fn(&mut serde_json::Value);
    let cases: [(&str, Tamper); 5] = [
        ("negative spread", |v| v["global"]["packets"]["mad"] = (-1.0).into()),
        ("window_ns 0", |v| v["window_ns"] = 0.into()),
        ("out of order", |v| v["global"]["bytes"]["median"] = 1e300.into()),
        ("count 0", |v| v["global"]["tcp_syn"]["count"] = 0.into()),
        ("outside", |v| v["global"]["tcp_syn"]["mean"] = (-5.0).into()),
    ];
    for (says, tamper) in cases {
        let mut v = good.clone();
        tamper(&mut v);
        std::fs::write(&path, v.to_string()).unwrap();
        let err = Baseline::load(&path).unwrap_err().to_string();
        assert!(err.contains(says), "{says}: {err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
    // Everything excluded, or mixed window lengths: errors.
    let all = [Label::new(AttackKind::Unknown, 0, i64::MAX)];
    assert!(Baseline::build("x", "t", &recs, vec![], &all, BuildOptions::default()).is_err());
    let mut mixed = recs.clone();
    mixed[3].window_ns = 1_000_000_000;
    assert!(Baseline::build("x", "t", &mixed, vec![], &[], BuildOptions::default()).is_err());
}

#[test]
fn per_metric_thresholds() {
    let recs = synthetic_records(NINE, 60);
    let b = Baseline::build("x", "t", &recs, vec![], &[], BuildOptions::default()).unwrap();
    let mut probe = recs[0].clone();
    probe.tcp_syn = 6; // median 2, MAD 2 → z = 4 / 2.9652 = 1.35
    let loose = b.score(&probe, &Thresholds::default());
    assert!(!loose.flagged);
    let d = loose.deviations.iter().find(|d| d.metric == Metric::TcpSyn).unwrap();
    assert!(close(d.z, 4.0 / (2.0 * MAD_SCALE)), "{}", d.z);
    let mut strict = Thresholds::default();
    strict.per_metric.insert(Metric::TcpSyn, 1.0);
    let s = b.score(&probe, &strict);
    assert!(s.flagged);
    assert_eq!(s.deviations[0].metric, Metric::TcpSyn, "largest deviation first");
    assert!(s.deviations.windows(2).all(|w| w[0].z.abs() >= w[1].z.abs()));
}

#[test]
fn attacks_of_the_fixture_move_the_metrics_they_should() {
    let recs = fixture_records();
    let labels_path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/test_net_traffic.labels.jsonl");
    let labels = read_labels(&labels_path).unwrap();
    let kinds: Vec<AttackKind> = labels.iter().map(|l| l.kind).collect();
    let b = Baseline::build("fx", "t", &recs, vec![], &labels, BuildOptions::default()).unwrap();
    assert_eq!(b.excluded_windows, 42);
    let scored: Vec<_> = recs.iter().map(|r| b.score(r, &Thresholds::default())).collect();
    let in_label = |i: usize, ws: i64| ws < labels[i].end_ns && labels[i].start_ns < ws + 10_000_000_000;
    // For each attack, the metric it should move deviates more inside it than in any normal window.
    let expect = [
        (AttackKind::PortScan, Metric::TcpRst),
        (AttackKind::SynFlood, Metric::TcpSyn),
        (AttackKind::SynFlood, Metric::SrcIpEntropy),
        (AttackKind::SynFlood, Metric::HalfOpenFlows),
        (AttackKind::DnsTunnel, Metric::DnsQnameLenMean),
        (AttackKind::BruteForce, Metric::TcpSynack),
        (AttackKind::Exfiltration, Metric::Bytes),
        (AttackKind::IcmpFlood, Metric::IcmpEchoRequests),
        (AttackKind::ArpSpoof, Metric::ArpReplies),
    ];
    for (kind, metric) in expect {
        let i = kinds.iter().position(|k| *k == kind).unwrap();
        let z_of = |w: &nta_baselines::WindowDeviation| {
            w.deviations.iter().find(|d| d.metric == metric).map_or(0.0, |d| d.z.abs())
        };
        let inside = scored.iter().filter(|w| in_label(i, w.window_start_ns)).map(z_of).fold(0.0, f64::max);
        // Against normal windows: outside every label and not in the 70 s after one, where the
        // attack's flows are still expiring (gauges such as half_open_flows stay up until then).
        let normal =
            |ws: i64| labels.iter().all(|l| !(ws < l.end_ns + 70_000_000_000 && l.start_ns < ws + 10_000_000_000));
        let outside = scored.iter().filter(|w| normal(w.window_start_ns)).map(z_of).fold(0.0, f64::max);
        assert!(inside >= outside, "{kind}: {metric} reaches |z| {inside} inside the attack, {outside} outside");
        assert!(inside >= 5.0, "{kind}: {metric} only reaches |z| {inside}");
    }
    // At the default threshold (any metric beyond |z| 5), nearly every attack window is
    // flagged, and few normal ones are (measured: 41 of 42, 8 of 89).
    let mut flagged_attack = 0;
    let mut attack = 0;
    let mut flagged_normal = 0;
    for (w, r) in scored.iter().zip(&recs) {
        if (0..labels.len()).any(|i| in_label(i, r.window_start_ns)) {
            attack += 1;
            flagged_attack += usize::from(w.flagged);
        } else if labels
            .iter()
            .all(|l| r.window_start_ns >= l.end_ns + 70_000_000_000 || r.window_end_ns() <= l.start_ns)
        {
            flagged_normal += usize::from(w.flagged);
        }
    }
    assert_eq!(attack, 42);
    assert!(flagged_attack >= 40, "{flagged_attack} of {attack} attack windows flagged");
    assert!(flagged_normal <= 8, "{flagged_normal} normal windows flagged");
}
