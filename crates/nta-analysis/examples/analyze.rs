//! Analyse a capture through the public API: `cargo run --release -p nta-analysis --example
//! analyze -- [CAPTURE]` (default: the bundled sample). Extracts 10-second windows, learns a
//! baseline, trains an Isolation Forest, detects, and prints the incidents with their reasons.

use nta_analysis::{AnalyzeOptions, analyze};
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/test_net_traffic.pcapng"));
    let analysis = analyze(std::slice::from_ref(&path), &AnalyzeOptions::default(), &|_| {}, &Default::default())?;
    let d = &analysis.detection;
    println!(
        "{}: {} windows, {} abnormal, {} incidents",
        path.display(),
        d.windows,
        d.anomalies.len(),
        d.incidents.len()
    );
    for i in &d.incidents {
        println!(
            "{} .. {}  {:<8} {:>3} windows  {}",
            &i.start[11..19],
            &i.end[11..19],
            i.severity,
            i.windows,
            i.summary
        );
        if let Some(first) = d.anomalies.iter().find(|a| Some(&a.id) == i.anomalies.first()) {
            for c in first.explanation.iter().take(3) {
                println!("      {}", c.reason);
            }
        }
    }
    Ok(())
}
