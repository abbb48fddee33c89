//! The fleet end to end on real servers on loopback (docs/DEPLOY.md): sensors publish to a
//! NATS JetStream cluster, ingesters load ClickHouse, and what lands equals what each sensor
//! finds alone — through the loss of the stream's leader, a ClickHouse outage and a bus
//! outage. Skipped, saying why, where nats-server or clickhouse-server is not installed
//! (`.ci/run` installs both).

mod common;

use common::{cli, ok, tmp};
use nta_fleet::testing::{ClickHouseServer, NatsCluster};
use nta_fleet::{ClickHouse, ClickHouseStore, NatsUrls, RecordKind};
use nta_store::{FileStore, Filter, Layout, Order, RecordStore};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A directory of this test run.
fn dir(name: &str) -> PathBuf {
    let d = tmp(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn fixture() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/test_net_traffic.pcapng"))
}

/// What every test shares: a model learnt from the fixture, and two more captures.
struct Inputs {
    data: PathBuf,
    captures: Vec<PathBuf>,
}

fn inputs() -> &'static Inputs {
    static I: OnceLock<Inputs> = OnceLock::new();
    I.get_or_init(|| {
        let data = dir("fleet-data");
        let logs = dir("fleet-logs");
        let out = cli()
            .args(["analyze", fixture().to_str().unwrap(), "--data-dir", data.to_str().unwrap()])
            .args(["--logs-dir", logs.to_str().unwrap()])
            .output()
            .unwrap();
        ok(&out);
        let mut captures = vec![fixture()];
        for (seed, attacks) in [(11, "portscan,synflood"), (12, "dns_tunnel,udpflood")] {
            let cap = tmp(&format!("fleet-{seed}.pcapng"));
            let out = cli()
                .args(["synth", "--out", cap.to_str().unwrap(), "--duration", "10m", "--seed", &seed.to_string()])
                .args(["--attacks", attacks])
                .output()
                .unwrap();
            ok(&out);
            captures.push(cap);
        }
        Inputs { data, captures }
    })
}

/// What one capture gives on one machine, without a bus: its windows, anomalies and flows.
struct Alone {
    windows: usize,
    anomalies: Vec<serde_json::Value>,
    flows: usize,
}

fn alone(capture: &Path, tag: &str) -> Alone {
    let i = inputs();
    let logs = dir(&format!("alone-{tag}"));
    let c = capture.to_str().unwrap();
    let out = cli()
        .args(["detect", "--pcap", c, "--model", "test_net_traffic", "--data-dir", i.data.to_str().unwrap()])
        .args(["--logs-dir", logs.to_str().unwrap()])
        .output()
        .unwrap();
    ok(&out);
    let metrics = logs.join("metrics.jsonl");
    ok(&cli().args(["extract", "--pcap", c, "--window", "10s", "--out", metrics.to_str().unwrap()]).output().unwrap());
    let flows = logs.join("flows.jsonl");
    ok(&cli().args(["flows", "--pcap", c, "--out", flows.to_str().unwrap()]).output().unwrap());
    let lines = |p: &Path| std::fs::read_to_string(p).unwrap().lines().count();
    let text = std::fs::read_to_string(logs.join("anomalies.jsonl")).unwrap_or_default();
    Alone { windows: lines(&metrics), anomalies: comparable(text.lines()), flows: lines(&flows) }
}

/// Anomalies without what names the run (`id`, `sensor`), in time and detector order.
fn comparable<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<serde_json::Value> {
    let mut v: Vec<serde_json::Value> = lines
        .map(|l| {
            let mut a: serde_json::Value = serde_json::from_str(l).unwrap();
            let o = a.as_object_mut().unwrap();
            o.remove("id");
            o.remove("sensor");
            a
        })
        .collect();
    v.sort_by_key(|a| (a["window_start_ns"].as_i64(), a["detector"].as_str().map(str::to_owned)));
    v
}

