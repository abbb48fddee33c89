//! [`Error`]: what can go wrong talking to the bus or the store.

/// An error of the fleet: a bad setting, the bus, ClickHouse.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A sensor name that cannot name a subject.
    #[error("sensor name {name:?}: {reason}")]
    SensorName {
        /// The name given.
        name: String,
        /// What is allowed.
        reason: &'static str,
    },
    /// A server address that does not parse.
    #[error("{what} address {url:?}: {reason}")]
    Address {
        /// `NATS` or `ClickHouse`.
        what: &'static str,
        /// The address given.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// NATS or JetStream refused or failed.
    #[error("NATS: {context}: {reason}")]
    Nats {
        /// What was being done.
        context: String,
        /// What the client said.
        reason: String,
    },
    /// ClickHouse answered an error, or could not be reached.
    #[error("ClickHouse: {context}: {reason}")]
    ClickHouse {
        /// What was being done.
        context: String,
        /// What the server said (its first line), or why it could not be asked.
        reason: String,
        /// The HTTP status, when the server answered.
        status: Option<u16>,
    },
    /// A record that could not be written as JSON.
    #[error("encoding a record: {0}")]
    Encode(#[from] serde_json::Error),
    /// The runtime behind the client could not start.
    #[error("starting the NATS client's runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

impl From<Error> for nta_store::Error {
    fn from(e: Error) -> nta_store::Error {
        nta_store::Error::Backend { backend: "clickhouse", reason: e.to_string() }
    }
}
