//! The anomaly store under concurrent writers and full disks, through the real binary:
//! two `detect` processes appending to one store at once, a write that fails for lack of
//! space (injected with a file-size limit for everyone, and a small tmpfs when root).

mod common;

use common::{cli, ok, tmp};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Window metrics of the fixture and a model `m` trained on them.
fn metrics_and_model() -> &'static PathBuf {
    static M: OnceLock<PathBuf> = OnceLock::new();
    M.get_or_init(|| {
        let fixture = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/test_net_traffic.pcapng"));
        let metrics = tmp("m.jsonl");
        ok(&cli().args(["extract", "--pcap"]).arg(&fixture).arg("--out").arg(&metrics).output().unwrap());
        ok(&cli().args(["train", "--name", "m", "--metrics"]).arg(&metrics).output().unwrap());
        metrics
    })
}

fn detect_into(store: &Path) -> Command {
    let mut c = cli();
    c.args(["detect", "--model", "m", "--metrics"]).arg(metrics_and_model()).arg("--out").arg(store);
    c
}

fn ids(store: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(store).unwrap();
    assert!(!text.lines().any(|l| l.trim().is_empty()), "a blank line in {}", store.display());
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn two_processes_appending_at_once_never_duplicate() {
    let single = tmp("single.jsonl");
    ok(&detect_into(&single).output().unwrap());
    let expected = ids(&single).len();
    assert!(expected > 20);
    for run in 0..12 {
        let store = tmp(&format!("race-{run}.jsonl"));
        let (a, b) = (detect_into(&store).spawn().unwrap(), detect_into(&store).spawn().unwrap());
        ok(&a.wait_with_output().unwrap());
        ok(&b.wait_with_output().unwrap());
        let mut got = ids(&store);
        assert_eq!(got.len(), expected, "run {run}: every anomaly once");
        got.sort();
        got.dedup();
        assert_eq!(got.len(), expected, "run {run}: no duplicate id");
    }
}

/// Runs `detect` into `store` with writes beyond `limit_kib` KiB refused by the kernel (EFBIG,
/// as a full disk refuses with ENOSPC).
fn detect_with_file_size_limit(store: &Path, limit_kib: u64) -> Output {
    let cmd =
        format!("trap '' XFSZ; ulimit -f {limit_kib}; exec \"$0\" detect --model m --metrics \"$1\" --out \"$2\"",);
    let mut c = Command::new("bash");
    c.arg("-c").arg(cmd).arg(env!("CARGO_BIN_EXE_nta-cli")).arg(metrics_and_model()).arg(store);
    c.env("NTA_DATA_DIR", tmp("data")).env("NTA_LOGS_DIR", tmp("logs"));
    c.output().unwrap()
}

#[test]
fn a_failed_append_leaves_the_store_exactly_as_it_was() {
    if Command::new("bash").arg("-c").arg("true").output().is_err() {
        println!("skipped: no bash to set a file-size limit");
        return;
    }
    let full = tmp("full.jsonl");
    ok(&detect_into(&full).output().unwrap());
    let text = std::fs::read_to_string(&full).unwrap();
    let size = text.len() as u64;
    assert!(size > 40 * 1024, "the detection writes more than the limits below");
    // An empty store that cannot grow past 16 KiB: the append fails, the store stays empty.
    let empty = tmp("empty.jsonl");
    let out = detect_with_file_size_limit(&empty, 16);
    assert!(!out.status.success(), "the failure is reported");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("empty.jsonl"), "{err}");
    assert_eq!(std::fs::metadata(&empty).map(|m| m.len()).unwrap_or(0), 0, "nothing half-written");
    // A store holding five records: after the failed append it holds exactly those bytes.
    let five: String = text.lines().take(5).map(|l| format!("{l}\n")).collect();
    let partial = tmp("partial.jsonl");
    std::fs::write(&partial, &five).unwrap();
    let limit = (five.len() as u64).div_ceil(1024) + 8;
    let out = detect_with_file_size_limit(&partial, limit);
    assert!(!out.status.success());
    assert_eq!(std::fs::read_to_string(&partial).unwrap(), five, "the store is exactly as it was");
    // And the next append, with room, completes it without a blank or broken line.
    ok(&detect_into(&partial).output().unwrap());
    let mut got = ids(&partial);
    got.sort();
    let mut want = ids(&full);
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn a_full_tmpfs_leaves_the_store_exactly_as_it_was() {
    let is_root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if !is_root {
        println!("skipped: mounting a small tmpfs needs root");
        return;
    }
    let mnt = tmp("tmpfs");
    std::fs::create_dir_all(&mnt).unwrap();
    let mounted = Command::new("mount").args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"]).arg(&mnt).status();
    if !mounted.is_ok_and(|s| s.success()) {
        println!("skipped: mount -t tmpfs failed here (no mount namespace privileges)");
        return;
    }
    let store = mnt.join("anomalies.jsonl");
    let full = tmp("tmpfs-full.jsonl");
    ok(&detect_into(&full).output().unwrap());
    let text = std::fs::read_to_string(&full).unwrap();
    let five: String = text.lines().take(5).map(|l| format!("{l}\n")).collect();
    std::fs::write(&store, &five).unwrap();
    // Fill the rest of the tmpfs but a few KiB.
    let filler = mnt.join("filler");
    let _ = std::fs::write(&filler, vec![0u8; 64 * 1024 - five.len() - 8 * 1024]);
    let out = detect_into(&store).output().unwrap();
    let result = std::fs::read_to_string(&store).unwrap();
    let _ = Command::new("umount").arg(&mnt).status();
    assert!(!out.status.success(), "a full disk is reported");
    assert!(String::from_utf8_lossy(&out.stderr).contains("anomalies.jsonl"));
    assert_eq!(result, five, "the store is exactly as it was");
}
