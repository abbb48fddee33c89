//! `nta-api --clickhouse`: the API over a fleet's ClickHouse answers, for a sensor, exactly
//! as the API over that sensor's files — same JSON, same pages, same orders — and a store that
//! is down is a 503 with a JSON error. Needs clickhouse-server (skipped, saying why, without).

use super::{call, fixture, process, services_over};
use crate::{JobLimits, Limits, create_app};
use actix_web::test;
use nta_fleet::testing::ClickHouseServer;
use nta_fleet::{ClickHouse, ClickHouseStore, RecordKind, encode_row};
use std::path::Path;
use std::sync::Arc;

/// Every line of `path` with `"sensor": sensor` (and, when `id_suffix`, a new id).
fn stamped(path: &Path, sensor: &str, new_ids: bool) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            let o = v.as_object_mut().unwrap();
            o.insert("sensor".into(), sensor.into());
            if new_ids && let Some(id) = o.get("id").and_then(|i| i.as_str()) {
                let id = nta_analysis::stable_id(&[id.as_bytes(), sensor.as_bytes()]);
                o.insert("id".into(), id.into());
            }
            v.to_string()
        })
        .collect()
}

fn insert(ch: &ClickHouse, kind: RecordKind, sensor: &str, lines: &[String]) {
    let mut rows = Vec::new();
    for l in lines {
        encode_row(kind, sensor, l.as_bytes(), &mut rows).unwrap();
    }
    ch.insert(kind, &rows).unwrap();
}

fn sorted_items(mut v: serde_json::Value) -> serde_json::Value {
    let items = v["items"].as_array_mut().unwrap();
    items.sort_by_key(|f| {
        (f["first_ns"].as_i64(), f["community_id"].as_str().map(str::to_owned), f["src_port"].as_u64())
    });
    v
}

