//! The binary end to end: plot, carve, configuration files, standard input streams, and
//! detection with the model's window.

mod common;

use common::{cli, json_lines_without, nta, tmp};
use std::path::PathBuf;

#[test]
fn plot_carve_and_config() {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let fixture = root.join("fixtures/test_net_traffic.pcapng");
    let labels = root.join("fixtures/test_net_traffic.labels.jsonl");
    let store = tmp("pc/a.jsonl");
    let config = root.join("docs/detect.example.toml");
    let out = nta(&[
        "analyze",
        fixture.to_str().unwrap(),
        "--anomalies",
        store.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let metrics = tmp("pc/m.jsonl");
    assert!(
        nta(&["extract", "--pcap", fixture.to_str().unwrap(), "--out", metrics.to_str().unwrap(), "--window", "10s"])
            .status
            .success()
    );
    let svg = tmp("pc/t.svg");
    let out = nta(&[
        "plot",
        "--metrics",
        metrics.to_str().unwrap(),
        "--anomalies",
        store.to_str().unwrap(),
        "--labels",
        labels.to_str().unwrap(),
        "--out",
        svg.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg") && text.contains("syn_flood") && text.contains("packets_per_s"));
    assert!(text.matches("<rect").count() > 50, "bars for anomalies, incidents and labels");
    // Carve the synflood's packets to the victim: exactly what the labels say the attack wrote.
    let ev = tmp("pc/ev.pcap");
    let out = nta(&[
        "carve",
        "--pcap",
        fixture.to_str().unwrap(),
        "--from",
        "2026-03-02T09:08:00Z",
        "--to",
        "2026-03-02T09:08:45Z",
        "--host",
        "10.20.0.80",
        "--out",
        ev.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let syn: serde_json::Value = std::fs::read_to_string(&labels)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|l| l["kind"] == "syn_flood")
        .unwrap();
    let inspect: serde_json::Value =
        serde_json::from_slice(&nta(&["inspect", "--json", ev.to_str().unwrap()]).stdout).unwrap();
    assert_eq!(inspect["packets"], syn["packets"]);
    // A config file with a typo is refused with the key named.
    let bad = tmp("pc/bad.toml");
    std::fs::write(&bad, "[detectors]\nmodle = false\n").unwrap();
    let out = nta(&[
        "analyze",
        fixture.to_str().unwrap(),
        "--anomalies",
        store.to_str().unwrap(),
        "--config",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("modle"));
}

/// `--pcap -` reads a capture stream from standard input and writes each window's record as
/// soon as a packet past its end (and the reorder horizon) arrives — while the stream is still
/// open, as with `tcpdump -U -w - | nta-cli extract --pcap - --out -`.
#[test]
fn extract_streams_from_standard_input() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/sample.pcap");
    let mut reader = nta_capture::CaptureReader::open(&sample).unwrap();
    let mut frames = Vec::new();
    while let Some(p) = reader.next_packet().unwrap() {
        frames.push((p.link_type, p.data.to_vec()));
        if frames.len() == 4 {
            break;
        }
    }
    let link = frames[0].0;
    let mut child = cli()
        .args(["extract", "--pcap", "-", "--out", "-", "--window", "1s", "--reorder", "1s"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    let mut w = nta_capture::PcapWriter::new(stdin, link, 65535, true).unwrap();
    let t0 = 1_700_000_000_000_000_000i64;
    // Window [t0, t0+1s): three packets; then one 5 s later, past the window and the horizon.
    for (i, dt) in [0, 100_000_000, 900_000_000, 5_000_000_000].into_iter().enumerate() {
        let f = &frames[i].1;
        w.write_packet(t0 + dt, f, f.len() as u32).unwrap();
    }
    let mut stdin = w.into_inner().unwrap();
    std::io::Write::flush(&mut stdin).unwrap();
    // The first window's record arrives while standard input is still open.
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let lines = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let first = rx.recv_timeout(std::time::Duration::from_secs(30)).expect("no record while the stream is open");
    let r: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!((r["window_start_ns"].as_i64(), r["packets"].as_u64()), (Some(t0), Some(3)));
    assert_eq!(r["capture"], "-");
    // Closing the stream ends the run: the empty windows between, then the last one.
    drop(stdin);
    let status = child.wait().unwrap();
    lines.join().unwrap();
    let rest: Vec<serde_json::Value> = rx.try_iter().map(|l| serde_json::from_str(&l).unwrap()).collect();
    assert!(status.success());
    assert_eq!(rest.len(), 5, "4 empty windows and the last");
    assert_eq!(rest.iter().map(|r| r["packets"].as_u64().unwrap()).sum::<u64>(), 1);
    // A whole capture through standard input gives the records of the file, but for `source`.
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/test_net_traffic.pcapng");
    let records = |out: &[u8]| json_lines_without(&String::from_utf8_lossy(out), &["capture"]);
    let from_file = nta(&["extract", "--pcap", fixture.to_str().unwrap(), "--out", "-", "--window", "10s"]);
    let piped = cli()
        .args(["extract", "--pcap", "-", "--out", "-", "--window", "10s"])
        .stdin(std::fs::File::open(&fixture).unwrap())
        .output()
        .unwrap();
    assert!(piped.status.success());
    assert_eq!(records(&piped.stdout).len(), 180);
    assert_eq!(records(&piped.stdout), records(&from_file.stdout));
    // `-` twice is refused.
    let out = nta(&["extract", "--pcap", "-", "--pcap", "-", "--out", "-"]);
    assert_eq!(out.status.code(), Some(2));
}

/// `detect --pcap -` scores each window as it closes and finds what a run over the whole file
/// finds (detection is per window once model and baseline are fixed).
#[test]
fn detect_on_a_stream_finds_what_the_file_run_finds() {
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/test_net_traffic.pcapng");
    let metrics = tmp("ds.jsonl");
    let out =
        nta(&["extract", "--pcap", fixture.to_str().unwrap(), "--out", metrics.to_str().unwrap(), "--window", "10s"]);
    assert!(out.status.success());
    let models = tmp("ds-models");
    let md = models.to_str().unwrap();
    let out = nta(&["train", "--metrics", metrics.to_str().unwrap(), "--name", "ds", "--models-dir", md]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bl = tmp("ds-baseline.json");
    let out = nta(&["baselines", "--metrics", metrics.to_str().unwrap(), "--out", bl.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (file_store, stream_store) = (tmp("ds-file.jsonl"), tmp("ds-stream.jsonl"));
    let common = ["--model", "ds", "--models-dir", md, "--baseline", bl.to_str().unwrap()];
    let mut a = vec!["detect", "--pcap", fixture.to_str().unwrap(), "--out", file_store.to_str().unwrap()];
    a.extend(common);
    let out = nta(&a);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut b = vec!["detect", "--pcap", "-", "--out", stream_store.to_str().unwrap()];
    b.extend(common);
    let streamed = cli().args(&b).stdin(std::fs::File::open(&fixture).unwrap()).output().unwrap();
    assert!(streamed.status.success(), "{}", String::from_utf8_lossy(&streamed.stderr));
    let read = |p: &PathBuf| json_lines_without(&std::fs::read_to_string(p).unwrap(), &["id", "capture"]);
    let (from_file, from_stream) = (read(&file_store), read(&stream_store));
    assert!(from_file.len() > 20, "{}", from_file.len());
    assert_eq!(from_stream, from_file);
    // One line per anomaly as it is found, then the same report as the file run.
    let text = String::from_utf8_lossy(&streamed.stdout);
    let live = text.lines().take_while(|l| !l.is_empty()).count();
    assert_eq!(live, from_file.len());
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(text.ends_with(report.as_ref()), "{text}\n---\n{report}");
}

/// `detect --pcap` extracts with the model's window unless told otherwise, and says so when
/// told a different one.
#[test]
fn detect_uses_the_models_window() {
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/test_net_traffic.pcapng");
    let metrics = tmp("w30.jsonl");
    let out =
        nta(&["extract", "--pcap", fixture.to_str().unwrap(), "--out", metrics.to_str().unwrap(), "--window", "30s"]);
    assert!(out.status.success());
    let md = tmp("w30-models");
    let out =
        nta(&["train", "--metrics", metrics.to_str().unwrap(), "--name", "w30", "--models-dir", md.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let store = tmp("w30-store.jsonl");
    let detect = |extra: &[&str]| {
        let mut a = vec!["detect", "--pcap", fixture.to_str().unwrap(), "--model", "w30", "--models-dir"];
        a.extend([md.to_str().unwrap(), "--out", store.to_str().unwrap()]);
        a.extend(extra);
        nta(&a)
    };
    let out = detect(&[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("differs"));
    let found = json_lines_without(&std::fs::read_to_string(&store).unwrap(), &[]);
    assert!(!found.is_empty());
    assert!(
        found
            .iter()
            .all(|a| a["window_end_ns"].as_i64().unwrap() - a["window_start_ns"].as_i64().unwrap() == 30_000_000_000)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("60 windows of 30 s"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = detect(&["--window", "10s"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--window 10 s differs from the 30 s windows"));
}

/// A capture of a link type nta does not decode (802.11 radiotap) with a burst: analysed, it
/// says so in the report and in the JSON, and no anomaly is built on undecoded frames alone.
#[test]
fn an_undecoded_link_type_is_said_and_never_flagged() {
    use nta_capture::{CaptureWriter, LinkType, WriteFormat};
    let path = tmp("radiotap.pcap");
    let file = std::fs::File::create(&path).unwrap();
    let mut w = CaptureWriter::new(file, WriteFormat::PcapNs, LinkType(127), 65_535, "t").unwrap();
    let start = 1_772_442_000 * 1_000_000_000i64;
    let frame = [0u8, 0, 8, 0, 0, 0, 0, 0, 0x80, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    // 30 minutes at 2 frames/s, with a minute at 40 frames/s in the middle.
    for ms in (0..1_800_000i64).step_by(25) {
        let burst = (900_000..960_000).contains(&ms);
        if burst || ms % 500 == 0 {
            w.write_packet(start + ms * 1_000_000, &frame, frame.len() as u32).unwrap();
        }
    }
    drop(w.into_inner().unwrap());
    let store = tmp("radiotap-store.jsonl");
    let out = cli().args(["analyze", path.to_str().unwrap(), "--anomalies", store.to_str().unwrap()]).output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("0 new anomalies"), "{stdout}");
    assert!(stdout.contains("link type IEEE802_11_RADIOTAP (127), which nta does not decode"), "{stdout}");
    let out = cli()
        .args(["analyze", path.to_str().unwrap(), "--anomalies", store.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["anomalies"].as_array().map(Vec::len), Some(0), "{j}");
    assert!(j["warnings"].to_string().contains("IEEE802_11_RADIOTAP"), "{j}");
    // Extract says so too, and counts them.
    let m = tmp("radiotap.jsonl");
    let out = nta(&["extract", "--pcap", path.to_str().unwrap(), "--window", "10s", "--out", m.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not decode"));
    let recs: Vec<serde_json::Value> =
        std::fs::read_to_string(&m).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(recs.iter().all(|r| r["undecoded_packets"] == r["packets"]));
}

/// `synth --size` without `--duration` chooses the capture time so that the size is reached
/// with every attack inside; with a `--duration` the size cuts short, or too small a size, it
/// is an error and nothing is written.
#[test]
fn synth_size_holds_every_attack_or_says_why_not() {
    let out = tmp("sized.pcap");
    let labels = tmp("sized.labels.jsonl");
    let run = nta(&["synth", "--size", "20MB", "--attacks", "all", "--out", out.to_str().unwrap()]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let size = std::fs::metadata(&out).unwrap().len();
    assert!((20_000_000..20_010_000).contains(&size), "{size}");
    let kinds: Vec<String> = std::fs::read_to_string(&labels)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["attack"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds.len(), 9, "{kinds:?}");
    for (args, says) in [
        (&["--size", "5MB", "--duration", "10m"][..], "before the end of portscan"),
        (&["--size", "2MB"][..], "the attacks alone write"),
    ] {
        let (o, l) = (tmp("cut.pcap"), tmp("cut.labels.jsonl"));
        let mut a = vec!["synth", "--attacks", "all", "--out", o.to_str().unwrap()];
        a.extend_from_slice(args);
        let run = nta(&a);
        let err = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!o.exists() && !l.exists(), "{args:?}: nothing written");
    }
}

/// Metrics of different window lengths are never combined silently.
#[test]
fn mixed_window_lengths_are_refused() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/test_net_traffic.pcapng");
    let (a, b) = (tmp("w1.jsonl"), tmp("w10.jsonl"));
    for (w, out) in [("1s", &a), ("10s", &b)] {
        assert!(nta(&["extract", "--pcap", fixture, "--window", w, "--out", out.to_str().unwrap()]).status.success());
    }
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    for args in [
        vec!["plot", "--metrics", a, "--metrics", b, "--out", "/dev/null"],
        vec!["train", "--metrics", a, "--metrics", b, "--name", "mixed"],
        vec!["baselines", "--metrics", a, "--metrics", b, "--out", "/dev/null"],
    ] {
        let out = nta(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("mixed window lengths") && err.contains("1 s") && err.contains("10 s"), "{args:?}: {err}");
    }
    // Scoring 1 s metrics with a model of 10 s windows warns, as --pcap with another --window does.
    let store = tmp("w-store.jsonl");
    assert!(nta(&["analyze", fixture, "--anomalies", store.to_str().unwrap()]).status.success());
    let out = nta(&["detect", "--metrics", a, "--model", "test_net_traffic", "--out", store.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the metrics have 1 s windows, the model/baseline learnt from 10 s windows"), "{err}");
}
