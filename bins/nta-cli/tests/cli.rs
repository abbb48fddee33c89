//! The binary end to end: synth → inspect → extract, exit codes, atomic outputs.

use std::path::PathBuf;
use std::process::{Command, Output};

fn nta(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nta-cli")).args(args).output().unwrap()
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nta-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn synth_then_extract() {
    let cap = tmp("s.pcapng");
    let out = nta(&["synth", "--out", cap.to_str().unwrap(), "--duration", "2m", "--seed", "3", "--attacks", "portscan,synflood"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let labels = std::fs::read_to_string(tmp("s.labels.jsonl")).unwrap();
    assert_eq!(labels.lines().count(), 2);
    assert!(labels.contains("\"kind\":\"portscan\"") && labels.contains("\"kind\":\"synflood\""));

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
    let packets: u64 = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["packets"].as_u64().unwrap())
        .sum();
    assert_eq!(packets, report["packets"].as_u64().unwrap());
    // No temporary file is left beside the output.
    let leftovers = std::fs::read_dir(metrics.parent().unwrap())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().contains(".tmp-"))
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
