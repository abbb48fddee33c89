//! Flow records: every IP packet in exactly one record, the window records unchanged by the
//! export, and Community IDs equal to Wireshark's.

use nta_metrics::{ConnState, EndReason, ExtractConfig, FlowRecord, WindowRecord, extract_with_flows};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const NS: i64 = 1_000_000_000;

fn fixture() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/test_net_traffic.pcapng"))
}

/// Window records and flow records of `path` in one pass.
fn run(path: &Path, cfg: &ExtractConfig) -> (Vec<WindowRecord>, Vec<FlowRecord>) {
    let (windows, flows, _) = run_counted(path, cfg);
    (windows, flows)
}

/// [`run`], and the extraction's counts.
fn run_counted(path: &Path, cfg: &ExtractConfig) -> (Vec<WindowRecord>, Vec<FlowRecord>, nta_metrics::ExtractCounts) {
    let (mut windows, mut flows) = (Vec::new(), Vec::new());
    let mut sink = |f: FlowRecord| {
        flows.push(f);
        Ok(())
    };
    let summary = extract_with_flows(
        vec![nta_metrics::CaptureSource::File(path.to_owned())],
        cfg,
        &|_| {},
        &mut |r| {
            windows.push(r);
            Ok(())
        },
        Some(&mut sink),
    )
    .unwrap();
    (windows, flows, summary.counts)
}

#[test]
fn every_ip_packet_is_in_one_flow_and_windows_are_unchanged() {
    let cfg = ExtractConfig::new(10 * NS);
    let (windows, flows) = run(&fixture(), &cfg);
    let mut plain = Vec::new();
    nta_metrics::extract_files(&[fixture()], &cfg, &|_| {}, &mut |r| {
        plain.push(r);
        Ok(())
    })
    .unwrap();
    assert!(windows == plain, "exporting flows changed the window records");
    let ip: u64 = windows.iter().map(|w| w.ipv4_packets + w.ipv6_packets).sum();
    let in_flows: u64 = flows.iter().map(|f| f.src_packets + f.dst_packets).sum();
    assert_eq!(in_flows, ip, "every IP packet in exactly one flow");
    let bytes: u64 = flows.iter().map(|f| f.src_bytes + f.dst_bytes).sum();
    assert!(bytes > 0 && bytes <= windows.iter().map(|w| w.bytes).sum());
    // Every end reason that can happen here does, and records are well formed.
    let reasons: BTreeSet<String> = flows.iter().map(|f| format!("{:?}", f.end_reason)).collect();
    for r in ["Idle", "Closed", "EndOfInput"] {
        assert!(reasons.contains(r), "{reasons:?}");
    }
    for f in &flows {
        assert!(f.first_ns <= f.last_ns && f.src_packets + f.dst_packets > 0, "{f:?}");
        assert!(f.community_id.starts_with("1:") && f.community_id.len() == 30, "{f:?}");
    }
    // The synthesized port scan's probes were refused: REJ, from the scanner.
    let rej = flows.iter().filter(|f| f.conn_state == ConnState::REJ && f.src_ip.to_string() == "48.190.219.81");
    assert!(rej.count() > 1000);
    // Hints: DNS names, TLS server names and HTTP hosts.
    for kind in ["dns", "tls", "http"] {
        assert!(flows.iter().any(|f| f.app.as_ref().is_some_and(|a| a.kind == kind && !a.name.is_empty())));
    }
    // A tiny table evicts, and says so; the half-open attempts it did not admit are counted
    // with their packets.
    let mut small = cfg.clone();
    small.flows.max_flows = 100;
    let (_, few, counts) = run_counted(&fixture(), &small);
    assert!(few.iter().any(|f| f.end_reason == EndReason::Evicted));
    assert!(counts.unadmitted_flows > 0 && counts.evicted_flows > 0, "{counts:?}");
    assert_eq!(few.iter().map(|f| f.src_packets + f.dst_packets).sum::<u64>() + counts.unadmitted_packets, ip);
}

/// The Community IDs Wireshark computes for the packets of `path`, by transport protocol.
fn tshark_ids(path: &Path) -> Option<BTreeSet<(u8, String)>> {
    let out = std::process::Command::new("tshark")
        .args(["-r"])
        .arg(path)
        .args(["--enable-protocol", "communityid", "-T", "fields", "-e", "ip.proto", "-e", "ipv6.nxt"])
        .args(["-e", "communityid", "-e", "ip.flags.mf", "-e", "ip.frag_offset", "-Y", "tcp or udp or icmp or icmpv6"])
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let mut ids = BTreeSet::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let proto = f.first().filter(|p| !p.is_empty()).or(f.get(1))?.split(',').next()?.parse::<u8>().ok()?;
        // Fragments other than the first carry no ports: left out on both sides.
        // (Fields repeat for the header an ICMP error quotes: the first is the packet's own.)
        let first = |i: usize| f.get(i).and_then(|v| v.split(',').next()).unwrap_or("");
        if !matches!(first(4), "" | "0") || first(3) == "1" {
            continue;
        }
        // (ICMP errors quoting a TCP or UDP header carry the ICMP protocol number: ICMP.)
        if !matches!(proto, 1 | 6 | 17 | 58) {
            continue;
        }
        if let Some(id) = f.get(2).filter(|i| !i.is_empty()) {
            ids.insert((proto, id.split(',').next()?.to_string()));
        }
    }
    Some(ids)
}

