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
