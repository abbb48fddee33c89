//! The handlers, the shared state and the JSON error format. No analysis logic lives here:
//! every endpoint calls the library crates.

use crate::jobs::JobView;
use crate::jobs::{JobError, Jobs, State};
use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use futures_util::StreamExt;
use nta_analysis::{
    Anomaly, AnomalyStore, Detector, Filter, Incident, Page, Severity, Snapshot, StoreIndex, Summary, incident,
    incident_groups, summarize,
};
use nta_capture::CaptureReader;
use nta_metrics::WindowRecord;
use nta_ml::ModelInfo;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use utoipa::{IntoParams, ToSchema};

/// What the server knows.
#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) data_dir: PathBuf,
    pub(crate) logs_dir: PathBuf,
    pub(crate) token: Option<String>,
    pub(crate) max_upload: u64,
    pub(crate) started: Instant,
    pub(crate) mode: Mutex<String>,
    pub(crate) jobs: Arc<Jobs>,
    /// The job `POST /api/control/start` started, if any.
    pub(crate) control: Mutex<Option<String>>,
    /// `logs/anomalies.jsonl` in memory, following appends.
    pub(crate) anomalies: StoreIndex,
    /// `logs/metrics.jsonl` as last read.
    pub(crate) metrics: MetricsCache,
    /// `data/models` as last listed.
    pub(crate) models: ModelsCache,
    /// The last `GET /api/anomalies/summary` body.
    pub(crate) summary: SummaryCache,
    /// Train and detect answer directly when their job ends within this; else 202.
    pub(crate) sync_wait: std::time::Duration,
}

/// The last summary body and what it was computed from: a dashboard polling the same summary
/// gets it without recomputation until the store changes (a new snapshot). The snapshot is
/// held, so its identity cannot be reused by another.
#[derive(Debug, Default)]
pub(crate) struct SummaryCache {
    last: Mutex<Option<(Arc<Snapshot>, SummaryKey, web::Bytes)>>,
}

/// Filter, limit and offset of a summary request.
type SummaryKey = (Filter, usize, usize);

impl SummaryCache {
    fn get(&self, snapshot: &Arc<Snapshot>, key: &SummaryKey) -> Option<web::Bytes> {
        let last = self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        last.as_ref().filter(|(s, k, _)| Arc::ptr_eq(s, snapshot) && k == key).map(|(_, _, b)| b.clone())
    }

    fn put(&self, snapshot: Arc<Snapshot>, key: SummaryKey, body: web::Bytes) {
        *self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some((snapshot, key, body));
    }
}

/// The model list of `data/models`: a file is loaded again only when its identity, size or
/// modification time change (models are written by rename).
#[derive(Debug, Default)]
pub(crate) struct ModelsCache {
    known: Mutex<std::collections::HashMap<PathBuf, (FileKey, ModelInfo)>>,
}

impl ModelsCache {
    /// The models in `dir`, sorted by name.
    pub(crate) fn list(&self, dir: &std::path::Path) -> Result<Vec<ModelInfo>, nta_ml::Error> {
        let files = nta_ml::model_files(dir)?;
        let mut known = self.known.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        known.retain(|p, _| files.contains(p));
        let mut out = Vec::with_capacity(files.len());
        for path in files {
            let key = std::fs::metadata(&path).ok().map(|m| file_key(&m));
            match (key, known.get(&path)) {
                (Some(k), Some((cached, info))) if *cached == k => out.push(info.clone()),
                _ => {
                    let info = ModelInfo::read(&path);
                    if let Some(k) = key {
                        known.insert(path, (k, info.clone()));
                    }
                    out.push(info);
                }
            }
        }
        Ok(out)
    }
}

/// The records of `logs/metrics.jsonl`, read again only when the file changes (it is
/// replaced whole by an atomic rename: a new inode, size or modification time).
#[derive(Debug, Default)]
pub(crate) struct MetricsCache {
    last: Mutex<Option<(FileKey, Arc<Vec<nta_metrics::WindowRecord>>)>>,
}

type FileKey = (u64, u64, u64, Option<std::time::SystemTime>);

