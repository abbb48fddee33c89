//! `nta-api`: the REST backend. `main` reads the settings, refuses unsafe ones, starts the
//! startup job (processing `--pcap`) on a thread of its own and serves the routes of `api`.

mod api;
mod jobs;
mod openapi;
mod work;

use anyhow::{Context, Result, bail};
use api::AppState;
use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Instant;

/// nta-api — the REST backend of nta
#[derive(Debug, Parser)]
#[command(name = "nta-api", version, about)]
struct Args {
    /// Settings file (TOML: bind, data_dir, logs_dir, pcap, max_upload, cors_origins); flags and
    /// NTA_* variables override it
    #[arg(long, env = "NTA_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on (beyond loopback only with NTA_API_TOKEN set) [default: 127.0.0.1:8080]
    #[arg(long, env = "NTA_BIND")]
    bind: Option<SocketAddr>,
    /// Data directory (models, baselines, uploads) [default: data]
    #[arg(long, env = "NTA_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Logs directory (metrics.jsonl, anomalies.jsonl, app.log) [default: logs]
    #[arg(long, env = "NTA_LOGS_DIR")]
    logs_dir: Option<PathBuf>,
    /// Capture to process at start [default: fixtures/test_net_traffic.pcapng when present]
    #[arg(long, env = "NTA_PCAP")]
    pcap: Option<PathBuf>,
    /// Largest upload, bytes [default: 2 GiB]
    #[arg(long, env = "NTA_MAX_UPLOAD")]
    max_upload: Option<u64>,
    /// Origins allowed by CORS, comma-separated ("*" for any) [default: none, same origin only]
    #[arg(long, env = "NTA_CORS_ORIGINS", value_delimiter = ',')]
    cors_origin: Vec<String>,
}

/// The settings file; every key optional.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    bind: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    logs_dir: Option<PathBuf>,
    pcap: Option<PathBuf>,
    max_upload: Option<u64>,
    cors_origins: Option<Vec<String>>,
}

/// What the server runs with, after flags, environment, file and defaults.
#[derive(Debug)]
struct Settings {
    bind: SocketAddr,
    data_dir: PathBuf,
    logs_dir: PathBuf,
    pcap: Option<PathBuf>,
    max_upload: u64,
    cors_origins: Vec<String>,
}

fn settings(args: Args) -> Result<Settings> {
    let file = match &args.config {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            toml::from_str::<FileSettings>(&text).with_context(|| format!("{}", p.display()))?
        }
        None => FileSettings::default(),
    };
    let default_bind = SocketAddr::from(([127, 0, 0, 1], 8080));
    Ok(Settings {
        bind: args.bind.or(file.bind).unwrap_or(default_bind),
        data_dir: args.data_dir.or(file.data_dir).unwrap_or_else(|| "data".into()),
        logs_dir: args.logs_dir.or(file.logs_dir).unwrap_or_else(|| "logs".into()),
        pcap: args.pcap.or(file.pcap),
        max_upload: args.max_upload.or(file.max_upload).unwrap_or(2 << 30),
        cors_origins: if args.cors_origin.is_empty() {
            file.cors_origins.unwrap_or_default()
        } else {
            args.cors_origin
        },
    })
}

/// One JSON line per request, to stdout and `logs/app.log`.
fn log_line(file: &Mutex<std::fs::File>, line: &serde_json::Value) {
    use std::io::Write;
    let text = format!("{line}\n");
    let _ = std::io::stdout().write_all(text.as_bytes());
    if let Ok(mut f) = file.lock() {
        let _ = f.write_all(text.as_bytes());
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

/// Extract → baseline → train → detect on `pcap`, written where the endpoints read.
#[cfg(test)]
fn process(pcap: &std::path::Path, data: &std::path::Path, logs: &std::path::Path) -> Result<serde_json::Value> {
    work::analyze_into(pcap, data, logs, &jobs::Handle::detached()).map_err(|e| anyhow::anyhow!("{e:?}"))
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nta-api: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<()> {
    let args = settings(Args::parse())?;
    let token = std::env::var("NTA_API_TOKEN").ok().filter(|t| !t.is_empty());
    if !args.bind.ip().is_loopback() && token.is_none() {
        bail!("refusing to listen on {} without NTA_API_TOKEN: set a token, or bind to 127.0.0.1", args.bind);
    }
    std::fs::create_dir_all(&args.data_dir).with_context(|| format!("creating {}", args.data_dir.display()))?;
    std::fs::create_dir_all(&args.logs_dir).with_context(|| format!("creating {}", args.logs_dir.display()))?;
    let pcap = args.pcap.clone().or_else(|| {
        let sample = PathBuf::from("fixtures/test_net_traffic.pcapng");
        sample.is_file().then_some(sample)
    });
    let mode = pcap.as_ref().map_or_else(|| "idle".to_owned(), |p| format!("pcap {}", p.display()));
    let state = actix_web::web::Data::new(AppState::new(
        args.data_dir.clone(),
        args.logs_dir.clone(),
        token,
        args.max_upload,
        mode,
    ));
    if let Some(pcap) = pcap {
        let (data, logs) = (args.data_dir.clone(), args.logs_dir.clone());
        let id = state.jobs.spawn("startup", move |h| work::analyze_into(&pcap, &data, &logs, h));
        if let Ok(mut c) = state.control.lock() {
            *c = Some(id.clone());
        }
        println!("startup job {id}: processing the capture");
    }
    let log = std::sync::Arc::new(Mutex::new(
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(args.logs_dir.join("app.log"))
            .context("opening logs/app.log")?,
    ));
    println!("nta-api listening on http://{}", args.bind);
    let bind = args.bind;
    let origins = args.cors_origins.clone();
    let jobs = state.jobs.clone();
    let served = actix_web::rt::System::new().block_on(async move {
        actix_web::HttpServer::new(move || {
            let log = log.clone();
            actix_web::App::new()
                .app_data(state.clone())
                .wrap(cors(&origins))
                .wrap_fn(move |req, srv| {
                    use actix_web::dev::Service;
                    let started = Instant::now();
                    let (method, path) = (req.method().to_string(), req.path().to_owned());
                    let log = log.clone();
                    let fut = srv.call(req);
                    async move {
                        let res = fut.await?;
                        log_line(
                            &log,
                            &serde_json::json!({
                                "ts": nta_capture::format_rfc3339_ns(
                                    std::time::SystemTime::now()
                                        .duration_since(std::time::UNIX_EPOCH)
                                        .map_or(0, |d| d.as_nanos() as i64)
                                ),
                                "method": method,
                                "path": path,
                                "status": res.status().as_u16(),
                                "ms": started.elapsed().as_secs_f64() * 1e3,
                            }),
                        );
                        Ok(res)
                    }
                })
                .configure(api::configure)
        })
        .shutdown_timeout(10)
        .bind(bind)
        .with_context(|| format!("binding {bind}"))?
        .run()
        .await
        .context("serving")
    });
    // Graceful shutdown (SIGINT/SIGTERM): requests in flight were given 10 s; running jobs are
    // cancelled, which makes them stop before writing anything.
    let abandoned = jobs.cancel_running();
    if abandoned > 0 {
        println!("shutdown: {abandoned} running job(s) cancelled; nothing partial was written");
    }
    served
}

#[cfg(test)]
mod tests;
