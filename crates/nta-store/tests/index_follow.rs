//! The anomaly store's index while the store changes: appends that ask it for ids, several
//! followers at once, and any chunking of the bytes (tests/index.rs: its answers).

mod common;

use common::{fixture_anomalies, temp_dir, varied};
use nta_analysis::Anomaly;
use nta_store::{AnomalyStore, Filter, Order, StoreIndex};
use std::io::Write;

/// The answer of reading the whole store: the matching records in time order.
fn in_time_order<'a>(all: &'a [Anomaly], f: &Filter) -> Vec<&'a Anomaly> {
    let mut v: Vec<&Anomaly> = all.iter().filter(|a| f.matches(a)).collect();
    v.sort_by(|a, b| a.window_start_ns.cmp(&b.window_start_ns).then_with(|| a.id.cmp(&b.id)));
    v
}

/// An append to an indexed store asks the index for the ids it holds and reads only the lines
/// after it: no id is stored twice (whether it is in the indexed part, in the tail, or twice
/// in the batch), and a line too long to read in the indexed part no longer stops appends.
#[test]
fn appends_ask_the_index_for_the_ids_it_holds() {
    let anomalies = varied();
    let dir = temp_dir("append");
    let path = dir.join("anomalies.jsonl");
    let store = AnomalyStore::new(&path);
    store.append(&anomalies[..20]).unwrap();
    // A line longer than any line may be: a full read of the ids refuses the file.
    {
        let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&vec![b'x'; 17 << 20]).unwrap();
        f.write_all(b"\n").unwrap();
    }
    assert!(store.append(&anomalies[20..21]).is_err(), "without an index the long line stops appends");
    let index = StoreIndex::new(store.clone());
    assert_eq!((index.len().unwrap(), index.bad_lines().unwrap()), (20, 1));
    // Indexed: the long line is behind the index, the append reads only what follows.
    assert_eq!(store.append(&anomalies[10..30]).unwrap(), 10, "ids 10..20 are in the index");
    // Not indexed yet (the tail): read.
    assert_eq!(store.append(&anomalies[25..35]).unwrap(), 5, "ids 25..30 are in the tail");
    let mut twice = anomalies[40..42].to_vec();
    twice.extend_from_slice(&anomalies[40..42]);
    assert_eq!(store.append(&twice).unwrap(), 2, "twice in one batch: once");
    assert_eq!(index.len().unwrap(), 37);
    let ids: Vec<String> = index.list(&Filter::default(), 0, 100).unwrap().items.into_iter().map(|a| a.id).collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "no id twice");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Two followers of one store and one index (as two servers over one logs directory), while
/// a third party appends: each sees every record once, in order, at every step.
#[test]
fn several_followers_share_one_index_while_a_writer_appends() {
    let anomalies = varied();
    let dir = temp_dir("shared");
    let path = dir.join("anomalies.jsonl");
    let by_time = Filter { order: Order::Time, ..Filter::default() };
    std::thread::scope(|s| {
        let writer = s.spawn(|| {
            let store = AnomalyStore::new(&path);
            for chunk in anomalies.chunks(7) {
                store.append(chunk).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(3));
            }
        });
        let readers: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let index = StoreIndex::new(AnomalyStore::new(&path));
                    let mut seen = 0;
                    while seen < anomalies.len() {
                        let page = index.list(&by_time, 0, usize::MAX).unwrap();
                        assert!(page.total >= seen, "never fewer than before");
                        assert_eq!(page.total, page.items.len());
                        let stored = &anomalies[..page.total];
                        let want: Vec<Anomaly> = in_time_order(stored, &by_time).into_iter().cloned().collect();
                        assert_eq!(page.items, want);
                        seen = page.total;
                    }
                })
            })
            .collect();
        writer.join().unwrap();
        for r in readers {
            r.join().unwrap();
        }
    });
    std::fs::remove_dir_all(&dir).unwrap();
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(16))]
    /// However the store's bytes arrive (any chunking, lines cut anywhere), after each chunk
    /// the index holds exactly the complete lines so far, sorted as a full listing is.
    #[test]
    fn the_index_sees_complete_lines_whatever_the_chunking(
        cuts in proptest::collection::vec(1usize..4000, 1..40),
        take in 5usize..40,
    ) {
        let anomalies = fixture_anomalies();
        let text: String = anomalies.iter().take(take).map(|a| serde_json::to_string(a).unwrap() + "\n").collect();
        let dir = temp_dir(&format!("prop-{}", cuts.len() * 1000 + take));
        let path = dir.join("a.jsonl");
        let index = StoreIndex::new(AnomalyStore::new(&path));
        let mut written = 0;
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&path).unwrap();
        for cut in cuts.iter().cycle() {
            if written >= text.len() {
                break;
            }
            let end = (written + cut).min(text.len());
            file.write_all(&text.as_bytes()[written..end]).unwrap();
            written = end;
            // Bytes, not chars: a cut may fall inside a multi-byte character (× in reasons).
            let complete = text.as_bytes()[..written].iter().filter(|b| **b == b'\n').count();
            let page = index.list(&Filter { order: Order::Time, ..Filter::default() }, 0, usize::MAX).unwrap();
            let stored: Vec<Anomaly> = anomalies.iter().take(complete).cloned().collect();
            let expected: Vec<Anomaly> = in_time_order(&stored, &Filter::default()).into_iter().cloned().collect();
            proptest::prop_assert_eq!(&page.items, &expected);
            proptest::prop_assert_eq!(index.bad_lines().unwrap(), 0);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