fn file_key(m: &std::fs::Metadata) -> FileKey {
    #[cfg(unix)]
    let (dev, ino) = {
        use std::os::unix::fs::MetadataExt;
        (m.dev(), m.ino())
    };
    #[cfg(not(unix))]
    let (dev, ino) = (0, 0);
    (dev, ino, m.len(), m.modified().ok())
}

impl MetricsCache {
    /// The file's records (none when it does not exist).
    pub(crate) fn records(
        &self,
        path: &std::path::Path,
    ) -> Result<Arc<Vec<nta_metrics::WindowRecord>>, nta_metrics::Error> {
        let Ok(meta) = std::fs::metadata(path) else { return Ok(Arc::default()) };
        let key = file_key(&meta);
        let mut last = self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((k, records)) = last.as_ref()
            && *k == key
        {
            return Ok(records.clone());
        }
        let records = Arc::new(nta_metrics::read_jsonl(path)?.records);
        *last = Some((key, records.clone()));
        Ok(records)
    }
}

impl AppState {
    /// The state of a server over `data_dir` and `logs_dir`, no job started yet.
    pub(crate) fn new(
        data_dir: PathBuf,
        logs_dir: PathBuf,
        token: Option<String>,
        max_upload: u64,
        mode: String,
    ) -> AppState {
        let anomalies = StoreIndex::new(AnomalyStore::new(logs_dir.join("anomalies.jsonl")));
        AppState {
            data_dir,
            logs_dir,
            token,
            max_upload,
            started: Instant::now(),
            mode: Mutex::new(mode),
            jobs: Arc::new(Jobs::default()),
            control: Mutex::new(None),
            anomalies,
            metrics: MetricsCache::default(),
            models: ModelsCache::default(),
            summary: SummaryCache::default(),
            sync_wait: SYNC_WAIT,
        }
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
            .json(ErrorBody { error: ErrorDetail { code: self.code.to_owned(), message: self.message.clone() } })
    }
}

/// Every error response.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ErrorBody {
    pub(crate) error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ErrorDetail {
    /// Stable, machine-readable: `bad_query`, `bad_json`, `bad_request`, `unauthorized`,
    /// `not_found`, `unknown_model`, `too_large`, `not_a_capture`, `bad_capture`,
    /// `bad_multipart`, `no_file`, `busy`, `job_failed`, `internal`.
    #[schema(example = "not_found")]
    pub(crate) code: String,
    /// For people.
    pub(crate) message: String,
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
    nta_capture::parse_timestamp_ns(s)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_query", format!("{what}: {e}")))
}

/// Body of `GET /health`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Health {
    #[schema(example = "ok")]
    status: &'static str,
}

/// Liveness (no authentication, no disk access).
#[utoipa::path(get, path = "/health", tag = "server", responses((status = 200, body = Health)))]
pub(crate) async fn health() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// Body of `GET /api/status`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StatusBody {
    version: &'static str,
    /// Seconds since the server started.
    uptime_s: f64,
    /// `idle` or `pcap <path>` (the capture being or last processed).
    mode: String,
    data_dir: String,
    logs_dir: String,
    /// Uploaded captures.
    captures: usize,
    /// Records in `logs/metrics.jsonl`.
    metrics_windows: usize,
    /// Model files.
    models: usize,
    /// The most recently created model.
    active_model: Option<String>,
    /// Records in the anomaly store.
    anomalies: usize,
    running_jobs: usize,
    jobs: Vec<JobView>,
}

/// Version, uptime, mode, directories and counts of everything stored.
#[utoipa::path(get, path = "/api/status", tag = "server", responses((status = 200, body = StatusBody)))]
pub(crate) async fn status(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let s = state.clone();
    let body = web::block(move || {
        let models = s.models.list(&s.data_dir.join("models")).unwrap_or_default();
        let uploads = std::fs::read_dir(s.uploads())
            .map(|d| d.flatten().filter(|e| !e.file_name().to_string_lossy().starts_with('.')).count())
            .unwrap_or(0);
        StatusBody {
            version: env!("CARGO_PKG_VERSION"),
            uptime_s: s.started.elapsed().as_secs_f64(),
            mode: s.mode.lock().map(|m| m.clone()).unwrap_or_default(),
            data_dir: s.data_dir.display().to_string(),
            logs_dir: s.logs_dir.display().to_string(),
            captures: uploads,
            metrics_windows: s.metrics.records(&s.logs_dir.join("metrics.jsonl")).map_or(0, |r| r.len()),
            models: models.len(),
            active_model: models.iter().max_by(|a, b| a.created_at.cmp(&b.created_at)).map(|m| m.name.clone()),
            anomalies: s.anomalies.snapshot().map(|r| r.anomalies.len()).unwrap_or(0),
            running_jobs: s.jobs.running(),
            jobs: s.jobs.all(),
        }
    })
    .await
    .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(body))
}

