//! `GET /health`, `GET /api/status` and `GET /api/openapi.json`.

use crate::auth::Reader;
use crate::error::ApiResult;
use crate::jobs::{JobCounts, JobView, Jobs};
use crate::routes::control::Control;
use actix_web::{HttpResponse, web};
use nta_store::FileStore;
use serde::Serialize;
use utoipa::ToSchema;

routes! {
    get "/health" => health,
    get "/api/status" => status,
    get "/api/openapi.json" => document,
    get "/metrics" => prometheus,
}

/// The OpenAPI document as JSON (built once by `openapi.rs`, handed over by `create_app`).
#[derive(Clone, Copy, Debug)]
pub struct ApiDocument(pub &'static str);

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "server",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn document(doc: web::Data<ApiDocument>) -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(doc.0)
}

/// Body of `GET /health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    status: &'static str,
}

/// Liveness (no authentication, no disk access).
#[utoipa::path(get, path = "/health", tag = "server", responses((status = 200, body = Health)))]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// Body of `GET /api/status`: small whatever the history.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusBody {
    version: &'static str,
    /// Seconds since the server started.
    uptime_s: f64,
    /// `idle` or `pcap <path>` (the capture being or last processed).
    mode: String,
    /// The layer of tunnelled packets extraction reads: `inner` or `outer` (`--tunnels`).
    #[schema(value_type = String, example = "inner")]
    tunnels: nta_parsing::TunnelLayer,
    /// The shards every extraction accumulates the flows in (`--shards`).
    shards: usize,
    data_dir: String,
    logs_dir: String,
    /// Uploaded captures.
    captures: usize,
    /// Window records (`logs/metrics.jsonl`, or the fleet's store).
    metrics_windows: usize,
    /// Model files.
    models: usize,
    /// The most recently created model.
    active_model: Option<String>,
    /// Anomalies (the anomaly store, or the fleet's store).
    anomalies: usize,
    /// Where the records are read from (`files`, or `clickhouse` with `--clickhouse`), and
    /// for a fleet's store, its flow count and sensors.
    records: nta_store::RecordCounts,
    /// Jobs queued or running.
    running_jobs: usize,
    /// Jobs by state (finished ones: of those kept).
    job_counts: JobCounts,
    /// The current work: jobs queued or running, without results.
    jobs: Vec<JobView>,
}

/// Version, uptime, mode, directories, counts of everything stored and the current work.
#[utoipa::path(get, path = "/api/status", security(("bearer" = [])), tag = "server", responses((status = 200, body = StatusBody)))]
pub async fn status(
    _reader: Reader,
    store: web::Data<FileStore>,
    records: web::Data<dyn nta_store::RecordStore>,
    jobs: web::Data<Jobs>,
    control: web::Data<Control>,
    reading: web::Data<nta_metrics::Reading>,
) -> ApiResult<HttpResponse> {
    let layout = store.layout();
    let (data_dir, logs_dir) = (layout.data_dir().display().to_string(), layout.logs_dir().display().to_string());
    let (counts, records) = web::block(move || (store.counts(), records.counts())).await?;
    let records = records?;
    let body = StatusBody {
        version: env!("CARGO_PKG_VERSION"),
        uptime_s: control.started.elapsed().as_secs_f64(),
        mode: control.mode(),
        tunnels: reading.tunnels,
        shards: reading.shards,
        data_dir,
        logs_dir,
        captures: counts.captures,
        metrics_windows: records.metrics_windows,
        models: counts.models,
        active_model: counts.active_model,
        anomalies: records.anomalies,
        records,
        running_jobs: jobs.running(),
        job_counts: jobs.counts(),
        jobs: jobs.active(),
    };
    Ok(HttpResponse::Ok().json(body))
}

/// Prometheus' scrape, in the OpenMetrics text format: `nta_http_requests_total{route,status}`,
/// `nta_http_request_duration_seconds{route}` (histogram), `nta_jobs{state}`,
/// `nta_processed_packets`, `nta_processed_bytes`, `nta_capture_dropped_packets`,
/// `nta_anomalies{severity,kind}`, `nta_store_bytes{file}`, `nta_records{kind}`.
#[utoipa::path(get, path = "/metrics", security(("bearer" = [])), tag = "server",
    responses((status = 200, description = "OpenMetrics text (`application/openmetrics-text`)", body = String, content_type = "application/openmetrics-text")))]
pub async fn prometheus(
    _reader: Reader,
    store: web::Data<FileStore>,
    records: web::Data<dyn nta_store::RecordStore>,
    jobs: web::Data<Jobs>,
    control: web::Data<Control>,
    telemetry: web::Data<crate::telemetry::Telemetry>,
) -> ApiResult<HttpResponse> {
    let layout = store.layout().clone();
    let (by_kind, counts) = web::block(move || (records.anomaly_counts(), records.counts())).await?;
    let (by_kind, counts) = (by_kind?, counts?);
    let size = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let models: u64 = std::fs::read_dir(layout.models_dir())
        .map(|d| d.filter_map(Result::ok).filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum())
        .unwrap_or(0);
    let c = jobs.counts();
    let (mut packets, mut bytes) = jobs.processed();
    let mut dropped = 0;
    if let Some(l) = control.live() {
        let (p, b, d) = l.counters();
        (packets, bytes, dropped) = (packets + p, bytes + b, d);
    }
    let now = crate::telemetry::Scrape {
        jobs: vec![
            ("queued", c.queued as u64),
            ("running", c.running as u64),
            ("done", c.done as u64),
            ("failed", c.failed as u64),
            ("cancelled", c.cancelled as u64),
        ],
        packets,
        bytes,
        dropped,
        anomalies: by_kind.into_iter().map(|(s, k, n)| (s.name().to_owned(), k.name().to_owned(), n as u64)).collect(),
        store_bytes: vec![
            ("anomalies", size(layout.anomalies_path())),
            ("metrics", size(layout.metrics_path())),
            ("flows", size(layout.flows_path())),
            ("models", models),
        ],
        records: vec![("windows", counts.metrics_windows as u64), ("anomalies", counts.anomalies as u64)],
    };
    Ok(HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(telemetry.render(&now)))
}
