//! The fleet's commands and flags: `--publish`/`--sensor` of the sensors (`extract`,
//! `detect`, `flows`), `fleet init` (the streams) and `ingest` (the bus into ClickHouse).
//! docs/DEPLOY.md.

use crate::config::{parse_duration_ns, parse_size};
use anyhow::{Context, Result};
use nta_fleet::{
    ClickHouse, IngestConfig, NatsUrls, PublishConfig, PublishStats, Publisher, RecordKind, SensorName, StreamConfig,
};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// Publishing a sensor's records to NATS JetStream.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct PublishArgs {
    /// Publish the records to NATS JetStream as well: window records to `nta.metrics.<sensor>`,
    /// anomalies to `nta.anomalies.<sensor>`, flows to `nta.flows.<sensor>` (servers
    /// comma-separated, nats://HOST:PORT; docs/DEPLOY.md)
    #[arg(long, value_name = "URLS", requires = "sensor", env = "NTA_PUBLISH")]
    publish: Option<NatsUrls>,
    /// This sensor's name, stamped on its records (letters, digits, _ and -; at most 64)
    #[arg(long, value_name = "NAME", env = "NTA_SENSOR")]
    sensor: Option<SensorName>,
    /// Records waiting for the bus at most (while it is unreachable; beyond, new records are
    /// dropped and counted)
    #[arg(long, default_value = "64MiB", value_parser = parse_size, value_name = "SIZE")]
    publish_buffer: u64,
    /// At the end, how long to wait for the bus to take what is buffered
    #[arg(long, default_value = "2m", value_parser = parse_duration_ns, value_name = "DURATION")]
    publish_wait: i64,
}

impl PublishArgs {
    /// The sensor's name, when publishing.
    pub(crate) fn sensor_name(&self) -> Option<String> {
        self.publish.as_ref().and(self.sensor.as_ref()).map(ToString::to_string)
    }

    /// The publisher, when `--publish` is given.
    pub(crate) fn start(&self) -> Result<Option<Publisher>> {
        let (Some(urls), Some(sensor)) = (&self.publish, &self.sensor) else { return Ok(None) };
        let mut cfg = PublishConfig::new(urls.clone(), sensor.clone());
        cfg.buffer_bytes = usize::try_from(self.publish_buffer).unwrap_or(usize::MAX);
        cfg.drain = Duration::from_nanos(u64::try_from(self.publish_wait).unwrap_or(0));
        Ok(Some(Publisher::start(cfg).context("starting the publisher")?))
    }
}

/// Waits for the publisher to drain and says what it did; whether records were lost.
pub(crate) fn finish(publisher: Option<Publisher>) -> bool {
    let Some(p) = publisher else { return false };
    let sensor = p.sensor().clone();
    let s: PublishStats = p.finish();
    eprintln!(
        "published as sensor {sensor}: {} records acknowledged, {} already on the bus{}",
        s.published,
        s.duplicates,
        if s.retries > 0 { format!(", {} batches sent again", s.retries) } else { String::new() }
    );
    if s.lost() > 0 {
        eprintln!(
            "error: {} records lost: {} dropped (buffer full while the bus was unreachable), {} never acknowledged",
            s.lost(),
            s.dropped,
            s.unsent
        );
    }
    s.lost() > 0
}

/// An `std::io::Error` of a publishing failure, for the pipeline's callbacks.
pub(crate) fn io(e: nta_fleet::Error) -> std::io::Error {
    std::io::Error::other(e)
}

