//! Flow records against nfstream's (PyPI) with the same idle and active timeouts, on real
//! captures: every nfstream flow starts where one of ours does, and per 5-tuple the packets and
//! bytes add up to the same. The one difference, by definition (docs/FLOWS.md): a TCP
//! connection closed (FIN both ways, RST) and its 5-tuple used again after the 5-second
//! time-wait — a second SYN to the same port, stray packets much later — is a new flow here,
//! one flow in nfstream. Runs where `NTA_NFSTREAM_PYTHON` names a Python with nfstream (CI
//! installs one); says it skipped otherwise.

use nta_metrics::{ExtractConfig, FlowRecord, extract_with_flows};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

type Key = (u8, (IpAddr, u16), (IpAddr, u16));

fn key(proto: u8, a: (IpAddr, u16), b: (IpAddr, u16)) -> Key {
    let (a, b) = if matches!(proto, 6 | 17) { (a, b) } else { ((a.0, 0), (b.0, 0)) };
    if a <= b { (proto, a, b) } else { (proto, b, a) }
}

/// Per 5-tuple: the start (ms) of each flow, and the packets and bytes of all of them.
type Tally = BTreeMap<Key, (Vec<i64>, u64, u64)>;

fn ours(path: &Path) -> Tally {
    let mut flows: Vec<FlowRecord> = Vec::new();
    let mut sink = |f: FlowRecord| {
        flows.push(f);
        Ok(())
    };
    let source = vec![nta_metrics::CaptureSource::File(path.to_owned())];
    extract_with_flows(source, &ExtractConfig::new(10_000_000_000), &|_| {}, &mut |_| Ok(()), Some(&mut sink)).unwrap();
    let mut t = Tally::new();
    for f in flows {
        let e = t.entry(key(f.proto, (f.src_ip, f.src_port), (f.dst_ip, f.dst_port))).or_default();
        e.0.push(f.first_ns.div_euclid(1_000_000));
        e.1 += f.src_packets + f.dst_packets;
        e.2 += f.src_bytes + f.dst_bytes;
    }
    t
}

fn theirs(python: &Path, path: &Path) -> Tally {
    let script = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tools/nfstream_flows.py"));
    let out = std::process::Command::new(python).arg(script).arg(path).args(["60", "1800"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut t = Tally::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let ip = |k: &str| v[k].as_str().unwrap().parse::<IpAddr>().unwrap();
        let port = |k: &str| v[k].as_u64().unwrap() as u16;
        let proto = v["proto"].as_u64().unwrap() as u8;
        let e = t.entry(key(proto, (ip("src_ip"), port("src_port")), (ip("dst_ip"), port("dst_port")))).or_default();
        e.0.push(v["first_ms"].as_i64().unwrap());
        e.1 += v["packets"].as_u64().unwrap();
        e.2 += v["bytes"].as_u64().unwrap();
    }
    t
}

#[test]
fn flows_agree_with_nfstream() {
    let Some(python) = std::env::var_os("NTA_NFSTREAM_PYTHON").map(PathBuf::from) else {
        eprintln!("skipped flows_agree_with_nfstream: NTA_NFSTREAM_PYTHON (a Python with nfstream) is not set");
        return;
    };
    let mut captures =
        vec![PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/test_net_traffic.pcapng"))];
    if nta_corpus::available() {
        for rel in [
            "zeek__zeek/testing/btest/Traces/ftp/bruteforce.pcap",
            "seladb__PcapPlusPlus/Tests/ExamplesTest/pcap_examples/many-protocols.pcap",
            "elastic__examples/Security Analytics/dns_tunnel_detection/dns-tunnel-iodine.pcap",
            "zeek__zeek/testing/btest/Traces/nmap-vsn.pcap",
        ] {
            captures.push(nta_corpus::pcap(rel));
        }
    } else {
        nta_corpus::skip("flows_agree_with_nfstream (the corpus captures)");
    }
    for path in captures {
        let (ours, theirs) = (ours(&path), theirs(&python, &path));
        let (n_ours, n_theirs): (usize, usize) =
            (ours.values().map(|v| v.0.len()).sum(), theirs.values().map(|v| v.0.len()).sum());
        let mut split = 0;
        for (k, (starts, packets, bytes)) in &theirs {
            let Some((mine, p, b)) = ours.get(k) else { panic!("{}: nfstream's {k:?} is not ours", path.display()) };
            assert_eq!((p, b), (packets, bytes), "{}: {k:?}", path.display());
            for s in starts {
                assert!(mine.contains(s), "{}: nfstream's flow {k:?} at {s} ms starts no flow of ours", path.display());
            }
            split += mine.len() - starts.len();
        }
        assert_eq!(ours.len(), theirs.len(), "{}: the same 5-tuples", path.display());
        assert_eq!(n_ours, n_theirs + split);
        eprintln!("{}: nfstream {n_theirs} flows, nta {n_ours} ({split} reused 5-tuples split)", path.display());
    }
}
