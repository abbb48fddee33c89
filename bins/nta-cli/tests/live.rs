//! Live capture on a real interface: a veth pair with one end in a network namespace, the
//! bundled sample replayed into it with tcpreplay, `nta-cli extract/detect --interface` on the
//! other end. Needs the `live` feature, root, `ip` with network namespaces and tcpreplay
//! (`.ci/run` installs and builds all of it); each test says why it skipped when one is missing.

mod common;

use common::{cli, nta, tmp};
use nta_corpus::veth::{Veth, run, skip};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/test_net_traffic.pcapng")
}

fn veth(tag: &str) -> Result<Veth, String> {
    Veth::new(tag, cfg!(feature = "live"))
}

/// `nta-cli ARGS`, once it says it is capturing; its stderr so far is returned with it.
fn start(args: &[&str]) -> (Child, String) {
    let mut child = cli().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    while !said.contains("capturing on") {
        assert!(err.read_line(&mut said).unwrap() > 0, "ended before capturing: {said}");
    }
    child.stderr = Some(err.into_inner());
    (child, said)
}

/// Sends SIGTERM and waits (at most 20 s): exit code, stdout, stderr.
fn stop(mut child: Child) -> (Option<i32>, String, String) {
    run("kill", &["-TERM", &child.id().to_string()]).unwrap();
    finish(&mut child)
}

fn finish(child: &mut Child) -> (Option<i32>, String, String) {
    let began = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let (mut out, mut err) = (String::new(), String::new());
            child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
            child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
            return (status.code(), out, err);
        }
        assert!(began.elapsed() < Duration::from_secs(20), "did not end");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sums of the metrics that make a census, over every record of a metrics file.
fn census(path: &Path) -> Vec<(String, u64)> {
    let keys = [
        "packets",
        "bytes",
        "ipv4_packets",
        "ipv6_packets",
        "arp_packets",
        "tcp_packets",
        "udp_packets",
        "icmp_packets",
        "tcp_syn",
        "tcp_synack",
        "tcp_rst",
        "tcp_fin",
        "dns_queries",
        "dns_responses",
        "dns_nxdomain",
        "tls_client_hellos",
        "http_requests",
        "malformed_packets",
    ];
    let text = std::fs::read_to_string(path).unwrap();
    let records: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    keys.iter().map(|k| (k.to_string(), records.iter().map(|r| r[*k].as_u64().unwrap()).sum())).collect()
}

#[test]
fn a_replayed_capture_is_captured_whole_and_sigterm_flushes_it() {
    let v = match veth("w") {
        Ok(v) => v,
        Err(why) => return skip(&why),
    };
    let out = tmp("live.jsonl");
    let (child, _) = start(&["extract", "--interface", &v.host, "--window", "10s", "--out", out.to_str().unwrap()]);
    v.replay(&fixture(), 50_000).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let (code, _, err) = stop(child);
    assert_eq!(code, Some(0), "{err}");
    // The last lines say what the kernel received and dropped.
    assert!(err.contains("36216 packets captured (9204600 bytes); kernel: 36216 received, 0 dropped"), "{err}");
    // Every window flushed, and the census is the file's.
    let file = tmp("file.jsonl");
    let fixture = fixture();
    assert!(
        nta(&["extract", "--pcap", fixture.to_str().unwrap(), "--window", "10s", "--out", file.to_str().unwrap()])
            .status
            .success()
    );
    assert_eq!(census(&out), census(&file));
    // Every window carries the kernel's counters for its span; they add up to the totals.
    let records: Vec<serde_json::Value> =
        std::fs::read_to_string(&out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let sum = |k: &str| records.iter().map(|r| r[k].as_u64().unwrap()).sum::<u64>();
    assert_eq!((sum("capture_received"), sum("capture_dropped")), (36_216, 0));
}

#[test]
fn a_filter_keeps_what_tshark_keeps_and_a_bad_one_is_an_error() {
    let v = match veth("f") {
        Ok(v) => v,
        Err(why) => return skip(&why),
    };
    let Ok(tshark) = Command::new("tshark").args(["-r", fixture().to_str().unwrap(), "-Y", "tcp.port == 443"]).output()
    else {
        return skip("tshark is not installed");
    };
    let want = String::from_utf8_lossy(&tshark.stdout).lines().count() as u64;
    let out = tmp("live-443.jsonl");
    let (child, _) =
        start(&["extract", "--interface", &v.host, "--filter", "tcp port 443", "--out", out.to_str().unwrap()]);
    v.replay(&fixture(), 50_000).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let (code, _, err) = stop(child);
    assert_eq!(code, Some(0), "{err}");
    let got = census(&out).into_iter().find(|(k, _)| k == "packets").map(|(_, n)| n);
    assert_eq!(got, Some(want), "BPF 'tcp port 443' against tshark's tcp.port == 443");
    let bad = nta(&["extract", "--interface", &v.host, "--filter", "tcp port banana", "--out", "/dev/null"]);
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(2), "{err}");
    assert!(err.contains("filter \"tcp port banana\""), "{err}");
    let missing = nta(&["extract", "--interface", "nta-no-such-if", "--out", "/dev/null"]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no such interface"));
    let list = nta(&["capture", "--list"]);
    assert!(String::from_utf8_lossy(&list.stdout).lines().any(|l| l.starts_with(&v.host)));
}

#[test]
fn an_interface_that_disappears_ends_with_a_clear_error_and_the_windows_so_far() {
    let v = match veth("d") {
        Ok(v) => v,
        Err(why) => return skip(&why),
    };
    let out = tmp("live-gone.jsonl");
    let (mut child, _) = start(&["extract", "--interface", &v.host, "--window", "10s", "--out", out.to_str().unwrap()]);
    v.replay(&fixture(), 50_000).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    run("ip", &["link", "del", &v.host]).unwrap();
    let (code, _, err) = finish(&mut child);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(&format!("{}: capture failed", v.host)), "{err}");
    assert_eq!(census(&out).first().map(|(_, n)| *n), Some(36_216), "the windows before the error are written");
}

