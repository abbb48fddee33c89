//! Training, detection, jobs (bounded, pruned, cancelled) and the capture control.

use super::*;
use crate::{JobLimits, Limits, create_app};
use actix_web::test;

#[actix_web::test]
async fn train_detect_and_jobs() {
    let st = own_state(Some("tok"));
    let app = test::init_service(create_app(st.clone())).await;
    let auth = ("authorization", "Bearer tok");
    // Train on the stored metrics.
    let (s, _) =
        call(&app, test::TestRequest::post().uri("/api/train").set_json(serde_json::json!({"name": "m2"}))).await;
    assert_eq!(s, 401, "no token");
    // Quick work answers directly: the job, done, with the model's metadata.
    let req = test::TestRequest::post()
        .uri("/api/train")
        .insert_header(auth)
        .set_json(serde_json::json!({"name": "m2", "seed": 3, "contamination": "0.1"}));
    let (s, j) = call(&app, req).await;
    assert_eq!((s, j["state"].as_str()), (200, Some("done")), "{j}");
    assert_eq!(j["result"]["rows"], 180);
    assert_eq!(j["result"]["name"], "m2");
    assert!(st.store.layout().data_dir().join("models/m2.json").is_file());
    // Detect with it.
    let req = test::TestRequest::post()
        .uri("/api/anomalies/detect")
        .insert_header(auth)
        .set_json(serde_json::json!({"model": "m2"}));
    let (s, j) = call(&app, req).await;
    assert_eq!((s, j["state"].as_str()), (200, Some("done")), "{j}");
    assert!(j["result"]["anomalies"].as_u64().unwrap() > 10);
    // A model of other features: the job fails, and the answer says why.
    let csv = st.store.layout().data_dir().join("other.csv");
    std::fs::write(&csv, (0..20).fold("a,b\n".to_owned(), |t, i| format!("{t}{i},{}\n", i % 3))).unwrap();
    let (names, x) = nta_ml::read_csv(&csv).unwrap();
    let source = nta_ml::TrainingSource::table(vec![]);
    let other = nta_ml::train("other", "", &x, names, &nta_ml::ForestParams::default(), source, 0, &Default::default())
        .unwrap();
    nta_store::save_model(st.store.layout(), &other).unwrap();
    let req = test::TestRequest::post()
        .uri("/api/anomalies/detect")
        .insert_header(auth)
        .set_json(serde_json::json!({"model": "other"}));
    let (s, e) = call(&app, req).await;
    assert_eq!((s, e["error"]["code"].as_str()), (422, Some("job_failed")), "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("feature mismatch"), "{e}");
    // Errors.
    for (body, status, code) in [
        (serde_json::json!({"model": "nope"}), 404, "unknown_model"),
        (serde_json::json!({"model": "m2", "upload_id": "zz"}), 400, "bad_request"),
        (serde_json::json!({"model": "m2", "upload_id": "0123456789abcdef"}), 404, "not_found"),
        (serde_json::json!({"modle": "m2"}), 400, "bad_json"),
    ] {
        let (s, b) = call(
            &app,
            test::TestRequest::post().uri("/api/anomalies/detect").insert_header(auth).set_json(body.clone()),
        )
        .await;
        assert_eq!((s, b["error"]["code"].as_str()), (status, Some(code)), "{body}");
    }
    let (s, b) = call(
        &app,
        test::TestRequest::post().uri("/api/train").insert_header(auth).set_json(serde_json::json!({"name": "../x"})),
    )
    .await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("bad_request")));
    let (s, b) = call(
        &app,
        test::TestRequest::post()
            .uri("/api/train")
            .insert_header(auth)
            .insert_header(("content-type", "application/json"))
            .set_payload("{not json"),
    )
    .await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("bad_json")));
    let (s, _) = call(&app, test::TestRequest::get().uri("/api/jobs/0000000000000000").insert_header(auth)).await;
    assert_eq!(s, 404);
    let (s, all) = call(&app, test::TestRequest::get().uri("/api/jobs").insert_header(auth)).await;
    assert_eq!((s, all.as_array().unwrap().len()), (200, 3));
}

