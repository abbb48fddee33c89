//! The feature extractor on window records, and a model trained on the synthetic fixture.

use nta_metrics::{ExtractConfig, WindowRecord, extract_files};
use nta_ml::{FEATURES, Feature, FeatureExtractor, ForestParams, score, train_on_records};
use smartcore::linalg::basic::arrays::Array;
use std::path::PathBuf;

fn fixture_records(window_s: i64) -> Vec<WindowRecord> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/test_net_traffic.pcapng");
    let mut out = Vec::new();
    extract_files(&[path], &ExtractConfig::new(window_s * 1_000_000_000), &|_| {}, &mut |r| {
        out.push(r);
        Ok(())
    })
    .unwrap();
    out
}

#[test]
fn names_are_stable_and_values_defined() {
    let names: Vec<&str> = FEATURES.iter().map(|f| f.name()).collect();
    let unique: std::collections::HashSet<&&str> = names.iter().collect();
    assert_eq!(unique.len(), names.len());
    assert_eq!(names[0], "log_packets_per_s");
    assert_eq!(FeatureExtractor.names().len(), FEATURES.len());

    let mut recs = fixture_records(10);
    let r = recs[0].clone();
    // Hand-checked definitions.
    assert_eq!(Feature::TcpShare.value(&r), r.tcp_packets as f64 / r.packets as f64);
    assert_eq!(Feature::LogPacketsPerS.value(&r), (r.packets as f64 / 10.0).ln_1p());
    assert_eq!(Feature::SynShare.value(&r), r.tcp_syn as f64 / r.tcp_packets as f64);
    // A zero row: every feature finite (ratios of nothing are 0, answered SYN share 1).
    let mut zero = r.clone();
    for f in [&mut zero.packets, &mut zero.bytes, &mut zero.tcp_packets, &mut zero.tcp_syn, &mut zero.tcp_synack] {
        *f = 0;
    }
    zero.mean_pkt_size = 0.0;
    assert!(FEATURES.iter().all(|f| f.value(&zero).is_finite()));
    assert_eq!(Feature::SynAnsweredShare.value(&zero), 1.0);

    // Late supplements and non-finite values are left out, with the reason.
    recs[3].late = true;
    recs[5].src_ip_entropy = f64::NAN;
    let (m, idx, stats) = FeatureExtractor.extract_batch(&recs);
    let m = m.unwrap();
    assert_eq!(m.shape(), (recs.len() - 2, FEATURES.len()));
    assert!(!idx.contains(&3) && !idx.contains(&5) && idx.contains(&4));
    assert_eq!((stats.skipped_late, stats.skipped_non_finite, stats.rows), (1, 1, recs.len() - 2));
    assert_eq!(*m.get((3, 3)), Feature::TcpShare.value(&recs[4]), "row 3 is record 4");
    assert!(FeatureExtractor.extract_batch(&[]).0.is_none());
}

#[test]
fn a_model_of_the_fixture_ranks_attack_windows_first() {
    let recs = fixture_records(10);
    let model =
        train_on_records("fx", "2026-01-01T00:00:00Z", &recs, vec![], &ForestParams::default(), &Default::default())
            .unwrap();
    assert_eq!(model.source.window_ns, Some(10_000_000_000));
    assert_eq!(model.training.rows, 180);
    let (x, idx, _) = FeatureExtractor.extract_batch(&recs);
    let s = score(&model, &x.unwrap(), &FeatureExtractor.names()).unwrap();
    let mut order: Vec<usize> = (0..idx.len()).collect();
    order.sort_by(|a, b| s.score_samples[*a].total_cmp(&s.score_samples[*b]));
    // Labels of the fixture (docs: fixtures/README.md): attack minutes.
    let attack = |r: &WindowRecord| {
        let t = &r.window_start[11..16];
        ["09:04", "09:08", "09:12", "09:13", "09:16", "09:17", "09:20", "09:24", "09:27"].contains(&t)
    };
    let top10 = order.iter().take(10).filter(|i| attack(&recs[idx[**i]])).count();
    assert!(top10 >= 8, "{top10} of the 10 most abnormal windows are attacks");
    // Scoring refuses other features.
    let (x, _, _) = FeatureExtractor.extract_batch(&recs);
    assert!(score(&model, &x.unwrap(), &["a".to_owned()]).is_err());
}