/// Query of `GET /api/anomalies` and `/api/anomalies/summary`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct AnomalyQuery {
    /// Windows ending after this: RFC 3339 (`2026-03-02T09:00:00Z`, offsets allowed) or
    /// nanoseconds since the epoch.
    since: Option<String>,
    /// Windows starting before this (same forms).
    until: Option<String>,
    /// At least this severity.
    severity: Option<Severity>,
    /// This detector.
    detector: Option<Detector>,
    /// Source (capture path) containing this text.
    source: Option<String>,
    /// Model score at least this.
    min_score: Option<f64>,
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
            source: self.source.clone(),
            min_score: self.min_score,
        })
    }
}

/// The stored anomalies, filtered, in time order, one page at a time.
#[utoipa::path(get, path = "/api/anomalies", tag = "anomalies", params(AnomalyQuery),
    responses((status = 200, body = Page), (status = 400, body = ErrorBody)))]
pub(crate) async fn anomalies(state: web::Data<AppState>, q: web::Query<AnomalyQuery>) -> ApiResult<HttpResponse> {
    let filter = q.filter()?;
    let limit = q.limit.unwrap_or(100).min(1000);
    let offset = q.offset.unwrap_or(0);
    let page = web::block(move || state.anomalies.snapshot().map(|s| s.list(&filter, offset, limit)))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(page))
}

/// Body of `GET /api/anomalies/summary`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SummaryBody {
    summary: Summary,
    /// Incidents of the matching anomalies in all.
    incidents_total: usize,
    /// Consecutive anomalies of one source explained by the same metrics, in time order:
    /// `limit` of them (default 100, at most 1000) from `offset`.
    incidents: Vec<Incident>,
}

/// Counts by severity and detector, time range, top metrics and incidents of the matching
/// anomalies; `limit`/`offset` page the incidents.
#[utoipa::path(get, path = "/api/anomalies/summary", tag = "anomalies", params(AnomalyQuery),
    responses((status = 200, body = SummaryBody), (status = 400, body = ErrorBody)))]
pub(crate) async fn anomaly_summary(
    state: web::Data<AppState>,
    q: web::Query<AnomalyQuery>,
) -> ApiResult<HttpResponse> {
    let filter = q.filter()?;
    let (limit, offset) = (q.limit.unwrap_or(100).min(1000), q.offset.unwrap_or(0));
    let body = web::block(move || -> Result<web::Bytes, String> {
        let snapshot = state.anomalies.snapshot().map_err(|e| e.to_string())?;
        let key = (filter, limit, offset);
        if let Some(body) = state.summary.get(&snapshot, &key) {
            return Ok(body);
        }
        let filter = &key.0;
        let items: Vec<&Anomaly> = snapshot.anomalies.iter().filter(|a| filter.matches(a)).collect();
        let window = items.first().map_or(1, |a| a.window_end_ns - a.window_start_ns);
        // Only the page's incidents are built.
        let groups = incident_groups(&items, window, 1);
        let page = groups.iter().skip(offset).take(limit);
        let body = SummaryBody {
            summary: summarize(items.iter().copied()),
            incidents_total: groups.len(),
            incidents: page.filter_map(|r| incident(items.get(r.clone())?)).collect(),
        };
        let body = web::Bytes::from(serde_json::to_vec(&body).map_err(|e| e.to_string())?);
        state.summary.put(snapshot.clone(), key, body.clone());
        Ok(body)
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().content_type("application/json").body(body))
}

/// One anomaly with its explanation.
#[utoipa::path(get, path = "/api/anomalies/{id}", tag = "anomalies",
    params(("id" = String, Path, description = "The anomaly's id (16 hex digits)")),
    responses((status = 200, body = Anomaly), (status = 404, body = ErrorBody)))]