#[test]
fn community_ids_agree_with_wireshark() {
    if std::process::Command::new("tshark").arg("--version").output().is_err() {
        eprintln!("skipped community_ids_agree_with_wireshark: tshark not installed");
        return;
    }
    let mut captures = vec![fixture()];
    if nta_corpus::available() {
        for rel in [
            "rusticata__pcap-analyzer/assets/nmap_tcp_22_ipv6.pcap",
            "seladb__PcapPlusPlus/Tests/ExamplesTest/pcap_examples/many-protocols.pcap",
            "zeek__zeek/testing/btest/Traces/ftp/bruteforce.pcap",
        ] {
            captures.push(nta_corpus::pcap(rel));
        }
    } else {
        nta_corpus::skip("community_ids_agree_with_wireshark (the corpus captures)");
    }
    for path in captures {
        let Some(theirs) = tshark_ids(&path) else { panic!("tshark failed on {}", path.display()) };
        let (_, flows) = run(&path, &ExtractConfig::new(10 * NS));
        let ours: BTreeSet<(u8, String)> = flows
            .iter()
            .filter(|f| matches!(f.proto, 6 | 17) && !(f.src_port == 0 && f.dst_port == 0))
            .map(|f| (f.proto, f.community_id.clone()))
            .collect();
        assert!(!ours.is_empty(), "{}", path.display());
        let tcp_udp: BTreeSet<(u8, String)> = theirs.iter().filter(|(p, _)| matches!(p, 6 | 17)).cloned().collect();
        // ICMP: one flow per pair of hosts (and VLAN), named by its first packet's type and
        // code; Wireshark names every packet — each of ours is one of Wireshark's.
        let icmp: Vec<&FlowRecord> = flows.iter().filter(|f| matches!(f.proto, 1 | 58)).collect();
        for f in &icmp {
            assert!(theirs.contains(&(f.proto, f.community_id.clone())), "{}: ICMP {f:?}", path.display());
        }
        let theirs = tcp_udp;
        let missing: Vec<_> = ours.difference(&theirs).take(5).collect();
        assert!(missing.is_empty(), "{}: ours not Wireshark's: {missing:?}", path.display());
        let extra: Vec<_> = theirs.difference(&ours).take(5).collect();
        assert!(extra.is_empty(), "{}: Wireshark's not ours: {extra:?}", path.display());
        eprintln!(
            "{}: {} TCP/UDP and {} ICMP Community IDs, all equal to Wireshark's",
            path.display(),
            ours.len(),
            icmp.len()
        );
    }
}

/// A flow record without its tunnel, as a sortable line.
fn untunnelled(f: &FlowRecord) -> String {
    let mut f = f.clone();
    f.tunnel = None;
    serde_json::to_string(&f).unwrap()
}

#[test]
fn flows_inside_tunnels_keep_the_tunnel_and_two_overlays_never_merge() {
    use nta_synth::{Wrap, WrapKind};
    // The fixture's frames, each delivered twice, as two mirrors of two overlays would: in
    // VXLAN 1 from 10.99.0.1 and in VXLAN 2 from 10.99.0.3, the same inner addresses in both.
    let one = Wrap { vni: 1, ..Wrap::new(WrapKind::Vxlan) };
    let two = Wrap { vni: 2, src: "10.99.0.3".parse().unwrap(), ..Wrap::new(WrapKind::Vxlan) };
    let path = std::env::temp_dir().join(format!("nta-flows-overlays-{}.pcap", std::process::id()));
    let mut reader = nta_capture::CaptureReader::open(fixture()).unwrap();
    let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let format = nta_capture::WriteFormat::PcapNs;
    let mut w = nta_capture::CaptureWriter::new(file, format, nta_capture::LinkType::ETHERNET, 65_535, "t").unwrap();
    let mut buf = Vec::new();
    let mut id = 0u16;
    while let Some(p) = reader.next_packet().unwrap() {
        for wrap in [&one, &two] {
            wrap.encapsulate(p.data, id, &mut buf);
            id = id.wrapping_add(1);
            w.write_packet(p.ts_ns, &buf, buf.len() as u32).unwrap();
        }
    }
    drop(w.into_inner().unwrap());
    let cfg = ExtractConfig::new(10 * NS);
    let (_, plain) = run(&fixture(), &cfg);
    let (windows, wrapped) = run(&path, &cfg);
    std::fs::remove_file(&path).ok();
    assert_eq!(wrapped.len(), 2 * plain.len());
    let mut expected: Vec<String> = plain.iter().map(untunnelled).collect();
    expected.sort();
    for (wrap, vni) in [(&one, 1), (&two, 2)] {
        let mine: Vec<&FlowRecord> =
            wrapped.iter().filter(|f| f.tunnel.as_ref().and_then(|t| t.id) == Some(vni)).collect();
        for f in &mine {
            let t = f.tunnel.as_ref().unwrap();
            assert_eq!((t.kind, t.src_ip, t.dst_ip), (nta_parsing::Tunnel::Vxlan, wrap.src.into(), wrap.dst.into()));
        }
        let mut got: Vec<String> = mine.iter().map(|f| untunnelled(f)).collect();
        got.sort();
        assert!(got == expected, "VNI {vni}: {} flows, {} expected", got.len(), expected.len());
    }
    // The windows count every packet twice, all through VXLAN.
    let packets: u64 = windows.iter().map(|w| w.packets).sum();
    assert_eq!(windows.iter().map(|w| w.tunnels.vxlan).sum::<u64>(), packets);
}

