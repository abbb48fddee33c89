//! The handlers, the shared state and the JSON error format. No analysis logic lives here:
//! every endpoint calls the library crates.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use futures_util::StreamExt;
use nta_analysis::{AnomalyStore, Detector, Filter, Severity, incidents, summarize};
use nta_capture::CaptureReader;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

/// What the server knows.
#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) data_dir: PathBuf,
    pub(crate) logs_dir: PathBuf,
    pub(crate) token: Option<String>,
    pub(crate) max_upload: u64,
    pub(crate) started: Instant,
    pub(crate) mode: String,
    pub(crate) startup_job: Mutex<JobState>,
}

/// The state of a background job.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub(crate) struct JobState {
    pub(crate) state: String,
    pub(crate) detail: String,
}

impl AppState {
    pub(crate) fn store(&self) -> AnomalyStore {
        AnomalyStore::new(self.logs_dir.join("anomalies.jsonl"))
    }

    fn uploads(&self) -> PathBuf {
        self.data_dir.join("uploads")
    }
}

/// `{"error": {"code": "...", "message": "..."}}` with a status.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into() }
    }

    fn internal(e: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status)
            .json(serde_json::json!({ "error": { "code": self.code, "message": self.message } }))
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// Mutating endpoints need `Authorization: Bearer <NTA_API_TOKEN>` when a token is set.
fn authorize(req: &HttpRequest, state: &AppState) -> ApiResult<()> {
    let Some(token) = &state.token else { return Ok(()) };
    let given =
        req.headers().get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    if given == Some(token.as_str()) {
        Ok(())
    } else {
        Err(ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "a valid bearer token is required"))
    }
}

fn parse_time(s: &str, what: &str) -> ApiResult<i64> {
    if let Ok(ns) = s.parse::<i64>() {
        return Ok(ns);
    }
    let t = humantime::parse_rfc3339_weak(s)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_query", format!("{what}: {e}")))?;
    let d = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "bad_query", format!("{what}: before 1970")))?;
    i64::try_from(d.as_nanos())
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "bad_query", format!("{what}: too late")))
}

/// `GET /health`
pub(crate) async fn health() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

fn count_lines(path: &std::path::Path) -> usize {
    std::fs::read(path).map(|b| b.iter().filter(|c| **c == b'\n').count()).unwrap_or(0)
}

/// `GET /api/status`
pub(crate) async fn status(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let s = state.clone();
    let body = web::block(move || {
        let models = nta_ml::list_models(&s.data_dir.join("models")).unwrap_or_default();
        let uploads = std::fs::read_dir(s.uploads())
            .map(|d| d.flatten().filter(|e| !e.file_name().to_string_lossy().starts_with('.')).count())
            .unwrap_or(0);
        let job = s.startup_job.lock().map(|j| j.clone()).unwrap_or_default();
        serde_json::json!({
            "version": env!("CARGO_PKG_VERSION"),
            "uptime_s": s.started.elapsed().as_secs_f64(),
            "mode": s.mode,
            "data_dir": s.data_dir.display().to_string(),
            "logs_dir": s.logs_dir.display().to_string(),
            "captures": uploads,
            "metrics_windows": count_lines(&s.logs_dir.join("metrics.jsonl")),
            "models": models.len(),
            "active_model": models.iter().max_by(|a, b| a.created_at.cmp(&b.created_at)).map(|m| m.name.clone()),
            "anomalies": s.store().read().map(|r| r.anomalies.len()).unwrap_or(0),
            "jobs": [job],
        })
    })
    .await
    .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(body))
}

/// Query of `GET /api/anomalies` and `/api/anomalies/summary`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AnomalyQuery {
    since: Option<String>,
    until: Option<String>,
    severity: Option<Severity>,
    detector: Option<Detector>,
    source: Option<String>,
    min_score: Option<f64>,
    limit: Option<usize>,
    offset: Option<usize>,
}

