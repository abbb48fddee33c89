//! Helpers shared by the integration tests.

use std::path::PathBuf;

/// The shared corpus (`../shared/pcaps` next to the project root, or `$NTA_PCAPS_DIR`).
pub(crate) fn pcaps_dir() -> PathBuf {
    nta_corpus::pcaps_dir()
}

/// One row of MANIFEST.tsv.
#[derive(Debug)]
pub(crate) struct Row {
    pub(crate) path: String,
    pub(crate) format: String,
    pub(crate) packets: Option<u64>,
    pub(crate) parse_status: String,
    pub(crate) capinfos_same: bool,
}

pub(crate) fn manifest() -> Vec<Row> {
    let text = std::fs::read_to_string(pcaps_dir().join("MANIFEST.tsv")).expect("MANIFEST.tsv is readable");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).expect(name);
    let (c_path, c_format, c_packets, c_status, c_capinfos) =
        (col("path"), col("format"), col("packets"), col("parse_status"), col("capinfos_packets"));
    lines
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Row {
                path: f[c_path].to_string(),
                format: f[c_format].to_string(),
                packets: f[c_packets].parse().ok(),
                parse_status: f[c_status].to_string(),
                capinfos_same: f[c_capinfos] == "same",
            }
        })
        .collect()
}