pub(crate) async fn anomaly(state: web::Data<AppState>, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let wanted = id.clone();
    let found = web::block(move || state.anomalies.snapshot().map(|s| s.get(&wanted).cloned()))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    match found {
        Some(a) => Ok(HttpResponse::Ok().json(a)),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no anomaly {id}"))),
    }
}

/// Query of `GET /api/metrics`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct MetricsQuery {
    /// Windows ending after this: RFC 3339 or nanoseconds since the epoch.
    since: Option<String>,
    /// Windows starting before this.
    until: Option<String>,
    /// Items per page (default 100, at most 10000).
    limit: Option<usize>,
    /// Items skipped (default 0).
    offset: Option<usize>,
}

/// Body of `GET /api/metrics`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MetricsPage {
    /// Matching windows in total.
    total: usize,
    offset: usize,
    items: Vec<WindowRecord>,
}

/// Window records of `logs/metrics.jsonl` (the last capture processed), filtered by time.
#[utoipa::path(get, path = "/api/metrics", tag = "metrics", params(MetricsQuery),
    responses((status = 200, body = MetricsPage), (status = 400, body = ErrorBody)))]
pub(crate) async fn metrics(state: web::Data<AppState>, q: web::Query<MetricsQuery>) -> ApiResult<HttpResponse> {
    let since = q.since.as_deref().map(|s| parse_time(s, "since")).transpose()?;
    let until = q.until.as_deref().map(|s| parse_time(s, "until")).transpose()?;
    let (limit, offset) = (q.limit.unwrap_or(100).min(10_000), q.offset.unwrap_or(0));
    let body = web::block(move || -> Result<MetricsPage, nta_metrics::Error> {
        let records = state.metrics.records(&state.logs_dir.join("metrics.jsonl"))?;
        let mut total = 0;
        let mut items = Vec::new();
        for r in records
            .iter()
            .filter(|r| since.is_none_or(|t| r.window_end_ns() > t) && until.is_none_or(|t| r.window_start_ns < t))
        {
            if total >= offset && items.len() < limit {
                items.push(r.clone());
            }
            total += 1;
        }
        Ok(MetricsPage { total, offset, items })
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(body))
}

/// The model files in `data/models`, sorted by name (unreadable ones with their error).
#[utoipa::path(get, path = "/api/models", tag = "models", responses((status = 200, body = Vec<ModelInfo>)))]
pub(crate) async fn models(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let list = web::block(move || state.models.list(&state.data_dir.join("models")))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(list))
}

/// A server-chosen id (uploads, jobs): never derived from anything the client sent.
pub(crate) fn new_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    nta_analysis::stable_id(&[&t.to_le_bytes(), &n.to_le_bytes(), &std::process::id().to_le_bytes()])
}

/// What an upload became.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Uploaded {
    /// Server-chosen id (16 hex digits): `upload_id` of train, detect and control/start.
    id: String,
    /// Bytes stored.
    size: u64,
    /// `pcap`, `pcap-ns`, `pcapng`, ... (gzip-compressed forms included).
    format: String,
    packets: u64,
    /// Reader warnings (e.g. a last packet cut short).
    warnings: Vec<String>,
}

/// The multipart form of `POST /api/upload` (documentation only: the body is streamed).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub(crate) struct UploadForm {
    /// The capture (pcap or pcapng, optionally gzip-compressed); the first part with a file
    /// name is used, other parts are ignored.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Uploads a capture, streamed to `data/uploads/` and validated.
///
/// The first multipart part with a file name is streamed to disk (never held in memory),
/// checked by magic number and read through once; a bad upload leaves nothing behind.
#[utoipa::path(post, path = "/api/upload", tag = "captures", security(("bearer" = [])),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = Uploaded),
        (status = 400, description = "no file part, bad multipart, or a capture broken before its first packet", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 413, description = "over the size limit (from Content-Length when given)", body = ErrorBody),
        (status = 415, description = "not a pcap or pcapng file", body = ErrorBody)))]
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
    let id = new_id();
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

fn bad(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, message)
}