impl AnomalyQuery {
    fn filter(&self) -> ApiResult<Filter> {
        Ok(Filter {
            since_ns: self.since.as_deref().map(|s| parse_time(s, "since")).transpose()?,
            until_ns: self.until.as_deref().map(|s| parse_time(s, "until")).transpose()?,
            min_severity: self.severity,
            detector: self.detector,
            source: self.source.clone(),
            min_score: self.min_score,
        })
    }
}

/// `GET /api/anomalies`
pub(crate) async fn anomalies(state: web::Data<AppState>, q: web::Query<AnomalyQuery>) -> ApiResult<HttpResponse> {
    let filter = q.filter()?;
    let limit = q.limit.unwrap_or(100).min(1000);
    let offset = q.offset.unwrap_or(0);
    let page = web::block(move || state.store().list(&filter, offset, limit))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(page))
}

/// `GET /api/anomalies/summary`
pub(crate) async fn anomaly_summary(
    state: web::Data<AppState>,
    q: web::Query<AnomalyQuery>,
) -> ApiResult<HttpResponse> {
    let filter = q.filter()?;
    let body = web::block(move || -> Result<serde_json::Value, nta_analysis::Error> {
        let items: Vec<_> = state.store().read()?.anomalies.into_iter().filter(|a| filter.matches(a)).collect();
        let window = items.first().map_or(1, |a| a.window_end_ns - a.window_start_ns);
        Ok(serde_json::json!({ "summary": summarize(&items), "incidents": incidents(&items, window, 1) }))
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(body))
}

/// `GET /api/anomalies/{id}`
pub(crate) async fn anomaly(state: web::Data<AppState>, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let wanted = id.clone();
    let found = web::block(move || state.store().read().map(|r| r.anomalies.into_iter().find(|a| a.id == wanted)))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    match found {
        Some(a) => Ok(HttpResponse::Ok().json(a)),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no anomaly {id}"))),
    }
}

/// Query of `GET /api/metrics`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MetricsQuery {
    since: Option<String>,
    until: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
}

/// `GET /api/metrics`
pub(crate) async fn metrics(state: web::Data<AppState>, q: web::Query<MetricsQuery>) -> ApiResult<HttpResponse> {
    let since = q.since.as_deref().map(|s| parse_time(s, "since")).transpose()?;
    let until = q.until.as_deref().map(|s| parse_time(s, "until")).transpose()?;
    let (limit, offset) = (q.limit.unwrap_or(100).min(10_000), q.offset.unwrap_or(0));
    let body = web::block(move || -> Result<serde_json::Value, nta_metrics::Error> {
        let path = state.logs_dir.join("metrics.jsonl");
        if !path.exists() {
            return Ok(serde_json::json!({ "total": 0, "offset": offset, "items": [] }));
        }
        let all: Vec<_> = nta_metrics::read_jsonl(&path)?
            .records
            .into_iter()
            .filter(|r| since.is_none_or(|t| r.window_end_ns() > t) && until.is_none_or(|t| r.window_start_ns < t))
            .collect();
        let total = all.len();
        let items: Vec<_> = all.into_iter().skip(offset).take(limit).collect();
        Ok(serde_json::json!({ "total": total, "offset": offset, "items": items }))
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(body))
}

/// `GET /api/models`
pub(crate) async fn models(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let list = web::block(move || nta_ml::list_models(&state.data_dir.join("models")))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(list))
}

/// A server-chosen upload id: never derived from the client's file name.
fn upload_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    nta_analysis::stable_id(&[&t.to_le_bytes(), &n.to_le_bytes(), &std::process::id().to_le_bytes()])
}

/// What an upload became.
#[derive(Debug, Serialize)]
struct Uploaded {
    id: String,
    size: u64,
    format: String,
    packets: u64,
    warnings: Vec<String>,
}

