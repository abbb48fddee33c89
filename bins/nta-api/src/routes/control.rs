//! `/api/control/start|stop|state`: the server's current work — one capture processed end to
//! end (extract → baseline → train → detect) at a time — and [`Control`], its state.

use crate::auth::Auth;
use crate::auth::Reader;
use crate::error::{ApiError, ApiResult};
use crate::events::Events;
use crate::jobs::{JobResult, JobView, Jobs, State};
use crate::live::{LiveRequest, LiveRun, LiveState};
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

/// The server's mode and the job doing its current work, or its live capture.
#[derive(Debug)]
pub struct Control {
    /// When the server started.
    pub started: Instant,
    state: Mutex<(String, Option<String>)>,
    /// The live capture, running or the last one (its final state).
    live: Mutex<Option<LiveRun>>,
}

impl Default for Control {
    fn default() -> Control {
        Control::new()
    }
}

impl Control {
    /// Idle, no job.
    pub fn new() -> Control {
        Control { started: Instant::now(), state: Mutex::new(("idle".into(), None)), live: Mutex::new(None) }
    }

    /// `idle`, `pcap <path>` or `live <interface>`.
    pub fn mode(&self) -> String {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).0.clone()
    }

    /// The live capture's state (running, or the last one's at its end).
    pub fn live(&self) -> Option<LiveState> {
        self.live.lock().unwrap_or_else(PoisonError::into_inner).as_ref().map(LiveRun::state)
    }

    /// Starts continuous live detection on an interface, unless a control job or a live
    /// capture is running (409).
    pub fn start_live(&self, jobs: &Jobs, layout: &Layout, events: &Events, request: LiveRequest) -> ApiResult<()> {
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        self.refuse_if_busy(&st, jobs)?;
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        let mode = format!("live {}", request.interface);
        *live = Some(LiveRun::start(layout.clone(), events.clone(), request)?);
        *st = (mode, None);
        Ok(())
    }

    /// 409 while a control job or a live capture runs.
    fn refuse_if_busy(&self, st: &(String, Option<String>), jobs: &Jobs) -> ApiResult<()> {
        let busy = |what: String| ApiError::new(StatusCode::CONFLICT, "busy", format!("{what}; stop it first"));
        if let Some(running) =
            st.1.as_deref().and_then(|id| jobs.get(id)).filter(|j| matches!(j.state, State::Running | State::Queued))
        {
            return Err(busy(format!("job {} is running", running.id)));
        }
        if self.live.lock().unwrap_or_else(PoisonError::into_inner).as_ref().is_some_and(LiveRun::running) {
            return Err(busy(format!("a live capture runs ({})", st.0)));
        }
        Ok(())
    }

    /// The current control job's id.
    pub fn job(&self) -> Option<String> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).1.clone()
    }

    /// Starts processing `pcap` as the current work, unless a control job is still active
    /// (409). Returns the job id.
    pub fn start(
        &self,
        jobs: &Jobs,
        layout: &Layout,
        kind: &str,
        pcap: PathBuf,
        reading: nta_metrics::Reading,
    ) -> ApiResult<String> {
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        self.refuse_if_busy(&st, jobs)?;
        let mode = format!("pcap {}", pcap.display());
        let layout = layout.clone();
        let id = jobs.spawn(kind, move |h| {
            let mut opts = nta_analysis::AnalyzeOptions { name: name_for_capture(&pcap), ..Default::default() };
            opts.extract.tunnels = reading.tunnels;
            opts.extract.shards = reading.shards;
            let (_, outcome) = analyze_into(&layout, &[pcap], opts, &h.progress(), &h.cancel)?;
            Ok(JobResult::Analysis(outcome))
        })?;
        *st = (mode, Some(id.clone()));
        Ok(id)
    }

    /// Back to idle: a live capture is stopped (its windows flushed); returns the job that
    /// was current.
    fn stop(&self) -> Option<String> {
        if let Some(run) = self.live.lock().unwrap_or_else(PoisonError::into_inner).as_mut() {
            run.stop();
        }
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        st.0 = "idle".into();
        st.1.clone()
    }
}

