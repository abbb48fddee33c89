//! The routes, one module per area, each with its own `configure`; shared helpers for
//! times, windows and answers that may be a finished job or one to follow.

use crate::error::{ApiError, ApiResult};
use crate::jobs::{Jobs, State};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use std::time::{Duration, Instant};
use utoipa::ToSchema;

/// Declares a module's routes once: `configure` registers them and `ROUTES` lists them
/// (method, path) for the test that holds the OpenAPI document to the routing table.
macro_rules! routes {
    ($($method:ident $path:literal => $handler:path),* $(,)?) => {
        /// Every (method, path) this module serves.
        #[cfg(test)]
        pub(crate) const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        /// Registers this module's routes.
        pub fn configure(cfg: &mut actix_web::web::ServiceConfig) {
            $(cfg.route($path, actix_web::web::$method().to($handler));)*
        }
    };
}

pub mod anomalies;
pub mod control;
pub mod dashboard;
pub mod events;
pub mod flows;
pub mod jobs;
pub mod metrics;
pub mod models;
pub mod server;
pub mod uploads;

/// The largest JSON request body (train and detect requests are a few hundred bytes).
pub const MAX_JSON_BODY: usize = 64 << 10;

/// Every route, with JSON errors for bad queries, bad JSON (413 `too_large` beyond
/// [`MAX_JSON_BODY`]) and unknown routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    use actix_web::error::JsonPayloadError;
    let json_error = |e: JsonPayloadError, _: &actix_web::HttpRequest| -> actix_web::Error {
        match e {
            JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => ApiError::new(
                actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("a JSON body has at most {MAX_JSON_BODY} bytes"),
            )
            .into(),
            e => ApiError::bad("bad_json", e.to_string()).into(),
        }
    };
    cfg.app_data(web::QueryConfig::default().error_handler(|e, _| ApiError::bad("bad_query", e.to_string()).into()))
        .app_data(web::JsonConfig::default().limit(MAX_JSON_BODY).error_handler(json_error))
        .configure(server::configure)
        .configure(anomalies::configure)
        .configure(metrics::configure)
        .configure(flows::configure)
        .configure(models::configure)
        .configure(uploads::configure)
        .configure(jobs::configure)
        .configure(control::configure)
        .configure(events::configure)
        .configure(dashboard::configure)
        .default_service(web::to(not_found));
}

/// Every (method, path) served.
#[cfg(test)]
pub(crate) fn all_routes() -> Vec<(&'static str, &'static str)> {
    [
        server::ROUTES,
        anomalies::ROUTES,
        metrics::ROUTES,
        flows::ROUTES,
        models::ROUTES,
        uploads::ROUTES,
        jobs::ROUTES,
        control::ROUTES,
        events::ROUTES,
    ]
    .concat()
}

/// The JSON 404 for unknown routes.
async fn not_found(req: HttpRequest) -> ApiResult<HttpResponse> {
    Err(ApiError::not_found(format!("no route {} {}", req.method(), req.path())))
}

/// A time given as RFC 3339 or nanoseconds since the epoch.
fn parse_time(s: &str, what: &str) -> ApiResult<i64> {
    nta_capture::parse_timestamp_ns(s).map_err(|e| ApiError::bad("bad_query", format!("{what}: {e}")))
}

/// Window length used when nothing says otherwise.
const DEFAULT_WINDOW_NS: i64 = 10_000_000_000;

/// A window length such as `10s`, `1m`, checked against the extraction bounds (at least
/// 1 ms) before any work starts.
fn window_of(w: &str) -> ApiResult<i64> {
    let d = humantime::parse_duration(w).map_err(|e| ApiError::bad("bad_request", format!("window {w:?}: {e}")))?;
    let ns =
        i64::try_from(d.as_nanos()).map_err(|_| ApiError::bad("bad_request", format!("window {w:?}: too long")))?;
    nta_metrics::ExtractConfig::new(ns)
        .validate()
        .map_err(|e| ApiError::bad("bad_request", format!("window {w:?}: {e}")))?;
    Ok(ns)
}

/// Body of a `202 Accepted`: the job doing the work.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// The job's id.
    job: String,
    /// Where to follow it.
    #[schema(example = "/api/jobs/5f0c6a1b2d3e4f50")]
    href: String,
}

fn accepted(id: &str) -> HttpResponse {
    HttpResponse::Accepted().json(Accepted { job: id.to_owned(), href: format!("/api/jobs/{id}") })
}