#[actix_web::test]
async fn the_api_over_clickhouse_answers_as_the_api_over_the_files() {
    let Some(mut server) = ClickHouseServer::start() else { return };
    let root = std::env::temp_dir().join(format!("nta-api-fleet-{}", std::process::id()));
    let (data, logs) = (root.join("data"), root.join("logs"));
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(&logs).unwrap();
    process(&fixture(), &data, &logs);
    // The sensor's own files, and the same records in ClickHouse beside a second sensor's.
    let ch = ClickHouse::new(&server.url(), "nta").unwrap();
    let store = Arc::new(ClickHouseStore::open(ch.clone()).unwrap());
    let files = [
        (RecordKind::Metrics, logs.join("metrics.jsonl")),
        (RecordKind::Anomalies, logs.join("anomalies.jsonl")),
        (RecordKind::Flows, logs.join("flows.jsonl")),
    ];
    for (kind, path) in &files {
        let one = stamped(path, "edge-1", false);
        insert(&ch, *kind, "edge-1", &one);
        insert(&ch, *kind, "edge-2", &stamped(path, "edge-2", true));
        std::fs::write(path, one.join("\n") + "\n").unwrap();
    }
    // Inserted twice (a redelivery): still once.
    insert(&ch, RecordKind::Anomalies, "edge-1", &stamped(&files[1].1, "edge-1", false));
    let files_app = test::init_service(create_app(services_over(
        data.clone(),
        logs.clone(),
        None,
        Limits::default(),
        JobLimits::default(),
    )))
    .await;
    let fleet = services_over(data, logs, None, Limits::default(), JobLimits::default()).with_records(store);
    let fleet_app = test::init_service(create_app(fleet)).await;

    let (_, all) = call(&files_app, test::TestRequest::get().uri("/api/anomalies?limit=1000&order=time")).await;
    let first = &all["items"][0];
    let some_id = all["items"][5]["id"].as_str().unwrap().to_owned();
    let port_scan = all["items"].as_array().unwrap().iter().find(|a| a["kind"] == "port_scan").unwrap();
    let attacker = port_scan["attackers"][0]["ip"].as_str().unwrap().to_owned();
    let since = first["window_end"].as_str().unwrap().to_owned();
    let until = all["items"][20]["window_start"].as_str().unwrap().to_owned();
    let summary_id = port_scan["id"].as_str().unwrap().to_owned();
    let questions = [
        "/api/anomalies?sensor=edge-1&limit=1000".to_owned(),
        "/api/anomalies?sensor=edge-1&limit=1000&order=time".to_owned(),
        "/api/anomalies?sensor=edge-1&limit=7&offset=3".to_owned(),
        "/api/anomalies?sensor=edge-1&kind=port_scan".to_owned(),
        "/api/anomalies?sensor=edge-1&severity=high&detector=both".to_owned(),
        format!("/api/anomalies?sensor=edge-1&ip={attacker}"),
        format!("/api/anomalies?sensor=edge-1&since={since}&until={until}&order=time"),
        "/api/anomalies?sensor=edge-1&min_score=0.55&capture=test_net".to_owned(),
        "/api/anomalies/summary?sensor=edge-1".to_owned(),
        "/api/anomalies/summary?sensor=edge-1&order=time&limit=3&offset=2".to_owned(),
        "/api/anomalies/summary?sensor=edge-1&kind=syn_flood".to_owned(),
        format!("/api/anomalies/{some_id}"),
        "/api/metrics?sensor=edge-1&limit=10000".to_owned(),
        format!("/api/metrics?sensor=edge-1&since={since}&until={until}"),
        "/api/metrics?sensor=edge-1&limit=5&offset=100".to_owned(),
    ];
    for q in &questions {
        let (s1, a) = call(&files_app, test::TestRequest::get().uri(q)).await;
        let (s2, b) = call(&fleet_app, test::TestRequest::get().uri(q)).await;
        assert_eq!((s1, s2), (200, 200), "{q}: {b}");
        assert!(
            a == b,
            "{q}: the fleet's answer differs:\n{}\n{}",
            &a.to_string()[..300.min(a.to_string().len())],
            &b.to_string()[..300.min(b.to_string().len())]
        );
    }
    assert!(all["total"].as_u64().unwrap() > 20);
    // Series: the same steps and values (sums in another order: equal to 1e-9).
    for q in [
        "/api/series?sensor=edge-1&metric=packets,unique_src_ips,packets_per_s,dns_qname_len_mean&step=1m",
        "/api/series?sensor=edge-1&metric=tcp_syn",
        format!("/api/series?sensor=edge-1&metric=bytes&since={since}&until={until}").leak(),
    ] {
        let (_, a) = call(&files_app, test::TestRequest::get().uri(q)).await;
        let (s, b) = call(&fleet_app, test::TestRequest::get().uri(q)).await;
        assert_eq!(s, 200, "{q}: {b}");
        for k in ["since_ns", "until_ns", "step_ns", "window_ns", "t_ns", "windows"] {
            assert_eq!(a[k], b[k], "{q}: {k}");
        }
        for (x, y) in a["series"].as_array().unwrap().iter().zip(b["series"].as_array().unwrap()) {
            assert_eq!((&x["metric"], &x["aggregate"]), (&y["metric"], &y["aggregate"]), "{q}");
            for (u, v) in x["values"].as_array().unwrap().iter().zip(y["values"].as_array().unwrap()) {
                match (u.as_f64(), v.as_f64()) {
                    (Some(u), Some(v)) => assert!((u - v).abs() <= 1e-9 * u.abs().max(1.0), "{q}: {u} vs {v}"),
                    (u, v) => assert_eq!(u, v, "{q}"),
                }
            }
        }
    }
    // Flows: the same records (ClickHouse orders them by their last packet, the file by the
    // order they ended in).
    let mut compared = 0;
    for q in ["/api/flows?sensor=edge-1&limit=1000", "/api/flows?sensor=edge-1&port=22&limit=1000"]
        .into_iter()
        .map(str::to_owned)
        .chain([
            format!("/api/flows?anomaly={summary_id}&limit=1000"),
            format!("/api/flows?ip={attacker}&sensor=edge-1&limit=1000"),
        ])
    {
        let (_, a) = call(&files_app, test::TestRequest::get().uri(&q)).await;
        let (s, b) = call(&fleet_app, test::TestRequest::get().uri(&q)).await;
        assert_eq!(s, 200, "{q}: {b}");
        assert_eq!(a["total"], b["total"], "{q}");
        assert!(a["total"].as_u64().unwrap() > 0, "{q}");
        // A page of all of them holds the same records; a partial page may hold others
        // (another order).
        if a["total"].as_u64() == Some(a["items"].as_array().unwrap().len() as u64) {
            compared += 1;
            assert!(sorted_items(a) == sorted_items(b), "{q}: other flows");
        }
    }
    assert!(compared >= 2, "whole pages of flows compared");
    // Across the fleet: both sensors, each anomaly once.
    let (_, both) = call(&fleet_app, test::TestRequest::get().uri("/api/anomalies?limit=1")).await;
    assert_eq!(both["total"].as_u64(), all["total"].as_u64().map(|n| n * 2));
    let (_, status) = call(&fleet_app, test::TestRequest::get().uri("/api/status")).await;
    assert_eq!(status["records"]["backend"], "clickhouse");
    assert_eq!(status["records"]["sensors"], serde_json::json!(["edge-1", "edge-2"]));
    assert_eq!(status["anomalies"].as_u64(), both["total"].as_u64());
    let (_, file_status) = call(&files_app, test::TestRequest::get().uri("/api/status")).await;
    assert_eq!(file_status["records"]["backend"], "files");
    assert_eq!(status["metrics_windows"].as_u64(), file_status["metrics_windows"].as_u64().map(|n| n * 2));
    // A store that does not answer: 503 and a JSON error, not a hang or a 500.
    server.kill();
    let (s, e) = call(&fleet_app, test::TestRequest::get().uri("/api/anomalies?sensor=edge-1")).await;
    assert_eq!(s, 503, "{e}");
    assert_eq!(e["error"]["code"], "store_unavailable");
    std::fs::remove_dir_all(&root).ok();
}
