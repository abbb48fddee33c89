//! The fleet's throughput on this machine (docs/DEPLOY.md, "Scale"): records per second end
//! to end (sensor → NATS JetStream → ingester → ClickHouse), how many sensors at one record
//! per second one ingester keeps up with, and the memory of each process.
//!
//! `cargo bench -p nta-cli --bench fleet` (needs nats-server and clickhouse-server; says so
//! and stops without them). `NTA_BENCH_NODES=3` runs the bus as a 3-node cluster with
//! 3-replica streams.

use nta_fleet::testing::{ClickHouseServer, NatsCluster, peak_rss};
use nta_fleet::{ClickHouse, PublishConfig, Publisher, RecordKind};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_nta-cli");

fn run(args: &[&str]) -> std::process::Output {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn count(ch: &ClickHouse, kind: RecordKind) -> u64 {
    let sql = format!("SELECT count() FROM {} FINAL FORMAT TabSeparated", ch.table(kind));
    ch.query(&sql).ok().and_then(|t| t.trim().parse().ok()).unwrap_or(0)
}

fn wait_count(ch: &ClickHouse, kind: RecordKind, n: u64) -> Instant {
    let began = Instant::now();
    while count(ch, kind) < n {
        assert!(began.elapsed() < Duration::from_secs(600), "records did not land");
        std::thread::sleep(Duration::from_millis(50));
    }
    Instant::now()
}

/// An ingester under `/usr/bin/time` (for its peak memory), stopped by `stop_ingester`.
fn ingester(urls: &str, ch: &str, log: &Path) -> Child {
    Command::new("/usr/bin/time")
        .args(["-f", "peak_rss_kb %M", BIN, "ingest", "--nats", urls, "--clickhouse", ch])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).map(Stdio::from).unwrap())
        .spawn()
        .unwrap()
}

fn peak_kb(log: &Path) -> u64 {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines().find_map(|l| l.strip_prefix("peak_rss_kb ")?.trim().parse().ok()).unwrap_or(0)
}

fn stop(mut c: Child) {
    // `time` passes SIGTERM on to nothing: signal the ingester itself (time's child).
    let _ = Command::new("pkill").args(["-TERM", "-P", &c.id().to_string()]).status();
    let _ = c.wait();
}

fn main() {
    let nodes: usize = std::env::var("NTA_BENCH_NODES").ok().and_then(|n| n.parse().ok()).unwrap_or(1);
    let (Some(nats), Some(clickhouse)) = (NatsCluster::start(nodes), ClickHouseServer::start()) else {
        eprintln!(
            "fleet bench: needs nats-server and clickhouse-server (apt-get install nats-server clickhouse-server)"
        );
        return;
    };
    let dir = std::env::temp_dir().join(format!("nta-bench-fleet-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let urls = nats.urls();
    run(&["fleet", "init", "--nats", &urls, "--replicas", &nodes.to_string()]);
    let ch = ClickHouse::new(&clickhouse.url(), "nta").unwrap();

    // 1. End to end: one sensor's flow records (a spoofed SYN flood: ~100,000 flows) through
    //    one ingester.
    let cap: PathBuf = dir.join("flood.pcapng");
    let c = cap.to_str().unwrap();
    run(&["synth", "--out", c, "--duration", "10m", "--seed", "11", "--attacks", "portscan,synflood"]);
    let flows_out = dir.join("flows.jsonl");
    let f = flows_out.to_str().unwrap();
    let alone = Instant::now();
    run(&["flows", "--pcap", c, "--out", f]);
    let alone_s = alone.elapsed().as_secs_f64();
    let n = std::fs::read_to_string(&flows_out).unwrap().lines().count() as u64;
    let ing_log = dir.join("ingest1.txt");
    let ing = ingester(&urls, &clickhouse.url(), &ing_log);
    let sensor_log = dir.join("sensor.txt");
    let t0 = Instant::now();
    let sensor = Command::new("/usr/bin/time")
        .args(["-f", "peak_rss_kb %M", BIN, "flows", "--pcap", c, "--out", f, "--publish", &urls, "--sensor", "bench"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&sensor_log).map(Stdio::from).unwrap())
        .status()
        .unwrap();
    assert!(sensor.success(), "{}", std::fs::read_to_string(&sensor_log).unwrap_or_default());
    let t1 = Instant::now();
    let t2 = wait_count(&ch, RecordKind::Flows, n);
    stop(ing);
    let (publish_s, e2e_s) = ((t1 - t0).as_secs_f64(), (t2 - t0).as_secs_f64());
    println!("nodes {nodes}, replicas {nodes}");
    println!("flows alone (no bus): {n} records in {alone_s:.2} s");
    println!(
        "sensor publishing: {n} records in {publish_s:.2} s = {:.0} records/s (acknowledged), peak RSS {:.0} MB",
        n as f64 / publish_s,
        peak_kb(&sensor_log) as f64 / 1024.0
    );
    println!(
        "end to end (sensor → NATS → ingest → ClickHouse): {:.2} s = {:.0} records/s; ingester peak RSS {:.0} MB",
        e2e_s,
        n as f64 / e2e_s,
        peak_kb(&ing_log) as f64 / 1024.0
    );

    // 2. One ingester's capacity: a backlog of 1,000 sensors × 60 window records (a minute of
    //    1 s windows each), drained.
    let metrics = dir.join("m.jsonl");
    run(&[
        "extract",
        "--pcap",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/test_net_traffic.pcapng"),
        "--window",
        "1s",
        "--out",
        metrics.to_str().unwrap(),
    ]);
    let template: Vec<nta_metrics::WindowRecord> =
        std::fs::read_to_string(&metrics).unwrap().lines().take(60).map(|l| serde_json::from_str(l).unwrap()).collect();
    let sensors = 1000;
    let began = Instant::now();
    for i in 0..sensors {
        let cfg = PublishConfig::new(urls.parse().unwrap(), format!("s{i:04}").parse().unwrap());
        let p = Publisher::start(cfg).unwrap();
        for r in &template {
            p.window(r).unwrap();
        }
        assert_eq!(p.finish().lost(), 0);
    }
    let filled = began.elapsed().as_secs_f64();
    let backlog = (sensors * template.len()) as u64;
    let log2 = dir.join("ingest2.txt");
    let t0 = Instant::now();
    let ing = ingester(&urls, &clickhouse.url(), &log2);
    let t1 = wait_count(&ch, RecordKind::Metrics, backlog);
    stop(ing);
    let rate = backlog as f64 / (t1 - t0).as_secs_f64();
    println!(
        "backlog of {sensors} sensors × {} windows ({backlog} records) published in {filled:.1} s; one ingester drained it at {rate:.0} records/s (peak RSS {:.0} MB): it keeps up with ~{:.0} sensors at 1 window/s",
        template.len(),
        peak_kb(&log2) as f64 / 1024.0,
        rate
    );
    let nats_mb: Vec<String> = nats
        .nodes
        .iter()
        .filter_map(|n| n.pid().and_then(peak_rss))
        .map(|b| format!("{:.0}", b as f64 / 1e6))
        .collect();
    println!(
        "peak RSS: nats-server {} MB, clickhouse-server {:.0} MB",
        nats_mb.join("/"),
        clickhouse.pid().and_then(peak_rss).unwrap_or(0) as f64 / 1e6
    );
    std::fs::remove_dir_all(&dir).ok();
}
