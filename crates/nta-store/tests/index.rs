//! The anomaly store's index ([`StoreIndex`]): the same answers as reading the whole store —
//! listings in both orders, every filter, summaries and incidents, the flows of an anomaly or
//! an incident — while it follows appends, torn lines, replacement and rewriting in place,
//! bad lines, a damaged index, and several followers at once.

use nta_analysis::{Anomaly, Detector, Severity};
use nta_store::{AnomalyStore, Filter, FlowFilter, Order, StoreIndex, summary_page};
use std::io::Write;
use std::path::PathBuf;

mod common;

use common::{temp_dir, varied};

/// Every filter the API takes, alone and together.
fn filters(all: &[Anomaly]) -> Vec<Filter> {
    let attacker = all.iter().find_map(|a| a.attackers.first()).map(|h| h.ip).unwrap();
    let victim = all.iter().find_map(|a| a.victims.first()).map(|h| h.ip).unwrap();
    let mut starts: Vec<i64> = all.iter().map(|a| a.window_start_ns).collect();
    starts.sort_unstable();
    let (early, mid) = (starts[starts.len() / 4], starts[starts.len() / 2]);
    let kind = all.iter().find(|a| nta_analysis::names_attack(a.kind)).unwrap().kind;
    let mut out = vec![
        Filter::default(),
        Filter { since_ns: Some(mid), ..Filter::default() },
        Filter { until_ns: Some(mid), ..Filter::default() },
        Filter { since_ns: Some(early), until_ns: Some(mid), ..Filter::default() },
        // A bound exactly on a window's end: that window is out ("ends after").
        Filter { since_ns: Some(all[7].window_end_ns), ..Filter::default() },
        Filter { min_severity: Some(Severity::Medium), ..Filter::default() },
        Filter { min_severity: Some(Severity::Critical), ..Filter::default() },
        Filter { detector: Some(Detector::Model), ..Filter::default() },
        Filter { detector: Some(Detector::Rules), ..Filter::default() },
        Filter { capture: Some("cap-1".into()), ..Filter::default() },
        Filter { capture: Some(String::new()), ..Filter::default() },
        Filter { capture: Some("none".into()), ..Filter::default() },
        Filter { kind: Some(kind), ..Filter::default() },
        Filter { ip: Some(attacker), ..Filter::default() },
        Filter { ip: Some(victim), ..Filter::default() },
        Filter { ip: Some("192.0.2.250".parse().unwrap()), ..Filter::default() },
        Filter { min_score: Some(0.6), ..Filter::default() },
        Filter { sensor: Some("s1".into()), ..Filter::default() },
        Filter { sensor: Some("nope".into()), ..Filter::default() },
        Filter {
            min_severity: Some(Severity::Medium),
            capture: Some("cap-0".into()),
            since_ns: Some(early),
            sensor: Some("s1".into()),
            ..Filter::default()
        },
        Filter { ip: Some(attacker), kind: Some(kind), detector: Some(Detector::Both), ..Filter::default() },
    ];
    for f in out.clone() {
        out.push(Filter { order: Order::Time, ..f });
    }
    out
}

/// The answer of reading the whole store: the matching records in time order.
fn in_time_order<'a>(all: &'a [Anomaly], f: &Filter) -> Vec<&'a Anomaly> {
    let mut v: Vec<&Anomaly> = all.iter().filter(|a| f.matches(a)).collect();
    v.sort_by(|a, b| a.window_start_ns.cmp(&b.window_start_ns).then_with(|| a.id.cmp(&b.id)));
    v
}