/// Flows end when the clock passes their deadline, not later, however long the window: with
/// one window over the whole fixture and a 2 s idle timeout, each record comes out at the
/// first packet at or past its flow's expiry — idle: its last packet plus the timeout;
/// closed: its close plus the 5 s time-wait — whatever packets in between the extractor was
/// told it could pass over (`Extractor::push_frame`'s quiet path).
#[test]
fn flows_expire_at_the_first_packet_past_their_deadline_in_a_long_window() {
    const TIME_WAIT: i64 = 5 * NS;
    let idle = 2 * NS;
    let mut cfg = ExtractConfig::new(3600 * NS);
    cfg.flows.idle_ns = idle;
    let mut x = nta_metrics::Extractor::new(cfg, vec!["fixture".into()]);
    x.export_flows();
    let mut reader = nta_capture::CaptureReader::open(fixture()).unwrap();
    let (mut clock, mut checked) = (i64::MIN, [0usize; 2]);
    while let Some(p) = reader.next_packet().unwrap() {
        let s = nta_parsing::decode(&p);
        x.push_frame(&s, p.data, 0, &mut |_| {});
        let now = clock.max(p.ts_ns);
        for f in x.take_flows() {
            match f.end_reason {
                EndReason::Idle => {
                    let due = f.last_ns + idle;
                    assert!(due > clock && due <= now, "idle flow due at {due} ended at {now} (clock was {clock})");
                    checked[0] += 1;
                }
                EndReason::Closed => {
                    // Closed at or after its first packet, at or before its last (a stray
                    // within the time-wait may follow): the time-wait ends within those.
                    assert!(f.first_ns + TIME_WAIT <= now, "{f:?} ended early at {now}");
                    assert!(f.last_ns + TIME_WAIT > clock, "{f:?} ended late at {now} (clock was {clock})");
                    checked[1] += 1;
                }
                _ => {}
            }
        }
        clock = now;
    }
    assert!(checked[0] > 20 && checked[1] > 5, "{checked:?}");
}

/// Ending the flows still open a part at a time gives the records of ending them at once, in
/// the same order, never more than the part at a time (so the end of a run over a full table
/// does not hold a record of every flow).
#[test]
fn flows_ended_a_part_at_a_time_are_those_ended_at_once() {
    let extractor = || {
        // Flows idle for up to an hour stay open: many remain at the end.
        let mut cfg = ExtractConfig::new(3600 * NS);
        cfg.flows.idle_ns = 3600 * NS;
        let mut x = nta_metrics::Extractor::new(cfg, vec!["fixture".into()]);
        x.export_flows();
        let mut reader = nta_capture::CaptureReader::open(fixture()).unwrap();
        while let Some(p) = reader.next_packet().unwrap() {
            x.push_frame(&nta_parsing::decode(&p), p.data, 0, &mut |_| {});
        }
        // What ended during the capture is not part of the comparison.
        x.take_flows().for_each(drop);
        x
    };
    let mut whole = extractor();
    whole.end_flows();
    let at_once: Vec<String> = whole.take_flows().map(|f| serde_json::to_string(&f).unwrap()).collect();
    let mut parts = extractor();
    let (mut in_parts, mut calls) = (Vec::new(), 0);
    loop {
        let more = parts.end_some_flows(7);
        let part: Vec<String> = parts.take_flows().map(|f| serde_json::to_string(&f).unwrap()).collect();
        assert!(part.len() <= 7, "{} records in one part", part.len());
        in_parts.extend(part);
        calls += 1;
        if !more {
            break;
        }
    }
    assert!(at_once.len() > 20 && calls > 3, "{} flows open at the end, {calls} parts", at_once.len());
    assert!(in_parts == at_once, "{} records in parts, {} at once", in_parts.len(), at_once.len());
    assert_eq!(parts.counts(), whole.counts());
}
