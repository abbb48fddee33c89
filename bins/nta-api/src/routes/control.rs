//! `/api/control/start|stop|state`: the server's current work — one capture processed end to
//! end (extract → baseline → train → detect) at a time — and [`Control`], its state.

use crate::auth::Auth;
use crate::auth::Reader;
use crate::error::{ApiError, ApiResult};
use crate::jobs::{JobResult, JobView, Jobs, State};
use crate::routes::accepted;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use nta_store::{FileStore, Layout, analyze_into, name_for_capture};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;
use utoipa::ToSchema;

routes! {
    post "/api/control/start" => control_start,
    post "/api/control/stop" => control_stop,
    get "/api/control/state" => control_state,
}

/// The server's mode and the job doing its current work.
#[derive(Debug)]
pub struct Control {
    /// When the server started.
    pub started: Instant,
    state: Mutex<(String, Option<String>)>,
}

impl Default for Control {
    fn default() -> Control {
        Control::new()
    }
}

impl Control {
    /// Idle, no job.
    pub fn new() -> Control {
        Control { started: Instant::now(), state: Mutex::new(("idle".into(), None)) }
    }

    /// `idle` or `pcap <path>`.
    pub fn mode(&self) -> String {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).0.clone()
    }

    /// The current control job's id.
    pub fn job(&self) -> Option<String> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).1.clone()
    }

    /// Starts processing `pcap` as the current work, unless a control job is still active
    /// (409). Returns the job id.
    pub fn start(&self, jobs: &Jobs, layout: &Layout, kind: &str, pcap: PathBuf) -> ApiResult<String> {
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(running) =
            st.1.as_deref().and_then(|id| jobs.get(id)).filter(|j| matches!(j.state, State::Running | State::Queued))
        {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "busy",
                format!("job {} is running; stop it first", running.id),
            ));
        }
        let mode = format!("pcap {}", pcap.display());
        let layout = layout.clone();
        let id = jobs.spawn(kind, move |h| {
            let opts = nta_analysis::AnalyzeOptions { name: name_for_capture(&pcap), ..Default::default() };
            let (_, outcome) = analyze_into(&layout, &[pcap], opts, &h.progress(), &h.cancel)?;
            Ok(JobResult::Analysis(outcome))
        })?;
        *st = (mode, Some(id.clone()));
        Ok(id)
    }

    /// Back to idle; returns the job that was current.
    fn stop(&self) -> Option<String> {
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        st.0 = "idle".into();
        st.1.clone()
    }
}

/// Body of `POST /api/control/start`: exactly one of the two.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    /// A capture under the data directory (relative to it).
    path: Option<String>,
    /// An upload.
    upload_id: Option<String>,
}

/// Body of `GET /api/control/state` and `POST /api/control/stop`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ControlState {
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
    responses((status = 202, body = crate::routes::Accepted), (status = 400, body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
        (status = 409, description = "a control job is running", body = crate::error::ErrorBody),
        (status = 503, description = "the job queue is full", body = crate::error::ErrorBody)))]
pub async fn control_start(
    req: HttpRequest,
    auth: web::Data<Auth>,
    store: web::Data<FileStore>,
    jobs: web::Data<Jobs>,
    control: web::Data<Control>,
    body: web::Json<StartRequest>,
) -> ApiResult<HttpResponse> {
    auth.check(&req)?;
    let b = body.into_inner();
    let layout = store.layout();
    let pcap = match (&b.path, &b.upload_id) {
        (Some(p), None) => {
            let root = layout.data_dir().canonicalize().map_err(ApiError::internal)?;
            let full = root
                .join(p)
                .canonicalize()
                .map_err(|_| ApiError::not_found(format!("no file {p} in the data directory")))?;
            if !full.starts_with(&root) || !full.is_file() {
                return Err(ApiError::bad("bad_request", format!("{p}: not a file under the data directory")));
            }
            full
        }
        (None, Some(id)) => layout.upload_path(id)?,
        _ => return Err(ApiError::bad("bad_request", "give exactly one of path and upload_id")),
    };
    let id = control.start(&jobs, layout, "control", pcap)?;
    Ok(accepted(&id))
}

/// Cancels the control job (if running) and returns to idle.
#[utoipa::path(post, path = "/api/control/stop", tag = "control", security(("bearer" = [])),
    responses((status = 200, body = ControlState), (status = 401, body = crate::error::ErrorBody)))]
pub async fn control_stop(
    req: HttpRequest,
    auth: web::Data<Auth>,
    jobs: web::Data<Jobs>,
    control: web::Data<Control>,
) -> ApiResult<HttpResponse> {
    auth.check(&req)?;
    let job = control.stop().and_then(|id| jobs.cancel(&id));
    Ok(HttpResponse::Ok().json(ControlState { mode: "idle".into(), job }))
}

/// The mode and the control job.
#[utoipa::path(get, path = "/api/control/state", security(("bearer" = [])), tag = "control", responses((status = 200, body = ControlState)))]
pub async fn control_state(
    _reader: Reader,
    jobs: web::Data<Jobs>,
    control: web::Data<Control>,
) -> ApiResult<HttpResponse> {
    let job = control.job().and_then(|id| jobs.get(&id));
    Ok(HttpResponse::Ok().json(ControlState { mode: control.mode(), job }))
}
