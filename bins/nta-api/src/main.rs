//! `nta-api`: reads the settings, refuses unsafe ones, binds, then starts the startup job
//! (processing `--pcap`) and serves [`nta_api::create_app`].

use anyhow::{Context, Result, bail};
use clap::Parser;
use nta_api::{Auth, JobLimits, Limits, Services, create_app};
use nta_store::Layout;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// nta-api — the REST backend of nta
#[derive(Debug, Parser)]
#[command(name = "nta-api", version, about)]
struct Args {
    /// Settings file (TOML: bind, data_dir, logs_dir, pcap, max_upload, cors_origins,
    /// upload_idle_timeout, job_workers, job_queue, jobs_kept, tunnels, shards); flags and NTA_* variables override it
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
    /// An upload whose body sends nothing for this long is dropped [default: 30s]
    #[arg(long, env = "NTA_UPLOAD_IDLE_TIMEOUT", value_parser = humantime::parse_duration)]
    upload_idle_timeout: Option<Duration>,
    /// Job worker threads [default: 2]
    #[arg(long, env = "NTA_JOB_WORKERS")]
    job_workers: Option<usize>,
    /// Jobs waiting for a worker, at most; beyond, new jobs get 503 [default: 16]
    #[arg(long, env = "NTA_JOB_QUEUE")]
    job_queue: Option<usize>,
    /// Finished jobs kept for /api/jobs [default: 100]
    #[arg(long, env = "NTA_JOBS_KEPT")]
    jobs_kept: Option<usize>,
    /// With a token set, let reads (anomalies, metrics, models, status, jobs) through without
    /// it, for a trusted network; changes still need the token
    #[arg(long, env = "NTA_OPEN_READS")]
    open_reads: bool,
    /// Capture this interface from the start and detect continuously (instead of --pcap); needs
    /// a build with `--features live` and CAP_NET_RAW
    #[arg(long, env = "NTA_INTERFACE", conflicts_with = "pcap")]
    interface: Option<String>,
    /// With --interface: a BPF filter
    #[arg(long, env = "NTA_FILTER", requires = "interface")]
    filter: Option<String>,
    /// With --interface: learn normal from the first span of capture time (e.g. 10m), then detect
    #[arg(long, env = "NTA_LEARN", requires = "interface", value_parser = humantime::parse_duration)]
    learn: Option<Duration>,
    /// With --interface: the model to detect with, or the name to learn into [default: live_IFACE]
    #[arg(long, env = "NTA_MODEL", requires = "interface")]
    model: Option<String>,
    /// Layer of tunnelled packets (VXLAN, GENEVE, GRE, ERSPAN, ...) every extraction reads:
    /// inner (what the hosts said to each other) or outer (the tunnels themselves)
    #[arg(long, env = "NTA_TUNNELS")]
    tunnels: Option<nta_parsing::TunnelLayer>,
    /// Shards every extraction accumulates the flows in, in parallel: a power of two up to 16
    /// (docs/METRICS.md, "Shards"; 2 on a link that floods) [default: 1]
    #[arg(long, env = "NTA_SHARDS")]
    shards: Option<usize>,
    /// Serve a fleet's records (anomalies, metrics, flows, status) from ClickHouse's HTTP
    /// interface, http://[USER[:PASSWORD]@]HOST:PORT, as `nta-cli ingest` loads them
    /// (docs/DEPLOY.md); models, uploads and jobs stay in the directories
    #[arg(long, env = "NTA_CLICKHOUSE", value_name = "URL")]
    clickhouse: Option<String>,
    /// The database of nta's tables in ClickHouse [default: nta]
    #[arg(long, env = "NTA_CLICKHOUSE_DB", value_name = "NAME")]
    clickhouse_db: Option<String>,
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
    #[serde(default, with = "humantime_serde_opt")]
    upload_idle_timeout: Option<Duration>,
    job_workers: Option<usize>,
    job_queue: Option<usize>,
    jobs_kept: Option<usize>,
    open_reads: Option<bool>,
    tunnels: Option<nta_parsing::TunnelLayer>,
    shards: Option<usize>,
    clickhouse: Option<String>,
    clickhouse_db: Option<String>,
}

