//! [`Publisher`]: a sensor's records to NATS JetStream, through a bounded buffer that rides
//! out an unreachable bus.
//!
//! The pipeline hands records over without waiting for the network ([`Publisher::window`],
//! [`Publisher::anomaly`], [`Publisher::flow`]); a thread of the publisher's own (a
//! single-threaded tokio runtime) sends them in order, in batches, each with its JetStream
//! message id (`<sensor>:<record id>`), and awaits every acknowledgement before it forgets
//! a record. A batch that fails (bus unreachable, no stream leader, timeout) is sent again,
//! ids unchanged, after a backoff: the stream drops what it already has (de-duplication
//! window), ClickHouse's engine anything older. While the bus is unreachable, records wait
//! in the buffer (at most [`PublishConfig::buffer_bytes`]); beyond it the newest are dropped
//! and counted ([`PublishStats::dropped`]). While the bus is reachable and the buffer is full,
//! the pipeline waits (back-pressure) rather than lose anything.

use crate::Error;
use crate::names::{NatsUrls, RecordKind, SensorName, anomaly_id, flow_id, window_id};
use async_nats::jetstream;
use nta_analysis::Anomaly;
use nta_metrics::{FlowRecord, WindowRecord};
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Largest record published, bytes (NATS refuses messages over its `max_payload`, 1 MiB by
/// default); a larger one is dropped and counted. Records are a few KiB.
pub const MAX_RECORD_BYTES: usize = 512 << 10;

/// Records sent in one batch (their acknowledgements awaited together).
const BATCH: usize = 256;
/// Longest wait for a batch's acknowledgements before it is sent again.
const BATCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Backoff after a failed batch: doubles from the first to the last.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(200), Duration::from_secs(5));

/// Where and how a sensor publishes.
#[derive(Clone, Debug)]
pub struct PublishConfig {
    /// The NATS servers.
    pub urls: NatsUrls,
    /// The sensor's name (subjects `nta.<kind>.<sensor>`; stamped on every record).
    pub sensor: SensorName,
    /// Most bytes of records waiting to be acknowledged (default 64 MiB); beyond, while the
    /// bus is unreachable, new records are dropped and counted.
    pub buffer_bytes: usize,
    /// How long [`Publisher::finish`] waits for the buffer to drain (default 2 min).
    pub drain: Duration,
}

impl PublishConfig {
    /// Defaults for `sensor` publishing to `urls`.
    pub fn new(urls: NatsUrls, sensor: SensorName) -> PublishConfig {
        PublishConfig { urls, sensor, buffer_bytes: 64 << 20, drain: Duration::from_secs(120) }
    }
}

/// What a publisher did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PublishStats {
    /// Records the stream acknowledged as new.
    pub published: u64,
    /// Records the stream acknowledged as already stored (a resend).
    pub duplicates: u64,
    /// Records dropped because the buffer was full while the bus was unreachable.
    pub dropped: u64,
    /// Records still unacknowledged when [`Publisher::finish`] gave up waiting.
    pub unsent: u64,
    /// Batches sent again after a failure.
    pub retries: u64,
}

impl PublishStats {
    /// Records lost: dropped or never acknowledged.
    pub fn lost(&self) -> u64 {
        self.dropped + self.unsent
    }
}

#[derive(Debug)]
struct Outgoing {
    subject: String,
    id: String,
    payload: bytes::Bytes,
}

#[derive(Debug, Default)]
struct Queue {
    msgs: VecDeque<Outgoing>,
    bytes: usize,
    /// The last batch failed (the bus is taken as unreachable until one succeeds).
    failing: bool,
    /// No more records will come.
    closing: bool,
    /// Give up: stop sending.
    abort: bool,
    stats: PublishStats,
    /// The last error, said once per outage.
    last_error: Option<String>,
}

