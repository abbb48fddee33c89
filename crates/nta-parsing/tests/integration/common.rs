//! Helpers: reading a capture into summaries, and the manifest's expectations.

use nta_capture::{CaptureReader, Interface, ReadStats};
use nta_parsing::{Census, PacketSummary, decode};
use std::collections::HashMap;
use std::path::PathBuf;

pub(crate) fn pcap(rel: &str) -> PathBuf {
    nta_corpus::pcap(rel)
}

/// Everything a test wants to know about one capture.
pub(crate) struct Decoded {
    pub(crate) summaries: Vec<PacketSummary>,
    pub(crate) frames: Vec<Vec<u8>>,
    pub(crate) census: Census,
    pub(crate) stats: ReadStats,
    pub(crate) interfaces: Vec<Interface>,
}

impl Decoded {
    /// The DNS messages, in packet order.
    pub(crate) fn dns(&self) -> Vec<nta_parsing::DnsSummary> {
        self.summaries
            .iter()
            .filter_map(|s| if let nta_parsing::App::Dns(x) = s.app { Some(x) } else { None })
            .collect()
    }
}

pub(crate) fn decode_file(rel: &str) -> Decoded {
    let mut reader = CaptureReader::open(pcap(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let (mut summaries, mut frames, mut census) = (Vec::new(), Vec::new(), Census::default());
    while let Some(p) = reader.next_packet().unwrap_or_else(|e| panic!("{rel}: {e}")) {
        let s = decode(&p);
        census.add(&s);
        summaries.push(s);
        frames.push(p.data.to_vec());
    }
    Decoded { summaries, frames, census, stats: reader.stats().clone(), interfaces: reader.interfaces().to_vec() }
}

/// A manifest row's path, packets and `features` census (e.g. `ipv4:12,tcp:12`).
pub(crate) struct Row {
    pub(crate) path: String,
    pub(crate) packets: u64,
    pub(crate) features: HashMap<String, u64>,
    pub(crate) capinfos_same: bool,
}

pub(crate) fn manifest() -> Vec<Row> {
    let text = std::fs::read_to_string(pcap("MANIFEST.tsv")).expect("MANIFEST.tsv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).expect(name);
    let (c_path, c_packets, c_features, c_capinfos) =
        (col("path"), col("packets"), col("features"), col("capinfos_packets"));
    lines
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Row {
                path: f[c_path].to_string(),
                packets: f[c_packets].parse().unwrap_or(0),
                features: f[c_features]
                    .split(',')
                    .filter_map(|kv| kv.split_once(':'))
                    .map(|(k, v)| (k.to_string(), v.parse().unwrap_or(0)))
                    .collect(),
                capinfos_same: f[c_capinfos] == "same",
            }
        })
        .collect()
}

pub(crate) fn row(rel: &str) -> Row {
    manifest().into_iter().find(|r| r.path == rel).unwrap_or_else(|| panic!("{rel} not in manifest"))
}

/// Asserts our census equals the manifest's for the given protocols.
#[track_caller]
pub(crate) fn check_census(rel: &str, census: &Census, keys: &[&str]) {
    let row = row(rel);
    assert_eq!(census.packets, row.packets, "{rel}: packets");
    for key in keys {
        let ours = match *key {
            "arp" => census.arp,
            "ipv4" => census.ipv4,
            "ipv6" => census.ipv6,
            "tcp" => census.tcp,
            "udp" => census.udp,
            "icmp" => census.icmp,
            "icmp6" => census.icmpv6,
            "ipfrag" => census.fragments,
            "ipv6_exthdr" => census.ipv6_ext,
            "llc" => census.llc,
            other => panic!("no census key {other}"),
        };
        assert_eq!(ours, row.features.get(*key).copied().unwrap_or(0), "{rel}: {key}");
    }
}
