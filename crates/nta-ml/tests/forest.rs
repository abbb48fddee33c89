//! The Isolation Forest against scikit-learn: reference scores, the unit facts of the paper
//! and sklearn's tests, parameters, determinism, and models on disk.

use nta_metrics::percentile;
use nta_ml::{
    Contamination, ForestParams, IsolationForest, MaxSamples, Model, SCHEMA_VERSION, average_path_length, read_csv,
};
use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;
use std::path::PathBuf;

fn reference_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/iforest")
}

fn column(path: &std::path::Path, col: usize) -> Vec<f64> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(col).unwrap().parse().unwrap())
        .collect()
}

/// Average ranks (ties share their mean rank).
fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|a, b| v[*a].total_cmp(&v[*b]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let mean = (i + j) as f64 / 2.0 + 1.0;
        for k in i..=j {
            r[idx[k]] = mean;
        }
        i = j + 1;
    }
    r
}

fn spearman(a: &[f64], b: &[f64]) -> f64 {
    let (ra, rb) = (ranks(a), ranks(b));
    let n = a.len() as f64;
    let (ma, mb) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let cov: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = ra.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = rb.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

/// `meta.json`'s array `key`, as (min, max).
fn range(meta: &serde_json::Value, key: &str) -> (f64, f64) {
    let v: Vec<f64> = meta[key].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
    v.iter().fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(*x), b.max(*x)))
}

/// Our forest, under six seeds, against scikit-learn's on the reference table
/// (`fixtures/iforest/make_reference.py`): the two cannot share random draws, so each bar is
/// what scikit-learn itself varies by between its own seeds (in `meta.json`).
#[test]
fn matches_scikit_learn_on_the_reference_table() {
    let dir = reference_dir();
    let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("meta.json")).unwrap()).unwrap();
    let (names, x) = read_csv(&dir.join("data.csv")).unwrap();
    assert_eq!((names.len(), x.shape()), (20, (10_000, 20)));
    let sklearn = column(&dir.join("sklearn_scores.csv"), 1);
    let labels = column(&dir.join("labels.csv"), 0);
    let (rho_min, _) = range(&meta, "spearman_seed0_vs_seeds1to5");
    let (auc_lo, auc_hi) = range(&meta, "auc_seeds0to5");
    let (min_lo, min_hi) = range(&meta, "score_min_over_seeds");
    let (max_lo, max_hi) = range(&meta, "score_max_over_seeds");
    let params = ForestParams { max_samples: MaxSamples::Count(256), ..ForestParams::default() };
    let mut report = Vec::new();
    for seed in 0..6 {
        let forest = IsolationForest::fit(&x, &ForestParams { random_state: seed, ..params.clone() }).unwrap();
        let ours = forest.score_samples(&x).unwrap();
        let rho = spearman(&ours, &sklearn);
        // AUC of the anomaly score (-score_samples) against the injected labels, by smartcore.
        let anomaly: Vec<f64> = ours.iter().map(|s| -s).collect();
        let auc = smartcore::metrics::roc_auc_score(&labels, &anomaly);
        let (min, max) = ours.iter().fold((f64::MAX, f64::MIN), |(a, b), s| (a.min(*s), b.max(*s)));
        report.push(format!("seed {seed}: spearman {rho:.4} auc {auc:.4} scores {min:.4}..{max:.4}"));
        assert!(rho >= rho_min - 0.01, "sklearn between seeds: >= {rho_min:.4}; {report:#?}");
        assert!((auc_lo - 0.01..=auc_hi + 0.01).contains(&auc), "sklearn: {auc_lo:.4}..{auc_hi:.4}; {report:#?}");
        // The score range is sklearn's.
        assert!((min_lo - 0.03..=min_hi + 0.03).contains(&min), "sklearn min {min_lo}..{min_hi}; {report:#?}");
        assert!((max_lo - 0.01..=max_hi + 0.01).contains(&max), "sklearn max {max_lo}..{max_hi}; {report:#?}");
        assert_eq!(forest.offset, meta["offset_"].as_f64().unwrap());
    }
    eprintln!("{report:#?}");
}

