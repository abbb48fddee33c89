//! Helpers shared by the binary's integration tests (each test file uses some of them).
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// The binary, with its data and logs directories in a temporary folder of this test run.
pub(crate) fn cli() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nta-cli"));
    c.env("NTA_DATA_DIR", tmp("data")).env("NTA_LOGS_DIR", tmp("logs"));
    c
}

/// Runs the binary with `args`.
pub(crate) fn nta(args: &[&str]) -> Output {
    cli().args(args).output().unwrap()
}

/// Asserts that the command succeeded, showing its stderr if not.
pub(crate) fn ok(out: &Output) {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The JSON lines of `text`, without the keys `drop` (fields that name the input, say).
pub(crate) fn json_lines_without(text: &str, drop: &[&str]) -> Vec<serde_json::Value> {
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

/// `name` in a temporary folder of this test process (one per test binary and run).
pub(crate) fn tmp(name: &str) -> PathBuf {
    let exe = std::env::current_exe().ok();
    let bin = exe.as_deref().and_then(|p| p.file_stem()).and_then(|s| s.to_str()).unwrap_or("t");
    let dir = std::env::temp_dir().join(format!("nta-cli-{bin}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}
