//! `/api/anomalies`: listing, one anomaly, the summary with incidents, and detection.

use crate::Limits;
use crate::auth::Auth;
use crate::auth::Reader;
use crate::error::{ApiError, ApiResult};
use crate::jobs::{JobResult, Jobs};
use crate::routes::{DEFAULT_WINDOW_NS, answer, parse_time, window_of};
use actix_web::{HttpRequest, HttpResponse, web};
use nta_analysis::{Anomaly, DetectConfig, Detector, Severity};
use nta_store::{FileStore, Filter, Page, RecordStore, SummaryPage, records_of};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

routes! {
    get "/api/anomalies" => anomalies,
    get "/api/anomalies/summary" => anomaly_summary,
    get "/api/anomalies/{id}" => anomaly,
    post "/api/anomalies/detect" => detect,
}

/// Query of `GET /api/anomalies` and `/api/anomalies/summary`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AnomalyQuery {
    /// Windows ending after this: RFC 3339 (`2026-03-02T09:00:00Z`, offsets allowed) or
    /// nanoseconds since the epoch.
    since: Option<String>,
    /// Windows starting before this (same forms).
    until: Option<String>,
    /// At least this severity.
    severity: Option<Severity>,
    /// This detector.
    detector: Option<Detector>,
    /// Capture name (path) containing this text (`source` is read as a synonym, its name
    /// before 0.2).
    #[serde(alias = "source")]
    capture: Option<String>,
    /// This attack kind (`port_scan`, `syn_flood`, … `unknown`).
    #[param(value_type = Option<String>)]
    kind: Option<nta_capture::AttackKind>,
    /// This address among the attackers or victims.
    #[param(value_type = Option<String>)]
    ip: Option<std::net::IpAddr>,
    /// Model score at least this.
    min_score: Option<f64>,
    /// `severity` (most severe first, the default) or `time`: of the anomalies listed and of
    /// the summary's incidents.
    #[param(value_type = Option<String>)]
    order: Option<nta_store::Order>,
    /// Only this sensor's anomalies (a fleet's store; `--sensor` of the sensor).
    sensor: Option<String>,
    /// Only these fields of each anomaly (comma-separated: `id,severity,kind,window_start`);
    /// listings only.
    fields: Option<String>,
    /// Items per page (default 100, at most 1000).
    limit: Option<usize>,
    /// Items skipped (default 0).
    offset: Option<usize>,
}

impl AnomalyQuery {
    fn filter(&self) -> ApiResult<Filter> {
        Ok(Filter {
            since_ns: self.since.as_deref().map(|s| parse_time(s, "since")).transpose()?,
            until_ns: self.until.as_deref().map(|s| parse_time(s, "until")).transpose()?,
            min_severity: self.severity,
            detector: self.detector,
            capture: self.capture.clone(),
            kind: self.kind,
            ip: self.ip,
            min_score: self.min_score,
            sensor: self.sensor.clone(),
            order: self.order.unwrap_or_default(),
        })
    }

    fn page(&self) -> (usize, usize) {
        (self.offset.unwrap_or(0), self.limit.unwrap_or(100).min(1000))
    }
}

/// The stored anomalies, filtered, in time order, one page at a time.
#[utoipa::path(get, path = "/api/anomalies", security(("bearer" = [])), tag = "anomalies", params(AnomalyQuery),
    responses((status = 200, body = Page), (status = 400, body = crate::error::ErrorBody)))]
pub async fn anomalies(
    req: HttpRequest,
    _reader: Reader,
    store: web::Data<dyn RecordStore>,
    q: web::Query<AnomalyQuery>,
) -> ApiResult<HttpResponse> {
    let filter = q.filter()?;
    let (offset, limit) = q.page();
    let fields = crate::routes::fields_of(q.fields.as_deref(), crate::routes::ANOMALY_FIELDS, false)?;
    if fields.is_none() {
        // Every field: the store's JSON as it is.
        let page = web::block(move || store.anomalies_json(&filter, offset, limit)).await??;
        return Ok(crate::routes::paged_json(&req, page.body, page.total, offset, limit));
    }
    let page = web::block(move || store.anomalies(&filter, offset, limit)).await??;
    let body = crate::routes::page_json(&page, fields.as_deref())?;
    Ok(crate::routes::paged(&req, &body, page.total, offset, limit))
}