#[test]
fn average_path_length_facts() {
    assert_eq!(average_path_length(0.0), 0.0);
    assert_eq!(average_path_length(1.0), 0.0);
    assert_eq!(average_path_length(2.0), 1.0);
    let gamma = 0.577_215_664_901_532_9_f64;
    assert!((average_path_length(5.0) - (2.0 * (4.0f64.ln() + gamma) - 2.0 * 4.0 / 5.0)).abs() < 1e-12);
    assert!((average_path_length(999.0) - (2.0 * (998.0f64.ln() + gamma) - 2.0 * 998.0 / 999.0)).abs() < 1e-12);
}

fn matrix(rows: &[Vec<f64>]) -> DenseMatrix<f64> {
    DenseMatrix::from_2d_vec(&rows.to_vec()).unwrap()
}

#[test]
fn uniform_data_has_no_outliers_and_a_far_point_is_the_top() {
    // sklearn's test_iforest_with_uniform_data: constant data cannot be split, every row
    // scores exactly -0.5, and nothing is an outlier — not even other data.
    let ones = matrix(&vec![vec![1.0; 10]; 100]);
    let f = IsolationForest::fit(&ones, &ForestParams::default()).unwrap();
    assert!(f.score_samples(&ones).unwrap().iter().all(|s| (*s + 0.5).abs() < 1e-12));
    assert!(f.predict(&ones).unwrap().iter().all(|p| *p == 1));
    let other = matrix(&(0..50).map(|i| vec![f64::from(i) - 20.0; 10]).collect::<Vec<_>>());
    assert!(f.predict(&other).unwrap().iter().all(|p| *p == 1));
    let single = matrix(&[vec![0.3; 10]]);
    let f1 = IsolationForest::fit(&single, &ForestParams::default()).unwrap();
    assert_eq!(f1.predict(&single).unwrap(), vec![1]);
    // A point far from a grid scores lowest.
    let grid: Vec<Vec<f64>> = (0..400).map(|i| vec![f64::from(i % 20), f64::from(i / 20)]).collect();
    // A point far away scores lowest.
    let mut with_far = grid.clone();
    with_far.push(vec![200.0, -150.0]);
    let x2 = matrix(&with_far);
    let f2 = IsolationForest::fit(&x2, &ForestParams::default()).unwrap();
    let s = f2.score_samples(&x2).unwrap();
    let (argmin, _) = s.iter().enumerate().min_by(|a, b| a.1.total_cmp(b.1)).unwrap();
    assert_eq!(argmin, 400);
    assert_eq!(f2.predict(&x2).unwrap()[400], -1);
    // sklearn's toy example: [[-1,-1],[-1,-2],[-2,-1],[1,1],[1,2],[2,1],[6,3],[-4,7]]: the last two are outliers.
    let toy = matrix(&[
        vec![-1.0, -1.0],
        vec![-1.0, -2.0],
        vec![-2.0, -1.0],
        vec![1.0, 1.0],
        vec![1.0, 2.0],
        vec![2.0, 1.0],
        vec![6.0, 3.0],
        vec![-4.0, 7.0],
    ]);
    let f3 = IsolationForest::fit(&toy, &ForestParams { random_state: 42, ..ForestParams::default() }).unwrap();
    let s3 = f3.score_samples(&toy).unwrap();
    assert!(s3[..6].iter().all(|v| *v > s3[6].max(s3[7])), "{s3:?}");
}

#[test]
fn contamination_sets_the_offset_at_the_training_percentile() {
    let dir = reference_dir();
    let (_, x) = read_csv(&dir.join("data.csv")).unwrap();
    for c in [0.01, 0.1, 0.5] {
        let p = ForestParams { contamination: Contamination::Fraction(c), random_state: 3, ..ForestParams::default() };
        let f = IsolationForest::fit(&x, &p).unwrap();
        let mut s = f.score_samples(&x).unwrap();
        assert_eq!(f.offset, percentile(&mut s.clone(), 100.0 * c));
        let outliers = f.predict(&x).unwrap().iter().filter(|v| **v == -1).count();
        let want = (c * 10_000.0) as usize;
        assert!(outliers.abs_diff(want) <= 1, "{c}: {outliers} vs {want}");
        s.sort_by(f64::total_cmp);
    }
}

