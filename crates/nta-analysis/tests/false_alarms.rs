//! False alarms on real normal traffic: every capture of ordinary applications in the corpus
//! (`../shared/pcaps`, its manifest's paths without an attack word), analysed alone, and how
//! many get an attack kind at high or critical severity (docs/ANALYSIS.md has the figures).

use nta_analysis::{AnalyzeOptions, Severity, analyze, names_attack};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Words in a corpus path that mark a capture of an attack, an exploit or a fuzzer.
const ATTACK_WORDS: &[&str] = &[
    "flood",
    "scan",
    "nmap",
    "dos",
    "brute",
    "spoof",
    "tunnel-iodine",
    "exfil",
    "sweep",
    "attack",
    "denial",
    "smurf",
    "malicious",
    "cve",
    "heartbleed",
    "fuzz",
    "evasion",
];

#[test]
fn ordinary_captures_are_not_called_attacks() {
    if !nta_corpus::require() {
        return;
    }
    let dir = nta_corpus::pcaps_dir();
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).unwrap();
    let mut lines = manifest.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (path, status, dup) = (col("path"), col("parse_status"), col("duplicate_of"));
    let files: Vec<String> = lines
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .filter(|f| f.get(status) == Some(&"ok") && f.get(dup).is_none_or(|d| d.is_empty()))
        .filter_map(|f| f.get(path).map(|p| p.to_string()))
        .filter(|p| !ATTACK_WORDS.iter().any(|w| p.to_lowercase().contains(w)))
        .collect();
    assert!(files.len() > 3000, "{} captures", files.len());
    let next = AtomicUsize::new(0);
    let alarms = std::sync::Mutex::new(Vec::new());
    let analysed = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..std::thread::available_parallelism().map_or(2, |n| n.get()) {
            s.spawn(|| {
                while let Some(rel) = files.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let Ok(a) = analyze(&[dir.join(rel)], &AnalyzeOptions::default(), &|_| {}, &Default::default())
                    else {
                        continue; // no packets to analyse (a capture of an undecoded link type only)
                    };
                    analysed.fetch_add(1, Ordering::Relaxed);
                    if let Some(i) =
                        a.detection.incidents.iter().find(|i| names_attack(i.kind) && i.severity >= Severity::High)
                    {
                        alarms.lock().unwrap().push(format!("{rel}: {}", i.headline));
                    }
                }
            });
        }
    });
    let alarms = alarms.into_inner().unwrap();
    let n = analysed.load(Ordering::Relaxed);
    eprintln!("{} of {n} ordinary captures get an attack kind at high or critical:", alarms.len());
    for a in &alarms {
        eprintln!("  {a}");
    }
    assert!(n > 3000);
    // The goal is at most 5%; today it is well under 1% (docs/ANALYSIS.md explains the rest).
    assert!(alarms.len() * 100 <= n, "{} false alarms in {n} captures", alarms.len());
}