#[actix_web::test]
async fn work_longer_than_the_wait_becomes_a_job() {
    let st = own_state_waiting(None, std::time::Duration::ZERO);
    let app = test::init_service(create_app(st.clone())).await;
    let req = test::TestRequest::post().uri("/api/train").set_json(serde_json::json!({"name": "later"}));
    let (s, b) = call(&app, req).await;
    assert_eq!(s, 202, "{b}");
    let id = b["job"].as_str().unwrap();
    assert_eq!(b["href"], format!("/api/jobs/{id}"));
    let j = wait_job(&app, id).await;
    assert_eq!((j["state"].as_str(), j["result"]["name"].as_str()), (Some("done"), Some("later")));
    let req = test::TestRequest::post().uri("/api/anomalies/detect").set_json(serde_json::json!({"model": "later"}));
    let (s, b) = call(&app, req).await;
    assert_eq!(s, 202, "{b}");
    let j = wait_job(&app, b["job"].as_str().unwrap()).await;
    assert_eq!(j["state"], "done", "{j}");
}

#[actix_web::test]
async fn control_start_state_stop() {
    let st = own_state(None);
    let app = test::init_service(create_app(st.clone())).await;
    std::fs::copy(fixture(), st.store.layout().data_dir().join("sample.pcapng")).unwrap();
    let (s, b) = call(
        &app,
        test::TestRequest::post().uri("/api/control/start").set_json(serde_json::json!({"path": "../../etc/passwd"})),
    )
    .await;
    assert!(s == 404 || s == 400, "{b}");
    let (s, b) = call(&app, test::TestRequest::post().uri("/api/control/start").set_json(serde_json::json!({}))).await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("bad_request")));
    let (s, b) = call(
        &app,
        test::TestRequest::post().uri("/api/control/start").set_json(serde_json::json!({"path": "sample.pcapng"})),
    )
    .await;
    assert_eq!(s, 202, "{b}");
    let (s, state) = call(&app, test::TestRequest::get().uri("/api/control/state")).await;
    assert_eq!(s, 200);
    assert!(state["mode"].as_str().unwrap().contains("sample.pcapng"));
    let j = wait_job(&app, b["job"].as_str().unwrap()).await;
    assert_eq!(j["state"], "done", "{j}");
    assert_eq!(j["result"]["windows"], 180);
    let size = std::fs::metadata(fixture()).unwrap().len();
    assert_eq!((j["bytes_done"].as_u64(), j["bytes_total"].as_u64()), (Some(size), Some(size)));
    let (s, stop) = call(&app, test::TestRequest::post().uri("/api/control/stop")).await;
    assert_eq!((s, stop["mode"].as_str()), (200, Some("idle")));
    // Cancelling a finished job changes nothing; an unknown one is 404.
    let (s, c) =
        call(&app, test::TestRequest::delete().uri(&format!("/api/jobs/{}", b["job"].as_str().unwrap()))).await;
    assert_eq!((s, c["state"].as_str()), (200, Some("done")));
    let (s, _) = call(&app, test::TestRequest::delete().uri("/api/jobs/ffffffffffffffff")).await;
    assert_eq!(s, 404);
}

#[core::prelude::v1::test]
fn cancelled_work_writes_nothing() {
    let st = own_state(None);
    let layout = st.store.layout();
    let stop = std::sync::atomic::AtomicBool::new(true);
    let records = nta_metrics::read_jsonl(layout.metrics_path()).unwrap().records;
    assert!(!records.is_empty());
    // Training sees the flag inside the forest and saves no model.
    let r = nta_store::train(layout, "cancelled", &records, &nta_ml::ForestParams::default(), &stop);
    assert!(matches!(r, Err(nta_store::Error::Cancelled)), "{r:?}");
    assert!(!layout.model_path("cancelled").unwrap().exists());
    // The whole analysis stops in extraction and leaves the stores as they were.
    let store = st.store.layout().logs_dir().join("anomalies.jsonl");
    let before = std::fs::read(&store).unwrap();
    let metrics = std::fs::read(st.store.layout().logs_dir().join("metrics.jsonl")).unwrap();
    let model = std::fs::read(st.store.layout().data_dir().join("models/test_net_traffic.json")).unwrap();
    let opts = nta_analysis::AnalyzeOptions { name: "test_net_traffic".into(), ..Default::default() };
    let r = nta_store::analyze_into(layout, &[fixture()], opts, &|_| {}, &stop);
    assert!(matches!(r, Err(nta_store::Error::Cancelled)), "{:?}", r.err());
    assert_eq!(std::fs::read(&store).unwrap(), before);
    assert_eq!(std::fs::read(st.store.layout().logs_dir().join("metrics.jsonl")).unwrap(), metrics);
    // A rewrite would carry a new created_at.
    assert_eq!(std::fs::read(st.store.layout().data_dir().join("models/test_net_traffic.json")).unwrap(), model);
}