#[derive(Debug, Default)]
struct Shared {
    queue: Mutex<Queue>,
    /// Signalled when records leave the queue (space, drained) or the state changes.
    changed: Condvar,
    /// Wakes the sending task when records arrive.
    arrived: tokio::sync::Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A sensor's connection to the bus; see the module documentation.
#[derive(Debug)]
pub struct Publisher {
    shared: Arc<Shared>,
    sensor: SensorName,
    buffer_bytes: usize,
    drain: Duration,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Publisher {
    /// Starts publishing: the client connects in the background (and keeps trying), so a
    /// sensor starts while the bus is down.
    pub fn start(cfg: PublishConfig) -> Result<Publisher, Error> {
        let addrs = cfg.urls.addrs()?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(Error::Runtime)?;
        let shared = Arc::new(Shared::default());
        let name = format!("nta sensor {}", cfg.sensor);
        let task_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("nta-publish".into())
            .spawn(move || runtime.block_on(send_loop(addrs, name, task_shared)))
            .map_err(Error::Runtime)?;
        Ok(Publisher {
            shared,
            sensor: cfg.sensor,
            buffer_bytes: cfg.buffer_bytes.max(1),
            drain: cfg.drain,
            thread: Some(thread),
        })
    }

    /// The sensor's name.
    pub fn sensor(&self) -> &SensorName {
        &self.sensor
    }

    /// Publishes a window record (stamped with the sensor).
    pub fn window(&self, r: &WindowRecord) -> Result<(), Error> {
        let mut r = r.clone();
        r.sensor = Some(self.sensor.to_string());
        self.enqueue(RecordKind::Metrics, &window_id(&r), &r)
    }

    /// Publishes an anomaly (detected on records stamped with the sensor, so it carries it).
    pub fn anomaly(&self, a: &Anomaly) -> Result<(), Error> {
        let mut a = a.clone();
        a.sensor = Some(self.sensor.to_string());
        self.enqueue(RecordKind::Anomalies, &anomaly_id(&a), &a)
    }

    /// Publishes a flow record (stamped with the sensor).
    pub fn flow(&self, f: &FlowRecord) -> Result<(), Error> {
        let mut f = f.clone();
        f.sensor = Some(self.sensor.to_string());
        self.enqueue(RecordKind::Flows, &flow_id(&f), &f)
    }

    fn enqueue<T: Serialize>(&self, kind: RecordKind, id: &str, record: &T) -> Result<(), Error> {
        let payload = bytes::Bytes::from(serde_json::to_vec(record)?);
        if payload.len() > MAX_RECORD_BYTES {
            let mut q = self.shared.lock();
            q.stats.dropped += 1;
            if q.stats.dropped == 1 {
                eprintln!(
                    "publish: a {} record of {} bytes is over {MAX_RECORD_BYTES}: dropped",
                    kind.name(),
                    payload.len()
                );
            }
            return Ok(());
        }
        let msg = Outgoing { subject: kind.subject(&self.sensor), id: format!("{}:{id}", self.sensor), payload };
        let mut q = self.shared.lock();
        // Back-pressure while the bus takes records; loss (counted) while it does not.
        while q.bytes + msg.payload.len() > self.buffer_bytes && !q.msgs.is_empty() && !q.failing && !q.abort {
            q = self.shared.changed.wait(q).unwrap_or_else(PoisonError::into_inner);
        }
        if q.bytes + msg.payload.len() > self.buffer_bytes && !q.msgs.is_empty() {
            q.stats.dropped += 1;
            return Ok(());
        }
        q.bytes += msg.payload.len();
        q.msgs.push_back(msg);
        drop(q);
        self.shared.arrived.notify_one();
        Ok(())
    }

    /// What was done so far.
    pub fn stats(&self) -> PublishStats {
        let q = self.shared.lock();
        PublishStats { unsent: q.msgs.len() as u64, ..q.stats }
    }

    /// Waits until every record is acknowledged, or [`PublishConfig::drain`] has passed, and
    /// stops; the records never acknowledged are counted in [`PublishStats::unsent`].
    pub fn finish(mut self) -> PublishStats {
        let deadline = Instant::now() + self.drain;
        let mut q = self.shared.lock();
        q.closing = true;
        self.shared.arrived.notify_one();
        while !q.msgs.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            q = self.shared.changed.wait_timeout(q, left).unwrap_or_else(PoisonError::into_inner).0;
        }
        q.abort = true;
        let stats = PublishStats { unsent: q.msgs.len() as u64, ..q.stats };
        drop(q);
        self.shared.arrived.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        stats
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            self.shared.lock().abort = true;
            self.shared.arrived.notify_one();
            let _ = t.join();
        }
    }
}

