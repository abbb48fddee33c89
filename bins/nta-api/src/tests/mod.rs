//! In-process tests of every endpoint and error path (actix_web::test), through the same
//! `create_app` that `main.rs` serves: reads and errors (reads.rs), work and jobs (work.rs), the
//! OpenAPI document (openapi.rs). Shared helpers here.

mod charts;
mod fleet;
mod openapi;
mod reads;
mod work;

use crate::{Auth, JobLimits, Limits, Services, create_app};
use actix_web::test;
use nta_store::Layout;
use std::path::PathBuf;
use std::sync::OnceLock;

/// The request type test services take.
pub(super) type Req = actix_http::Request;

pub(super) fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/test_net_traffic.pcapng")
}

/// Data and logs directories with the fixture processed once (shared by the tests).
pub(super) fn processed() -> &'static (PathBuf, PathBuf) {
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
pub(super) fn process(pcap: &std::path::Path, data: &std::path::Path, logs: &std::path::Path) {
    let opts = nta_analysis::AnalyzeOptions { name: nta_store::name_for_capture(pcap), ..Default::default() };
    nta_store::analyze_into(&Layout::new(data, logs), &[pcap.to_owned()], opts, &|_| {}, &Default::default()).unwrap();
}

pub(super) fn services_over(
    data: PathBuf,
    logs: PathBuf,
    token: Option<&str>,
    limits: Limits,
    jobs: JobLimits,
) -> Services {
    Services::new(Layout::new(data, logs), Auth { token: token.map(str::to_owned), open_reads: false }, limits, jobs)
        .unwrap()
}

pub(super) fn state(token: Option<&str>, max_upload: u64) -> Services {
    let (data, logs) = processed().clone();
    services_over(data, logs, token, Limits { max_upload, ..Limits::default() }, JobLimits::default())
}

pub(super) async fn get(path: &str) -> (u16, serde_json::Value) {
    let app = test::init_service(create_app(state(None, 1 << 30))).await;
    let resp = test::call_service(&app, test::TestRequest::get().uri(path).to_request()).await;
    let status = resp.status().as_u16();
    let body: serde_json::Value = test::read_body_json(resp).await;
    (status, body)
}

pub(super) fn multipart(filename: &str, content: &[u8]) -> (String, Vec<u8>) {
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

pub(super) async fn upload(
    token: Option<&str>,
    auth: Option<&str>,
    max: u64,
    name: &str,
    content: &[u8],
) -> (u16, serde_json::Value) {
    // A directory of the upload tests' own: every other test's server start removes the part
    // files it finds in its directory, which would race an upload in flight.
    let (data, logs) = upload_dirs().clone();
    let services =
        services_over(data, logs, token, Limits { max_upload: max, ..Limits::default() }, JobLimits::default());
    let app = test::init_service(create_app(services)).await;
    let (ct, body) = multipart(name, content);
    let mut req = test::TestRequest::post().uri("/api/upload").insert_header(("content-type", ct));
    if let Some(a) = auth {
        req = req.insert_header(("authorization", format!("Bearer {a}")));
    }
    let resp = test::call_service(&app, req.set_payload(body).to_request()).await;
    let status = resp.status().as_u16();
    (status, test::read_body_json(resp).await)
}

/// The data and logs directories of the upload tests (no capture processed).
fn upload_dirs() -> &'static (PathBuf, PathBuf) {
    static DIRS: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    DIRS.get_or_init(|| {
        let root = std::env::temp_dir().join(format!("nta-api-uploads-{}", std::process::id()));
        let (data, logs) = (root.join("data"), root.join("logs"));
        std::fs::create_dir_all(&data).unwrap();
        std::fs::create_dir_all(&logs).unwrap();
        (data, logs)
    })
}

pub(super) fn uploads_dir() -> PathBuf {
    upload_dirs().0.join("uploads")
}

pub(super) fn own_state(token: Option<&str>) -> Services {
    own_state_waiting(token, std::time::Duration::from_secs(60))
}

/// [`own_state`] whose train and detect wait `sync_wait` for their job before answering 202.
pub(super) fn own_state_waiting(token: Option<&str>, sync_wait: std::time::Duration) -> Services {
    let root = std::env::temp_dir().join(format!("nta-api-jobs-{}-{}", std::process::id(), nta_store::new_id()));
    let (data, logs) = (root.join("data"), root.join("logs"));
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(&logs).unwrap();
    process(&fixture(), &data, &logs);
    services_over(data, logs, token, Limits { sync_wait, ..Limits::default() }, JobLimits::default())
}

pub(super) async fn call<S, B>(app: &S, req: actix_web::test::TestRequest) -> (u16, serde_json::Value)
where
    S: actix_web::dev::Service<Req, Response = actix_web::dev::ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let resp = test::call_service(app, req.to_request()).await;
    let status = resp.status().as_u16();
    (status, test::read_body_json(resp).await)
}

pub(super) async fn wait_job<S, B>(app: &S, id: &str) -> serde_json::Value
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