/// The fixture with every frame inside VXLAN, as `name` in the data directory of `st`.
fn vxlan_fixture(st: &Services, name: &str) {
    let vxlan = nta_synth::Wrap::new(nta_synth::WrapKind::Vxlan);
    let mut reader = nta_capture::CaptureReader::open(fixture()).unwrap();
    let file = std::fs::File::create(st.store.layout().data_dir().join(name)).unwrap();
    let format = nta_capture::WriteFormat::Pcapng;
    let mut w = nta_capture::CaptureWriter::new(file, format, nta_capture::LinkType::ETHERNET, 65_535, "t").unwrap();
    let mut frame = Vec::new();
    while let Some(p) = reader.next_packet().unwrap() {
        vxlan.encapsulate(p.data, 0, &mut frame);
        w.write_packet(p.ts_ns, &frame, frame.len() as u32).unwrap();
    }
    w.into_inner().unwrap();
}

#[actix_web::test]
async fn the_servers_tunnel_layer_and_shards_are_what_extraction_reads() {
    use nta_parsing::TunnelLayer;
    let mut inner_records = Vec::new();
    for (layer, shards) in [(TunnelLayer::Inner, 1), (TunnelLayer::Inner, 4), (TunnelLayer::Outer, 2)] {
        let mut st = own_state(None);
        st.reading = actix_web::web::Data::new(nta_metrics::Reading { tunnels: layer, shards });
        vxlan_fixture(&st, "mirror.pcapng");
        let app = test::init_service(create_app(st.clone())).await;
        let start = serde_json::json!({"path": "mirror.pcapng"});
        let (s, b) = call(&app, test::TestRequest::post().uri("/api/control/start").set_json(start)).await;
        assert_eq!(s, 202, "{b}");
        let j = wait_job(&app, b["job"].as_str().unwrap()).await;
        assert_eq!((j["state"].as_str(), j["result"]["windows"].as_u64()), (Some("done"), Some(180)), "{j}");
        let (_, status) = call(&app, test::TestRequest::get().uri("/api/status")).await;
        assert_eq!(status["tunnels"], serde_json::to_value(layer).unwrap());
        assert_eq!(status["shards"], shards);
        let (_, m) = call(&app, test::TestRequest::get().uri("/api/metrics?limit=1000")).await;
        let items = m["items"].as_array().unwrap();
        let sum = |field: &str| items.iter().map(|r| r[field].as_u64().unwrap()).sum::<u64>();
        let vxlan: u64 = items.iter().filter_map(|r| r["tunnels"]["vxlan"].as_u64()).sum();
        assert_eq!(vxlan, sum("packets"), "{layer:?}: every packet came through VXLAN");
        if layer == TunnelLayer::Inner {
            // What the hosts said to each other: the fixture's TCP, its SYN flood.
            assert!(sum("tcp_packets") > 10_000 && sum("tcp_syn") > 1000, "{}", sum("tcp_packets"));
            // Compared without the capture's path (each state has its own directory).
            let mut records = items.clone();
            records.iter_mut().filter_map(|r| r.as_object_mut()).for_each(|r| drop(r.remove("capture")));
            inner_records.push(records);
        } else {
            // The tunnels themselves: IPv4 datagrams to port 4789.
            assert_eq!((sum("tcp_packets"), sum("udp_packets"), sum("ipv4_packets")), (0, vxlan, vxlan));
        }
    }
    // Four shards make the records of one.
    assert_eq!(inner_records.len(), 2);
    assert!(inner_records.first() == inner_records.last(), "the records of 1 and 4 shards differ");
}