#[test]
fn live_detection_reports_anomalies_as_windows_close() {
    let v = match veth("a") {
        Ok(v) => v,
        Err(why) => return skip(&why),
    };
    // A model and baseline of the sample's own traffic, then the sample replayed at its own
    // pace would take 30 minutes: replay its attack-heavy minutes fast instead and check that
    // detection runs on the live windows and stores what it flags.
    let store = tmp("live-store.jsonl");
    let fixture = fixture();
    assert!(nta(&["analyze", fixture.to_str().unwrap(), "--anomalies", store.to_str().unwrap()]).status.success());
    let live_store = tmp("live-detect.jsonl");
    let (child, _) = start(&[
        "detect",
        "--interface",
        &v.host,
        "--model",
        "test_net_traffic",
        "--out",
        live_store.to_str().unwrap(),
    ]);
    v.replay(&fixture, 50_000).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let (code, stdout, err) = stop(child);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("new anomalies appended to"), "{err}");
    assert!(err.contains("kernel: 36216 received, 0 dropped"), "{err}");
    // Replayed at full speed, the whole half hour lands in one or two 10 s windows: far
    // beyond the baseline, flagged, printed as it closed and stored.
    assert!(stdout.contains("CRITICAL") || stdout.contains("HIGH"), "{stdout}");
    assert!(std::fs::read_to_string(&live_store).unwrap().lines().count() >= 1);
}

#[test]
fn live_detection_learns_normal_first_when_asked() {
    let v = match veth("l") {
        Ok(v) => v,
        Err(why) => return skip(&why),
    };
    let live_store = tmp("live-learn.jsonl");
    let (child, _) = start(&[
        "detect",
        "--interface",
        &v.host,
        "--learn",
        "4s",
        "--window",
        "1s",
        "--model",
        "learnt_live",
        "--out",
        live_store.to_str().unwrap(),
    ]);
    // About 7 s of traffic: 4 s to learn from, the rest to detect on.
    v.replay(&fixture(), 5_000).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let (code, _, err) = stop(child);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("learnt normal from"), "{err}");
    let data = tmp("data");
    assert!(data.join("models/learnt_live.json").is_file() && data.join("baselines/learnt_live.json").is_file());
    let models = nta(&["models", "--json"]);
    assert!(String::from_utf8_lossy(&models.stdout).contains("learnt_live"));
}

/// Without CAP_NET_RAW (the test drops root for an unprivileged user), the error says so and
/// how to grant it.
#[test]
fn without_privileges_the_error_says_how_to_grant_them() {
    if !cfg!(feature = "live") {
        return skip("built without live capture (cargo test --features nta-cli/live)");
    }
    if run("id", &["-u"]).map(|u| u.trim() == "0") != Ok(true) || run("setpriv", &["--version"]).is_err() {
        return skip("needs root and setpriv to run as an unprivileged user");
    }
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", env!("CARGO_BIN_EXE_nta-cli")])
        .args(["extract", "--interface", "lo", "--out", "/dev/null"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("needs CAP_NET_RAW") && err.contains("setcap cap_net_raw,cap_net_admin=eip"), "{err}");
}

/// Several `--interface`s are one capture: the sample replayed into each is counted twice.
#[test]
fn several_interfaces_are_one_capture() {
    let (a, b) = match (veth("m"), veth("n")) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(why), _) | (_, Err(why)) => return skip(&why),
    };
    let out = tmp("live-two.jsonl");
    let (child, said) = start(&[
        "extract",
        "--interface",
        &a.host,
        "--interface",
        &b.host,
        "--window",
        "10s",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(said.contains(&format!("capturing on {},{}", a.host, b.host)), "{said}");
    a.replay(&fixture(), 50_000).unwrap();
    b.replay(&fixture(), 50_000).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let (code, _, err) = stop(child);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("72432 packets captured (18409200 bytes); kernel: 72432 received, 0 dropped"), "{err}");
    let file = tmp("file-two.jsonl");
    let fixture = fixture();
    assert!(
        nta(&["extract", "--pcap", fixture.to_str().unwrap(), "--window", "10s", "--out", file.to_str().unwrap()])
            .status
            .success()
    );
    let twice: Vec<(String, u64)> = census(&file).into_iter().map(|(k, v)| (k, 2 * v)).collect();
    assert_eq!(census(&out), twice);
}

/// `analyze --interface`: the capture's windows until SIGTERM, then the whole analysis (a
/// baseline and a model of that traffic, saved as live_IFACE, and its anomalies stored).
#[test]
fn analyze_captures_then_analyses() {
    let v = match veth("z") {
        Ok(v) => v,
        Err(why) => return skip(&why),
    };
    let store = tmp("live-analyze.jsonl");
    let (child, _) =
        start(&["analyze", "--interface", &v.host, "--window", "1s", "--anomalies", store.to_str().unwrap()]);
    v.replay(&fixture(), 5_000).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let (code, stdout, err) = stop(child);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("36216 packets captured"), "{err}");
    assert!(stdout.contains(&format!("model live_{}", v.host)), "{stdout}");
    assert!(tmp("data").join(format!("models/live_{}.json", v.host)).is_file());
}
