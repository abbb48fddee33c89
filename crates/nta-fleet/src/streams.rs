//! [`init_streams`] and [`stream_states`]: the JetStream streams of the records, one per
//! kind — created or updated (`nta-cli fleet init`) and looked at (`nta-cli fleet status`).

use crate::Error;
use crate::names::{NatsUrls, RecordKind};
use async_nats::jetstream::{self, stream};
use serde::Serialize;
use std::time::Duration;

/// How the streams are made.
#[derive(Clone, Debug)]
pub struct StreamConfig {
    /// Copies of each stream across the cluster's servers (1, 3 or 5; at most the servers).
    pub replicas: usize,
    /// Records older than this are removed from the stream (ClickHouse keeps the history).
    pub max_age: Duration,
    /// Most bytes a stream keeps (oldest removed beyond); 0 = no limit but `max_age`.
    pub max_bytes: i64,
    /// A message id seen within this is dropped as a duplicate (a sensor's resend).
    pub duplicate_window: Duration,
}

impl Default for StreamConfig {
    fn default() -> StreamConfig {
        StreamConfig {
            replicas: 1,
            max_age: Duration::from_secs(7 * 24 * 3600),
            max_bytes: 0,
            duplicate_window: Duration::from_secs(600),
        }
    }
}

/// One stream as the servers hold it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StreamState {
    /// Its name.
    pub name: String,
    /// Its subjects.
    pub subjects: Vec<String>,
    /// Its replicas.
    pub replicas: usize,
    /// Messages it holds.
    pub messages: u64,
    /// Bytes it holds.
    pub bytes: u64,
    /// The server leading it (clustered streams).
    pub leader: Option<String>,
    /// Its ingesters' consumer: messages not yet delivered, and delivered but not yet
    /// acknowledged (absent before the first ingester ran).
    pub ingest: Option<ConsumerState>,
}

/// The ingesters' durable consumer of one stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ConsumerState {
    /// Messages not yet delivered to any ingester.
    pub pending: u64,
    /// Delivered, not yet acknowledged (an insert in progress or failing).
    pub ack_pending: usize,
    /// Delivered more than once.
    pub redelivered: usize,
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(Error::Runtime)
}

async fn connect(urls: &NatsUrls, name: &str) -> Result<jetstream::Context, Error> {
    let client = async_nats::ConnectOptions::new()
        .name(name)
        .connection_timeout(Duration::from_secs(5))
        .connect(urls.addrs()?)
        .await
        .map_err(|e| Error::Nats { context: "connecting".into(), reason: e.to_string() })?;
    Ok(jetstream::new(client))
}

async fn state(js: &jetstream::Context, kind: RecordKind) -> Result<StreamState, Error> {
    let fail = |e: String| Error::Nats { context: format!("reading stream {}", kind.stream()), reason: e };
    let mut s = js.get_stream(kind.stream()).await.map_err(|e| fail(e.to_string()))?;
    let info = s.info().await.map_err(|e| fail(e.to_string()))?.clone();
    let ingest = match s.consumer_info(kind.consumer()).await {
        Ok(c) => Some(ConsumerState {
            pending: c.num_pending,
            ack_pending: c.num_ack_pending,
            redelivered: c.num_redelivered,
        }),
        Err(_) => None,
    };
    Ok(StreamState {
        name: info.config.name.clone(),
        subjects: info.config.subjects.clone(),
        replicas: info.config.num_replicas,
        messages: info.state.messages,
        bytes: info.state.bytes,
        leader: info.cluster.and_then(|c| c.leader),
        ingest,
    })
}

/// Creates (or updates) the three streams on the servers at `urls`.
pub fn init_streams(urls: &NatsUrls, cfg: &StreamConfig) -> Result<Vec<StreamState>, Error> {
    runtime()?.block_on(async {
        let js = connect(urls, "nta fleet init").await?;
        let mut out = Vec::new();
        for kind in RecordKind::ALL {
            let config = stream::Config {
                name: kind.stream().to_owned(),
                subjects: vec![kind.stream_subjects()],
                num_replicas: cfg.replicas.max(1),
                max_age: cfg.max_age,
                max_bytes: if cfg.max_bytes > 0 { cfg.max_bytes } else { -1 },
                duplicate_window: cfg.duplicate_window,
                storage: stream::StorageType::File,
                retention: stream::RetentionPolicy::Limits,
                discard: stream::DiscardPolicy::Old,
                ..Default::default()
            };
            js.create_or_update_stream(config).await.map_err(|e| Error::Nats {
                context: format!("creating stream {}", kind.stream()),
                reason: e.to_string(),
            })?;
            out.push(state(&js, kind).await?);
        }
        Ok(out)
    })
}

/// The three streams as the servers at `urls` hold them now.
pub fn stream_states(urls: &NatsUrls) -> Result<Vec<StreamState>, Error> {
    runtime()?.block_on(async {
        let js = connect(urls, "nta fleet status").await?;
        let mut out = Vec::new();
        for kind in RecordKind::ALL {
            out.push(state(&js, kind).await?);
        }
        Ok(out)
    })
}