/// Body of `POST /api/control/start`: exactly one of `path`, `upload_id` and `interface`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    /// A capture under the data directory (relative to it).
    path: Option<String>,
    /// An upload.
    upload_id: Option<String>,
    /// Live: capture this interface and detect continuously until stopped.
    interface: Option<String>,
    /// Live: a BPF filter.
    filter: Option<String>,
    /// Live: learn normal from the first span of capture time (`10m`), then detect.
    learn: Option<String>,
    /// Live: the model to detect with, or the name to learn into [default: live_IFACE].
    model: Option<String>,
    /// Live: window length [default: the model's, else 10s].
    window: Option<String>,
}

/// Body of `GET /api/control/state` and `POST /api/control/stop`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ControlState {
    /// `idle`, `pcap <path>` or `live <interface>`.
    mode: String,
    /// The control job, if one was started.
    job: Option<JobView>,
    /// The live capture (running, or the last one at its end): interface, uptime, packets,
    /// kernel drops, rate, windows, anomalies.
    live: Option<LiveState>,
}

/// Processes a capture (extract → baseline → train → detect) as the server's current work
/// (a job, 202), or starts continuous live detection on an interface (`interface`, 200: see
/// `GET /api/control/state`; 403 without capture privileges, 501 in a build without libpcap).
///
/// One at a time: 409 while the control job or a live capture runs.
#[utoipa::path(post, path = "/api/control/start", tag = "control", security(("bearer" = [])),
    request_body = StartRequest,
    responses((status = 202, body = crate::routes::Accepted), (status = 200, description = "live capture started", body = ControlState),
        (status = 400, body = crate::error::ErrorBody), (status = 403, description = "no capture privileges", body = crate::error::ErrorBody),
        (status = 501, description = "a build without live capture", body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
        (status = 409, description = "a control job is running", body = crate::error::ErrorBody),
        (status = 503, description = "the job queue is full", body = crate::error::ErrorBody)))]
pub async fn control_start(
    req: HttpRequest,
    auth: web::Data<Auth>,
    store: web::Data<FileStore>,
    (jobs, control, events): (web::Data<Jobs>, web::Data<Control>, web::Data<Events>),
    reading: web::Data<nta_metrics::Reading>,
    body: web::Json<StartRequest>,
) -> ApiResult<HttpResponse> {
    auth.check(&req)?;
    let b = body.into_inner();
    let layout = store.layout();
    if let Some(interface) = &b.interface {
        if b.path.is_some() || b.upload_id.is_some() {
            return Err(ApiError::bad("bad_request", "give exactly one of path, upload_id and interface"));
        }
        let duration = |what: &str, v: &Option<String>| -> ApiResult<Option<i64>> {
            v.as_deref()
                .map(|s| {
                    humantime::parse_duration(s)
                        .ok()
                        .and_then(|d| i64::try_from(d.as_nanos()).ok())
                        .ok_or_else(|| ApiError::bad("bad_request", format!("{what} {s:?}: not a duration")))
                })
                .transpose()
        };
        let request = LiveRequest {
            interface: interface.clone(),
            filter: b.filter.clone(),
            learn_ns: duration("learn", &b.learn)?,
            model: b.model.clone(),
            window_ns: duration("window", &b.window)?,
            reading: **reading,
        };
        let (control, events) = (control.clone(), events.clone());
        let layout = layout.clone();
        web::block(move || control.start_live(&jobs, &layout, &events, request)).await??;
        return Ok(HttpResponse::Ok().json(ControlState { mode: format!("live {interface}"), job: None, live: None }));
    }
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
    let id = control.start(&jobs, layout, "control", pcap, **reading)?;
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
    let stopping = control.clone();
    let current = web::block(move || stopping.stop()).await?;
    let job = current.and_then(|id| jobs.cancel(&id));
    Ok(HttpResponse::Ok().json(ControlState { mode: "idle".into(), job, live: control.live() }))
}

/// The mode and the control job.
#[utoipa::path(get, path = "/api/control/state", security(("bearer" = [])), tag = "control", responses((status = 200, body = ControlState)))]
pub async fn control_state(
    _reader: Reader,
    jobs: web::Data<Jobs>,
    control: web::Data<Control>,
) -> ApiResult<HttpResponse> {
    let job = control.job().and_then(|id| jobs.get(&id));
    Ok(HttpResponse::Ok().json(ControlState { mode: control.mode(), job, live: control.live() }))
}