#[actix_web::test]
async fn detect_extracts_an_upload_with_the_models_window() {
    let st = own_state(None);
    let app = test::init_service(create_app(st.clone())).await;
    let (ct, body) = multipart("x.pcapng", &std::fs::read(fixture()).unwrap());
    let req = test::TestRequest::post().uri("/api/upload").insert_header(("content-type", ct)).set_payload(body);
    let (s, up) = call(&app, req).await;
    assert_eq!(s, 201, "{up}");
    let id = up["id"].as_str().unwrap();
    let train = serde_json::json!({"name": "w30", "upload_id": id, "window": "30s"});
    let (s, j) = call(&app, test::TestRequest::post().uri("/api/train").set_json(train)).await;
    assert_eq!((s, j["result"]["rows"].as_u64()), (200, Some(60)), "{j}");
    // No window given: the model's 30 s, so 60 windows; a window given is used as is.
    let detect = serde_json::json!({"model": "w30", "upload_id": id});
    let (s, j) = call(&app, test::TestRequest::post().uri("/api/anomalies/detect").set_json(detect)).await;
    assert_eq!((s, j["result"]["windows"].as_u64()), (200, Some(60)), "{j}");
    let detect = serde_json::json!({"model": "w30", "upload_id": id, "window": "1m"});
    let (s, j) = call(&app, test::TestRequest::post().uri("/api/anomalies/detect").set_json(detect)).await;
    assert_eq!((s, j["result"]["windows"].as_u64()), (200, Some(30)), "{j}");
}

/// Two trainings of one model name at once both succeed, and the file is one complete model.
#[actix_web::test]
async fn concurrent_trainings_of_one_name_both_succeed() {
    let st = own_state(None);
    let app = test::init_service(create_app(st.clone())).await;
    for round in 0..3 {
        let train = || test::TestRequest::post().uri("/api/train").set_json(serde_json::json!({"name": "same"}));
        let ((s1, j1), (s2, j2)) = futures_util::future::join(call(&app, train()), call(&app, train())).await;
        assert_eq!((s1, s2), (200, 200), "round {round}: {j1} {j2}");
        assert_eq!((j1["state"].as_str(), j2["state"].as_str()), (Some("done"), Some("done")));
        let model = nta_ml::Model::load(&st.store.layout().model_path("same").unwrap()).unwrap();
        assert_eq!(model.forest.trees.len(), 100);
    }
    let leftovers: Vec<_> = std::fs::read_dir(st.store.layout().models_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "no temporary file left: {leftovers:?}");
}

/// After a thousand jobs the registry, `/api/jobs` and `/api/status` stay small; a full queue
/// refuses new work with a JSON 503 instead of starting threads.
#[actix_web::test]
async fn jobs_are_bounded_and_pruned() {
    let (data, logs) = processed().clone();
    let limits = JobLimits { workers: 1, queue: 4, keep: 20 };
    let st = services_over(data, logs, None, Limits::default(), limits);
    for _ in 0..1000 {
        loop {
            match st.jobs.spawn("test", |_| Err(crate::jobs::JobError::Failed("x".repeat(100)))) {
                Ok(_) => break,
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(1)),
            }
        }
    }
    while st.jobs.running() > 0 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let app = test::init_service(create_app(st.clone())).await;
    let resp = test::call_service(&app, test::TestRequest::get().uri("/api/jobs").to_request()).await;
    let body = test::read_body(resp).await;
    let jobs: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(jobs.as_array().unwrap().len(), 20, "only the last 20 finished jobs are kept");
    assert!(body.len() < 8_000, "/api/jobs is {} bytes", body.len());
    let resp = test::call_service(&app, test::TestRequest::get().uri("/api/status").to_request()).await;
    let body = test::read_body(resp).await;
    assert!(body.len() < 2_000, "/api/status is {} bytes", body.len());
    let status: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status["job_counts"]["failed"], 20);
    assert_eq!(status["job_counts"]["pruned"], 980);
    // A worker held busy and a full queue: the next job is refused with 503 busy.
    let gate = std::sync::Arc::new(std::sync::Barrier::new(2));
    let g = gate.clone();
    st.jobs
        .spawn("hold", move |_| {
            g.wait();
            Err(crate::jobs::JobError::Cancelled)
        })
        .unwrap();
    while st.jobs.counts().running == 0 {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    for _ in 0..4 {
        st.jobs.spawn("wait", |_| Err(crate::jobs::JobError::Cancelled)).unwrap();
    }
    let (s, b) =
        call(&app, test::TestRequest::post().uri("/api/train").set_json(serde_json::json!({"name": "refused"}))).await;
    assert_eq!((s, b["error"]["code"].as_str()), (503, Some("busy")), "{b}");
    gate.wait();
}

