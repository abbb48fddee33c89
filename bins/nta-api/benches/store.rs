//! The API over a large anomaly store (docs/API.md, "A store that outgrows memory"): how long
//! the server takes to answer its first request, how much memory it holds, and the latency of
//! filtered listings and summaries under `wrk -t2 -c32`, with `NTA_BENCH_ANOMALIES` records
//! (default 1,000,000) made from the anomalies detected in the bundled sample.
//!
//! `cargo bench -p nta-api --bench store` (needs `wrk`; says so and stops without it). The
//! store is written once to `target/tmp/bench-store` and reused; its index is removed before
//! each run (`NTA_BENCH_KEEP_INDEX=1` keeps it, to time a start with the index built).

use nta_analysis::Anomaly;
use std::io::{BufWriter, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_nta-api");

/// The anomalies of the sample: analysed once into `dir`.
fn seed(dir: &Path) -> Vec<Anomaly> {
    let layout = nta_store::Layout::new(dir.join("seed-data"), dir.join("seed-logs"));
    if !layout.anomalies_path().is_file() {
        let pcap = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/test_net_traffic.pcapng");
        let opts = nta_analysis::AnalyzeOptions { name: "sample".into(), ..Default::default() };
        nta_store::analyze_into(&layout, &[pcap], opts, &|_| {}, &Default::default()).unwrap();
    }
    nta_store::AnomalyStore::new(layout.anomalies_path()).read().unwrap().anomalies
}

/// `n` records: the seed's anomalies again and again, each copy an hour later, of one of 100
/// captures and with its hosts moved into one of 65,536 /16s... so filters by capture, address,
/// time, severity and kind each select a realistic share.
fn write_store(path: &Path, seed: &[Anomaly], n: usize) {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    let span =
        seed.iter().map(|a| a.window_end_ns).max().unwrap() - seed.iter().map(|a| a.window_start_ns).min().unwrap();
    for i in 0..n {
        let copy = i / seed.len();
        let mut a = seed[i % seed.len()].clone();
        let shift = copy as i64 * (span + 3_600_000_000_000);
        a.window_start_ns += shift;
        a.window_end_ns += shift;
        a.window_start = nta_capture::format_rfc3339_ns(a.window_start_ns);
        a.window_end = nta_capture::format_rfc3339_ns(a.window_end_ns);
        a.id = format!("{i:016x}");
        a.capture = format!("capture-{:03}.pcap", copy % 100);
        let moved = |ip: std::net::IpAddr| match ip {
            std::net::IpAddr::V4(v4) => {
                let o = v4.octets();
                std::net::IpAddr::from([10, (copy >> 8) as u8, copy as u8, o[3]])
            }
            v6 => v6,
        };
        for h in a.attackers.iter_mut().chain(a.victims.iter_mut()) {
            h.ip = moved(h.ip);
        }
        serde_json::to_writer(&mut out, &a).unwrap();
        out.write_all(b"\n").unwrap();
    }
    out.flush().unwrap();
}

fn get(port: u16, path: &str) -> Option<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(120))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).ok()?;
    let split = resp.windows(4).position(|w| w == b"\r\n\r\n")?;
    let status = String::from_utf8_lossy(&resp[..split]).split_whitespace().nth(1)?.parse().ok()?;
    Some((status, resp[split + 4..].to_vec()))
}

