//! The binary end to end: synth → inspect → extract, exit codes, models, baselines, analyze.

mod common;

use common::{cli, nta, ok, tmp};
use std::path::PathBuf;
use std::process::Command;

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

    // Flows: `extract --flows` writes them beside the same window records; `flows` alone,
    // with other timeouts, writes them to stdout. Every IP packet is in one flow.
    let flows = tmp("f.jsonl");
    let out = nta(&[
        "extract",
        "--pcap",
        cap.to_str().unwrap(),
        "--out",
        metrics.to_str().unwrap(),
        "--window",
        "10s",
        "--flows",
        flows.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_to_string(&metrics).unwrap(), text, "the window records do not change");
    let records: Vec<serde_json::Value> =
        std::fs::read_to_string(&flows).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let ip = report["census"]["ipv4"].as_u64().unwrap() + report["census"]["ipv6"].as_u64().unwrap();
    let in_flows: u64 =
        records.iter().map(|f| f["src_packets"].as_u64().unwrap() + f["dst_packets"].as_u64().unwrap()).sum();
    assert_eq!(in_flows, ip);
    assert!(records.iter().any(|f| f["conn_state"] == "REJ"), "the port scan's refused probes");
    let out = nta(&["flows", "--pcap", cap.to_str().unwrap(), "--out", "-", "--idle-timeout", "5s"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let short: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(short.len() >= records.len(), "a shorter idle timeout splits flows");
    assert!(short.iter().all(|f| f["community_id"].as_str().unwrap().starts_with("1:")));
    let out = nta(&["extract", "--pcap", cap.to_str().unwrap(), "--out", "-", "--flows", "-"]);
    assert_eq!(out.status.code(), Some(2), "two outputs on stdout are refused");
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
    // A window below 1 ms, or a run over its window bound: refused with the reason, no output.
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/test_net_traffic.pcapng");
    let x = tmp("tiny.jsonl");
    let out = nta(&["extract", "--pcap", fixture, "--window", "1us", "--out", x.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 1 ms"));
    assert!(!x.exists());
    for bad in ["3", "32", "0"] {
        let out = nta(&["extract", "--pcap", fixture, "--shards", bad, "--out", x.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "--shards {bad}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("power of two"), "--shards {bad}");
    }
    let store = tmp("bad-inputs-store.jsonl");
    let out = nta(&["analyze", fixture, "--window", "1ns", "--anomalies", store.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 1 ms"));
    // detect: a model to detect with, then the same exit codes as extract.
    let out = nta(&["analyze", fixture, "--anomalies", store.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let detect = |pcap: &str, extra: &[&str]| {
        let mut a = vec!["detect", "--pcap", pcap, "--model", "test_net_traffic", "--out", store.to_str().unwrap()];
        a.extend_from_slice(extra);
        let out = nta(&a);
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, err) = detect(fixture, &["--window", "1ns"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("at least 1 ms"), "{err}");
    for (input, says) in
        [("/nonexistent/x.pcap", "no such file"), ("/tmp", "not a regular file"), ("/dev/zero", "not a regular file")]
    {
        let (code, err) = detect(input, &[]);
        assert_eq!(code, Some(2), "{input}: {err}");
        assert!(err.contains(says) && err.matches("os error").count() <= 1, "{input}: {err}");
    }
    let (code, err) = detect(text.to_str().unwrap(), &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("not a pcap"), "{err}");
    let out =
        nta(&["extract", "--pcap", fixture, "--window", "1ms", "--max-windows", "1000", "--out", x.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("more than 1000 windows"));
    assert!(!x.exists(), "the atomic output is not left half-written");
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
    // Read through the index made beside the store: the same summary as reading it whole.
    assert!(std::path::Path::new(&format!("{s}.index")).is_file());
    let all = nta_store::AnomalyStore::new(&store).read().unwrap().anomalies;
    let mut refs: Vec<&nta_analysis::Anomaly> = all.iter().collect();
    refs.sort_by(|x, y| x.window_start_ns.cmp(&y.window_start_ns).then_with(|| x.id.cmp(&y.id)));
    let whole = nta_store::summary_page(&refs, nta_store::Order::Severity, 0, usize::MAX);
    assert_eq!(sum["summary"], serde_json::to_value(&whole.summary).unwrap());
    assert_eq!(sum["incidents"], serde_json::to_value(&whole.incidents).unwrap());
    // Triage: the report's incidents most severe first, each led by its kind and hosts.
    let sev = ["  LOW  ", "  MEDIUM  ", "  HIGH  ", "  CRITICAL  "];
    let first = report.lines().find(|l| sev.iter().any(|p| l.starts_with(p))).unwrap();
    assert!(first.starts_with("  CRITICAL  "), "{report}");
    assert!(report.contains("PORT SCAN by 48.190.219.81 against 10.20.0.80: "), "{report}");
    let incidents = sum["incidents"].as_array().unwrap();
    assert!(incidents.windows(2).all(|w| {
        let rank = |v: &serde_json::Value| ["low", "medium", "high", "critical"].iter().position(|s| v == s);
        rank(&w[0]["severity"]) >= rank(&w[1]["severity"])
    }));
    // Filters by kind and by host.
    let out = nta(&["anomalies", "list", "--store", s, "--kind", "syn_flood", "--json"]);
    let page: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let items = page["items"].as_array().unwrap();
    assert!(
        !items.is_empty() && items.iter().all(|a| a["kind"] == "syn_flood" && a["victims"][0]["ip"] == "10.20.0.80")
    );
    let out = nta(&["anomalies", "list", "--store", s, "--ip", "48.190.219.81", "--json"]);
    let page: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(page["items"].as_array().unwrap().iter().all(|a| a["kind"] == "port_scan"), "{page}");
    assert!(nta(&["anomalies", "list", "--store", s, "--kind", "port_scanning"]).status.code() == Some(2));
    // The connections of the port scan's incident, from the flows `analyze` wrote.
    let scan_incident = incidents.iter().find(|i| i["kind"] == "port_scan").unwrap()["id"].as_str().unwrap();
    let flows = tmp("logs/flows.jsonl");
    let out = nta(&["anomalies", "flows", scan_incident, "--store", s, "--flows", flows.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let page: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(page["total"].as_u64().unwrap() > 1000, "{page}");
    assert!(
        page["items"].as_array().unwrap().iter().any(|f| f["src_ip"] == "48.190.219.81" && f["conn_state"] == "REJ")
    );
    assert_eq!(nta(&["anomalies", "flows", "ffffffffffffffff", "--store", s]).status.code(), Some(2));
    // ECS export: one alert document per anomaly, attackers as source.ip.
    let out = nta(&["anomalies", "export", "--format", "ecs", "--store", s]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let docs: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(docs.len(), n);
    for d in &docs {
        assert_eq!(d["event"]["kind"], "alert");
        assert!(d["@timestamp"].as_str().unwrap().ends_with('Z'));
        assert!([21, 47, 73, 99].contains(&d["event"]["severity"].as_u64().unwrap()), "{d}");
        assert!(d["rule"]["name"].is_string() && d["nta"]["detector"].is_string());
    }
    let scan = docs.iter().find(|d| d["rule"]["name"] == "port_scan").unwrap();
    assert_eq!(scan["source"]["ip"][0], "48.190.219.81");
    assert_eq!(scan["destination"]["ip"][0], "10.20.0.80");
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

/// Every line-oriented input is read with a bounded line: `/dev/zero` (no newline, ever) ends
/// in an error naming the file and the line, under a 2 GB address-space limit, never in memory
/// exhaustion. OS errors are said once.
#[test]
fn every_line_reader_is_bounded_and_errors_say_things_once() {
    let bin = env!("CARGO_BIN_EXE_nta-cli");
    let data = tmp("data");
    let cases = [
        "anomalies list --store /dev/zero",
        "anomalies summary --store /dev/zero",
        "train --csv /dev/zero --name z",
        "train --metrics /dev/zero --name z",
        "evaluate --anomalies /dev/zero --labels /dev/zero",
        "plot --metrics /dev/zero --out /dev/null",
    ];
    for args in cases {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("ulimit -v 2000000; exec {bin} {args}"))
            .env("NTA_DATA_DIR", &data)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args}: {err}");
        assert!(err.contains("/dev/zero") && err.contains("1: longer than 16777216 bytes"), "{args}: {err}");
        assert_eq!(err.matches("longer than").count(), 1, "{args}: said once: {err}");
    }
    let out = nta(&["train", "--metrics", "/nonexistent/m.jsonl", "--name", "z"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    let out = nta(&["inspect", "/nonexistent/x.pcap"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("cannot open: No such file or directory") && !text.contains("at byte 0"), "{text}");
}

/// One capture, one identity: analysed as `fixtures/x`, `./fixtures/x`, its absolute path and
/// through a symbolic link, its anomalies are stored once.
/// `analyze --shards 4` finds what one accumulator finds: the same anomalies, scores and
/// explanations (the fixture is far below the tables' bounds).
#[test]
fn analyze_with_shards_finds_the_same_anomalies() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/test_net_traffic.pcapng");
    let found = |shards: &str| {
        let store = tmp(&format!("shards-{shards}/anomalies.jsonl"));
        let out = nta(&["analyze", fixture, "--shards", shards, "--anomalies", store.to_str().unwrap(), "--json"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let mut all: Vec<String> = nta_store::AnomalyStore::new(&store)
            .read()
            .unwrap()
            .anomalies
            .iter()
            .map(|a| {
                let mut v = serde_json::to_value(a).unwrap();
                v.as_object_mut().unwrap().remove("created_at");
                v.to_string()
            })
            .collect();
        all.sort();
        all
    };
    let one = found("1");
    assert!(one.len() > 30, "{}", one.len());
    assert_eq!(found("4"), one);
}

#[test]
fn a_capture_named_by_other_paths_is_deduplicated() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap();
    let store = tmp("dedup-store.jsonl");
    // A name a model name cannot hold (space, +, non-ASCII): analyze still works.
    let link = tmp("my capture+café.pcapng");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(root.join("fixtures/test_net_traffic.pcapng"), &link).unwrap();
    let abs = root.join("fixtures/test_net_traffic.pcapng");
    let mut added = Vec::new();
    for path in [
        "fixtures/test_net_traffic.pcapng",
        "./fixtures/test_net_traffic.pcapng",
        abs.to_str().unwrap(),
        link.to_str().unwrap(),
    ] {
        let out =
            cli().current_dir(&root).args(["analyze", path, "--anomalies", store.to_str().unwrap()]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{path}: {err}");
        let text = String::from_utf8_lossy(&out.stdout);
        let n: usize = text
            .lines()
            .find_map(|l| {
                l.split(" new anomalies").next().filter(|_| l.contains(" new anomalies"))?.trim().parse().ok()
            })
            .unwrap();
        added.push(n);
    }
    assert!(added[0] > 10, "{added:?}");
    assert_eq!(&added[1..], [0, 0, 0], "{added:?}");
    let lines = std::fs::read_to_string(&store).unwrap().lines().count();
    assert_eq!(lines, added[0]);
}

/// `plot`: the key in a column of its own (never over data), clock time on the x axis,
/// incidents named by kind, and anomalies without a model score drawn as their own mark.
#[test]
fn the_plot_keys_its_marks_beside_the_data() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/test_net_traffic.pcapng");
    let logs = tmp("plot-logs");
    std::fs::create_dir_all(&logs).unwrap();
    let l = logs.to_str().unwrap();
    ok(&cli()
        .args(["analyze", fixture, "--logs-dir", l, "--data-dir", tmp("plot-data").to_str().unwrap()])
        .output()
        .unwrap());
    let svg = tmp("plot.svg");
    let labels = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/test_net_traffic.labels.jsonl");
    let out = cli()
        .args(["plot", "--metrics", &format!("{l}/metrics.jsonl"), "--anomalies", &format!("{l}/anomalies.jsonl")])
        .args(["--labels", labels, "--out", svg.to_str().unwrap(), "--size", "1400x700"])
        .output()
        .unwrap();
    ok(&out);
    let text = std::fs::read_to_string(&svg).unwrap();
    for want in [
        "09:05:00",
        "09:25:00",
        "time (UTC)",
        "Key",
        "critical",
        "no model score",
        "model threshold",
        "syn flood",
        "port scan",
    ] {
        assert!(text.contains(want), "the plot lacks {want:?}");
    }
    // Every text of the key lies right of the plots (the key column starts at 1400 - 200).
    let key_x: Vec<f64> = ["Key", "no model score", "attack (label)"]
        .iter()
        .map(|t| {
            let at = text.find(&format!(">\n{t}\n<")).unwrap_or_else(|| panic!("{t}"));
            let tag = &text[text[..at].rfind("<text").unwrap()..at];
            let x = tag.split("x=\"").nth(1).unwrap().split('"').next().unwrap();
            x.parse().unwrap()
        })
        .collect();
    assert!(key_x.iter().all(|x| *x >= 1200.0), "{key_x:?}");
    // An anomaly without a model score (a baseline's) is a triangle, not a bar that would read
    // as a low score: detected with the baseline alone, every one is.
    let store = logs.join("baseline-only.jsonl");
    let data = tmp("plot-data");
    let baseline = data.join("baselines/test_net_traffic.json");
    ok(&cli()
        .args(["detect", "--pcap", fixture, "--baseline", baseline.to_str().unwrap(), "--out", store.to_str().unwrap()])
        .args(["--data-dir", data.to_str().unwrap()])
        .output()
        .unwrap());
    let unscored = std::fs::read_to_string(&store).unwrap().lines().filter(|l| l.contains("\"score\":null")).count();
    assert!(unscored > 3, "baseline-only anomalies: {unscored}");
    let svg2 = tmp("plot2.svg");
    ok(&cli()
        .args(["plot", "--metrics", &format!("{l}/metrics.jsonl"), "--anomalies", store.to_str().unwrap()])
        .args(["--out", svg2.to_str().unwrap()])
        .output()
        .unwrap());
    let text = std::fs::read_to_string(&svg2).unwrap();
    // Any metric: the SYN count, named on its axis and in the key.
    let svg3 = tmp("plot3.svg");
    ok(&cli()
        .args(["plot", "--metrics", &format!("{l}/metrics.jsonl"), "--metric", "tcp_syn"])
        .args(["--anomalies", store.to_str().unwrap(), "--out", svg3.to_str().unwrap()])
        .output()
        .unwrap());
    assert_eq!(std::fs::read_to_string(&svg3).unwrap().matches("\ntcp_syn\n").count(), 2, "axis and key");
    // One triangle in the key, one per anomaly.
    assert_eq!(text.matches("<polygon").count(), unscored + 1, "each unscored anomaly is a triangle");
}