/// The capture of upload `id` (16 hex digits) in `data/uploads`.
fn upload_path(state: &AppState, id: &str) -> ApiResult<PathBuf> {
    if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad("bad_request", format!("upload id {id:?}: 16 hex digits expected")));
    }
    ["pcapng", "pcap"]
        .iter()
        .map(|ext| state.uploads().join(format!("{id}.{ext}")))
        .find(|p| p.is_file())
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no upload {id}")))
}

/// Body of a `202 Accepted`: the job doing the work.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Accepted {
    job: String,
    /// Where to follow it.
    #[schema(example = "/api/jobs/5f0c6a1b2d3e4f50")]
    href: String,
}

fn accepted(id: &str) -> HttpResponse {
    HttpResponse::Accepted().json(Accepted { job: id.to_owned(), href: format!("/api/jobs/{id}") })
}

/// How long train and detect wait for their job before answering 202.
const SYNC_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// The answer to work started as job `id`: when it ends within `state.sync_wait`, 200 with
/// the job (its `result` is the model's metadata or the detection's counts), or 422
/// `job_failed` with the reason; longer work answers 202 with where to follow it. The wait
/// sleeps on the executor's timer, never blocking it.
async fn answer(state: &AppState, id: &str) -> ApiResult<HttpResponse> {
    if state.sync_wait.is_zero() {
        return Ok(accepted(id));
    }
    let deadline = Instant::now() + state.sync_wait;
    loop {
        if let Some(j) = state.jobs.get(id).filter(|j| j.state != State::Running) {
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
        actix_web::rt::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// Window length used when nothing says otherwise.
const DEFAULT_WINDOW_NS: i64 = 10_000_000_000;

/// A window length such as `10s`, `1m`.
fn window_of(w: &str) -> ApiResult<i64> {
    let d = humantime::parse_duration(w).map_err(|e| bad("bad_request", format!("window {w:?}: {e}")))?;
    i64::try_from(d.as_nanos()).ok().filter(|n| *n > 0).ok_or_else(|| bad("bad_request", format!("window {w:?}")))
}

/// Body of `POST /api/train`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TrainRequest {
    /// Model name: letters, digits, `-`, `_`, `.` (saved as `data/models/<name>.json`).
    #[schema(example = "office")]
    name: String,
    /// Train on this upload (extracted first); without it, on `logs/metrics.jsonl`.
    upload_id: Option<String>,
    /// Window length when extracting an upload (default `10s`).
    #[schema(example = "10s")]
    window: Option<String>,
    /// Trees (default 100).
    n_estimators: Option<usize>,
    /// `auto`, an integer, or a fraction in (0, 1].
    max_samples: Option<String>,
    /// `auto` or a fraction in (0, 0.5].
    contamination: Option<String>,
    /// Random seed (default 0).
    seed: Option<u64>,
}

/// Trains a model: the model's metadata when done within a second, else the job to follow.
///
/// The job extracts the upload (or reads the stored metrics), trains and saves the model.
#[utoipa::path(post, path = "/api/train", tag = "models", security(("bearer" = [])), request_body = TrainRequest,
    responses(
        (status = 200, description = "done: the job, its result the model's metadata", body = JobView),
        (status = 202, description = "still running: follow the job", body = Accepted),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, description = "unknown upload", body = ErrorBody),
        (status = 422, description = "the training failed (e.g. no usable window)", body = ErrorBody)))]
pub(crate) async fn train(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<TrainRequest>,
) -> ApiResult<HttpResponse> {
    authorize(&req, &state)?;
    let b = body.into_inner();
    nta_ml::check_name(&b.name).map_err(|e| bad("bad_request", e.to_string()))?;
    let mut params = nta_ml::ForestParams::default();
    if let Some(n) = b.n_estimators {
        params.n_estimators = n;
    }
    if let Some(m) = &b.max_samples {
        params.max_samples = m.parse().map_err(|e: nta_ml::Error| bad("bad_request", e.to_string()))?;
    }
    if let Some(c) = &b.contamination {
        params.contamination = c.parse().map_err(|e: nta_ml::Error| bad("bad_request", e.to_string()))?;
    }
    params.random_state = b.seed.unwrap_or(0);
    if params.n_estimators == 0 {
        return Err(bad("bad_request", "n_estimators must be at least 1"));
    }
    let source = b.upload_id.as_deref().map(|id| upload_path(&state, id)).transpose()?;
    let window = b.window.as_deref().map(window_of).transpose()?.unwrap_or(DEFAULT_WINDOW_NS);
    let (data, logs) = (state.data_dir.clone(), state.logs_dir.clone());
    let id = state.jobs.spawn("train", move |h| {
        let records = crate::work::records(source.as_deref(), window, &logs, h)?;
        crate::work::train(&b.name, &records, &params, &data, h)
    });
    answer(&state, &id).await
}