/// `POST /api/upload` (multipart; the first file part): streamed to `data/uploads/`, checked
/// by magic number and read through once; a bad upload leaves nothing behind.
pub(crate) async fn upload(
    req: HttpRequest,
    state: web::Data<AppState>,
    mut payload: Multipart,
) -> ApiResult<HttpResponse> {
    authorize(&req, &state)?;
    let too_big = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("uploads are limited to {} bytes", state.max_upload),
        )
    };
    if let Some(len) =
        req.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok())
        && len > state.max_upload + 64 * 1024
    {
        return Err(too_big());
    }
    let dir = state.uploads();
    std::fs::create_dir_all(&dir).map_err(ApiError::internal)?;
    let id = upload_id();
    let part = dir.join(format!(".{id}.part"));
    // Removes the partial file on every early return.
    struct Cleanup(PathBuf, bool);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            if !self.1 {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }
    let mut guard = Cleanup(part.clone(), false);
    let mut size = 0u64;
    let mut got_file = false;
    while let Some(field) = payload.next().await {
        let mut field = field.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_multipart", e.to_string()))?;
        if got_file || field.content_disposition().and_then(|d| d.get_filename()).is_none() {
            // Other parts (form fields) are drained and ignored.
            while let Some(chunk) = field.next().await {
                chunk.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_multipart", e.to_string()))?;
            }
            continue;
        }
        got_file = true;
        let mut file = std::fs::File::create(&part).map_err(ApiError::internal)?;
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_multipart", e.to_string()))?;
            size += chunk.len() as u64;
            if size > state.max_upload {
                return Err(too_big());
            }
            file.write_all(&chunk).map_err(ApiError::internal)?;
        }
        file.sync_all().map_err(ApiError::internal)?;
    }
    if !got_file {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "no_file", "the multipart body has no file part"));
    }
    // Read it through once, off the executor: format, packets, warnings.
    let check = part.clone();
    let read = web::block(move || -> Result<(String, u64, Vec<String>, Option<String>), nta_capture::Error> {
        let mut r = CaptureReader::open(&check)?;
        let mut err = None;
        loop {
            match r.next_packet() {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => {
                    err = Some(e.to_string());
                    break;
                }
            }
        }
        let warnings = r.stats().warnings.iter().map(ToString::to_string).collect();
        Ok((r.format().short_name().to_owned(), r.stats().packets, warnings, err))
    })
    .await
    .map_err(ApiError::internal)?;
    let (format, packets, warnings, error) = match read {
        Ok(x) => x,
        Err(nta_capture::Error::NotACapture { found, .. }) => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "not_a_capture",
                format!("not a pcap or pcapng capture: {found}"),
            ));
        }
        Err(e) => return Err(ApiError::new(StatusCode::BAD_REQUEST, "bad_capture", e.to_string())),
    };
    if packets == 0
        && let Some(why) = error.or_else(|| warnings.first().cloned())
    {
        // A header cut short or broken before the first packet: nothing to keep.
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "bad_capture", why));
    }
    let ext = if format.starts_with("pcapng") { "pcapng" } else { "pcap" };
    let dest = dir.join(format!("{id}.{ext}"));
    std::fs::rename(&part, &dest).map_err(ApiError::internal)?;
    guard.1 = true;
    Ok(HttpResponse::Created().json(Uploaded { id, size, format, packets, warnings }))
}

/// The JSON 404 for unknown routes.
pub(crate) async fn not_found(req: HttpRequest) -> ApiResult<HttpResponse> {
    Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no route {} {}", req.method(), req.path())))
}

/// Every route.
pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::QueryConfig::default()
            .error_handler(|e, _| ApiError::new(StatusCode::BAD_REQUEST, "bad_query", e.to_string()).into()),
    )
    .app_data(
        web::JsonConfig::default()
            .error_handler(|e, _| ApiError::new(StatusCode::BAD_REQUEST, "bad_json", e.to_string()).into()),
    )
    .route("/health", web::get().to(health))
    .route("/api/status", web::get().to(status))
    .route("/api/anomalies", web::get().to(anomalies))
    .route("/api/anomalies/summary", web::get().to(anomaly_summary))
    .route("/api/anomalies/{id}", web::get().to(anomaly))
    .route("/api/metrics", web::get().to(metrics))
    .route("/api/models", web::get().to(models))
    .route("/api/upload", web::post().to(upload))
    .default_service(web::to(not_found));
}
