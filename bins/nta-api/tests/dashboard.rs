//! The dashboard in a real browser: headless Chromium driven by Playwright's core
//! (`tests/dashboard/dashboard.cjs`) against the real binary that processed the bundled
//! sample — incidents most severe first, an incident's explanation, the timeline drawn and
//! zoomed, a capture uploaded and analysed with the progress bar moving, no request beyond
//! the server, no console error; with a token, the page asks for it once per session.
//! Screenshots land in `<target>/tmp/dashboard/`.
//!
//! Needs node, `/usr/bin/chromium` and playwright-core (`NTA_PLAYWRIGHT`: a directory whose
//! `node_modules` holds it; `.ci/run` installs all three). Without them it says why it skipped
//! — unless `NTA_REQUIRE_BROWSER` is set, as in CI.

mod common;

use common::{free_port, json, start};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

fn unavailable(why: &str) {
    if std::env::var_os("NTA_REQUIRE_BROWSER").is_some_and(|v| !v.is_empty()) {
        panic!("NTA_REQUIRE_BROWSER is set, but {why}");
    }
    eprintln!("skipped the_dashboard_in_a_browser: {why}");
}

#[test]
fn the_dashboard_in_a_browser() {
    let Some(pw) = std::env::var_os("NTA_PLAYWRIGHT").map(PathBuf::from) else {
        return unavailable("NTA_PLAYWRIGHT (a directory with node_modules/playwright-core) is not set");
    };
    if !pw.join("node_modules/playwright-core").is_dir() {
        return unavailable("no playwright-core under NTA_PLAYWRIGHT");
    }
    let chromium = std::env::var("NTA_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !std::path::Path::new(&chromium).exists() {
        return unavailable("chromium is not installed (Debian: apt-get install chromium)");
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let fixture = root.join("fixtures/test_net_traffic.pcapng");
    let dir = std::env::temp_dir().join(format!("nta-dashboard-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let _server = start(&dir, port, &["--pcap", fixture.to_str().unwrap()]);
    // The startup job processes the sample.
    let began = Instant::now();
    loop {
        let (_, s) = json(port, "GET", "/api/status", None);
        if s["anomalies"].as_u64().unwrap_or(0) > 0 && s["running_jobs"] == 0 {
            break;
        }
        assert!(began.elapsed() < Duration::from_secs(120), "the sample was not processed: {s}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
    std::fs::create_dir_all(&out).unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/dashboard/dashboard.cjs");
    let run = Command::new("node")
        .arg(&script)
        .arg(format!("http://127.0.0.1:{port}"))
        .arg(&out)
        .arg(&fixture)
        .env("NODE_PATH", pw.join("node_modules"))
        .env("NTA_CHROMIUM", &chromium)
        .output();
    let run = match run {
        Ok(r) => r,
        Err(e) => return unavailable(&format!("node could not run: {e}")),
    };
    let said = format!("{}{}", String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    eprintln!("{said}");
    assert!(run.status.success(), "the dashboard failed in the browser:\n{said}");
    for shot in ["1-overview.png", "2-incident.png", "3-timeline-zoomed.png", "4-after-upload.png"] {
        assert!(out.join(shot).metadata().is_ok_and(|m| m.len() > 10_000), "{shot} was not written");
    }
    // A server with a token: the page asks once, and keeps it for the session.
    let token_port = free_port();
    let token_dir = dir.join("token");
    std::fs::create_dir_all(token_dir.join("data")).unwrap();
    std::fs::create_dir_all(token_dir.join("logs")).unwrap();
    for f in ["metrics.jsonl", "anomalies.jsonl"] {
        std::fs::copy(dir.join("logs").join(f), token_dir.join("logs").join(f)).unwrap();
    }
    let mut guarded = Command::new(env!("CARGO_BIN_EXE_nta-api"))
        .current_dir(&token_dir)
        .args(["--bind", &format!("127.0.0.1:{token_port}"), "--data-dir", "data", "--logs-dir", "logs"])
        .env("NTA_API_TOKEN", "dashboard-test-token-1234")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let began = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", token_port)).is_err() {
        assert!(began.elapsed() < Duration::from_secs(30), "the guarded server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let run = Command::new("node")
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/dashboard/token.cjs"))
        .arg(format!("http://127.0.0.1:{token_port}"))
        .arg("dashboard-test-token-1234")
        .env("NODE_PATH", pw.join("node_modules"))
        .env("NTA_CHROMIUM", &chromium)
        .output()
        .unwrap();
    let _ = guarded.kill();
    let _ = guarded.wait();
    let said = format!("{}{}", String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    eprintln!("{said}");
    assert!(run.status.success(), "the token flow failed in the browser:\n{said}");
    let _ = std::fs::remove_dir_all(&dir);
}
