//! The binary end to end: synth → inspect → extract, exit codes, atomic outputs.

use std::path::PathBuf;
use std::process::{Command, Output};

/// The binary, with its data and logs directories in a temporary folder of this test run.
fn cli() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nta-cli"));
    c.env("NTA_DATA_DIR", tmp("data")).env("NTA_LOGS_DIR", tmp("logs"));
    c
}

fn nta(args: &[&str]) -> Output {
    cli().args(args).output().unwrap()
}

/// The JSON lines of `text`, without the keys `drop` (fields that name the input, say).
fn json_lines_without(text: &str, drop: &[&str]) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            if let Some(o) = v.as_object_mut() {
                drop.iter().for_each(|k| _ = o.remove(*k));
            }
            v
        })
        .collect()
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nta-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn synth_then_extract() {
    let cap = tmp("s.pcapng");
    let out = nta(&[
        "synth",
        "--out",
        cap.to_str().unwrap(),
        "--duration",
        "2m",
        "--seed",
        "3",
        "--attacks",
        "portscan,synflood",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let labels = std::fs::read_to_string(tmp("s.labels.jsonl")).unwrap();
    assert_eq!(labels.lines().count(), 2);
    assert!(labels.contains("\"kind\":\"port_scan\"") && labels.contains("\"kind\":\"syn_flood\""));

    let inspect = nta(&["inspect", "--json", cap.to_str().unwrap()]);
    assert!(inspect.status.success());
    let report: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(report["format"], "pcapng");
    assert_eq!(report["malformed"], 0);

    let metrics = tmp("m.jsonl");
    let out = nta(&["extract", "--pcap", cap.to_str().unwrap(), "--out", metrics.to_str().unwrap(), "--window", "10s"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&metrics).unwrap();
    assert_eq!(text.lines().count(), 12, "2 minutes of 10-second windows");
    let packets: u64 =
        text.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["packets"].as_u64().unwrap()).sum();
    assert_eq!(packets, report["packets"].as_u64().unwrap());
    // No temporary file is left beside the output.
    let leftovers = std::fs::read_dir(metrics.parent().unwrap())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with(".m.jsonl.tmp-"))
        .count();
    assert_eq!(leftovers, 0);

    // To stdout, same records.
    let out = nta(&["extract", "--pcap", cap.to_str().unwrap(), "--out", "-", "--window", "10s", "--threads", "1"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), text);
}

#[test]
fn bad_inputs_give_clear_errors_and_exit_codes() {
    let text = tmp("notes.pcap");
    std::fs::write(&text, "hello\n").unwrap();
    let out = nta(&["extract", "--pcap", text.to_str().unwrap(), "--out", tmp("x.jsonl").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a pcap"), "{}", String::from_utf8_lossy(&out.stderr));

    let out = nta(&["extract", "--pcap", "/nonexistent/x.pcap"]);
    assert_eq!(out.status.code(), Some(2));
    let out = nta(&["extract", "--pcap", text.to_str().unwrap(), "--window", "soon"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("100ms"));
    let out = nta(&["synth", "--out", tmp("y.pcap").to_str().unwrap(), "--attacks", "smurf"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown attack"));
}

#[test]
fn train_score_and_list_models() {
    let models = tmp("models");
    let metrics = tmp("fx.jsonl");
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/test_net_traffic.pcapng");
    let out = nta(&["extract", "--pcap", fixture, "--out", metrics.to_str().unwrap(), "--window", "10s"]);
    assert!(out.status.success());
    let md = models.to_str().unwrap();
    let out =
        nta(&["train", "--metrics", metrics.to_str().unwrap(), "--name", "fx", "--models-dir", md, "--seed", "4"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = nta(&["models", "--models-dir", md, "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["name"], "fx");
    assert_eq!(list[0]["n_estimators"], 100);
    let out = nta(&["score", "--model", "fx", "--models-dir", md, "--metrics", metrics.to_str().unwrap()]);
    assert!(out.status.success());
    let csv = String::from_utf8(out.stdout).unwrap();
    assert!(csv.starts_with("row,window_start,score_samples,decision_function,predict\n"));
    assert_eq!(csv.lines().count(), 181);
    // A CSV table with other columns is refused with the reason.
    let table = tmp("t.csv");
    std::fs::write(&table, "a,b\n1,2\n3,4\n").unwrap();
    let out = nta(&["score", "--model", "fx", "--models-dir", md, "--csv", table.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("feature mismatch"));
    // Train on the CSV table itself, with sklearn's parameters.
    let out =
        nta(&["train", "--csv", table.to_str().unwrap(), "--name", "t", "--models-dir", md, "--contamination", "0.5"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = nta(&["train", "--csv", table.to_str().unwrap(), "--name", "../escape", "--models-dir", md]);
    assert_eq!(out.status.code(), Some(2));
    let out = nta(&["train", "--csv", table.to_str().unwrap(), "--name", "x", "--max-samples", "0"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn baselines_build_and_score() {
    let metrics = tmp("b.jsonl");
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/");
    let out = nta(&[
        "extract",
        "--pcap",
        &format!("{root}test_net_traffic.pcapng"),
        "--out",
        metrics.to_str().unwrap(),
        "--window",
        "10s",
    ]);
    assert!(out.status.success());
    let bl = tmp("bl/normal.json");
    let labels = format!("{root}test_net_traffic.labels.jsonl");
    let out = nta(&[
        "baselines",
        "--metrics",
        metrics.to_str().unwrap(),
        "--out",
        bl.to_str().unwrap(),
        "--exclude-labels",
        &labels,
        "--by",
        "hour-of-day",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let b: serde_json::Value = serde_json::from_slice(&std::fs::read(&bl).unwrap()).unwrap();
    assert_eq!((b["windows"].as_u64(), b["excluded_windows"].as_u64()), (Some(138), Some(42)));
    assert_eq!(b["seasonal"]["fallback_slots"].as_array().unwrap().len(), 23);
    let out = nta(&[
        "baselines",
        "score",
        "--baseline",
        bl.to_str().unwrap(),
        "--metrics",
        metrics.to_str().unwrap(),
        "--flagged-only",
        "--top",
        "3",
        "--metric-threshold",
        "tcp_syn=4",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(
        lines.len() >= 40
            && lines.iter().all(|w| w["flagged"] == true && w["deviations"].as_array().unwrap().len() == 3)
    );
    let out = nta(&["baselines", "--by", "weekly", "--metrics", metrics.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let out = nta(&[
        "baselines",
        "score",
        "--baseline",
        bl.to_str().unwrap(),
        "--metrics",
        metrics.to_str().unwrap(),
        "--metric-threshold",
        "nope=3",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn analyze_the_bundled_sample_then_list_summarize_evaluate() {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let store = tmp("an/anomalies.jsonl");
    // The README's first command, from the repository root, with no capture argument.
    let out = cli().current_dir(&root).args(["analyze", "--anomalies", store.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = String::from_utf8(out.stdout).unwrap();
    assert!(report.contains("fixtures/test_net_traffic.pcapng"));
    assert!(report.contains("CRITICAL") && report.contains("tcp_syn"), "{report}");
    assert!(report.contains("× its usual level"));
    let n = std::fs::read_to_string(&store).unwrap().lines().count();
    assert!(n > 30);
    // Again: nothing duplicated.
    let out = cli().current_dir(&root).args(["analyze", "--anomalies", store.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(&store).unwrap().lines().count(), n);
    let s = store.to_str().unwrap();
    let out = nta(&["anomalies", "list", "--store", s, "--severity", "critical", "--json"]);
    let page: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(page["total"].as_u64().unwrap() > 0);
    assert!(page["items"].as_array().unwrap().iter().all(|a| a["severity"] == "critical"));
    let out = nta(&["anomalies", "summary", "--store", s, "--json"]);
    let sum: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(sum["summary"]["total"].as_u64().unwrap() as usize, n);
    assert!(!sum["incidents"].as_array().unwrap().is_empty());
    let labels = root.join("fixtures/test_net_traffic.labels.jsonl");
    let out = nta(&["evaluate", "--anomalies", s, "--labels", labels.to_str().unwrap(), "--json"]);
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(e["recall"].as_f64().unwrap() >= 0.8 && e["precision"].as_f64().unwrap() >= 0.8, "{e}");
    // detect with a stored model and baseline gives the same kind of answer.
    let metrics = tmp("an/m.jsonl");
    let fixture = root.join("fixtures/test_net_traffic.pcapng");
    assert!(
        nta(&["extract", "--pcap", fixture.to_str().unwrap(), "--out", metrics.to_str().unwrap(), "--window", "10s"])
            .status
            .success()
    );
    let md = tmp("an/models");
    assert!(
        nta(&["train", "--metrics", metrics.to_str().unwrap(), "--name", "m", "--models-dir", md.to_str().unwrap()])
            .status
            .success()
    );
    let bl = tmp("an/b.json");
    assert!(
        nta(&["baselines", "--metrics", metrics.to_str().unwrap(), "--out", bl.to_str().unwrap()]).status.success()
    );
    let store2 = tmp("an/detect.jsonl");
    let out = nta(&[
        "detect",
        "--metrics",
        metrics.to_str().unwrap(),
        "--model",
        "m",
        "--models-dir",
        md.to_str().unwrap(),
        "--baseline",
        bl.to_str().unwrap(),
        "--out",
        store2.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::read_to_string(&store2).unwrap().lines().count() > 30);
    let out = nta(&["detect", "--metrics", metrics.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "neither model nor baseline");
}

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
    assert!(text.starts_with("<svg") && text.contains("syn_flood") && text.contains("packets/s"));
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
    assert_eq!(r["source"], "-");
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
    let records = |out: &[u8]| json_lines_without(&String::from_utf8_lossy(out), &["source"]);
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
    let read = |p: &PathBuf| json_lines_without(&std::fs::read_to_string(p).unwrap(), &["id", "source"]);
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