#[actix_web::test]
async fn sizes_beyond_their_bounds_are_refused_before_any_job() {
    let st = own_state(None);
    let app = test::init_service(create_app(st.clone())).await;
    for (uri, body, says) in [
        ("/api/train", serde_json::json!({"name": "w", "window": "1us"}), "at least 1 ms"),
        ("/api/train", serde_json::json!({"name": "w", "window": "0s"}), "at least 1 ms"),
        ("/api/anomalies/detect", serde_json::json!({"model": "test_net_traffic", "window": "1ns"}), "at least 1 ms"),
        ("/api/train", serde_json::json!({"name": "t", "n_estimators": 1_000_000_000u64}), "n_estimators"),
        ("/api/train", serde_json::json!({"name": "t", "max_samples": "10000000"}), "max_samples"),
        ("/api/train", serde_json::json!({"name": "t", "n_estimators": 5000, "max_samples": "100000"}), "nodes"),
    ] {
        let (s, j) = call(&app, test::TestRequest::post().uri(uri).set_json(&body)).await;
        assert_eq!((s, j["error"]["code"].as_str()), (400, Some("bad_request")), "{body}: {j}");
        assert!(j["error"]["message"].as_str().unwrap().contains(says), "{body}: {j}");
    }
    let (_, jobs) = call(&app, test::TestRequest::get().uri("/api/jobs")).await;
    assert_eq!(jobs.as_array().map(Vec::len), Some(0), "no job was started: {jobs}");
}

/// A capture whose records break after good packets: the upload keeps it and says so, and the
/// training on it carries the same warning in its result.
#[actix_web::test]
async fn a_capture_corrupt_after_good_packets_is_used_and_said() {
    let st = own_state(None);
    let app = test::init_service(create_app(st.clone())).await;
    let mut bytes = std::fs::read(super::fixture()).unwrap();
    let good = bytes.len();
    // An Enhanced Packet Block announcing 4 GiB, then more bytes.
    bytes.extend_from_slice(&6u32.to_le_bytes());
    bytes.extend_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    bytes.extend_from_slice(&[0u8; 64]);
    let (ct, body) = super::multipart("cut.pcapng", &bytes);
    let req = test::TestRequest::post().uri("/api/upload").insert_header(("content-type", ct)).set_payload(body);
    let (s, up) = call(&app, req).await;
    assert_eq!(s, 201, "{up}");
    assert_eq!(up["packets"], 36_216);
    let w = up["warnings"].to_string();
    assert!(w.contains(&format!("byte {good}")) && w.contains("36216 packets before it"), "{up}");
    let req =
        test::TestRequest::post().uri("/api/train").set_json(serde_json::json!({"name": "cut", "upload_id": up["id"]}));
    let (s, j) = call(&app, req).await;
    assert_eq!((s, j["state"].as_str()), (200, Some("done")), "{j}");
    let w = j["result"]["warnings"].to_string();
    assert!(w.contains(&format!("byte {good}")) && w.contains("36216 packets before it were used"), "{j}");
}
