//! [`ingest`]: records from the JetStream streams into ClickHouse (`nta-cli ingest`).
//!
//! One durable pull consumer per record kind, shared by every ingester (several ingesters
//! split the work). A batch is fetched, turned into rows, inserted in one request, and only
//! then acknowledged; while ClickHouse fails, the insert is retried (the messages kept in
//! progress so they are not handed to another ingester meanwhile). A message that is not a
//! record of its kind, or whose subject names no valid sensor, is terminated (never
//! redelivered) and counted. Redelivery after a crash inserts rows again: the tables'
//! engine keeps one row per record id.

use crate::Error;
use crate::clickhouse::ClickHouse;
use crate::names::{NatsUrls, RecordKind, SensorName};
use crate::schema::encode_row;
use async_nats::jetstream::{self, AckKind, consumer::pull};
use futures_util::StreamExt;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// What an ingester reads and where it writes.
#[derive(Clone, Debug)]
pub struct IngestConfig {
    /// The NATS servers.
    pub urls: NatsUrls,
    /// The store.
    pub clickhouse: ClickHouse,
    /// The kinds to ingest (default all three).
    pub kinds: Vec<RecordKind>,
    /// Most messages per batch (and per insert).
    pub batch: usize,
    /// Stop after this long without a message (a catch-up run); `None` runs until stopped.
    pub idle_exit: Option<Duration>,
}

impl IngestConfig {
    /// Every kind, batches of 1,000, until stopped.
    pub fn new(urls: NatsUrls, clickhouse: ClickHouse) -> IngestConfig {
        IngestConfig { urls, clickhouse, kinds: RecordKind::ALL.to_vec(), batch: 1000, idle_exit: None }
    }
}

/// What an ingester did, per record kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IngestStats {
    /// Per kind (`metrics`, `anomalies`, `flows`).
    pub kinds: BTreeMap<&'static str, KindStats>,
}

/// What an ingester did with one kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct KindStats {
    /// Rows inserted (redeliveries included; the table keeps one per record).
    pub rows: u64,
    /// Inserts that succeeded.
    pub batches: u64,
    /// Inserts that failed and were retried.
    pub insert_retries: u64,
    /// Messages that were not records, terminated.
    pub rejected: u64,
    /// Messages delivered more than once (after a crash, a timeout or a lost ack).
    pub redelivered: u64,
}

/// Backoff between retries: doubles from the first to the last.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(250), Duration::from_secs(5));
/// How long the server waits before it hands an unacknowledged message to another ingester.
const ACK_WAIT: Duration = Duration::from_secs(30);

/// Ingests until `stop` is set (or, with [`IngestConfig::idle_exit`], until idle); returns
/// what was done. Errors only on a setting that cannot work (a bad address): an unreachable
/// bus or store is waited for.
pub fn ingest(cfg: &IngestConfig, stop: &AtomicBool) -> Result<IngestStats, Error> {
    let addrs = cfg.urls.addrs()?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(Error::Runtime)?;
    let stats = Arc::new(Mutex::new(IngestStats::default()));
    runtime.block_on(async {
        let client = async_nats::ConnectOptions::new()
            .name("nta ingest")
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(2))
            .max_reconnects(None)
            .connect(addrs)
            .await
            .map_err(|e| Error::Nats { context: "connecting".into(), reason: e.to_string() })?;
        let js = jetstream::new(client);
        let tasks = cfg.kinds.iter().map(|kind| ingest_kind(&js, cfg, *kind, stop, &stats));
        futures_util::future::join_all(tasks).await;
        Ok::<(), Error>(())
    })?;
    Ok(stats.lock().unwrap_or_else(PoisonError::into_inner).clone())
}

