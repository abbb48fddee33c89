//! In-process tests of every endpoint and error path (actix_web::test).

use crate::{Auth, JobLimits, Limits, Services, create_app};
use actix_web::test;
use nta_store::Layout;
use std::path::PathBuf;
use std::sync::OnceLock;

/// The request type test services take.
type Req = actix_http::Request;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/test_net_traffic.pcapng")
}

/// Data and logs directories with the fixture processed once (shared by the tests).
fn processed() -> &'static (PathBuf, PathBuf) {
    static DIRS: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    DIRS.get_or_init(|| {
        let root = std::env::temp_dir().join(format!("nta-api-test-{}", std::process::id()));
        let (data, logs) = (root.join("data"), root.join("logs"));
        std::fs::create_dir_all(&data).unwrap();
        std::fs::create_dir_all(&logs).unwrap();
        process(&fixture(), &data, &logs);
        (data, logs)
    })
}

/// Extract → baseline → train → detect on `pcap`, written where the endpoints read.
fn process(pcap: &std::path::Path, data: &std::path::Path, logs: &std::path::Path) {
    let opts = nta_analysis::AnalyzeOptions { name: nta_store::name_for_capture(pcap), ..Default::default() };
    nta_store::analyze_into(&Layout::new(data, logs), &[pcap.to_owned()], opts, &|_| {}, &Default::default()).unwrap();
}

fn services_over(data: PathBuf, logs: PathBuf, token: Option<&str>, limits: Limits, jobs: JobLimits) -> Services {
    Services::new(Layout::new(data, logs), Auth { token: token.map(str::to_owned) }, limits, jobs).unwrap()
}

fn state(token: Option<&str>, max_upload: u64) -> Services {
    let (data, logs) = processed().clone();
    services_over(data, logs, token, Limits { max_upload, ..Limits::default() }, JobLimits::default())
}

async fn get(path: &str) -> (u16, serde_json::Value) {
    let app = test::init_service(create_app(state(None, 1 << 30))).await;
    let resp = test::call_service(&app, test::TestRequest::get().uri(path).to_request()).await;
    let status = resp.status().as_u16();
    let body: serde_json::Value = test::read_body_json(resp).await;
    (status, body)
}

fn multipart(filename: &str, content: &[u8]) -> (String, Vec<u8>) {
    let boundary = "XnTaBoUnDaRy";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n").as_bytes(),
    );
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(
    token: Option<&str>,
    auth: Option<&str>,
    max: u64,
    name: &str,
    content: &[u8],
) -> (u16, serde_json::Value) {
    let app = test::init_service(create_app(state(token, max))).await;
    let (ct, body) = multipart(name, content);
    let mut req = test::TestRequest::post().uri("/api/upload").insert_header(("content-type", ct));
    if let Some(a) = auth {
        req = req.insert_header(("authorization", format!("Bearer {a}")));
    }
    let resp = test::call_service(&app, req.set_payload(body).to_request()).await;
    let status = resp.status().as_u16();
    (status, test::read_body_json(resp).await)
}

fn uploads_dir() -> PathBuf {
    processed().0.join("uploads")
}

#[actix_web::test]
async fn health_and_status() {
    let (s, b) = get("/health").await;
    assert_eq!((s, b["status"].as_str()), (200, Some("ok")));
    let (s, b) = get("/api/status").await;
    assert_eq!(s, 200);
    assert_eq!(b["metrics_windows"], 180);
    assert!(b["anomalies"].as_u64().unwrap() > 30);
    assert_eq!(b["models"], 1);
    assert_eq!(b["active_model"], "test_net_traffic");
    assert_eq!(b["version"], env!("CARGO_PKG_VERSION"));
}

