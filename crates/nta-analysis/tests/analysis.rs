//! Detection on the synthetic fixture and on a fresh synthetic capture, explanations,
//! incidents, ids, and the anomaly store.

use nta_analysis::{AnalyzeOptions, Anomaly, Detector, Severity, analyze, evaluate};
use nta_capture::{AttackKind, CaptureWriter, Label, WriteFormat, read_labels};
use nta_metrics::Metric;
use nta_synth::{AttackSpec, LINK_TYPE, NS, SNAPLEN, SynthAttack, SynthConfig, synthesize};
use std::path::PathBuf;
use std::sync::OnceLock;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/test_net_traffic.pcapng")
}

fn fixture_analysis() -> &'static (Vec<Anomaly>, Vec<nta_analysis::Incident>, Vec<Label>) {
    static A: OnceLock<(Vec<Anomaly>, Vec<nta_analysis::Incident>, Vec<Label>)> = OnceLock::new();
    A.get_or_init(|| {
        let a = analyze(&[fixture()], &AnalyzeOptions::default(), &|_| {}, &Default::default()).unwrap();
        let labels = read_labels(&fixture().with_file_name("test_net_traffic.labels.jsonl")).unwrap();
        (a.detection.anomalies, a.detection.incidents, labels)
    })
}

#[test]
fn the_fixture_meets_the_quality_targets() {
    let (anomalies, incidents, labels) = fixture_analysis();
    let e = evaluate(anomalies, labels, 10 * NS);
    // The fixture's SSH brute force (1 connection/s on a quiet network) is mostly missed: every
    // other attack is found in full (docs/ANALYSIS.md lists the figures).
    assert!(e.recall >= 0.8 && e.precision >= 0.8, "precision {} recall {} {:?}", e.precision, e.recall, e.per_kind);
    for k in e.per_kind.iter().filter(|k| k.kind != AttackKind::BruteForce) {
        assert_eq!(k.recall, 1.0, "{k:?}");
    }
    // One incident per attack at most a few windows apart, not one line per window.
    assert!(incidents.len() < anomalies.len());
    let syn = incidents.iter().find(|i| i.start.contains("T09:08:00")).unwrap();
    assert!(syn.windows >= 5 && syn.severity >= Severity::High, "{syn:?}");
    assert!(syn.top_metrics.contains(&Metric::TcpSyn), "{:?}", syn.top_metrics);
}

#[test]
fn explanations_name_the_metrics_the_attack_moved() {
    let (anomalies, _, _) = fixture_analysis();
    let at = |hhmm: &str| anomalies.iter().find(|a| a.window_start.contains(hhmm)).unwrap();
    let syn = at("T09:08:10");
    assert_eq!(syn.detector, Detector::Both);
    let metrics: Vec<Metric> = syn.explanation.iter().map(|c| c.metric).collect();
    assert!(metrics.contains(&Metric::TcpSyn), "{metrics:?}");
    let c = syn.explanation.iter().find(|c| c.metric == Metric::TcpSyn).unwrap();
    assert!(c.z.unwrap() > 100.0 && c.baseline_median.is_some() && c.model_share.is_some());
    assert!(c.reason.contains("× its usual level"), "{}", c.reason);
    assert!(syn.score.unwrap() > syn.score_threshold.unwrap());
    assert!(syn.severity >= Severity::High, "{}", syn.summary);
    // Named, with its victim; the spoofed sources are not blamed.
    assert_eq!(syn.kind, AttackKind::SynFlood, "{}", syn.summary);
    assert!(syn.summary.starts_with("SYN FLOOD against 10.20.0.80"), "{}", syn.summary);
    assert_eq!(syn.victims.first().map(|h| h.ip.to_string()).as_deref(), Some("10.20.0.80"));
    assert!(syn.attackers.is_empty(), "{:?}", syn.attackers);
    let dns = at("T09:12:20");
    assert!(
        dns.explanation.iter().take(3).any(|c| matches!(c.metric, Metric::DnsQnameLenMean | Metric::DnsQnameLenMax))
    );
    let arp = at("T09:27:10");
    assert!(arp.explanation.iter().any(|c| c.metric == Metric::ArpReplies), "{:?}", arp.explanation);
    // Model shares are a distribution.
    for a in anomalies.iter().filter(|a| a.score.is_some()) {
        let s: f64 = a.explanation.iter().filter_map(|c| c.model_share).sum();
        assert!(s <= 1.0 + 1e-9);
    }
}

