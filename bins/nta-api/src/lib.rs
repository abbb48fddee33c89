//! `nta-api`, the REST backend: [`create_app`] builds the whole application — routes, JSON
//! errors, CORS and request logs — from [`Services`], one small typed `web::Data` per service
//! ([`FileStore`] for the directories, a [`RecordStore`] for the records read — the files, or
//! a fleet's ClickHouse with `--clickhouse` —, [`Jobs`] for long work, [`Control`] for the server's
//! current work, [`Auth`], [`Limits`]). `main.rs` and the in-process tests both call it, so
//! the app that is tested is the app that runs.

pub mod auth;
pub mod error;
pub mod events;
mod job_state;
pub mod jobs;
pub mod live;
mod openapi;
pub mod routes;
pub mod telemetry;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, web};
pub use auth::Auth;
pub use events::{Event, Events};
pub use jobs::{JobLimits, Jobs};
use nta_metrics::Reading;
use nta_store::{FileStore, Layout, RecordStore};
pub use routes::control::Control;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Sizes and waits the handlers apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest upload, bytes.
    pub max_upload: u64,
    /// An upload whose body sends nothing for this long is dropped (and its part file removed).
    pub upload_idle: Duration,
    /// Train and detect answer directly when their job ends within this; else 202.
    pub sync_wait: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_upload: 2 << 30, upload_idle: Duration::from_secs(30), sync_wait: Duration::from_secs(1) }
    }
}

/// Everything the handlers share, one `web::Data` per service (cheap to clone).
#[derive(Clone, Debug)]
pub struct Services {
    /// The data and logs directories, read through caches.
    pub store: web::Data<FileStore>,
    /// The records (anomalies, metrics, flows) the reads answer from: the files of `store`,
    /// or a fleet's ClickHouse.
    pub records: web::Data<dyn RecordStore>,
    /// Long work.
    pub jobs: web::Data<Jobs>,
    /// What happens, for `/api/events`.
    pub events: web::Data<Events>,
    /// The server's current work (`/api/control`).
    pub control: web::Data<Control>,
    /// Who may change things.
    pub auth: web::Data<Auth>,
    /// Sizes and waits.
    pub limits: web::Data<Limits>,
    /// How every extraction reads packets: the layer of tunnelled packets and the shards
    /// (`--tunnels`, `--shards`).
    pub reading: web::Data<Reading>,
    /// What `GET /metrics` tells (request counters kept as requests are served).
    pub telemetry: web::Data<telemetry::Telemetry>,
    /// Origins allowed by CORS (`*` for any).
    pub cors_origins: Arc<Vec<String>>,
    /// Where request logs go besides stdout (`logs/app.log`), if anywhere.
    pub request_log: Option<Arc<Mutex<std::fs::File>>>,
}

impl Services {
    /// Services over `layout`: the directories are created, part files a crash left in the
    /// uploads are removed, and the job workers start.
    pub fn new(layout: Layout, auth: Auth, limits: Limits, jobs: JobLimits) -> Result<Services, nta_store::Error> {
        layout.create_dirs()?;
        let removed = layout.remove_partial_uploads()?;
        if removed > 0 {
            println!("removed {removed} partial upload(s) left by an earlier run");
        }
        let events = Events::new();
        let store = web::Data::new(FileStore::new(layout));
        let records: Arc<dyn RecordStore> = store.clone().into_inner();
        Ok(Services {
            records: web::Data::from(records),
            store,
            jobs: web::Data::from(Jobs::new(jobs, events.clone())),
            events: web::Data::new(events),
            control: web::Data::new(Control::new()),
            auth: web::Data::new(auth),
            limits: web::Data::new(limits),
            reading: web::Data::new(Reading::default()),
            telemetry: web::Data::new(telemetry::Telemetry::new()),
            cors_origins: Arc::default(),
            request_log: None,
        })
    }

    /// The same, reading the records from `records` (a fleet's ClickHouse) instead of the files.
    pub fn with_records(mut self, records: Arc<dyn RecordStore>) -> Services {
        self.records = web::Data::from(records);
        self
    }

    /// The same, logging requests to `logs/app.log` too.
    pub fn with_request_log(mut self) -> Result<Services, nta_store::Error> {
        let path = self.store.layout().app_log_path();
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|source| nta_store::Error::Io { path, source })?;
        self.request_log = Some(Arc::new(Mutex::new(file)));
        Ok(self)
    }
}

/// The application: every route, JSON errors for bad queries, bad JSON and unknown routes,
/// CORS and one JSON log line per request.
pub fn create_app(
    s: Services,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let log = s.request_log;
    let telemetry = s.telemetry.clone();
    App::new()
        .app_data(s.store)
        .app_data(s.records)
        .app_data(s.jobs)
        .app_data(s.events)
        .app_data(s.control)
        .app_data(s.auth)
        .app_data(s.limits)
        .app_data(s.reading)
        .app_data(s.telemetry)
        .app_data(web::Data::new(routes::server::ApiDocument(openapi::json())))
        .configure(routes::configure)
        .wrap(cors(&s.cors_origins))
        .wrap_fn(move |req, srv| {
            use actix_web::dev::Service;
            let started = Instant::now();
            let (method, path) = (req.method().to_string(), req.path().to_owned());
            let log = log.clone();
            let telemetry = telemetry.clone();
            let fut = srv.call(req);
            async move {
                let res = fut.await?;
                let route = res.request().match_pattern().unwrap_or_else(|| "unmatched".to_owned());
                telemetry.observe(&route, res.status().as_u16(), started.elapsed());
                let line = serde_json::json!({
                    "ts": nta_store::now_rfc3339(),
                    "method": method,
                    "path": path,
                    "status": res.status().as_u16(),
                    "ms": started.elapsed().as_secs_f64() * 1e3,
                });
                log_line(log.as_deref(), &line);
                Ok(res)
            }
        })
}

/// One JSON line per request, to stdout and the request log.
fn log_line(file: Option<&Mutex<std::fs::File>>, line: &serde_json::Value) {
    use std::io::Write;
    let text = format!("{line}\n");
    let _ = std::io::stdout().write_all(text.as_bytes());
    if let Some(f) = file {
        let _ = f.lock().unwrap_or_else(std::sync::PoisonError::into_inner).write_all(text.as_bytes());
    }
}

fn cors(origins: &[String]) -> actix_cors::Cors {
    let mut c = actix_cors::Cors::default()
        .allowed_methods(["GET", "POST", "DELETE"])
        .allowed_headers(["authorization", "content-type"])
        .max_age(3600);
    for o in origins {
        c = if o == "*" { c.allow_any_origin() } else { c.allowed_origin(o) };
    }
    c
}

#[cfg(test)]
mod tests;