#[test]
fn parameters_follow_scikit_learn() {
    let rows: Vec<Vec<f64>> = (0..1000).map(|i| vec![f64::from(i), f64::from(i * 7 % 13), f64::from(i % 3)]).collect();
    let x = matrix(&rows);
    let auto = IsolationForest::fit(&x, &ForestParams::default()).unwrap();
    assert_eq!(auto.max_samples_used, 256);
    assert_eq!(auto.trees.len(), 100);
    // Height limit ceil(log2(256)) = 8: no leaf deeper than 8 edges.
    let frac =
        IsolationForest::fit(&x, &ForestParams { max_samples: MaxSamples::Fraction(0.5), ..ForestParams::default() })
            .unwrap();
    assert_eq!(frac.max_samples_used, 500);
    let big =
        IsolationForest::fit(&x, &ForestParams { max_samples: MaxSamples::Count(5000), ..ForestParams::default() })
            .unwrap();
    assert_eq!(big.max_samples_used, 1000, "capped at n, as sklearn does (with a warning)");
    let small = matrix(&rows[..10]);
    assert_eq!(IsolationForest::fit(&small, &ForestParams::default()).unwrap().max_samples_used, 10);
    // max_features: each tree splits on at most that share of the features.
    let half = IsolationForest::fit(&x, &ForestParams { max_features: 0.34, ..ForestParams::default() }).unwrap();
    for t in &half.trees {
        let feats: std::collections::HashSet<i32> =
            t.nodes.iter().filter(|n| n.feature >= 0).map(|n| n.feature).collect();
        assert!(feats.len() <= 1);
    }
    // Bad parameters are errors, not panics.
    for bad in [
        ForestParams { n_estimators: 0, ..ForestParams::default() },
        ForestParams { max_samples: MaxSamples::Fraction(1.5), ..ForestParams::default() },
        ForestParams { max_samples: MaxSamples::Count(0), ..ForestParams::default() },
        ForestParams { contamination: Contamination::Fraction(0.7), ..ForestParams::default() },
        ForestParams { max_features: 0.0, ..ForestParams::default() },
    ] {
        assert!(IsolationForest::fit(&x, &bad).is_err(), "{bad:?}");
    }
    let nan = matrix(&[vec![1.0, f64::NAN], vec![2.0, 3.0]]);
    assert!(IsolationForest::fit(&nan, &ForestParams::default()).is_err());
    let narrow = matrix(&[vec![1.0], vec![2.0]]);
    assert!(auto.score_samples(&narrow).is_err(), "width mismatch");
}

#[test]
fn height_is_limited_and_constant_features_are_never_split() {
    let rows: Vec<Vec<f64>> = (0..5000).map(|i| vec![f64::from(i).sin() * 100.0, 7.0, f64::from(i % 97)]).collect();
    let x = matrix(&rows);
    let f = IsolationForest::fit(&x, &ForestParams::default()).unwrap();
    for t in &f.trees {
        // Depth of each node by walking from the root.
        let mut depth = vec![0usize; t.nodes.len()];
        for (i, n) in t.nodes.iter().enumerate() {
            if n.feature >= 0 {
                assert_ne!(n.feature, 1, "feature 1 is constant");
                depth[n.left as usize] = depth[i] + 1;
                depth[n.left as usize + 1] = depth[i] + 1;
            } else {
                assert!(depth[i] <= 8);
                assert!(n.value >= depth[i] as f64);
            }
        }
    }
}