/// Body of `POST /api/anomalies/detect`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DetectRequest {
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
        (status = 200, description = "done: the job, its result the windows, anomalies and incidents", body = JobView),
        (status = 202, description = "still running: follow the job", body = Accepted),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, description = "unknown model or upload", body = ErrorBody),
        (status = 422, description = "the detection failed (e.g. a model of other features)", body = ErrorBody)))]
pub(crate) async fn detect(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<DetectRequest>,
) -> ApiResult<HttpResponse> {
    authorize(&req, &state)?;
    let b = body.into_inner();
    let path = nta_ml::Model::path_in(&state.data_dir.join("models"), &b.model)
        .map_err(|e| bad("bad_request", e.to_string()))?;
    if !path.is_file() {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "unknown_model", format!("no model {}", b.model)));
    }
    let source = b.upload_id.as_deref().map(|id| upload_path(&state, id)).transpose()?;
    let window = b.window.as_deref().map(window_of).transpose()?;
    let (data, logs) = (state.data_dir.clone(), state.logs_dir.clone());
    let id = state.jobs.spawn("detect", move |h| {
        let model = nta_ml::Model::load(&path).map_err(|e| JobError::Failed(e.to_string()))?;
        // The model's own window unless one is given.
        let window = window.or(model.source.window_ns).unwrap_or(DEFAULT_WINDOW_NS);
        let records = crate::work::records(source.as_deref(), window, &logs, h)?;
        crate::work::detect_with(&records, &model, &data, &logs, h)
    });
    answer(&state, &id).await
}

/// Every job of this run, oldest first.
#[utoipa::path(get, path = "/api/jobs", tag = "jobs", responses((status = 200, body = Vec<JobView>)))]
pub(crate) async fn jobs(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(state.jobs.all())
}

/// A job: state, progress (bytes done / total), result or error.
#[utoipa::path(get, path = "/api/jobs/{id}", tag = "jobs", params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = JobView), (status = 404, body = ErrorBody)))]
pub(crate) async fn job(state: web::Data<AppState>, id: web::Path<String>) -> ApiResult<HttpResponse> {
    state
        .jobs
        .get(&id)
        .map(|j| HttpResponse::Ok().json(j))
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no job {id}")))
}

/// Cancels a running job: it stops within a batch of packets, a tree or a block of rows, and
/// writes nothing.
#[utoipa::path(delete, path = "/api/jobs/{id}", tag = "jobs", security(("bearer" = [])),
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = JobView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn cancel_job(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    authorize(&req, &state)?;
    state
        .jobs
        .cancel(&id)
        .map(|j| HttpResponse::Ok().json(j))
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no job {id}")))
}

/// Body of `POST /api/control/start`: exactly one of the two.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StartRequest {
    /// A capture under the data directory (relative to it).
    path: Option<String>,
    /// An upload.
    upload_id: Option<String>,
}

/// Body of `GET /api/control/state` and `POST /api/control/stop`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ControlState {
    /// `idle` or `pcap <path>`.
    mode: String,
    /// The control job, if one was started.
    job: Option<JobView>,
}

/// Processes a capture (extract → baseline → train → detect) as the server's current work.
///
/// One at a time: 409 while the control job runs. Always a job (202).
#[utoipa::path(post, path = "/api/control/start", tag = "control", security(("bearer" = [])),
    request_body = StartRequest,
    responses((status = 202, body = Accepted), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "a control job is running", body = ErrorBody)))]