/// `nta-cli fleet`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum FleetCmd {
    /// Create (or update) the JetStream streams of the records
    Init(InitArgs),
    /// The streams: records held, leader, what the ingesters have not taken yet
    Status(StatusArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct StatusArgs {
    /// NATS servers, comma-separated
    #[arg(long, value_name = "URLS", env = "NTA_NATS")]
    nats: NatsUrls,
    /// JSON output
    #[arg(long)]
    json: bool,
}

fn print_streams(streams: &[nta_fleet::StreamState]) {
    for s in streams {
        let ingest = match s.ingest {
            Some(c) => format!("ingest: {} pending, {} unacknowledged", c.pending, c.ack_pending),
            None => "no ingester yet".to_owned(),
        };
        println!(
            "{:<14} {:<16} replicas {}  leader {:<8} {} messages, {} bytes; {ingest}",
            s.name,
            s.subjects.join(","),
            s.replicas,
            s.leader.as_deref().unwrap_or("-"),
            s.messages,
            s.bytes
        );
    }
}

#[derive(Debug, clap::Args)]
pub(crate) struct InitArgs {
    /// NATS servers, comma-separated
    #[arg(long, value_name = "URLS", env = "NTA_NATS")]
    nats: NatsUrls,
    /// Copies of each stream across the cluster (1, 3 or 5)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=5))]
    replicas: u8,
    /// Records older than this leave the streams (ClickHouse keeps the history)
    #[arg(long, default_value = "7d", value_parser = parse_duration_ns, value_name = "DURATION")]
    max_age: i64,
    /// Most bytes each stream keeps (oldest records removed beyond) [default: no limit but --max-age]
    #[arg(long, value_parser = parse_size, value_name = "SIZE")]
    max_bytes: Option<u64>,
    /// A record resent within this is dropped by the stream
    #[arg(long, default_value = "10m", value_parser = parse_duration_ns, value_name = "DURATION")]
    duplicate_window: i64,
}

pub(crate) fn run(cmd: &FleetCmd) -> Result<ExitCode> {
    let a = match cmd {
        FleetCmd::Init(a) => a,
        FleetCmd::Status(s) => {
            let streams = nta_fleet::stream_states(&s.nats).context("reading the streams (did `fleet init` run?)")?;
            if s.json {
                println!("{}", serde_json::to_string_pretty(&streams)?);
            } else {
                print_streams(&streams);
            }
            return Ok(ExitCode::SUCCESS);
        }
    };
    let nanos = |ns: i64| Duration::from_nanos(u64::try_from(ns).unwrap_or(0));
    let cfg = StreamConfig {
        replicas: usize::from(a.replicas),
        max_age: nanos(a.max_age),
        max_bytes: a.max_bytes.map_or(0, |b| i64::try_from(b).unwrap_or(i64::MAX)),
        duplicate_window: nanos(a.duplicate_window),
    };
    print_streams(&nta_fleet::init_streams(&a.nats, &cfg).context("creating the streams")?);
    Ok(ExitCode::SUCCESS)
}

/// `nta-cli ingest`.
#[derive(Debug, clap::Args)]
pub(crate) struct IngestArgs {
    /// NATS servers, comma-separated
    #[arg(long, value_name = "URLS", env = "NTA_NATS")]
    nats: NatsUrls,
    /// ClickHouse's HTTP interface, http://[USER[:PASSWORD]@]HOST:PORT
    #[arg(long, value_name = "URL", env = "NTA_CLICKHOUSE")]
    clickhouse: String,
    /// The database of nta's tables (created when missing)
    #[arg(long, default_value = "nta", env = "NTA_CLICKHOUSE_DB")]
    database: String,
    /// The record kinds to ingest (metrics, anomalies, flows; repeatable) [default: all]
    #[arg(long = "kind", value_name = "KIND")]
    kinds: Vec<RecordKind>,
    /// Most records per insert
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    batch: u32,
    /// Stop after this long without a record (a catch-up run) [default: run until SIGINT/SIGTERM]
    #[arg(long, value_parser = parse_duration_ns, value_name = "DURATION")]
    idle_exit: Option<i64>,
    /// Print what was ingested as JSON on stdout at the end
    #[arg(long)]
    json: bool,
}

pub(crate) fn run_ingest(a: &IngestArgs) -> Result<ExitCode> {
    let ch = ClickHouse::new(&a.clickhouse, &a.database)?;
    let mut cfg = IngestConfig::new(a.nats.clone(), ch.clone());
    if !a.kinds.is_empty() {
        cfg.kinds.clone_from(&a.kinds);
        cfg.kinds.sort();
        cfg.kinds.dedup();
    }
    cfg.batch = a.batch as usize;
    cfg.idle_exit = a.idle_exit.map(|ns| Duration::from_nanos(u64::try_from(ns).unwrap_or(0)));
    // The tables first: waiting for the server if it is not up yet.
    let mut said = false;
    while let Err(e) = ch.create_tables() {
        if !said {
            eprintln!("ingest: {e}; waiting for ClickHouse");
            said = true;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop)).context("arming SIGINT/SIGTERM")?;
    }
    eprintln!(
        "ingesting {} from {} into {} ({})",
        cfg.kinds.iter().map(|k| k.name()).collect::<Vec<_>>().join(", "),
        a.nats.as_slice().join(","),
        a.clickhouse.rsplit('@').next().unwrap_or_default(),
        a.database
    );
    let stats = nta_fleet::ingest(&cfg, &stop).context("ingesting")?;
    for (kind, s) in &stats.kinds {
        eprintln!(
            "{kind}: {} rows in {} inserts, {} redelivered, {} rejected, {} inserts retried",
            s.rows, s.batches, s.redelivered, s.rejected, s.insert_retries
        );
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&stats)?);
    }
    Ok(ExitCode::SUCCESS)
}