/// The answer to work started as job `id`: when it ends within `wait`, 200 with the job (its
/// `result` is the model's metadata or the detection's counts), or 422 `job_failed` with the
/// reason; longer work answers 202 with where to follow it. The wait sleeps on the
/// executor's timer, never blocking it.
async fn answer(jobs: &Jobs, id: &str, wait: Duration) -> ApiResult<HttpResponse> {
    if wait.is_zero() {
        return Ok(accepted(id));
    }
    let deadline = Instant::now() + wait;
    loop {
        if let Some(j) = jobs.get(id).filter(|j| !matches!(j.state, State::Running | State::Queued)) {
            return match j.state {
                State::Failed => Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "job_failed",
                    format!("job {id} failed: {}", j.error.unwrap_or_default()),
                )),
                _ => Ok(HttpResponse::Ok().json(j)),
            };
        }
        if Instant::now() >= deadline {
            return Ok(accepted(id));
        }
        actix_web::rt::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The fields of a window record `fields=` may name.
pub(crate) const WINDOW_FIELDS: &[&str] = &[
    "window_start",
    "window_start_ns",
    "window_ns",
    "capture",
    "sample_rate",
    "late",
    "gap_before_ns",
    "capture_received",
    "capture_dropped",
    "top_src_by_bytes",
    "top_dst_ports",
    "tunnels",
    "sensor",
];

/// The fields of an anomaly `fields=` may name.
pub(crate) const ANOMALY_FIELDS: &[&str] = &[
    "id",
    "window_start",
    "window_end",
    "window_start_ns",
    "window_end_ns",
    "capture",
    "detector",
    "kind",
    "attackers",
    "victims",
    "detail",
    "model",
    "baseline",
    "score",
    "score_threshold",
    "max_abs_z",
    "z_threshold",
    "incident_gap_windows",
    "capture_dropped",
    "severity",
    "explanation",
    "top_sources",
    "top_dst_ports",
    "summary",
    "sensor",
];

/// The names of `fields=` (comma-separated), each checked against `allowed` (and the
/// metrics, for window records).
pub(crate) fn fields_of(fields: Option<&str>, allowed: &[&str], metrics: bool) -> ApiResult<Option<Vec<String>>> {
    let Some(list) = fields else { return Ok(None) };
    let mut out = Vec::new();
    for f in list.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        let known = allowed.contains(&f) || (metrics && f.parse::<nta_metrics::Metric>().is_ok());
        if !known {
            return Err(ApiError::bad(
                "bad_query",
                format!(
                    "fields: unknown field {f:?}; expected some of {}{}",
                    allowed.join(", "),
                    if metrics { " and the metrics" } else { "" }
                ),
            ));
        }
        if !out.iter().any(|o: &String| o == f) {
            out.push(f.to_owned());
        }
    }
    Ok(Some(out))
}

/// A page as JSON, its items cut to `fields` when given.
pub(crate) fn page_json<T: Serialize>(page: &T, fields: Option<&[String]>) -> ApiResult<serde_json::Value> {
    let mut v = serde_json::to_value(page).map_err(ApiError::internal)?;
    if let (Some(fields), Some(items)) = (fields, v.get_mut("items").and_then(|i| i.as_array_mut())) {
        for item in items {
            if let Some(o) = item.as_object_mut() {
                o.retain(|k, _| fields.iter().any(|f| f == k));
            }
        }
    }
    Ok(v)
}

/// A paged answer with `Link` (RFC 8288) to the first, previous and next pages, and
/// `X-Total-Count`.
pub(crate) fn paged(
    req: &HttpRequest,
    body: &serde_json::Value,
    total: usize,
    offset: usize,
    limit: usize,
) -> HttpResponse {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    paged_json(req, bytes, total, offset, limit)
}

/// The same with a body already JSON.
pub(crate) fn paged_json(req: &HttpRequest, body: Vec<u8>, total: usize, offset: usize, limit: usize) -> HttpResponse {
    let base: Vec<&str> =
        req.query_string().split('&').filter(|p| !p.is_empty() && !p.starts_with("offset=")).collect();
    let link = |o: usize, rel: &str| {
        let mut q = base.clone();
        let off = format!("offset={o}");
        q.push(&off);
        format!("<{}?{}>; rel=\"{rel}\"", req.path(), q.join("&"))
    };
    let mut links = vec![link(0, "first")];
    if offset > 0 {
        links.push(link(offset.saturating_sub(limit.max(1)), "prev"));
    }
    if offset.saturating_add(limit) < total {
        links.push(link(offset + limit.max(1), "next"));
    }
    HttpResponse::Ok()
        .insert_header(("link", links.join(", ")))
        .insert_header(("x-total-count", total.to_string()))
        .content_type(actix_web::http::header::ContentType::json())
        .body(body)
}
