//! The anomaly store: de-duplicated, torn-line tolerant appends, listing, and what happens
//! when several writers append at once (its index: tests/index.rs).

use nta_analysis::{AnalyzeOptions, Anomaly, Detector, Severity, analyze};
use nta_store::{AnomalyStore, Filter, Order};
use std::path::PathBuf;
use std::sync::OnceLock;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/test_net_traffic.pcapng")
}

fn fixture_anomalies() -> &'static Vec<Anomaly> {
    static A: OnceLock<Vec<Anomaly>> = OnceLock::new();
    A.get_or_init(|| {
        analyze(&[fixture()], &AnalyzeOptions::default(), &|_| {}, &Default::default()).unwrap().detection.anomalies
    })
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nta-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_store_does_not_duplicate_and_survives_a_torn_line() {
    let anomalies = fixture_anomalies();
    let again = anomalies.clone();
    let dir = std::env::temp_dir().join(format!("nta-store-append-{}", std::process::id()));
    let store = AnomalyStore::new(dir.join("anomalies.jsonl"));
    assert_eq!(store.append(anomalies).unwrap(), anomalies.len());
    assert_eq!(store.append(&again).unwrap(), 0, "re-running appends nothing");
    assert_eq!(store.read().unwrap().anomalies.len(), anomalies.len());
    // A writer killed mid-line: the torn line is skipped and reported, and the next append
    // starts on a fresh line.
    let mut bytes = std::fs::read(store.path()).unwrap();
    bytes.extend_from_slice(b"{\"id\":\"dead");
    std::fs::write(store.path(), &bytes).unwrap();
    let read = store.read().unwrap();
    assert!(read.torn_last_line);
    assert_eq!(read.anomalies.len(), anomalies.len());
    let mut extra = anomalies[0].clone();
    extra.id = "0000000000000001".into();
    assert_eq!(store.append(&[extra]).unwrap(), 1);
    let read = store.read().unwrap();
    assert_eq!((read.anomalies.len(), read.bad_lines, read.torn_last_line), (anomalies.len() + 1, 1, false));
    // Filters and pages.
    let by_time = Filter { order: Order::Time, ..Filter::default() };
    let all = store.list(&by_time, 0, 1000).unwrap();
    assert_eq!(all.total, anomalies.len() + 1);
    assert!(all.items.windows(2).all(|w| w[0].window_start_ns <= w[1].window_start_ns));
    // The default order is triage: most severe first.
    let triage = store.list(&Filter::default(), 0, 1000).unwrap();
    assert_eq!(triage.total, all.total);
    assert!(triage.items.windows(2).all(|w| w[0].severity >= w[1].severity));
    let page = store.list(&by_time, 5, 10).unwrap();
    assert_eq!(page.items.len(), 10);
    assert_eq!(page.items[0].id, all.items[5].id);
    let crit = Filter { min_severity: Some(Severity::Critical), ..Filter::default() };
    let c = store.list(&crit, 0, 1000).unwrap();
    assert!(c.total > 0 && c.items.iter().all(|a| a.severity == Severity::Critical));
    let since = anomalies.iter().find(|a| a.window_start.contains("T09:20")).unwrap().window_start_ns;
    let late = store.list(&Filter { since_ns: Some(since), ..Filter::default() }, 0, 1000).unwrap();
    assert!(late.items.iter().all(|a| a.window_end_ns > since) && late.total < all.total);
    let model_only = store
        .list(&Filter { detector: Some(Detector::Model), min_score: Some(0.5), ..Filter::default() }, 0, 1000)
        .unwrap();
    assert!(model_only.items.iter().all(|a| a.detector == Detector::Model && a.score.unwrap() >= 0.5));
    let s = nta_analysis::summarize(&store.read().unwrap().anomalies);
    assert_eq!(s.total, anomalies.len() + 1);
    assert_eq!(s.by_severity.values().sum::<usize>(), s.total);
    assert!(s.top_metrics[0].1 >= s.top_metrics[1].1);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Many writers (each with its own open file, as separate processes have) append the same
/// records at once, each in its own order and batch size: every id is stored exactly once,
/// every line is whole, nothing is lost.
#[test]
fn concurrent_appends_never_duplicate_interleave_or_lose() {
    let base = fixture_anomalies();
    let all: Vec<Anomaly> = (0..1500usize)
        .map(|i| {
            let mut a = base[i % base.len()].clone();
            a.id = format!("{i:016x}");
            a
        })
        .collect();
    let dir = temp_dir("concurrent");
    let path = dir.join("anomalies.jsonl");
    let writers = 6usize;
    let appended: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..writers)
            .map(|w| {
                let (path, all) = (&path, &all);
                s.spawn(move || {
                    let store = AnomalyStore::new(path);
                    let mut mine = all.clone();
                    mine.rotate_left(w * all.len() / writers);
                    mine.chunks(w * 5 + 3).map(|c| store.append(c).unwrap()).sum::<usize>()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.ends_with('\n'));
    assert!(!text.lines().any(|l| l.trim().is_empty()), "no blank line");
    let read = AnomalyStore::new(&path).read().unwrap();
    assert_eq!((read.bad_lines, read.torn_last_line), (0, false), "every line whole");
    let mut ids: Vec<&str> = read.anomalies.iter().map(|a| a.id.as_str()).collect();
    let stored = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), stored, "no duplicate id");
    assert_eq!(stored, all.len(), "nothing lost");
    assert_eq!(appended, stored, "what the writers said they appended is what is stored");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Cancelling an extraction of many small windows stops it within a second, with nothing kept.
#[test]
fn cancelled_extraction_stops_within_a_second() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = AtomicBool::new(false);
    let cfg = nta_metrics::ExtractConfig::new(1_000_000);
    let (result, after_stop) = std::thread::scope(|s| {
        let worker = s.spawn(|| nta_store::extract(&[fixture()], &cfg, &|_| {}, &stop));
        std::thread::sleep(std::time::Duration::from_millis(100));
        let set = std::time::Instant::now();
        stop.store(true, Ordering::Relaxed);
        let r = worker.join().unwrap();
        (r, set.elapsed())
    });
    assert!(matches!(result, Err(nta_store::Error::Cancelled)), "{:?}", result.map(|e| e.records.len()));
    assert!(after_stop < std::time::Duration::from_secs(1), "{after_stop:?}");
}

#[test]
fn a_contribution_without_a_value_is_read_back() {
    // A mean over nothing (no DNS query in the window) is NaN, written `null`: the record must
    // still read back (it was once skipped as a bad line, lost to every reader).
    let dir = temp_dir("nan");
    let store = AnomalyStore::new(dir.join("anomalies.jsonl"));
    let mut a = fixture_anomalies()[0].clone();
    a.explanation[0].value = f64::NAN;
    assert_eq!(store.append(std::slice::from_ref(&a)).unwrap(), 1);
    assert!(std::fs::read_to_string(store.path()).unwrap().contains("\"value\":null"));
    let read = store.read().unwrap();
    assert_eq!((read.anomalies.len(), read.bad_lines), (1, 0));
    assert!(read.anomalies[0].explanation[0].value.is_nan());
    assert_eq!(read.anomalies[0].id, a.id);
    std::fs::remove_dir_all(&dir).unwrap();
}
