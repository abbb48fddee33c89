//! Every capture of ../shared/pcaps/MANIFEST.tsv is read without panic, and packet counts agree
//! with the manifest wherever capinfos agreed with it.

use crate::common::{manifest, pcaps_dir};
use nta_capture::CaptureReader;

#[derive(Debug)]
struct Outcome {
    packets: u64,
    error: Option<String>,
}

fn read_all(path: &std::path::Path) -> Outcome {
    let mut reader = match CaptureReader::open(path) {
        Ok(r) => r,
        Err(e) => return Outcome { packets: 0, error: Some(e.to_string()) },
    };
    let mut packets = 0u64;
    loop {
        match reader.next_packet() {
            Ok(Some(p)) => {
                assert_eq!(p.data.len(), p.caplen as usize);
                packets += 1;
            }
            Ok(None) => break,
            Err(e) => return Outcome { packets, error: Some(e.to_string()) },
        }
    }
    assert_eq!(reader.stats().packets, packets);
    assert!(reader.next_packet().expect("fused").is_none(), "reader is fused after the end");
    Outcome { packets, error: None }
}

#[test]
fn every_manifest_capture_reads_and_counts_agree() {
    if !nta_corpus::require() {
        return;
    }
    let rows = manifest();
    assert!(rows.len() > 3000, "manifest has {} rows", rows.len());
    let (mut agree, mut compared) = (0, 0);
    let mut disagreements = Vec::new();
    for row in &rows {
        let outcome = read_all(&pcaps_dir().join(&row.path));
        if !row.capinfos_same {
            eprintln!(
                "  not compared ({}): {} -> {} packets, {:?}",
                row.parse_status, row.path, outcome.packets, outcome.error
            );
        }
        if row.capinfos_same {
            compared += 1;
            if Some(outcome.packets) == row.packets {
                agree += 1;
            } else {
                disagreements.push(format!(
                    "{} [{}] manifest {:?} ours {} ({:?})",
                    row.path, row.format, row.packets, outcome.packets, outcome.error
                ));
            }
        }
    }
    eprintln!("packet counts: {agree} of {compared} captures agree with the manifest");
    for d in &disagreements {
        eprintln!("  {d}");
    }
    assert!(disagreements.is_empty(), "{} disagreements", disagreements.len());
}