#[actix_web::test]
async fn anomalies_list_get_summary() {
    let (s, page) = get("/api/anomalies?limit=5&offset=2").await;
    assert_eq!(s, 200);
    let total = page["total"].as_u64().unwrap();
    assert!(total > 30);
    assert_eq!(page["items"].as_array().unwrap().len(), 5);
    assert_eq!(page["offset"], 2);
    let id = page["items"][0]["id"].as_str().unwrap().to_owned();
    let (s, one) = get(&format!("/api/anomalies/{id}")).await;
    assert_eq!(s, 200);
    assert_eq!(one["id"], id.as_str());
    assert!(one["explanation"].as_array().unwrap().len() >= 3);
    let (s, crit) = get("/api/anomalies?severity=critical&since=2026-03-02T09:05:00Z&limit=1000").await;
    assert_eq!(s, 200);
    let items = crit["items"].as_array().unwrap();
    assert!(!items.is_empty() && items.iter().all(|a| a["severity"] == "critical"));
    let (s, model) = get("/api/anomalies?detector=model&min_score=0.5").await;
    assert_eq!(s, 200);
    assert!(model["items"].as_array().unwrap().iter().all(|a| a["detector"] == "model"));
    let (s, sum) = get("/api/anomalies/summary").await;
    assert_eq!(s, 200);
    assert_eq!(sum["summary"]["total"].as_u64().unwrap(), total);
    let n = sum["incidents_total"].as_u64().unwrap() as usize;
    assert!(n > 5 && sum["incidents"].as_array().unwrap().len() == n.min(100));
    // limit/offset page the incidents, in time order.
    let (_, page) = get("/api/anomalies/summary?limit=2&offset=3").await;
    assert_eq!(page["incidents_total"].as_u64(), Some(n as u64));
    assert_eq!(page["incidents"].as_array().unwrap()[..], sum["incidents"].as_array().unwrap()[3..5]);
    assert_eq!(page["summary"], sum["summary"]);
}

#[actix_web::test]
async fn metrics_and_models() {
    let (s, m) = get("/api/metrics?since=2026-03-02T09:08:00Z&until=2026-03-02T09:09:00Z").await;
    assert_eq!(s, 200);
    assert_eq!(m["total"], 6);
    assert!(m["items"][0]["tcp_syn"].as_u64().unwrap() > 1000);
    let (s, models) = get("/api/models").await;
    assert_eq!(s, 200);
    assert_eq!(models[0]["n_estimators"], 100);
}