#[test]
fn ids_are_stable() {
    let (anomalies, _, _) = fixture_analysis();
    let again =
        analyze(&[fixture()], &AnalyzeOptions::default(), &|_| {}, &Default::default()).unwrap().detection.anomalies;
    assert_eq!(anomalies.iter().map(|a| &a.id).collect::<Vec<_>>(), again.iter().map(|a| &a.id).collect::<Vec<_>>());
}

#[test]
fn severity_rule() {
    assert_eq!(Severity::of(None, Some(4.0)), Severity::Low);
    assert_eq!(Severity::of(Some(0.6), None), Severity::Medium);
    assert_eq!(Severity::of(Some(0.52), Some(35.0)), Severity::High);
    assert_eq!(Severity::of(Some(0.8), Some(2.0)), Severity::Critical);
    assert_eq!(Severity::of(None, Some(150.0)), Severity::Critical);
}

/// A capture the defaults were not tuned on: another seed, start, length and schedule.
/// A synthesized capture (`seed`, 25 minutes, office) with these attacks, and its labels.
fn synthesized(seed: u64, attacks: &[(SynthAttack, i64, i64, f64)]) -> (PathBuf, Vec<Label>) {
    let dir = std::env::temp_dir().join(format!("nta-analysis-synth-{seed}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("fresh.pcapng");
    let mut cfg = SynthConfig::new(seed, 25 * 60 * NS);
    cfg.start_ns = 1_781_000_000 * NS;
    cfg.attacks = attacks
        .iter()
        .map(|&(kind, min, secs, rate)| AttackSpec { rate, ..AttackSpec::new(kind, min * 60 * NS, secs * NS) })
        .collect();
    let file = std::fs::File::create(&path).unwrap();
    let mut w =
        CaptureWriter::new(std::io::BufWriter::new(file), WriteFormat::Pcapng, LINK_TYPE, SNAPLEN, "t").unwrap();
    let report = synthesize(&cfg, &mut w).unwrap();
    drop(w.into_inner().unwrap());
    (path, report.attacks.iter().map(|l| l.label.clone()).collect())
}

#[test]
fn a_fresh_capture_meets_the_quality_targets() {
    let (path, labels) = synthesized(
        31_337,
        &[
            (SynthAttack::Portsweep, 3, 60, 30.0),
            (SynthAttack::Synflood, 7, 60, 300.0),
            (SynthAttack::DnsTunnel, 11, 90, 5.0),
            (SynthAttack::Exfil, 15, 90, 250_000.0),
            (SynthAttack::SshBruteforce, 19, 90, 2.0),
            (SynthAttack::Udpflood, 22, 60, 250.0),
        ],
    );
    let a = analyze(std::slice::from_ref(&path), &AnalyzeOptions::default(), &|_| {}, &Default::default()).unwrap();
    let e = evaluate(&a.detection.anomalies, &labels, 10 * NS);
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    assert!(e.recall >= 0.9 && e.precision >= 0.8, "precision {} recall {} {:?}", e.precision, e.recall, e.per_kind);
}

/// Every attack kind the synthesizer makes, on a seed not used to choose the rules: the
/// incidents at an attack carry its kind, and its attacker among theirs (≥ 90% each).
#[test]
fn every_attack_kind_is_named_with_its_attacker() {
    let (path, labels) = synthesized(
        5150,
        &[
            (SynthAttack::Portscan, 1, 40, 50.0),
            (SynthAttack::Portsweep, 3, 60, 30.0),
            (SynthAttack::Synflood, 7, 60, 300.0),
            (SynthAttack::Icmpflood, 9, 45, 80.0),
            (SynthAttack::DnsTunnel, 11, 90, 5.0),
            (SynthAttack::Exfil, 15, 90, 250_000.0),
            (SynthAttack::SshBruteforce, 19, 90, 2.0),
            (SynthAttack::Udpflood, 22, 60, 250.0),
            (SynthAttack::ArpSpoof, 24, 50, 3.0),
        ],
    );
    let a = analyze(std::slice::from_ref(&path), &AnalyzeOptions::default(), &|_| {}, &Default::default()).unwrap();
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    let (mut at_attack, mut right_kind, mut with_attacker, mut right_attacker) = (0, 0, 0, 0);
    let mut found = std::collections::BTreeSet::new();
    for i in &a.detection.incidents {
        let Some(l) = labels.iter().find(|l| l.overlaps(i.start_ns, i.end_ns)) else { continue };
        at_attack += 1;
        found.insert(l.kind);
        right_kind += usize::from(i.kind == l.kind);
        if !l.attackers.is_empty() {
            with_attacker += 1;
            right_attacker += usize::from(i.attackers.iter().any(|h| l.attackers.contains(&h.ip)));
        }
        eprintln!("{:?} at {:?}: {}", i.kind, l.kind, i.headline);
    }
    assert!(found.len() + 1 >= labels.len(), "attacks found: {found:?}");
    assert!(right_kind * 10 >= at_attack * 9, "{right_kind} of {at_attack} incidents of the right kind");
    assert!(right_attacker * 10 >= with_attacker * 9, "{right_attacker} of {with_attacker} name the attacker");
}

/// Fine grain: with 1-second windows, normal one-second bursts are not taken for attacks
/// (a window only the learned detectors flag needs a second one) and slow attacks are still
/// named (the rules read the last 10 s): precision ≥ 0.8 at recall ≥ 0.9, as at 10 s. And a
/// stream judged window by window finds exactly what the whole run finds.
#[test]
fn one_second_windows_keep_precision_and_recall_and_stream_alike() {
    let (path, labels) = synthesized(
        2718,
        &[
            (SynthAttack::Portscan, 2, 40, 50.0),
            (SynthAttack::Synflood, 5, 60, 300.0),
            (SynthAttack::DnsTunnel, 9, 90, 5.0),
            (SynthAttack::SshBruteforce, 13, 90, 2.0),
            (SynthAttack::Icmpflood, 17, 45, 80.0),
            (SynthAttack::ArpSpoof, 21, 50, 3.0),
        ],
    );
    let mut opts = AnalyzeOptions::default();
    opts.extract =
        nta_metrics::ExtractConfig { max_windows: opts.extract.max_windows, ..nta_metrics::ExtractConfig::new(NS) };
    let a = analyze(std::slice::from_ref(&path), &opts, &|_| {}, &Default::default()).unwrap();
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    let e = evaluate(&a.detection.anomalies, &labels, NS);
    eprintln!("1 s windows: precision {:.3} recall {:.3} {:?}", e.precision, e.recall, e.per_kind);
    assert!(e.precision >= 0.8 && e.recall >= 0.9, "precision {} recall {} {:?}", e.precision, e.recall, e.per_kind);
    // Window by window, with the stream detector's context: the same anomalies.
    let cfg = nta_analysis::DetectConfig::default();
    let mut stream = nta_analysis::StreamDetector::new();
    let mut streamed = Vec::new();
    for r in &a.records {
        streamed.extend(stream.push(r.clone(), Some(&a.model), Some(&a.baseline), &cfg).unwrap().anomalies);
    }
    assert_eq!(streamed.len(), a.detection.anomalies.len());
    assert!(streamed == a.detection.anomalies, "the stream differs from the whole run");
}

/// Real attack captures analysed alone, with no history: the rules name the attack and the
/// attacker, and the detection says it used the rules only.
#[test]
fn real_attacks_alone_are_named() {
    if !nta_corpus::require() {
        return;
    }
    let pcaps = nta_corpus::pcaps_dir();
    for (rel, kind, attacker) in [
        ("zeek__zeek/testing/btest/Traces/nmap-vsn.pcap", AttackKind::HostSweep, Some("192.168.1.71")),
        ("rusticata__pcap-analyzer/assets/nmap_tcp_22_ipv6.pcap", AttackKind::HostSweep, Some("fc00::200:ff:fe00:10")),
        (
            "OISF__suricata-verify/tests/ipv6-evasion/ipv6-dos-with-ext-headers-5/denial6-5.pcap",
            AttackKind::IcmpFlood,
            Some("2001:db8:1::2"),
        ),
        (
            "elastic__examples/Security Analytics/dns_tunnel_detection/dns-tunnel-iodine.pcap",
            AttackKind::DnsTunnel,
            Some("10.0.2.30"),
        ),
        ("OISF__suricata-verify/tests/dhcp-request-flood/test.pcap", AttackKind::UdpFlood, Some("0.0.0.0")),
        (
            "OISF__suricata-verify/tests/firewall/tcp-session-syn-flood-drop-precedence/input.pcap",
            AttackKind::SynFlood,
            Some("192.0.2.10"),
        ),
        ("zeek__zeek/testing/btest/Traces/ftp/bruteforce.pcap", AttackKind::BruteForce, Some("192.168.56.1")),
    ] {
        let a = analyze(&[pcaps.join(rel)], &AnalyzeOptions::default(), &|_| {}, &Default::default()).unwrap();
        assert!(a.detection.rules_only.as_deref().is_some_and(|w| w.starts_with("no history")), "{rel}");
        let first = a.detection.incidents.iter().max_by_key(|i| i.severity);
        let i = first.unwrap_or_else(|| panic!("{rel}: no incident"));
        assert_eq!(i.kind, kind, "{rel}: {}", i.headline);
        assert!(i.severity >= Severity::Medium, "{rel}: {}", i.headline);
        if let Some(ip) = attacker {
            assert!(i.attackers.iter().any(|h| h.ip.to_string() == ip), "{rel}: {}", i.headline);
        }
        assert!(i.headline.starts_with(&kind.name().replace('_', " ").to_uppercase()), "{}", i.headline);
    }
}

/// Real attack captures (iodine DNS tunnel, nmap scans, an IPv6 ICMP flood, a DHCP request
/// flood, a SYN flood) moved into 15 minutes of synthetic normal traffic are found as high or
/// critical incidents of the right kind at their time.
#[test]
fn real_attacks_embedded_in_normal_traffic_are_found() {
    if !nta_corpus::require() {
        return;
    }
    let pcaps = nta_corpus::pcaps_dir();
    let dir = std::env::temp_dir().join(format!("nta-analysis-embed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let normal = dir.join("normal.pcapng");
    let mut cfg = SynthConfig::new(77, 15 * 60 * NS);
    cfg.profile = nta_synth::Profile::quiet();
    let mut w =
        CaptureWriter::new(std::fs::File::create(&normal).unwrap(), WriteFormat::Pcapng, LINK_TYPE, SNAPLEN, "t")
            .unwrap();
    synthesize(&cfg, &mut w).unwrap();
    w.into_inner().unwrap();
    let at = cfg.start_ns + 7 * 60 * NS + 3 * NS;
    for (rel, expect, kind) in [
        (
            "elastic__examples/Security Analytics/dns_tunnel_detection/dns-tunnel-iodine.pcap",
            Metric::DnsQueries,
            AttackKind::DnsTunnel,
        ),
        ("rusticata__pcap-analyzer/assets/nmap_tcp_22_ipv6.pcap", Metric::MaxSrcNewFlows, AttackKind::HostSweep),
        ("zeek__zeek/testing/btest/Traces/nmap-vsn.pcap", Metric::ArpPackets, AttackKind::HostSweep),
        (
            "OISF__suricata-verify/tests/ipv6-evasion/ipv6-dos-with-ext-headers-5/denial6-5.pcap",
            Metric::IcmpEchoRequests,
            AttackKind::IcmpFlood,
        ),
        ("OISF__suricata-verify/tests/dhcp-request-flood/test.pcap", Metric::UdpPackets, AttackKind::UdpFlood),
        (
            "OISF__suricata-verify/tests/firewall/tcp-session-syn-flood-drop-precedence/input.pcap",
            Metric::HalfOpenFlows,
            AttackKind::SynFlood,
        ),
    ] {
        let moved = dir.join("attack.pcap");
        let spec = nta_analysis::CarveSpec { shift_to_ns: Some(at), ..Default::default() };
        let (stats, out) =
            nta_analysis::carve(&pcaps.join(rel), &spec, std::fs::File::create(&moved).unwrap()).unwrap();
        drop(out);
        assert!(stats.written > 10, "{rel}");
        let a = analyze(&[normal.clone(), moved], &AnalyzeOptions::default(), &|_| {}, &Default::default()).unwrap();
        let hit = a.detection.incidents.iter().find(|i| i.start_ns <= at && at < i.end_ns);
        let hit = hit.unwrap_or_else(|| panic!("{rel}: nothing at the attack"));
        assert!(hit.severity >= Severity::High, "{rel}: {hit:?}");
        assert_eq!(hit.kind, kind, "{rel}: {}", hit.headline);
        assert!(a.detection.rules_only.is_none(), "{rel}: 15 minutes are history enough");
        let peak = a.detection.anomalies.iter().find(|x| x.window_start_ns <= at && at < x.window_end_ns).unwrap();
        assert!(peak.explanation.iter().any(|c| c.metric == expect), "{rel}: {:?}", peak.explanation);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn toml_config_and_suppression() {
    use nta_analysis::{DetectConfig, HostPattern, detect};
    let example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/detect.example.toml")).unwrap();
    let parsed = DetectConfig::from_toml(&example).unwrap();
    assert!(parsed == DetectConfig::default(), "the example file states the defaults");
    assert!(DetectConfig::from_toml("[baseline]\nthreshhold = 3").unwrap_err().contains("threshhold"));
    assert!(DetectConfig::from_toml("[allow]\nhosts = [\"10.0.0.0/40\"]").is_err());
    assert!(DetectConfig::from_toml("[allow]\nmetrics = [\"tcp_synn\"]").is_err());
    let p: HostPattern = "10.20.0.0/16".parse().unwrap();
    assert!(p.contains("10.20.7.1".parse().unwrap()) && !p.contains("10.21.0.1".parse().unwrap()));
    let one: HostPattern = "2001:db8::1".parse().unwrap();
    assert!(one.contains("2001:db8::1".parse().unwrap()) && !one.contains("2001:db8::2".parse().unwrap()));

    // Allow-listing the exfiltrating client hides its windows; the rest is unchanged.
    let labels_path = fixture().with_file_name("test_net_traffic.labels.jsonl");
    let text = std::fs::read_to_string(&labels_path).unwrap();
    let exfil: serde_json::Value = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|l| l["kind"] == "exfiltration")
        .unwrap();
    let client = exfil["attackers"][0].as_str().unwrap();
    let a = analyze(&[fixture()], &AnalyzeOptions::default(), &|_| {}, &Default::default()).unwrap();
    let cfg = DetectConfig::from_toml(&format!("min_severity = \"low\"\n[allow]\nhosts = [\"{client}\"]")).unwrap();
    let d = detect(&a.records, Some(&a.model), Some(&a.baseline), &cfg).unwrap();
    let (start, end) = (exfil["start_ns"].as_i64().unwrap(), exfil["end_ns"].as_i64().unwrap());
    let in_exfil = |x: &Anomaly| x.window_start_ns < end && start < x.window_end_ns;
    assert!(a.detection.anomalies.iter().any(in_exfil));
    assert!(!d.anomalies.iter().any(in_exfil), "allow-listed source still reported");
    // Hidden: the windows whose top source is the client, or whose named attackers all are it.
    let by_client = |x: &Anomaly| {
        x.top_sources.first().is_some_and(|t| t.ip.to_string() == client)
            || (!x.attackers.is_empty() && x.attackers.iter().all(|h| h.ip.to_string() == client))
    };
    assert!(d.anomalies.iter().all(|x| !by_client(x)));
    assert_eq!(d.anomalies.len(), a.detection.anomalies.iter().filter(|x| !by_client(x)).count());
    // Switching a detector off, and a minimum severity.
    let only_baseline = DetectConfig::from_toml("[detectors]\nmodel = false").unwrap();
    let d = detect(&a.records, Some(&a.model), Some(&a.baseline), &only_baseline).unwrap();
    assert!(
        d.anomalies.iter().all(|x| matches!(x.detector, Detector::Baseline | Detector::Rules) && x.score.is_none())
    );
    let high = DetectConfig::from_toml("min_severity = \"high\"").unwrap();
    let d = detect(&a.records, Some(&a.model), Some(&a.baseline), &high).unwrap();
    assert!(!d.anomalies.is_empty() && d.anomalies.iter().all(|x| x.severity >= Severity::High));
}

#[test]
fn a_stop_flag_cancels_analysis_and_an_empty_capture_is_an_error() {
    let stop = std::sync::atomic::AtomicBool::new(true);
    let r = analyze(&[fixture()], &AnalyzeOptions::default(), &|_| {}, &stop);
    assert!(matches!(r, Err(nta_analysis::Error::Cancelled)), "{r:?}");
    let dir = std::env::temp_dir().join(format!("nta-analysis-empty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = dir.join("notes.pcap");
    std::fs::write(&text, b"this is not a capture at all\n").unwrap();
    let r = analyze(std::slice::from_ref(&text), &AnalyzeOptions::default(), &|_| {}, &Default::default());
    match r {
        Err(nta_analysis::Error::Format { path, reason }) => {
            assert_eq!(path, text);
            assert!(reason.contains("not a pcap or pcapng capture"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A live window that lost packets to the capture is not taken for a traffic drop: the same
/// near-empty window is flagged without drops and not with them.
#[test]
fn capture_drops_are_not_traffic_drops() {
    use nta_analysis::{DetectConfig, detect};
    let a = analyze(&[fixture()], &AnalyzeOptions::default(), &|_| {}, &Default::default()).unwrap();
    let mut records = a.records.clone();
    // A normal window (09:02) emptied to a trickle: far below the baseline.
    let i = records.iter().position(|r| r.window_start.contains("T09:02:00")).unwrap();
    let mut quiet = records[i].clone();
    let keep = |v: u64| v / 50;
    quiet.packets = keep(quiet.packets);
    quiet.bytes = keep(quiet.bytes);
    quiet.tcp_packets = keep(quiet.tcp_packets);
    quiet.ipv4_packets = keep(quiet.ipv4_packets);
    quiet.new_flows = keep(quiet.new_flows);
    quiet.packets_per_s /= 50.0;
    quiet.bits_per_s /= 50.0;
    records[i] = quiet.clone();
    let cfg = DetectConfig::default();
    let flagged = |recs: &[nta_metrics::WindowRecord]| {
        detect(recs, Some(&a.model), Some(&a.baseline), &cfg)
            .unwrap()
            .anomalies
            .iter()
            .any(|x| x.window_start_ns == quiet.window_start_ns)
    };
    assert!(flagged(&records), "a traffic drop is flagged");
    records[i].capture_dropped = Some(quiet.packets * 49);
    records[i].capture_received = Some(quiet.packets * 50);
    assert!(!flagged(&records), "the same counts with the capture's drops are not");
}

/// A spoofed SYN flood from more sources in one window than the per-window tables hold: still
/// named, against its victim, with the number of sources estimated (not the tables' bound
/// given as a count), within 3 % of the exact number read from the capture.
#[test]
fn a_flood_beyond_the_tables_is_named_with_its_sources_estimated() {
    let dir = std::env::temp_dir().join(format!("nta-analysis-bigflood-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("flood.pcap");
    let mut cfg = SynthConfig::new(5, 2 * NS);
    cfg.normal = false;
    cfg.attacks.push(AttackSpec { rate: 500_000.0, ..AttackSpec::new(SynthAttack::Synflood, 0, NS) });
    let mut w =
        CaptureWriter::new(std::fs::File::create(&path).unwrap(), WriteFormat::Pcap, LINK_TYPE, SNAPLEN, "t").unwrap();
    synthesize(&cfg, &mut w).unwrap();
    w.into_inner().unwrap();
    let mut sources = std::collections::HashSet::new();
    let mut reader = nta_capture::CaptureReader::open(&path).unwrap();
    while let Some(p) = reader.next_packet().unwrap() {
        if let Some(ip) = nta_parsing::decode(&p).ip {
            sources.insert(ip.src);
        }
    }
    assert!(sources.len() > 2 * nta_metrics::MAX_TRACKED_PAIRS, "{}", sources.len());
    // With shards too: each holds its share of the tables, and the victim's sources, spread
    // over them, stop short of the bound.
    for shards in [1, 2] {
        let mut opts = AnalyzeOptions::default();
        opts.extract.shards = shards;
        let a = analyze(std::slice::from_ref(&path), &opts, &|_| {}, &Default::default()).unwrap();
        let flood = a.detection.anomalies.iter().find(|a| a.kind == AttackKind::SynFlood).expect("named");
        assert!(flood.summary.starts_with("SYN FLOOD against 10.20.0.80"), "{}", flood.summary);
        let told: u64 = flood
            .summary
            .split(" from ~")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .map(|n| n.replace(',', ""))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no estimated count with {shards} shard(s): {}", flood.summary));
        assert!(flood.summary.contains("sources (spoofed; estimated)"), "{}", flood.summary);
        let err = (told as f64 - sources.len() as f64).abs() / sources.len() as f64;
        assert!(err < 0.03, "told {told}, exact {}, {shards} shard(s)", sources.len());
        let victim = flood.victims.first().unwrap();
        assert_eq!(victim.hosts, Some(told));
    }
    std::fs::remove_dir_all(&dir).ok();
}
