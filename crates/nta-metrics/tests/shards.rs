//! Sharded extraction (`ExtractConfig::shards`): below the tables' bounds the shards' merged
//! records are those of one accumulator, whatever the shard and thread counts; beyond them they
//! depend on the shard count but never on the thread count.

use nta_capture::{CaptureWriter, WriteFormat};
use nta_metrics::{ExtractConfig, ExtractCounts, FlowRecord, WindowRecord, extract_with_flows};
use nta_synth::{LINK_TYPE, Profile, SNAPLEN, SynthAttack, SynthConfig, synthesize};
use std::path::{Path, PathBuf};

const NS: i64 = 1_000_000_000;

fn fixture() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/test_net_traffic.pcapng"))
}

/// A synthesized office with a SYN flood and a port scan (host tables, evidence, half-open).
fn attacked() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nta-shards-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("attacked.pcapng");
    let mut cfg = SynthConfig::new(5, 90 * NS);
    cfg.profile = Profile::office();
    cfg.schedule_defaults(&[SynthAttack::Synflood, SynthAttack::Portscan, SynthAttack::DnsTunnel]);
    let mut w = CaptureWriter::new(std::fs::File::create(&path).unwrap(), WriteFormat::Pcapng, LINK_TYPE, SNAPLEN, "t")
        .unwrap();
    synthesize(&cfg, &mut w).unwrap();
    w.into_inner().unwrap();
    path
}

struct Run {
    windows: Vec<String>,
    flows: Vec<String>,
    counts: ExtractCounts,
}

fn run(path: &Path, cfg: &ExtractConfig) -> Run {
    let (mut windows, mut flows) = (Vec::new(), Vec::new());
    let mut sink = |f: FlowRecord| {
        flows.push(serde_json::to_string(&f).unwrap());
        Ok(())
    };
    let summary = extract_with_flows(
        vec![nta_metrics::CaptureSource::File(path.to_owned())],
        cfg,
        &|_| {},
        &mut |r: WindowRecord| {
            windows.push(serde_json::to_string(&r).unwrap());
            Ok(())
        },
        Some(&mut sink),
    )
    .unwrap();
    Run { windows, flows, counts: summary.counts }
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v
}

/// Real traffic (the fixture, a capture of many protocols from the corpus) and an attacked
/// office, in 1 s windows with a 1 s reorder horizon (windows close while the batch goes on):
/// 2, 4 and 16 shards on 1 and 2 threads give the windows of one accumulator byte for byte,
/// the same flow records, and the same counts.
#[test]
fn shards_give_the_records_of_one_accumulator() {
    let mut inputs = vec![fixture(), attacked()];
    if nta_corpus::available() {
        inputs.push(nta_corpus::pcap("seladb__PcapPlusPlus/Tests/ExamplesTest/pcap_examples/many-protocols.pcap"));
    } else {
        nta_corpus::skip("the corpus (../shared/pcaps) is missing: only the fixture and a synthesized capture");
    }
    for path in &inputs {
        let mut cfg = ExtractConfig::new(NS);
        cfg.reorder_ns = NS;
        cfg.threads = 1;
        let one = run(path, &cfg);
        assert!(one.windows.len() > 5 && one.flows.len() > 50, "{}: too little to compare", path.display());
        for shards in [2, 4, 16] {
            for threads in [1, 2] {
                cfg.shards = shards;
                cfg.threads = threads;
                let r = run(path, &cfg);
                let what = format!("{}: {shards} shards, {threads} threads", path.display());
                assert!(r.windows == one.windows, "{what}: window records differ");
                assert!(sorted(&r.flows) == sorted(&one.flows), "{what}: flow records differ");
                assert_eq!(r.counts, one.counts, "{what}: counts differ");
            }
        }
    }
}

/// A flow table far too small (64 flows for thousands): each shard evicts from its own share,
/// so the records now depend on the shard count — but, in order and byte for byte, not on the
/// thread count, and every IP packet is still in one flow record or counted as not admitted.
#[test]
fn beyond_the_bounds_threads_still_change_nothing() {
    let path = attacked();
    let mut cfg = ExtractConfig::new(NS);
    cfg.flows.max_flows = 64;
    cfg.shards = 4;
    cfg.threads = 1;
    let one = run(&path, &cfg);
    assert!(
        one.counts.evicted_flows > 100 && one.counts.unadmitted_flows > 1000,
        "the table must overflow: {:?}",
        one.counts
    );
    cfg.threads = 2;
    let two = run(&path, &cfg);
    assert!(two.windows == one.windows, "window records depend on the thread count");
    assert!(two.flows == one.flows, "flow records (or their order) depend on the thread count");
    assert_eq!(two.counts, one.counts);
    let in_flows: u64 = one
        .flows
        .iter()
        .map(|f| {
            let v: serde_json::Value = serde_json::from_str(f).unwrap();
            v["src_packets"].as_u64().unwrap_or(0) + v["dst_packets"].as_u64().unwrap_or(0)
        })
        .sum();
    let ip_packets: u64 = one
        .windows
        .iter()
        .map(|w| {
            let v: serde_json::Value = serde_json::from_str(w).unwrap();
            v["ipv4_packets"].as_u64().unwrap_or(0) + v["ipv6_packets"].as_u64().unwrap_or(0)
        })
        .sum();
    assert!(in_flows > 0);
    assert_eq!(in_flows + one.counts.unadmitted_packets, ip_packets, "packets lost between flows");
}

#[test]
fn a_shard_count_not_a_power_of_two_is_refused() {
    let mut cfg = ExtractConfig::new(NS);
    for bad in [0, 3, 32] {
        cfg.shards = bad;
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.contains("shards"), "{bad}: {e}");
    }
}