#[actix_web::test]
async fn errors_are_json_with_the_right_status() {
    for (path, status, code) in [
        ("/api/anomalies/0000000000000000", 404, "not_found"),
        ("/api/nothing", 404, "not_found"),
        ("/api/anomalies?severity=apocalyptic", 400, "bad_query"),
        ("/api/anomalies?since=yesterday", 400, "bad_query"),
        ("/api/anomalies?limit=-3", 400, "bad_query"),
        ("/api/anomalies?colour=red", 400, "bad_query"),
        ("/api/metrics?until=soon", 400, "bad_query"),
    ] {
        let (s, b) = get(path).await;
        assert_eq!(s, status, "{path}: {b}");
        assert_eq!(b["error"]["code"], code, "{path}");
        assert!(b["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}

#[actix_web::test]
async fn uploads_are_streamed_validated_and_never_named_by_the_client() {
    let sample = std::fs::read(fixture()).unwrap();
    let (s, b) = upload(None, None, 1 << 30, "../../etc/passwd", &sample).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["packets"], 36_216);
    assert_eq!(b["format"], "pcapng");
    assert_eq!(b["size"], sample.len() as u64);
    let id = b["id"].as_str().unwrap();
    assert!(uploads_dir().join(format!("{id}.pcapng")).is_file());
    assert!(!uploads_dir().join("passwd").exists());
    let count = || std::fs::read_dir(uploads_dir()).unwrap().count();
    let before = count();
    // A text file: 415, nothing left behind.
    let (s, b) = upload(None, None, 1 << 30, "notes.pcap", b"this is not a capture at all\n").await;
    assert_eq!((s, b["error"]["code"].as_str()), (415, Some("not_a_capture")));
    // A truncated header: 400.
    let (s, b) = upload(None, None, 1 << 30, "cut.pcap", &sample[..10]).await;
    assert_eq!(s, 400, "{b}");
    // Too large: 413, from Content-Length before any byte is stored.
    let (s, b) = upload(None, None, 100_000, "big.pcapng", &sample).await;
    assert_eq!((s, b["error"]["code"].as_str()), (413, Some("too_large")));
    assert_eq!(count(), before, "failed uploads leave nothing");
    // With a token: none or a wrong one is 401; the right one works.
    let (s, b) = upload(Some("s3cret"), None, 1 << 30, "x.pcapng", &sample).await;
    assert_eq!((s, b["error"]["code"].as_str()), (401, Some("unauthorized")));
    let (s, _) = upload(Some("s3cret"), Some("guess"), 1 << 30, "x.pcapng", &sample).await;
    assert_eq!(s, 401);
    let (s, _) = upload(Some("s3cret"), Some("s3cret"), 1 << 30, "x.pcapng", &sample).await;
    assert_eq!(s, 201);
    // No file part at all.
    let app = test::init_service(create_app(state(None, 1 << 30))).await;
    let boundary = "B0";
    let body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--{boundary}--\r\n");
    let req = test::TestRequest::post()
        .uri("/api/upload")
        .insert_header(("content-type", format!("multipart/form-data; boundary={boundary}")))
        .set_payload(body)
        .to_request();
    let resp = test::call_service(&app, req).await;
    assert_eq!(resp.status().as_u16(), 400);
}

/// A state over directories of its own (jobs write models and anomalies). Train and detect
/// wait up to a minute for their job (the server waits a second), so that answering directly
/// does not depend on how loaded the test machine is.
fn own_state(token: Option<&str>) -> Services {
    own_state_waiting(token, std::time::Duration::from_secs(60))
}

/// [`own_state`] whose train and detect wait `sync_wait` for their job before answering 202.
fn own_state_waiting(token: Option<&str>, sync_wait: std::time::Duration) -> Services {
    let root = std::env::temp_dir().join(format!("nta-api-jobs-{}-{}", std::process::id(), nta_store::new_id()));
    let (data, logs) = (root.join("data"), root.join("logs"));
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(&logs).unwrap();
    process(&fixture(), &data, &logs);
    services_over(data, logs, token, Limits { sync_wait, ..Limits::default() }, JobLimits::default())
}

async fn call<S, B>(app: &S, req: actix_web::test::TestRequest) -> (u16, serde_json::Value)
where
    S: actix_web::dev::Service<Req, Response = actix_web::dev::ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let resp = test::call_service(app, req.to_request()).await;
    let status = resp.status().as_u16();
    (status, test::read_body_json(resp).await)
}

async fn wait_job<S, B>(app: &S, id: &str) -> serde_json::Value
where
    S: actix_web::dev::Service<Req, Response = actix_web::dev::ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    for _ in 0..600 {
        let (s, j) = call(app, test::TestRequest::get().uri(&format!("/api/jobs/{id}"))).await;
        assert_eq!(s, 200);
        if j["state"] != "running" && j["state"] != "queued" {
            return j;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("job {id} did not finish");
}

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
    let (s, _) = call(&app, test::TestRequest::get().uri("/api/jobs/0000000000000000")).await;
    assert_eq!(s, 404);
    let (s, all) = call(&app, test::TestRequest::get().uri("/api/jobs")).await;
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

#[actix_web::test]
async fn listings_follow_the_files() {
    let st = own_state(None);
    let app = test::init_service(create_app(st.clone())).await;
    let (_, m) = call(&app, test::TestRequest::get().uri("/api/metrics?limit=1")).await;
    assert_eq!(m["total"], 180);
    let (_, a) = call(&app, test::TestRequest::get().uri("/api/anomalies?limit=1")).await;
    let n = a["total"].as_u64().unwrap();
    assert!(n > 10);
    // metrics.jsonl replaced (as extraction does: a new file renamed over it).
    let path = st.store.layout().logs_dir().join("metrics.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let head: String = text.lines().take(7).map(|l| format!("{l}\n")).collect();
    nta_store::write_atomic(&path, head.as_bytes()).unwrap();
    let (_, m) = call(&app, test::TestRequest::get().uri("/api/metrics?limit=1")).await;
    assert_eq!(m["total"], 7);
    let (_, s) = call(&app, test::TestRequest::get().uri("/api/status")).await;
    assert_eq!(s["metrics_windows"], 7);
    // An anomaly appended to the store shows up in the listing, the summary (cached until the
    // store changes) and by id.
    let (_, s0) = call(&app, test::TestRequest::get().uri("/api/anomalies/summary")).await;
    let (_, s1) = call(&app, test::TestRequest::get().uri("/api/anomalies/summary")).await;
    assert_eq!((s0["summary"]["total"].as_u64(), &s0), (Some(n), &s1));
    let mut extra: nta_analysis::Anomaly = serde_json::from_value(a["items"][0].clone()).unwrap();
    extra.id = "00000000000000ff".into();
    nta_store::AnomalyStore::new(st.store.layout().anomalies_path()).append(&[extra]).unwrap();
    let (_, a) = call(&app, test::TestRequest::get().uri("/api/anomalies?limit=1")).await;
    assert_eq!(a["total"].as_u64(), Some(n + 1));
    let (_, s) = call(&app, test::TestRequest::get().uri("/api/anomalies/summary")).await;
    assert_eq!(s["summary"]["total"].as_u64(), Some(n + 1));
    let (st_code, one) = call(&app, test::TestRequest::get().uri("/api/anomalies/00000000000000ff")).await;
    assert_eq!((st_code, one["id"].as_str()), (200, Some("00000000000000ff")));
    // Models: a new file appears, a damaged one is listed with its error, a removed one goes.
    let names = |v: &serde_json::Value| -> Vec<String> {
        v.as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap().to_owned()).collect()
    };
    let (_, before) = call(&app, test::TestRequest::get().uri("/api/models")).await;
    assert_eq!(names(&before), ["test_net_traffic"]);
    let models = st.store.layout().data_dir().join("models");
    std::fs::copy(models.join("test_net_traffic.json"), models.join("a-copy.json")).unwrap();
    let (_, after) = call(&app, test::TestRequest::get().uri("/api/models")).await;
    assert_eq!(names(&after), ["a-copy", "test_net_traffic"]);
    assert!(after[0]["error"].is_null() && after[0]["n_estimators"] == 100);
    nta_store::write_atomic(&models.join("a-copy.json"), b"{\"not\": \"a model\"}").unwrap();
    let (_, damaged) = call(&app, test::TestRequest::get().uri("/api/models")).await;
    assert!(damaged[0]["error"].is_string() && damaged[0]["n_estimators"].is_null(), "{damaged}");
    std::fs::remove_file(models.join("a-copy.json")).unwrap();
    let (_, s) = call(&app, test::TestRequest::get().uri("/api/status")).await;
    assert_eq!((s["models"].as_u64(), s["active_model"].as_str()), (Some(1), Some("test_net_traffic")));
}

/// Checks `value` against `schema` of the OpenAPI document `doc`: `$ref`, `type` (one or a
/// list), `enum`, `required`, `properties` (no undocumented keys unless
/// `additionalProperties`), `items`, `prefixItems`. Returns the first mismatch.
fn conforms(
    doc: &serde_json::Value,
    schema: &serde_json::Value,
    value: &serde_json::Value,
    at: &str,
) -> Result<(), String> {
    use serde_json::Value;
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/components/schemas/");
        let target = doc["components"]["schemas"].get(name).ok_or(format!("{at}: dangling {r}"))?;
        return conforms(doc, target, value, at);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(alts) = schema.get(key).and_then(Value::as_array) {
            return if alts.iter().any(|s| conforms(doc, s, value, at).is_ok()) {
                Ok(())
            } else {
                Err(format!("{at}: {value} matches no alternative of {key}"))
            };
        }
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        return all.iter().try_for_each(|s| conforms(doc, s, value, at));
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array)
        && !e.contains(value)
    {
        return Err(format!("{at}: {value} not in {e:?}"));
    }
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let allowed: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let fits = allowed.contains(&kind) || (kind == "integer" && allowed.contains(&"number"));
    if !allowed.is_empty() && !fits {
        return Err(format!("{at}: {kind} where the schema says {allowed:?}"));
    }
    match value {
        Value::Object(map) => {
            for r in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
                let r = r.as_str().unwrap_or_default();
                if !map.contains_key(r) {
                    return Err(format!("{at}: required {r} missing"));
                }
            }
            let props = schema.get("properties").and_then(Value::as_object);
            for (k, v) in map {
                match props.and_then(|p| p.get(k)) {
                    Some(s) => conforms(doc, s, v, &format!("{at}.{k}"))?,
                    None => match schema.get("additionalProperties") {
                        Some(Value::Object(s)) => conforms(doc, &Value::Object(s.clone()), v, &format!("{at}.{k}"))?,
                        Some(Value::Bool(true)) => {}
                        _ if props.is_none() && allowed.is_empty() => {}
                        _ => return Err(format!("{at}: key {k} is not in the schema")),
                    },
                }
            }
        }
        Value::Array(items) => {
            let prefix = schema.get("prefixItems").and_then(Value::as_array);
            for (i, v) in items.iter().enumerate() {
                let s = match prefix.and_then(|p| p.get(i)) {
                    Some(s) => s,
                    None => match schema.get("items") {
                        Some(s) if s.is_object() => s,
                        Some(Value::Bool(false)) => return Err(format!("{at}: item {i} beyond prefixItems")),
                        _ => continue,
                    },
                };
                conforms(doc, s, v, &format!("{at}[{i}]"))?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[actix_web::test]
async fn the_openapi_document_matches_the_routes_and_the_responses() {
    let st = state(Some("tok"), 1 << 30);
    let app = test::init_service(create_app(st.clone())).await;
    let (s, doc) = call(&app, test::TestRequest::get().uri("/api/openapi.json")).await;
    assert_eq!(s, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    // The documented operations are exactly the routed ones.
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.push((method.clone(), path.clone()));
        }
    }
    documented.sort();
    let mut routed: Vec<(String, String)> =
        crate::routes::all_routes().iter().map(|(m, p)| ((*m).to_owned(), (*p).to_owned())).collect();
    routed.sort();
    assert_eq!(documented, routed);
    // Mutating operations name the bearer scheme, and it exists; read-only ones do not.
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    for (m, p) in &routed {
        let secured = doc["paths"][p][m].get("security").is_some();
        assert_eq!(secured, m != "get", "{m} {p}");
    }
    // Real responses conform to the schemas the document gives them.
    let (_, page) = call(&app, test::TestRequest::get().uri("/api/anomalies?limit=3")).await;
    let id = page["items"][0]["id"].as_str().unwrap().to_owned();
    let wanted = [
        ("/health", "/health", "200"),
        ("/api/status", "/api/status", "200"),
        ("/api/anomalies?limit=50", "/api/anomalies", "200"),
        ("/api/anomalies/summary", "/api/anomalies/summary", "200"),
        (&format!("/api/anomalies/{id}"), "/api/anomalies/{id}", "200"),
        ("/api/anomalies/ffffffffffffffff", "/api/anomalies/{id}", "404"),
        ("/api/anomalies?since=yesterday", "/api/anomalies", "400"),
        ("/api/metrics?limit=5", "/api/metrics", "200"),
        ("/api/models", "/api/models", "200"),
        ("/api/jobs", "/api/jobs", "200"),
        ("/api/control/state", "/api/control/state", "200"),
    ];
    for (uri, path, status) in wanted {
        let (s, body) = call(&app, test::TestRequest::get().uri(uri)).await;
        assert_eq!(s.to_string(), status, "{uri}: {body}");
        let schema = &doc["paths"][path]["get"]["responses"][status]["content"]["application/json"]["schema"];
        assert!(schema.is_object(), "{path} {status} has no schema");
        if let Err(e) = conforms(&doc, schema, &body, uri) {
            panic!("{e}");
        }
    }
    // And a mismatch is caught: the checker is not a yes-machine.
    let schema =
        &doc["paths"]["/api/anomalies/{id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
    let (_, mut one) = call(&app, test::TestRequest::get().uri(&format!("/api/anomalies/{id}"))).await;
    one["severity"] = "apocalyptic".into();
    assert!(conforms(&doc, schema, &one, "x").is_err());
    one["severity"] = "high".into();
    assert!(conforms(&doc, schema, &one, "x").is_ok());
    one["explanation"][0]["metric"] = "no_such_metric".into();
    assert!(conforms(&doc, schema, &one, "x").unwrap_err().contains("explanation[0].metric"));
    one["explanation"][0]["metric"] = "packets".into();
    one["undocumented"] = 1.into();
    assert!(conforms(&doc, schema, &one, "x").is_err());
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