async fn consumer(js: &jetstream::Context, kind: RecordKind) -> Result<jetstream::consumer::PullConsumer, String> {
    let stream = js.get_stream(kind.stream()).await.map_err(|e| e.to_string())?;
    stream
        .get_or_create_consumer(
            kind.consumer(),
            pull::Config {
                durable_name: Some(kind.consumer().to_owned()),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ack_wait: ACK_WAIT,
                max_ack_pending: 50_000,
                max_deliver: -1,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| e.to_string())
}

/// Says each distinct trouble once (not every retry).
#[derive(Default)]
struct Trouble(Option<String>);

impl Trouble {
    fn say(&mut self, kind: RecordKind, what: &str, e: &str) {
        let line = format!("ingest {}: {what}: {e}", kind.name());
        if self.0.as_deref() != Some(&line) {
            eprintln!("{line}; retrying");
            self.0 = Some(line);
        }
    }

    fn clear(&mut self, kind: RecordKind) {
        if self.0.take().is_some() {
            eprintln!("ingest {}: working again", kind.name());
        }
    }
}

async fn ingest_kind(
    js: &jetstream::Context,
    cfg: &IngestConfig,
    kind: RecordKind,
    stop: &AtomicBool,
    stats: &Mutex<IngestStats>,
) {
    let mut trouble = Trouble::default();
    let mut last_message = Instant::now();
    let mut current = None;
    let mut backoff = BACKOFF.0;
    let count = |f: &dyn Fn(&mut KindStats)| {
        f(stats.lock().unwrap_or_else(PoisonError::into_inner).kinds.entry(kind.name()).or_default());
    };
    count(&|_| {});
    while !stop.load(Ordering::Relaxed) && cfg.idle_exit.is_none_or(|idle| last_message.elapsed() < idle) {
        let c = match current.take() {
            Some(c) => c,
            None => match consumer(js, kind).await {
                Ok(c) => c,
                Err(e) => {
                    trouble.say(kind, "no consumer", &e);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(BACKOFF.1);
                    continue;
                }
            },
        };
        let mut msgs = Vec::new();
        match c.fetch().max_messages(cfg.batch.max(1)).expires(Duration::from_secs(1)).messages().await {
            Ok(mut batch) => {
                while let Some(m) = batch.next().await {
                    match m {
                        Ok(m) => msgs.push(m),
                        Err(e) => {
                            trouble.say(kind, "fetching", &e.to_string());
                            break;
                        }
                    }
                }
                current = Some(c);
            }
            Err(e) => {
                trouble.say(kind, "fetching", &e.to_string());
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF.1);
                continue;
            }
        }
        if msgs.is_empty() {
            continue;
        }
        last_message = Instant::now();
        let mut rows = Vec::new();
        let mut rejected = vec![false; msgs.len()];
        let mut redelivered = 0;
        for (m, bad) in msgs.iter().zip(rejected.iter_mut()) {
            if m.info().is_ok_and(|i| i.delivered > 1) {
                redelivered += 1;
            }
            let sensor = m.subject.rsplit('.').next().unwrap_or_default();
            let made = match sensor.parse::<SensorName>() {
                Ok(_) => encode_row(kind, sensor, &m.payload, &mut rows).map_err(|e| e.0),
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = made {
                eprintln!("ingest {}: message on {} rejected (not stored): {e}", kind.name(), m.subject);
                *bad = true;
            }
        }
        let rows = Arc::new(rows);
        let n_rows = rejected.iter().filter(|b| !**b).count() as u64;
        // (Nothing to insert when every message was rejected.)
        if n_rows > 0 {
            loop {
                let (ch, r) = (cfg.clickhouse.clone(), rows.clone());
                let e = match tokio::task::spawn_blocking(move || ch.insert(kind, &r)).await {
                    Ok(Ok(())) => break,
                    Ok(Err(e)) => e.to_string(),
                    Err(e) => e.to_string(),
                };
                trouble.say(kind, "inserting", &e);
                count(&|s| s.insert_retries += 1);
                // Still ours: the server must not hand them to another ingester meanwhile.
                for m in &msgs {
                    let _ = m.ack_with(AckKind::Progress).await;
                }
                if stop.load(Ordering::Relaxed) {
                    return; // unacknowledged: redelivered to whoever ingests next
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF.1);
            }
        }
        for (m, bad) in msgs.iter().zip(&rejected) {
            let kind_of_ack = if *bad { AckKind::Term } else { AckKind::Ack };
            let _ = m.ack_with(kind_of_ack).await;
        }
        let n_bad = msgs.len() as u64 - n_rows;
        count(&|s| {
            s.rows += n_rows;
            s.batches += u64::from(n_rows > 0);
            s.rejected += n_bad;
            s.redelivered += redelivered;
        });
        trouble.clear(kind);
        backoff = BACKOFF.0;
    }
}