/// The sending task: batches from the front of the queue, acknowledged or sent again.
async fn send_loop(addrs: Vec<async_nats::ServerAddr>, name: String, shared: Arc<Shared>) {
    let options = async_nats::ConnectOptions::new()
        .name(name)
        .retry_on_initial_connect()
        .connection_timeout(Duration::from_secs(2))
        .max_reconnects(None);
    let client = match options.connect(addrs).await {
        Ok(c) => c,
        Err(e) => {
            // Only a bad option gets here (connecting is retried in the background).
            let mut q = shared.lock();
            q.abort = true;
            q.last_error = Some(e.to_string());
            shared.changed.notify_all();
            return;
        }
    };
    let mut js = jetstream::new(client);
    js.set_timeout(BATCH_TIMEOUT);
    let mut backoff = BACKOFF.0;
    loop {
        let batch: Vec<(String, String, bytes::Bytes)> = {
            let q = shared.lock();
            if q.abort || (q.closing && q.msgs.is_empty()) {
                return;
            }
            q.msgs.iter().take(BATCH).map(|m| (m.subject.clone(), m.id.clone(), m.payload.clone())).collect()
        };
        if batch.is_empty() {
            shared.arrived.notified().await;
            continue;
        }
        match tokio::time::timeout(BATCH_TIMEOUT, send_batch(&js, &batch)).await {
            Ok(Ok(duplicates)) => {
                let mut q = shared.lock();
                for _ in 0..batch.len() {
                    if let Some(m) = q.msgs.pop_front() {
                        q.bytes -= m.payload.len();
                    }
                }
                q.stats.duplicates += duplicates;
                q.stats.published += batch.len() as u64 - duplicates;
                if q.failing {
                    eprintln!("publish: the bus took records again ({} waiting)", q.msgs.len());
                }
                q.failing = false;
                q.last_error = None;
                backoff = BACKOFF.0;
                shared.changed.notify_all();
            }
            failed => {
                let reason = match failed {
                    Ok(Err(e)) => e,
                    _ => "no acknowledgement in time".to_owned(),
                };
                {
                    let mut q = shared.lock();
                    if q.last_error.is_none() {
                        eprintln!("publish: {reason}; {} records wait, sent again when the bus answers", q.msgs.len());
                    }
                    q.failing = true;
                    q.last_error = Some(reason);
                    q.stats.retries += 1;
                    shared.changed.notify_all();
                }
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = shared.arrived.notified() => {}
                }
                backoff = (backoff * 2).min(BACKOFF.1);
            }
        }
    }
}

/// Sends one batch and awaits every acknowledgement; the number of duplicates.
async fn send_batch(js: &jetstream::Context, batch: &[(String, String, bytes::Bytes)]) -> Result<u64, String> {
    let mut acks = Vec::with_capacity(batch.len());
    for (subject, id, payload) in batch {
        let msg = jetstream::message::PublishMessage::build().payload(payload.clone()).message_id(id);
        acks.push(js.send_publish(subject.clone(), msg).await.map_err(|e| e.to_string())?);
    }
    let mut duplicates = 0;
    for ack in acks {
        if ack.await.map_err(|e| e.to_string())?.duplicate {
            duplicates += 1;
        }
    }
    Ok(duplicates)
}