/// A sensor's run: `detect` then `flows`, both publishing. Returns the two processes.
fn sensor(urls: &str, name: &str, capture: &Path, wait: &str) -> (Child, PathBuf) {
    let i = inputs();
    let logs = dir(&format!("sensor-{name}"));
    let c = capture.to_str().unwrap();
    let script = format!(
        "set -e; '{bin}' detect --pcap '{c}' --model test_net_traffic --data-dir '{data}' --logs-dir '{logs}' \
         --publish '{urls}' --sensor {name} --publish-wait {wait} >/dev/null; \
         '{bin}' flows --pcap '{c}' --out '{logs}/flows.jsonl' --publish '{urls}' --sensor {name} --publish-wait {wait}",
        bin = env!("CARGO_BIN_EXE_nta-cli"),
        data = i.data.display(),
        logs = logs.display(),
    );
    let child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(logs.join("stderr.txt")).map(Stdio::from).unwrap())
        .spawn()
        .unwrap();
    (child, logs)
}

fn finished(mut child: Child, logs: &Path) -> String {
    let status = child.wait().unwrap();
    let err = std::fs::read_to_string(logs.join("stderr.txt")).unwrap_or_default();
    assert!(status.success(), "sensor failed: {err}");
    err
}

fn ingester(urls: &str, ch: &str, tag: &str) -> (Child, PathBuf) {
    let log = tmp(&format!("ingest-{tag}.txt"));
    let child = Command::new(env!("CARGO_BIN_EXE_nta-cli"))
        .args(["ingest", "--nats", urls, "--clickhouse", ch, "--batch", "200"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).map(Stdio::from).unwrap())
        .spawn()
        .unwrap();
    (child, log)
}

/// Stops an ingester as an operator would (SIGTERM) and returns what it said.
fn stop_ingester((mut child, log): (Child, PathBuf)) -> String {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let status = child.wait().unwrap();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(status.success(), "ingester: {text}");
    text
}

fn fleet_init(urls: &str, replicas: &str) {
    let out = cli().args(["fleet", "init", "--nats", urls, "--replicas", replicas]).output().unwrap();
    ok(&out);
}