fn rss_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_default();
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// `wrk -t2 -c32 -d<secs>s --latency` of one URL: (requests/s, p50 ms, p99 ms, non-2xx or
/// failed requests).
fn wrk(port: u16, path: &str, secs: u64, script: Option<&Path>) -> (f64, f64, f64, u64) {
    let url = format!("http://127.0.0.1:{port}{path}");
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", "-c32", &format!("-d{secs}s"), "--timeout", "60s", "--latency"]);
    if let Some(s) = script {
        cmd.arg("-s").arg(s);
    }
    let out = cmd.arg(&url).output().unwrap();
    assert!(out.stderr.is_empty(), "wrk: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let ms = |tag: &str| -> f64 {
        let line = text.lines().find(|l| l.trim_start().starts_with(tag)).unwrap_or_default();
        let v = line.split_whitespace().nth(1).unwrap_or("0");
        let (num, unit) = v.split_at(v.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(v.len()));
        let num: f64 = num.parse().unwrap_or(f64::NAN);
        match unit {
            "us" => num / 1000.0,
            "ms" => num,
            "s" => num * 1000.0,
            "m" => num * 60_000.0,
            _ => f64::NAN,
        }
    };
    let rps = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(f64::NAN);
    let non_2xx: u64 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Non-2xx or 3xx responses:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    // "Socket errors: connect 0, read 0, write 0, timeout 12"
    let socket_errors: u64 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Socket errors:"))
        .map(|v| v.split(',').filter_map(|p| p.split_whitespace().nth(1)?.parse::<u64>().ok()).sum())
        .unwrap_or(0);
    let bad = non_2xx + socket_errors;
    (rps, ms("50%"), ms("99%"), bad)
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    if Command::new("wrk").arg("--version").output().is_err() {
        println!("store bench: skipped, wrk is not installed (Debian: apt-get install wrk)");
        return;
    }
    let n: usize = std::env::var("NTA_BENCH_ANOMALIES").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let secs: u64 = std::env::var("NTA_BENCH_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/tmp/bench-store");
    let logs = dir.join(format!("logs-{n}"));
    std::fs::create_dir_all(&logs).unwrap();
    let store = logs.join("anomalies.jsonl");
    let seed = seed(&dir);
    let marker = logs.join(".complete");
    if !marker.is_file() {
        let t = Instant::now();
        write_store(&store, &seed, n);
        std::fs::write(&marker, b"").unwrap();
        println!("wrote {n} anomalies in {:.1} s", t.elapsed().as_secs_f64());
    }
    let bytes = std::fs::metadata(&store).unwrap().len();
    println!("store: {n} anomalies, {:.2} GB ({} seed anomalies repeated)", bytes as f64 / 1e9, seed.len());
    if std::env::var_os("NTA_BENCH_KEEP_INDEX").is_none() {
        for entry in std::fs::read_dir(&logs).unwrap().flatten() {
            let name = entry.file_name();
            if name.to_string_lossy().starts_with("anomalies.jsonl.index") {
                std::fs::remove_file(entry.path()).unwrap();
            }
        }
    }

    let (server, port, first, start_s) = start(&dir, &logs);
    let pid = server.0.id();
    let total = serde_json::from_slice::<serde_json::Value>(&first).unwrap()["total"].as_u64().unwrap();
    assert!(total as usize >= n, "{total} < {n}");
    println!("first answer after {start_s:.2} s (total {total}), RSS {} MB", rss_kb(pid, "VmRSS:") / 1024);

    // Cold answers: each question asked once.
    // An attacker of copy 300 (10.1.44.x), and the last octet every copy's attacker keeps.
    let octet = seed
        .iter()
        .find_map(|a| match a.attackers.first()?.ip {
            std::net::IpAddr::V4(v4) => Some(v4.octets()[3]),
            std::net::IpAddr::V6(_) => None,
        })
        .unwrap_or(1);
    let ip = format!("10.1.44.{octet}");
    let kind = seed.iter().find(|a| nta_analysis::names_attack(a.kind)).map(|a| a.kind.name()).unwrap_or("unknown");
    let mid = seed[0].window_start_ns + (n / seed.len() / 2) as i64 * 3_600_000_000_000;
    let questions = [
        "/api/anomalies?limit=100".to_owned(),
        "/api/anomalies?severity=high&limit=50".to_owned(),
        format!("/api/anomalies?kind={kind}&order=time&limit=50"),
        format!("/api/anomalies?ip={ip}&limit=50"),
        format!("/api/anomalies?since={mid}&until={}&limit=50", mid + 86_400_000_000_000),
        "/api/anomalies?capture=capture-042&detector=both&limit=50".to_owned(),
        "/api/anomalies/summary?limit=20".to_owned(),
        "/api/anomalies/summary?severity=critical&limit=20".to_owned(),
        format!("/api/anomalies/summary?since={mid}&until={}", mid + 86_400_000_000_000),
    ];
    println!("\n{:<72} {:>9}", "cold (first time asked)", "ms");
    for q in &questions {
        let t = Instant::now();
        let (status, _) = get(port, q).unwrap();
        assert_eq!(status, 200, "{q}");
        println!("{q:<72} {:>9.1}", t.elapsed().as_secs_f64() * 1e3);
    }

    println!("\n{:<72} {:>9} {:>8} {:>8}", format!("wrk -t2 -c32 -d{secs}s"), "req/s", "p50 ms", "p99 ms");
    let mut worst: f64 = 0.0;
    for q in &questions {
        let (rps, p50, p99, bad) = wrk(port, q, secs, None);
        assert_eq!(bad, 0, "{q}: non-2xx answers");
        worst = worst.max(p99);
        println!("{q:<72} {rps:>9.0} {p50:>8.2} {p99:>8.2}");
    }
    // Many different questions: an address of 4,096 each request.
    let script = dir.join("ips.lua");
    std::fs::write(
        &script,
        format!(
            "math.randomseed(7)\nrequest = function()\n  local c = math.random(0, 4095)\n  \
         return wrk.format(nil, string.format('/api/anomalies?ip=10.%d.%d.{octet}&limit=50', math.floor(c / 256), c % 256))\nend\n"
        ),
    )
    .unwrap();
    let (rps, p50, p99, bad) = wrk(port, "/", secs, Some(&script));
    assert_eq!(bad, 0);
    worst = worst.max(p99);
    println!("{:<72} {rps:>9.0} {p50:>8.2} {p99:>8.2}", "/api/anomalies?ip=<one of 4,096>&limit=50");
    println!(
        "\nworst p99 {worst:.2} ms; RSS now {} MB, peak {} MB",
        rss_kb(pid, "VmRSS:") / 1024,
        rss_kb(pid, "VmHWM:") / 1024
    );

    // Another process appends: the server follows.
    let mut more = seed[0].clone();
    // A new id each run (the store keeps it: its length is the bench's, plus one a run).
    more.id = format!(
        "{:016x}",
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1 << 63
    );
    more.window_start_ns += 10 * 365 * 86_400_000_000_000;
    more.window_end_ns += 10 * 365 * 86_400_000_000_000;
    let appended = Instant::now();
    nta_store::AnomalyStore::new(&store).append(&[more]).unwrap();
    let (_, body) = get(port, "/api/anomalies?limit=1").unwrap();
    let after = serde_json::from_slice::<serde_json::Value>(&body).unwrap()["total"].as_u64().unwrap();
    assert_eq!(after, total + 1);
    println!(
        "an append by another process seen {:.1} ms later (append included)",
        appended.elapsed().as_secs_f64() * 1e3
    );
    drop(server);
    let (again, _, _, restart_s) = start(&dir, &logs);
    println!(
        "restarted with its index: first answer after {restart_s:.2} s, RSS {} MB",
        rss_kb(again.0.id(), "VmRSS:") / 1024
    );
}

/// The server over `logs` on a free port, once it answers a listing: the server, its port,
/// that first answer and how long it took.
fn start(dir: &Path, logs: &Path) -> (Server, u16, Vec<u8>, f64) {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let began = Instant::now();
    let server = Server(
        Command::new(BIN)
            .args(["--bind", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(dir.join("data"))
            .arg("--logs-dir")
            .arg(logs)
            .env_remove("NTA_API_TOKEN")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let first = loop {
        if let Some((200, body)) = get(port, "/api/anomalies?limit=1") {
            break body;
        }
        assert!(began.elapsed() < Duration::from_secs(600), "no answer in 10 minutes");
        std::thread::sleep(Duration::from_millis(20));
    };
    (server, port, first, began.elapsed().as_secs_f64())
}