#[test]
fn same_seed_same_forest_whatever_the_threads() {
    let dir = reference_dir();
    let (_, x) = read_csv(&dir.join("data.csv")).unwrap();
    let fit = |threads: usize, seed: u64| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let f = IsolationForest::fit(&x, &ForestParams { random_state: seed, ..ForestParams::default() }).unwrap();
            let s = f.score_samples(&x).unwrap();
            (f, s)
        })
    };
    let (f1, s1) = fit(1, 9);
    let (f2, s2) = fit(3, 9);
    assert!(f1 == f2 && s1 == s2);
    let (f3, _) = fit(2, 10);
    assert!(f1 != f3);
}

#[test]
fn models_save_atomically_and_refuse_what_they_cannot_use() {
    let dir = std::env::temp_dir().join(format!("nta-ml-models-{}", std::process::id()));
    let rows: Vec<Vec<f64>> = (0..300).map(|i| vec![f64::from(i), f64::from(i % 11)]).collect();
    let x = matrix(&rows);
    let forest = IsolationForest::fit(&x, &ForestParams::default()).unwrap();
    let model = Model {
        schema_version: SCHEMA_VERSION,
        name: "m1".into(),
        created_at: "2026-01-01T00:00:00Z".into(),
        params: forest.params.clone(),
        features: vec!["a".into(), "b".into()],
        source: nta_ml::TrainingSource {
            kind: "csv".into(),
            files: vec![],
            window_ns: None,
            first_window_ns: None,
            last_window_ns: None,
        },
        training: nta_ml::TrainingStats {
            rows: 300,
            skipped: 0,
            features: vec![],
            score_min: 0.0,
            score_median: 0.0,
            score_max: 0.0,
        },
        forest,
    };
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}.json", model.name));
    std::fs::write(&path, model.to_json().unwrap()).unwrap();
    let back = Model::load(&path).unwrap();
    assert!(back == model, "the model reads back bit for bit");
    assert!(back.check_features(&["a".into(), "b".into()]).is_ok());
    assert!(back.check_features(&["b".into(), "a".into()]).is_err());
    let listed = nta_ml::list_models(&dir).unwrap();
    assert_eq!((listed.len(), listed[0].n_estimators), (1, Some(100)));
    // Another schema version, a broken tree, a bad name.
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    v["schema_version"] = 99.into();
    std::fs::write(&path, v.to_string()).unwrap();
    assert!(Model::load(&path).unwrap_err().to_string().contains("schema version"));
    v["schema_version"] = SCHEMA_VERSION.into();
    v["forest"]["trees"][0]["nodes"][0]["left"] = 100_000.into();
    std::fs::write(&path, v.to_string()).unwrap();
    assert!(Model::load(&path).unwrap_err().to_string().contains("tree 0"));
    // Tampered numbers: each refused with its reason (the listing, which reads only the
    // metadata, still lists the file).
    let good: serde_json::Value = serde_json::from_slice(&model.to_json().unwrap()).unwrap();
    type Tamper = fn(&mut serde_json::Value);
    let cases: [(&str, Tamper); 5] = [
        ("offset", |v| v["forest"]["offset"] = 1e308.into()),
        ("max_samples_used", |v| v["forest"]["max_samples_used"] = 0.into()),
        ("feature -2", |v| v["forest"]["trees"][0]["nodes"][0]["feature"] = (-2).into()),
        ("n_estimators", |v| v["forest"]["params"]["n_estimators"] = 1_000_000_000u64.into()),
        ("features", |v| v["forest"]["n_features"] = 1_000_000.into()),
    ];
    for (what, tamper) in cases {
        let mut v = good.clone();
        tamper(&mut v);
        std::fs::write(&path, v.to_string()).unwrap();
        let err = Model::load(&path).unwrap_err().to_string();
        assert!(err.contains(what.split(' ').next().unwrap()), "{what}: {err}");
        assert_eq!(nta_ml::list_models(&dir).unwrap()[0].n_estimators, Some(100), "{what}");
    }
    assert!(nta_ml::check_name("../etc/passwd").is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn parameters_beyond_their_bounds_are_refused_before_any_work() {
    use nta_ml::{MAX_ESTIMATORS, MAX_FOREST_NODES, MAX_SAMPLES};
    let x = matrix(&(0..50).map(|i| vec![f64::from(i), f64::from(i % 7)]).collect::<Vec<_>>());
    let refused = |p: ForestParams| {
        let e = p.validate().unwrap_err().to_string();
        // fit refuses the same, before fitting anything.
        assert_eq!(IsolationForest::fit(&x, &p).unwrap_err().to_string(), e);
        e
    };
    assert!(refused(ForestParams { n_estimators: 1_000_000_000, ..ForestParams::default() }).contains("n_estimators"));
    assert!(refused(ForestParams { n_estimators: MAX_ESTIMATORS + 1, ..ForestParams::default() }).contains("5000"));
    assert!(refused(ForestParams { n_estimators: 0, ..ForestParams::default() }).contains("n_estimators"));
    let psi = MaxSamples::Count(MAX_SAMPLES + 1);
    assert!(refused(ForestParams { max_samples: psi, ..ForestParams::default() }).contains("max_samples"));
    let big = ForestParams {
        n_estimators: MAX_ESTIMATORS,
        max_samples: MaxSamples::Count(MAX_SAMPLES),
        ..ForestParams::default()
    };
    assert!(refused(big).contains(&MAX_FOREST_NODES.to_string()));
    assert!(refused(ForestParams { max_features: 0.0, ..ForestParams::default() }).contains("max_features"));
    // At the bounds, accepted.
    let ok =
        ForestParams { n_estimators: MAX_ESTIMATORS, max_samples: MaxSamples::Count(256), ..ForestParams::default() };
    assert!(ok.validate().is_ok());
    // A matrix wider than MAX_FEATURES.
    let wide = matrix(&[vec![0.0; nta_ml::MAX_FEATURES + 1], vec![1.0; nta_ml::MAX_FEATURES + 1]]);
    assert!(IsolationForest::fit(&wide, &ForestParams::default()).unwrap_err().to_string().contains("features"));
}

#[test]
fn a_stop_flag_cancels_fitting_scoring_and_training() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let rows: Vec<Vec<f64>> = (0..2000).map(|i| vec![f64::from(i % 37), f64::from(i % 101), f64::from(i)]).collect();
    let x = matrix(&rows);
    let params = ForestParams { contamination: Contamination::Fraction(0.05), ..ForestParams::default() };
    let go = AtomicBool::new(false);
    // Unset, the cancellable paths are the plain ones.
    let f = IsolationForest::fit_until(&x, &params, &go).unwrap();
    let plain = IsolationForest::fit(&x, &params).unwrap();
    assert_eq!(f.offset, plain.offset);
    assert_eq!(f.score_samples_until(&x, &go).unwrap(), plain.score_samples(&x).unwrap());
    let stop = AtomicBool::new(true);
    assert!(matches!(IsolationForest::fit_until(&x, &params, &stop), Err(nta_ml::Error::Cancelled)));
    assert!(matches!(f.score_samples_until(&x, &stop), Err(nta_ml::Error::Cancelled)));
    let names: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
    let source = nta_ml::TrainingSource::table(vec![]);
    let trained = nta_ml::train("m", "", &x, names, &params, source, 0, &stop);
    assert!(matches!(trained, Err(nta_ml::Error::Cancelled)));
    // Set from another thread while a forest of many trees is being fitted on a big matrix:
    // whichever check sees it first, the result is Cancelled, never a model.
    let big = matrix(&(0..200_000).map(|i| vec![f64::from(i % 997), f64::from(i % 13)]).collect::<Vec<_>>());
    let many = ForestParams { n_estimators: 2000, ..ForestParams::default() };
    let flag = AtomicBool::new(false);
    let result = std::thread::scope(|s| {
        let worker =
            s.spawn(|| IsolationForest::fit_until(&big, &many, &flag).and_then(|f| f.score_samples_until(&big, &flag)));
        flag.store(true, Ordering::Relaxed);
        worker.join().unwrap()
    });
    assert!(matches!(result, Err(nta_ml::Error::Cancelled)));
}