#[test]
fn the_index_answers_as_reading_the_whole_store() {
    let dir = temp_dir("same");
    let store = AnomalyStore::new(dir.join("anomalies.jsonl"));
    let all = varied();
    store.append(&all).unwrap();
    let index = StoreIndex::new(store.clone());
    assert_eq!(index.len().unwrap(), all.len());
    let filters = filters(&all);
    let mut nonempty = 0;
    for f in &filters {
        for (offset, limit) in [(0, usize::MAX), (3, 7), (0, 0), (10_000, 5)] {
            let want = store.list(f, offset, limit).unwrap();
            let got = index.list(f, offset, limit).unwrap();
            assert_eq!(got, want, "{f:?} {offset} {limit}");
            let json = index.list_json(f, offset, limit).unwrap();
            // The lines as stored are the page as serialized, byte for byte.
            assert_eq!(json.body, serde_json::to_vec(&want).unwrap(), "json {f:?} {offset} {limit}");
            assert_eq!((json.total, json.offset), (want.total, want.offset));
            nonempty += usize::from(!got.items.is_empty());
            let items = in_time_order(&all, f);
            let want = summary_page(&items, f.order, offset, limit);
            let got = index.summary(f, offset, limit).unwrap();
            assert_eq!(*got, want, "summary {f:?} {offset} {limit}");
        }
    }
    assert!(nonempty > filters.len(), "the filters select something");
    // Incidents span several anomalies, and more than one page of them exists.
    let everything = index.summary(&Filter::default(), 0, usize::MAX).unwrap();
    let longest = everything.incidents.iter().map(|i| i.windows).max().unwrap();
    assert!(
        everything.incidents_total > 10 && longest > 2,
        "{} incidents, longest {longest}",
        everything.incidents_total
    );
    // One anomaly, and the flows of every anomaly and every incident.
    let refs = in_time_order(&all, &Filter::default());
    for a in &all {
        assert_eq!(index.get(&a.id).unwrap().as_ref(), Some(a));
        assert_eq!(index.flows_of(&a.id).unwrap(), FlowFilter::of_id(&refs, &a.id));
    }
    for i in &everything.incidents {
        let want = FlowFilter::of_id(&refs, &i.id);
        assert!(want.is_some());
        assert_eq!(index.flows_of(&i.id).unwrap(), want, "incident {}", i.id);
    }
    // Incidents are paged up to a bound (the groups ranked are kept in memory).
    let beyond = index.summary(&Filter::default(), nta_store::MAX_INCIDENT_OFFSET + 1, 10);
    assert!(matches!(beyond, Err(nta_store::Error::Query { .. })), "{beyond:?}");
    assert_eq!(index.get("ffffffffffffffff").unwrap(), None);
    assert_eq!(index.flows_of("ffffffffffffffff").unwrap(), None);
    let counts = index.counts_by_severity_and_kind().unwrap();
    assert_eq!(counts, nta_store::count_by_severity_and_kind(all.iter()));
    // A second index on the same file answers at once from what the first built.
    let again = StoreIndex::new(store.clone());
    assert_eq!(again.list(&filters[5], 0, 20).unwrap(), index.list(&filters[5], 0, 20).unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_index_follows_appends_torn_lines_replacement_and_rewrites() {
    let anomalies = varied();
    let dir = temp_dir("follow");
    let path = dir.join("anomalies.jsonl");
    let store = AnomalyStore::new(&path);
    let index = StoreIndex::new(AnomalyStore::new(&path));
    let all_of = |index: &StoreIndex| index.list(&Filter { order: Order::Time, ..Filter::default() }, 0, usize::MAX);
    // No file: empty, and no index is made.
    assert!(all_of(&index).unwrap().items.is_empty());
    assert!(!index.path().exists());
    let (first, rest) = anomalies.split_at(10);
    store.append(first).unwrap();
    assert_eq!(all_of(&index).unwrap().total, 10);
    assert!(index.path().is_file());
    // A writer in the middle of a line: the index waits for its end.
    let line = serde_json::to_string(&rest[0]).unwrap();
    let (head, tail) = line.split_at(line.len() / 2);
    std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(head.as_bytes()).unwrap();
    assert_eq!(all_of(&index).unwrap().total, 10);
    let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(tail.as_bytes()).unwrap();
    f.write_all(b"\n").unwrap();
    assert_eq!(index.len().unwrap(), 11);
    store.append(&rest[1..]).unwrap();
    let listed = store.list(&Filter { order: Order::Time, ..Filter::default() }, 0, usize::MAX).unwrap();
    assert_eq!(all_of(&index).unwrap(), listed);
    assert_eq!(index.bad_lines().unwrap(), 0);
    // Replaced by a smaller file (a new inode): indexed afresh.
    let other = dir.join("other.jsonl");
    AnomalyStore::new(&other).append(&anomalies[..3]).unwrap();
    std::fs::rename(&other, &path).unwrap();
    assert_eq!(
        all_of(&index).unwrap().items,
        in_time_order(&anomalies[..3], &Filter::default()).into_iter().cloned().collect::<Vec<_>>()
    );
    // Rewritten in place (the same inode) with other records, longer than before: the last
    // line indexed no longer reads the same, so it is indexed afresh.
    let text: String = anomalies[20..30].iter().map(|a| serde_json::to_string(a).unwrap() + "\n").collect();
    std::fs::write(&path, text).unwrap();
    let ids: Vec<String> = all_of(&index).unwrap().items.into_iter().map(|a| a.id).collect();
    let mut want: Vec<String> = anomalies[20..30].iter().map(|a| a.id.clone()).collect();
    want.sort_by_key(|id| (anomalies.iter().find(|a| &a.id == id).unwrap().window_start_ns, id.clone()));
    assert_eq!(ids, want);
    // Removed: empty.
    std::fs::remove_file(&path).unwrap();
    assert_eq!(all_of(&index).unwrap().total, 0);
    assert_eq!(index.len().unwrap(), 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Lines another writer (or an older version) wrote differently — fields in another order,
/// a field under its old name, a default left out — are listed as this version writes them.
#[test]
fn lines_written_otherwise_are_sent_as_this_version_writes_them() {
    let anomalies = varied();
    let dir = temp_dir("other-writer");
    let path = dir.join("anomalies.jsonl");
    let mut text = String::new();
    for (i, a) in anomalies.iter().take(12).enumerate() {
        let mut v = serde_json::to_value(a).unwrap();
        let o = v.as_object_mut().unwrap();
        match i % 3 {
            0 => {
                let capture = o.remove("capture").unwrap();
                o.insert("source".into(), capture);
            }
            1 => {
                o.remove("attackers");
            }
            _ => {}
        }
        // serde_json's map is sorted: every line has its fields in another order.
        text.push_str(&serde_json::to_string(&v).unwrap());
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
    let index = StoreIndex::new(AnomalyStore::new(&path));
    let page = index.list(&Filter::default(), 0, 100).unwrap();
    assert_eq!(page.total, 12);
    let json = index.list_json(&Filter::default(), 0, 100).unwrap();
    let want = String::from_utf8(serde_json::to_vec(&page).unwrap()).unwrap();
    assert_eq!(String::from_utf8(json.body).unwrap(), want, "byte for byte as this version writes the page");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_lines_are_counted_and_a_damaged_index_is_rebuilt() {
    let anomalies = varied();
    let dir = temp_dir("bad");
    let path = dir.join("anomalies.jsonl");
    let store = AnomalyStore::new(&path);
    store.append(&anomalies[..5]).unwrap();
    {
        let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"not\": \"an anomaly\"}\n").unwrap();
        // Longer than a line may be (16 MiB), and longer than a block (32 MiB).
        f.write_all(&vec![b'x'; 20 << 20]).unwrap();
        f.write_all(b"\n").unwrap();
        f.write_all(&vec![b'y'; 40 << 20]).unwrap();
        f.write_all(b"\n").unwrap();
    }
    // (The store's own appends refuse a file with such a line: the last records by hand.)
    let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    for a in &anomalies[5..9] {
        f.write_all((serde_json::to_string(a).unwrap() + "\n").as_bytes()).unwrap();
    }
    let index = StoreIndex::new(store.clone());
    let page = index.list(&Filter::default(), 0, 100).unwrap();
    assert_eq!(page.total, 9);
    assert_eq!(index.bad_lines().unwrap(), 3);
    drop(index);
    // An index file that is not a database: made again.
    let damaged = StoreIndex::new(store.clone());
    for suffix in ["-wal", "-shm"] {
        let mut p = damaged.path().as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
    std::fs::write(damaged.path(), b"this is not a database, it is a test of one that is damaged").unwrap();
    assert_eq!(damaged.list(&Filter::default(), 0, 100).unwrap(), page);
    std::fs::remove_dir_all(&dir).unwrap();
}