/// Counts by severity and detector, time range, top metrics and incidents of the matching
/// anomalies; `limit`/`offset` page the incidents.
#[utoipa::path(get, path = "/api/anomalies/summary", security(("bearer" = [])), tag = "anomalies", params(AnomalyQuery),
    responses((status = 200, body = SummaryPage), (status = 400, body = crate::error::ErrorBody)))]
pub async fn anomaly_summary(
    req: HttpRequest,
    _reader: Reader,
    store: web::Data<dyn RecordStore>,
    q: web::Query<AnomalyQuery>,
) -> ApiResult<HttpResponse> {
    let filter = q.filter()?;
    let (offset, limit) = q.page();
    if q.fields.is_some() {
        return Err(ApiError::bad("bad_query", "fields: listings only (/api/anomalies)"));
    }
    let page = web::block(move || store.summary(&filter, offset, limit)).await??;
    let body = serde_json::to_value(&*page).map_err(ApiError::internal)?;
    Ok(crate::routes::paged(&req, &body, page.incidents_total, offset, limit))
}

/// One anomaly with its explanation.
#[utoipa::path(get, path = "/api/anomalies/{id}", security(("bearer" = [])), tag = "anomalies",
    params(("id" = String, Path, description = "The anomaly's id (16 hex digits)")),
    responses((status = 200, body = Anomaly), (status = 404, body = crate::error::ErrorBody)))]
pub async fn anomaly(
    _reader: Reader,
    store: web::Data<dyn RecordStore>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let wanted = id.clone();
    match web::block(move || store.anomaly(&wanted)).await?? {
        Some(a) => Ok(HttpResponse::Ok().json(a)),
        None => Err(ApiError::not_found(format!("no anomaly {id}"))),
    }
}

/// Body of `POST /api/anomalies/detect`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DetectRequest {
    /// A model of `GET /api/models`; its baseline `data/baselines/<model>.json` is used when
    /// present, else one is learnt from the records scored.
    model: String,
    /// Score this upload (extracted first); without it, `logs/metrics.jsonl`.
    upload_id: Option<String>,
    /// Window length when extracting an upload (default: the model's, else `10s`).
    window: Option<String>,
}

/// Detects anomalies and appends them to the store: the counts and incidents when done within
/// a second, else the job to follow.
#[utoipa::path(post, path = "/api/anomalies/detect", tag = "anomalies", security(("bearer" = [])),
    request_body = DetectRequest,
    responses(
        (status = 200, description = "done: the job, its result the windows, anomalies and incidents", body = crate::jobs::JobView),
        (status = 202, description = "still running: follow the job", body = crate::routes::Accepted),
        (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody),
        (status = 404, description = "unknown model or upload", body = crate::error::ErrorBody),
        (status = 422, description = "the detection failed (e.g. a model of other features)", body = crate::error::ErrorBody),
        (status = 503, description = "the job queue is full", body = crate::error::ErrorBody)))]
pub async fn detect(
    req: HttpRequest,
    auth: web::Data<Auth>,
    store: web::Data<FileStore>,
    jobs: web::Data<Jobs>,
    limits: web::Data<Limits>,
    reading: web::Data<nta_metrics::Reading>,
    body: web::Json<DetectRequest>,
) -> ApiResult<HttpResponse> {
    auth.check(&req)?;
    let b = body.into_inner();
    let layout = store.layout().clone();
    let path = layout.model_path(&b.model)?;
    if !path.is_file() {
        return Err(nta_store::Error::NotFound { what: "model", name: b.model }.into());
    }
    let source = b.upload_id.as_deref().map(|id| layout.upload_path(id)).transpose()?;
    let window = b.window.as_deref().map(window_of).transpose()?;
    let reading = **reading;
    let id = jobs.spawn("detect", move |h| {
        let model = nta_ml::Model::load(&path).map_err(nta_store::Error::Model)?;
        // The model's own window unless one is given.
        let window = window.or(model.source.window_ns).unwrap_or(DEFAULT_WINDOW_NS);
        let r = records_of(&layout, source.as_deref(), window, reading, &h.progress(), &h.cancel)?;
        let mut d = nta_store::detect(&layout, &r.records, &model, &DetectConfig::default(), &h.cancel)?;
        d.warnings = r.warnings;
        Ok(JobResult::Detection(d))
    })?;
    answer(&jobs, &id, limits.sync_wait).await
}