/// `upload_idle_timeout = "30s"` in the settings file.
mod humantime_serde_opt {
    use serde::Deserialize;
    pub(crate) fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<std::time::Duration>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| humantime::parse_duration(&s).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// What the server runs with, after flags, environment, file and defaults.
#[derive(Debug)]
struct Settings {
    bind: SocketAddr,
    data_dir: PathBuf,
    logs_dir: PathBuf,
    pcap: Option<PathBuf>,
    limits: Limits,
    jobs: JobLimits,
    cors_origins: Vec<String>,
    open_reads: bool,
    /// How every extraction reads packets (`--tunnels`, `--shards`).
    reading: nta_metrics::Reading,
    /// ClickHouse's URL and database, when the records come from a fleet's store.
    clickhouse: Option<(String, String)>,
}

/// Live detection at start: `--interface` and its companions.
fn live_request(args: &Args) -> Option<nta_api::live::LiveRequest> {
    args.interface.as_ref().map(|interface| nta_api::live::LiveRequest {
        interface: interface.clone(),
        filter: args.filter.clone(),
        learn_ns: args.learn.and_then(|d| i64::try_from(d.as_nanos()).ok()),
        model: args.model.clone(),
        window_ns: None,
        reading: nta_metrics::Reading::default(),
    })
}

fn settings(args: Args) -> Result<Settings> {
    let file = match &args.config {
        Some(p) => {
            let size = std::fs::metadata(p).with_context(|| format!("reading {}", p.display()))?.len();
            if size > nta_analysis::MAX_CONFIG_BYTES {
                anyhow::bail!(
                    "{}: {size} bytes, a settings file has at most {}",
                    p.display(),
                    nta_analysis::MAX_CONFIG_BYTES
                );
            }
            let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            toml::from_str::<FileSettings>(&text).with_context(|| format!("{}", p.display()))?
        }
        None => FileSettings::default(),
    };
    let reading = nta_metrics::Reading {
        tunnels: args.tunnels.or(file.tunnels).unwrap_or_default(),
        shards: args.shards.or(file.shards).unwrap_or(1),
    };
    reading.validate().context("--shards")?;
    let default_bind = SocketAddr::from(([127, 0, 0, 1], 8080));
    let (dl, dj) = (Limits::default(), JobLimits::default());
    Ok(Settings {
        bind: args.bind.or(file.bind).unwrap_or(default_bind),
        data_dir: args.data_dir.or(file.data_dir).unwrap_or_else(|| "data".into()),
        logs_dir: args.logs_dir.or(file.logs_dir).unwrap_or_else(|| "logs".into()),
        pcap: args.pcap.or(file.pcap),
        limits: Limits {
            max_upload: args.max_upload.or(file.max_upload).unwrap_or(dl.max_upload),
            upload_idle: args.upload_idle_timeout.or(file.upload_idle_timeout).unwrap_or(dl.upload_idle),
            sync_wait: dl.sync_wait,
        },
        jobs: JobLimits {
            workers: args.job_workers.or(file.job_workers).unwrap_or(dj.workers).max(1),
            queue: args.job_queue.or(file.job_queue).unwrap_or(dj.queue).max(1),
            keep: args.jobs_kept.or(file.jobs_kept).unwrap_or(dj.keep),
        },
        cors_origins: if args.cors_origin.is_empty() {
            file.cors_origins.unwrap_or_default()
        } else {
            args.cors_origin
        },
        open_reads: args.open_reads || file.open_reads.unwrap_or(false),
        reading,
        clickhouse: args
            .clickhouse
            .or(file.clickhouse)
            .map(|url| (url, args.clickhouse_db.or(file.clickhouse_db).unwrap_or_else(|| "nta".to_owned()))),
    })
}

/// The address could not be bound (taken, or not ours): exit code 3.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {bind}: {reason}")]
struct CannotBind {
    bind: SocketAddr,
    reason: String,
}

/// Exit codes: 0 after a clean shutdown, 2 for bad settings or a failure, 3 when the address
/// cannot be bound (e.g. the port is taken).
fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nta-api: {}", nta_store::error_chain(e.as_ref()));
            if e.is::<CannotBind>() { ExitCode::from(3) } else { ExitCode::from(2) }
        }
    }
}