/// Rows of `kind` per sensor as readers see them (`FINAL`), and distinct ids.
fn landed(ch: &ClickHouse, kind: RecordKind, sensor: &str) -> (usize, usize) {
    let sql = format!(
        "SELECT count(), uniqExact(id) FROM {} FINAL WHERE sensor = '{sensor}' FORMAT TabSeparated",
        ch.table(kind)
    );
    let text = ch.query(&sql).unwrap_or_default();
    let mut it = text.split_whitespace().map(|n| n.parse().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}

/// Waits until every sensor's records have landed (or a minute has passed).
fn wait_landed(ch: &ClickHouse, expected: &[(&str, &Alone)]) {
    let began = Instant::now();
    let done = || {
        expected.iter().all(|(s, a)| {
            landed(ch, RecordKind::Metrics, s).0 >= a.windows
                && landed(ch, RecordKind::Anomalies, s).0 >= a.anomalies.len()
                && landed(ch, RecordKind::Flows, s).0 >= a.flows
        })
    };
    while !done() && began.elapsed() < Duration::from_secs(90) {
        std::thread::sleep(Duration::from_millis(500));
    }
    // A little longer: a duplicate would show now.
    std::thread::sleep(Duration::from_secs(2));
}

/// Every window, anomaly and flow of each sensor is in ClickHouse once, and the anomalies are
/// those the capture gives alone; the store answers as the sensor's own files do.
fn assert_landed_once(ch: &ClickHouse, expected: &[(&str, &Alone)]) {
    let store = ClickHouseStore::open(ch.clone()).unwrap();
    for (s, a) in expected {
        assert_eq!(landed(ch, RecordKind::Metrics, s), (a.windows, a.windows), "windows of {s}");
        assert_eq!(landed(ch, RecordKind::Anomalies, s), (a.anomalies.len(), a.anomalies.len()), "anomalies of {s}");
        assert_eq!(landed(ch, RecordKind::Flows, s), (a.flows, a.flows), "flows of {s}");
        let filter = Filter { sensor: Some((*s).to_owned()), order: Order::Time, ..Filter::default() };
        let page = store.anomalies(&filter, 0, 10_000).unwrap();
        let lines: Vec<String> = page.items.iter().map(|x| serde_json::to_string(x).unwrap()).collect();
        assert_eq!(comparable(lines.iter().map(String::as_str)), a.anomalies, "anomalies of {s} differ from alone");
        // The API's store over ClickHouse answers as the sensor's own anomaly file.
        let files = FileStore::new(Layout::new(dir("unused-data"), dir(&format!("sensor-{s}"))));
        for order in [Order::Time, Order::Severity] {
            let f = Filter { order, ..filter.clone() };
            // As JSON: a NaN (a mean over nothing) equals itself there.
            same(&store.anomalies(&f, 0, 10_000).unwrap(), &RecordStore::anomalies(&files, &f, 0, 10_000).unwrap());
            same(&*store.summary(&f, 0, 100).unwrap(), &*RecordStore::summary(&files, &f, 0, 100).unwrap());
        }
    }
    let counts = store.counts().unwrap();
    let mut sensors: Vec<&str> = expected.iter().map(|(s, _)| *s).collect();
    sensors.sort_unstable();
    assert_eq!(counts.sensors, sensors);
}

/// Two answers are the same JSON (the first difference said, not the whole answer).
fn same<T: serde::Serialize>(a: &T, b: &T) {
    let (a, b) = (serde_json::to_value(a).unwrap(), serde_json::to_value(b).unwrap());
    if a != b {
        let (a, b) = (a.to_string(), b.to_string());
        let at = a.bytes().zip(b.bytes()).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
        let from = at.saturating_sub(200);
        panic!(
            "answers differ at byte {at}:\n{}\n{}",
            &a[from..(at + 200).min(a.len())],
            &b[from..(at + 200).min(b.len())]
        );
    }
}

fn leader_of_metrics(urls: &str) -> String {
    let urls: NatsUrls = urls.parse().unwrap();
    let began = Instant::now();
    loop {
        let states = nta_fleet::stream_states(&urls);
        if let Some(l) = states.ok().and_then(|s| s.into_iter().find(|s| s.name == "NTA_METRICS")?.leader) {
            return l;
        }
        assert!(began.elapsed() < Duration::from_secs(30), "no leader of NTA_METRICS");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn three_sensors_through_a_three_node_cluster_land_once_though_the_leader_dies() {
    let (Some(mut nats), Some(clickhouse)) = (NatsCluster::start(3), ClickHouseServer::start()) else { return };
    let urls = nats.urls();
    fleet_init(&urls, "3");
    let caps = &inputs().captures;
    let alone: Vec<Alone> = caps.iter().enumerate().map(|(i, c)| alone(c, &format!("3n-{i}"))).collect();
    let ingesters = [ingester(&urls, &clickhouse.url(), "3n-a"), ingester(&urls, &clickhouse.url(), "3n-b")];
    // The first sensor publishes with every node up; the leader of the metrics stream is
    // killed (-9) while the second and third publish.
    let (c1, l1) = sensor(&urls, "edge-1", &caps[0], "2m");
    let leader = leader_of_metrics(&urls);
    let (c2, l2) = sensor(&urls, "edge-2", &caps[1], "2m");
    std::thread::sleep(Duration::from_millis(300));
    nats.kill(&leader);
    let (c3, l3) = sensor(&urls, "edge-3", &caps[2], "2m");
    for (c, l) in [(c1, l1), (c2, l2), (c3, l3)] {
        let said = finished(c, &l);
        assert!(!said.contains("lost"), "{said}");
    }
    let ch = ClickHouse::new(&clickhouse.url(), "nta").unwrap();
    let expected = [("edge-1", &alone[0]), ("edge-2", &alone[1]), ("edge-3", &alone[2])];
    wait_landed(&ch, &expected);
    let said: Vec<String> = ingesters.into_iter().map(stop_ingester).collect();
    assert_landed_once(&ch, &expected);
    assert!(alone.iter().all(|a| a.windows > 0 && a.flows > 0) && alone[0].anomalies.len() > 10);
    eprintln!("leader {leader} killed; ingesters said:\n{}", said.join("\n"));
}

#[test]
fn clickhouse_down_for_30_seconds_during_ingest_loses_and_duplicates_nothing() {
    let (Some(nats), Some(mut clickhouse)) = (NatsCluster::start(1), ClickHouseServer::start()) else { return };
    let urls = nats.urls();
    fleet_init(&urls, "1");
    let caps = &inputs().captures;
    let expected_alone = alone(&caps[1], "ch");
    let ing = ingester(&urls, &clickhouse.url(), "ch");
    std::thread::sleep(Duration::from_secs(1));
    clickhouse.kill();
    let down = Instant::now();
    let (c, l) = sensor(&urls, "edge-ch", &caps[1], "2m");
    finished(c, &l);
    std::thread::sleep(Duration::from_secs(30).saturating_sub(down.elapsed()));
    assert!(clickhouse.restart(), "ClickHouse did not come back");
    let ch = ClickHouse::new(&clickhouse.url(), "nta").unwrap();
    let expected = [("edge-ch", &expected_alone)];
    wait_landed(&ch, &expected);
    let said = stop_ingester(ing);
    assert_landed_once(&ch, &expected);
    assert!(said.contains("inserting") && said.contains("working again"), "the ingester retried: {said}");
}

#[test]
fn the_bus_down_for_30_seconds_while_a_sensor_publishes_loses_nothing() {
    let (Some(mut nats), Some(clickhouse)) = (NatsCluster::start(1), ClickHouseServer::start()) else { return };
    let urls = nats.urls();
    fleet_init(&urls, "1");
    let caps = &inputs().captures;
    let expected_alone = alone(&caps[2], "bus");
    nats.kill_all();
    let down = Instant::now();
    let (mut c, l) = sensor(&urls, "edge-bus", &caps[2], "3m");
    std::thread::sleep(Duration::from_secs(30));
    assert!(c.try_wait().unwrap().is_none(), "the sensor waits for the bus, records buffered");
    assert!(nats.restart(), "NATS did not come back:\n{}", nats.logs());
    let said = finished(c, &l);
    assert!(down.elapsed() >= Duration::from_secs(30));
    assert!(!said.contains("lost") && said.contains("records acknowledged"), "{said}");
    let ing = ingester(&urls, &clickhouse.url(), "bus");
    let ch = ClickHouse::new(&clickhouse.url(), "nta").unwrap();
    let expected = [("edge-bus", &expected_alone)];
    wait_landed(&ch, &expected);
    stop_ingester(ing);
    assert_landed_once(&ch, &expected);
}

/// No bus at all, a small buffer: the sensor does its work, waits `--publish-wait`, and then
/// says how many records were lost (dropped when the buffer was full, never acknowledged) and
/// exits 1. Needs no server.
#[test]
fn a_full_buffer_without_a_bus_counts_and_reports_the_loss() {
    let i = inputs();
    let closed = nta_fleet::testing::free_port();
    let logs = dir("lossy");
    let out = cli()
        .args(["detect", "--pcap", fixture().to_str().unwrap(), "--model", "test_net_traffic"])
        .args(["--data-dir", i.data.to_str().unwrap(), "--logs-dir", logs.to_str().unwrap()])
        .args(["--publish", &format!("nats://127.0.0.1:{closed}"), "--sensor", "edge-lossy"])
        .args(["--publish-buffer", "40KB", "--publish-wait", "2s"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let line = err.lines().find(|l| l.contains("records lost")).unwrap_or_else(|| panic!("{err}"));
    let numbers: Vec<u64> = line.split(|c: char| !c.is_ascii_digit()).filter_map(|t| t.parse().ok()).collect();
    // "error: N records lost: D dropped (…), U never acknowledged"
    let (lost, dropped, unsent) = (numbers[0], numbers[1], numbers[2]);
    assert!(dropped > 0 && unsent > 0 && lost == dropped + unsent, "{line}");
    // Every record was accounted for: 180 windows and the anomalies, all lost.
    let anomalies = std::fs::read_to_string(logs.join("anomalies.jsonl")).unwrap().lines().count() as u64;
    assert_eq!(lost, 180 + anomalies, "{line}");
    // The local store has them all the same.
    assert!(anomalies > 10);
}
