//! Where tests and benchmarks find the shared corpus of real captures (`../shared/pcaps`
//! beside the project, with its `MANIFEST.tsv`), and how a test that needs it skips without it.
//!
//! The principal functions:
//! - [`pcaps_dir`] — the corpus folder: `$NTA_PCAPS_DIR` when set (CI points it at an empty
//!   folder to prove the suite passes on a fresh checkout), else `../shared/pcaps` next to the
//!   workspace root.
//! - [`require`] — `true` when the corpus is there; otherwise prints
//!   `skipped <test>: no capture corpus at <dir> (...)` on standard error and returns `false`,
//!   so a test starts with `if !nta_corpus::require() { return; }` and never passes silently.
//! - [`pcap`] — a file of the corpus by its path relative to the corpus folder.
//!
//! - [`veth::Veth`] — a veth pair with one end in a network namespace, for the live-capture
//!   tests, and [`veth::skip`].
//!
//! A dev-dependency only: no library or binary of nta depends on it.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod veth;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

/// The variable that overrides the corpus folder.
pub const ENV: &str = "NTA_PCAPS_DIR";

/// The corpus folder (it may not exist: see [`available`]).
pub fn pcaps_dir() -> PathBuf {
    match std::env::var_os(ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/pcaps"),
    }
}

/// A corpus file by its path relative to the corpus folder (as in `MANIFEST.tsv`).
pub fn pcap(rel: &str) -> PathBuf {
    pcaps_dir().join(rel)
}

/// Whether the corpus is there (its `MANIFEST.tsv` is a file).
pub fn available() -> bool {
    pcaps_dir().join("MANIFEST.tsv").is_file()
}

/// `true` when the corpus is there; otherwise says on standard error which test skipped and
/// why (once per test, so a property test's cases say it once), and returns `false`. The
/// test's name is its thread's (what the test harness sets).
pub fn require() -> bool {
    static SAID: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    if available() {
        return true;
    }
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("this test");
    let first = SAID.lock().map(|mut said| said.insert(test.to_owned())).unwrap_or(true);
    if first {
        skip(&format!(
            "no capture corpus at {} (it needs ../shared/pcaps beside the project, or {ENV})",
            pcaps_dir().display()
        ));
    }
    false
}

/// Says that the current test (its thread's name) skipped, and why — straight to the
/// process's stderr: the test harness captures `eprintln!` of passing tests, and a skip must
/// be seen.
pub fn skip(why: &str) {
    let thread = std::thread::current();
    let _ = writeln!(std::io::stderr(), "skipped {}: {why}", thread.name().unwrap_or("this test"));
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_variable_moves_the_corpus() {
        // Only this test of the crate touches the variable.
        let empty = std::env::temp_dir().join(format!("nta-corpus-empty-{}", std::process::id()));
        std::fs::create_dir_all(&empty).unwrap();
        // set_var is unsafe in edition 2024 and the crate forbids unsafe: run a child instead.
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "tests::child_reports_skip", "--nocapture"])
            .env(super::ENV, &empty)
            .env("NTA_CORPUS_CHILD", "1")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert_eq!(err.matches("skipped tests::child_reports_skip: no capture corpus at").count(), 1, "{err}");
        std::fs::remove_dir_all(&empty).unwrap();
    }

    #[test]
    fn child_reports_skip() {
        if std::env::var_os("NTA_CORPUS_CHILD").is_some() {
            assert!(!super::require());
            assert!(!super::require());
            assert!(super::pcap("a/b.pcap").ends_with("a/b.pcap"));
        }
    }
}