fn run() -> Result<()> {
    let parsed = Args::parse();
    let live = live_request(&parsed);
    let args = settings(parsed)?;
    let live = live.map(|r| nta_api::live::LiveRequest { reading: args.reading, ..r });
    let token = match std::env::var("NTA_API_TOKEN") {
        Ok(t) => {
            Auth::check_token(&t).map_err(|e| anyhow::anyhow!("{e}"))?;
            Some(t)
        }
        Err(std::env::VarError::NotPresent) => None,
        Err(std::env::VarError::NotUnicode(_)) => bail!("NTA_API_TOKEN is not valid text"),
    };
    if !args.bind.ip().is_loopback() && token.is_none() {
        bail!("refusing to listen on {} without NTA_API_TOKEN: set a token, or bind to 127.0.0.1", args.bind);
    }
    let layout = Layout::new(&args.data_dir, &args.logs_dir);
    let mut services =
        Services::new(layout.clone(), Auth { token, open_reads: args.open_reads }, args.limits, args.jobs)?
            .with_request_log()?;
    services.cors_origins = std::sync::Arc::new(args.cors_origins.clone());
    services.reading = actix_web::web::Data::new(args.reading);
    if let Some((url, db)) = &args.clickhouse {
        services = services.with_records(std::sync::Arc::new(open_clickhouse(url, db)?));
    }
    // A fleet's API reads; it processes a capture at start only when told to.
    let pcap = args.pcap.clone().or_else(|| {
        let sample = PathBuf::from("fixtures/test_net_traffic.pcapng");
        (live.is_none() && args.clickhouse.is_none() && sample.is_file()).then_some(sample)
    });
    let bind = args.bind;
    let jobs = services.jobs.clone();
    let served = actix_web::rt::System::new().block_on(async move {
        let app_services = services.clone();
        // Bind first: a taken port fails here, before anything is announced or started.
        let server = actix_web::HttpServer::new(move || create_app(app_services.clone()))
            .shutdown_timeout(10)
            .bind(bind)
            .map_err(|e| {
                let reason = if e.kind() == std::io::ErrorKind::AddrInUse {
                    "the address is already in use (another nta-api?): choose another --bind".to_owned()
                } else {
                    e.to_string()
                };
                CannotBind { bind, reason }
            })?;
        if args.clickhouse.is_none() {
            // The anomaly store's index brought up to date now, not by the first request.
            let store = services.store.clone();
            std::thread::spawn(move || {
                let began = std::time::Instant::now();
                match store.anomalies().len() {
                    Ok(n) => println!("anomaly store: {n} records indexed ({:.1} s)", began.elapsed().as_secs_f64()),
                    Err(e) => eprintln!("anomaly store: {}", nta_store::error_chain(&e)),
                }
            });
        }
        if let Some(request) = live {
            let interface = request.interface.clone();
            services
                .control
                .start_live(&services.jobs, &layout, &services.events, request)
                .map_err(|e| anyhow::anyhow!("{interface}: {e}"))?;
            println!("live detection on {interface}");
        } else if let Some(pcap) = pcap {
            let id = services
                .control
                .start(&services.jobs, &layout, "startup", pcap, **services.reading)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("startup job {id}: processing the capture");
        }
        println!("nta-api listening on http://{bind}");
        server.run().await.context("serving")
    });
    // Graceful shutdown (SIGINT/SIGTERM): requests in flight were given 10 s; running jobs are
    // cancelled, which makes them stop before writing anything.
    let abandoned = jobs.cancel_running();
    if abandoned > 0 {
        println!("shutdown: {abandoned} running job(s) cancelled; nothing partial was written");
    }
    served
}

/// The fleet's store: its tables created when missing; a server still starting is waited
/// for (30 s), then it is an error.
fn open_clickhouse(url: &str, db: &str) -> Result<nta_fleet::ClickHouseStore> {
    let ch = nta_fleet::ClickHouse::new(url, db)?;
    let mut tries = 0;
    loop {
        match nta_fleet::ClickHouseStore::open(ch.clone()) {
            Ok(s) => {
                println!("records from ClickHouse {} (database {db})", url.rsplit('@').next().unwrap_or_default());
                return Ok(s);
            }
            Err(e) if tries < 30 => {
                if tries == 0 {
                    eprintln!("nta-api: {e}; waiting for ClickHouse");
                }
                tries += 1;
                std::thread::sleep(Duration::from_secs(1));
            }
            Err(e) => return Err(e).context("opening the fleet's store"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_file_flags_and_defaults() {
        use clap::Parser;
        let dir = std::env::temp_dir().join(format!("nta-api-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("api.toml");
        std::fs::write(
            &file,
            "bind = \"127.0.0.1:9999\"\ndata_dir = \"d1\"\ncors_origins = [\"http://a.example\"]\nshards = 4\n",
        )
        .unwrap();
        let args = Args::try_parse_from(["nta-api", "--config", file.to_str().unwrap(), "--data-dir", "d2"]).unwrap();
        let s = settings(args).unwrap();
        assert_eq!(s.bind.port(), 9999, "from the file");
        assert_eq!(s.data_dir, PathBuf::from("d2"), "the flag wins");
        assert_eq!(s.logs_dir, PathBuf::from("logs"), "default");
        assert_eq!(s.cors_origins, vec!["http://a.example".to_owned()]);
        assert_eq!(s.limits.max_upload, 2 << 30);
        assert_eq!(s.jobs, JobLimits::default());
        assert_eq!(s.reading, nta_metrics::Reading { shards: 4, ..nta_metrics::Reading::default() });
        // The flag wins; a count extraction would refuse is refused before the server starts.
        let args = Args::try_parse_from(["nta-api", "--config", file.to_str().unwrap(), "--shards", "2"]).unwrap();
        assert_eq!(settings(args).unwrap().reading.shards, 2);
        let args = Args::try_parse_from(["nta-api", "--config", file.to_str().unwrap(), "--shards", "3"]).unwrap();
        let err = format!("{:#}", settings(args).unwrap_err());
        assert!(err.contains("--shards") && err.contains("power of two"), "{err}");
        std::fs::write(&file, "bnid = \"127.0.0.1:1\"\n").unwrap();
        let args = Args::try_parse_from(["nta-api", "--config", file.to_str().unwrap()]).unwrap();
        let err = format!("{:#}", settings(args).unwrap_err());
        assert!(err.contains("bnid"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