pub(crate) async fn control_start(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<StartRequest>,
) -> ApiResult<HttpResponse> {
    authorize(&req, &state)?;
    let b = body.into_inner();
    let pcap = match (&b.path, &b.upload_id) {
        (Some(p), None) => {
            let root = state.data_dir.canonicalize().map_err(ApiError::internal)?;
            let full = root.join(p).canonicalize().map_err(|_| {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no file {p} in the data directory"))
            })?;
            if !full.starts_with(&root) || !full.is_file() {
                return Err(bad("bad_request", format!("{p}: not a file under the data directory")));
            }
            full
        }
        (None, Some(id)) => upload_path(&state, id)?,
        _ => return Err(bad("bad_request", "give exactly one of path and upload_id")),
    };
    let mut current = state.control.lock().map_err(ApiError::internal)?;
    if let Some(running) = current.as_deref().and_then(|id| state.jobs.get(id)).filter(|j| j.state == State::Running) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "busy",
            format!("job {} is running; stop it first", running.id),
        ));
    }
    if let Ok(mut m) = state.mode.lock() {
        *m = format!("pcap {}", pcap.display());
    }
    let (data, logs) = (state.data_dir.clone(), state.logs_dir.clone());
    let id = state.jobs.spawn("control", move |h| crate::work::analyze_into(&pcap, &data, &logs, h));
    *current = Some(id.clone());
    Ok(accepted(&id))
}

/// Cancels the control job (if running) and returns to idle.
#[utoipa::path(post, path = "/api/control/stop", tag = "control", security(("bearer" = [])),
    responses((status = 200, body = ControlState), (status = 401, body = ErrorBody)))]
pub(crate) async fn control_stop(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    authorize(&req, &state)?;
    let current = state.control.lock().map_err(ApiError::internal)?.clone();
    let job = current.and_then(|id| state.jobs.cancel(&id));
    if let Ok(mut m) = state.mode.lock() {
        *m = "idle".into();
    }
    Ok(HttpResponse::Ok().json(ControlState { mode: "idle".into(), job }))
}

/// The mode and the control job.
#[utoipa::path(get, path = "/api/control/state", tag = "control", responses((status = 200, body = ControlState)))]
pub(crate) async fn control_state(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let current = state.control.lock().map_err(ApiError::internal)?.clone();
    let job = current.and_then(|id| state.jobs.get(&id));
    let mode = state.mode.lock().map(|m| m.clone()).unwrap_or_default();
    Ok(HttpResponse::Ok().json(ControlState { mode, job }))
}

/// The JSON 404 for unknown routes.
pub(crate) async fn not_found(req: HttpRequest) -> ApiResult<HttpResponse> {
    Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no route {} {}", req.method(), req.path())))
}

/// Declares the routes once: `add_routes` registers them and `ROUTES` lists them (method,
/// path) for the test that holds the OpenAPI document to the routing table.
macro_rules! routes {
    ($($method:ident $path:literal => $handler:path),* $(,)?) => {
        /// Every (method, path) served.
        #[cfg(test)]
        pub(crate) const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        fn add_routes(cfg: &mut web::ServiceConfig) {
            $(cfg.route($path, web::$method().to($handler));)*
        }
    };
}

routes! {
    get "/health" => health,
    get "/api/status" => status,
    get "/api/anomalies" => anomalies,
    get "/api/anomalies/summary" => anomaly_summary,
    get "/api/anomalies/{id}" => anomaly,
    get "/api/metrics" => metrics,
    get "/api/models" => models,
    post "/api/upload" => upload,
    post "/api/train" => train,
    post "/api/anomalies/detect" => detect,
    get "/api/jobs" => jobs,
    get "/api/jobs/{id}" => job,
    delete "/api/jobs/{id}" => cancel_job,
    post "/api/control/start" => control_start,
    post "/api/control/stop" => control_stop,
    get "/api/control/state" => control_state,
    get "/api/openapi.json" => crate::openapi::document,
}

/// Every route, with JSON errors for bad queries, bad JSON and unknown routes.
pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::QueryConfig::default()
            .error_handler(|e, _| ApiError::new(StatusCode::BAD_REQUEST, "bad_query", e.to_string()).into()),
    )
    .app_data(
        web::JsonConfig::default()
            .error_handler(|e, _| ApiError::new(StatusCode::BAD_REQUEST, "bad_json", e.to_string()).into()),
    )
    .configure(add_routes)
    .default_service(web::to(not_found));
}
