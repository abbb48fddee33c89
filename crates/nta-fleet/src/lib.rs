//! The fleet: many sensors, one store. Sensors publish their records to NATS JetStream,
//! ingesters load them into ClickHouse, and the API reads them from there — the engines the
//! field uses (Zeek and nProbe publish to a bus; ntopng keeps its history in ClickHouse),
//! never a home-made cluster. The only crate besides the binaries that knows tokio.
//!
//! The principal types:
//! - [`Publisher`] — a sensor's records to the bus, each with a message id made from the
//!   record (a resend is dropped), acknowledgements awaited, a bounded buffer for outages.
//! - [`init_streams`], [`stream_states`] — the three streams (`NTA_METRICS`,
//!   `NTA_ANOMALIES`, `NTA_FLOWS`), made and looked at.
//! - [`ingest`] — durable pull consumers into ClickHouse, acknowledged after the insert.
//! - [`ClickHouse`] — the HTTP client and the tables; [`ClickHouseStore`] — the records read
//!   back as [`nta_store::RecordStore`], as the API reads the files.
//! - [`SensorName`], [`RecordKind`], [`NatsUrls`] — names on the bus and in the store.
//!
//! `docs/DEPLOY.md` is the user's guide.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod clickhouse;
mod error;
mod ingest;
mod names;
mod publish;
mod schema;
mod store;
mod streams;
#[cfg(feature = "test-servers")]
pub mod testing;

pub use crate::{
    clickhouse::{ClickHouse, MAX_ANSWER_BYTES, quote},
    error::Error,
    ingest::{IngestConfig, IngestStats, KindStats, ingest},
    names::{MAX_SENSOR_NAME, NatsUrls, RecordKind, SensorName, anomaly_id, flow_id, window_id},
    publish::{MAX_RECORD_BYTES, PublishConfig, PublishStats, Publisher},
    schema::{BadRecord, encode_row},
    store::{ClickHouseStore, MAX_SENSORS_LISTED, MAX_SUMMARY_ANOMALIES},
    streams::{ConsumerState, StreamConfig, StreamState, init_streams, stream_states},
};
