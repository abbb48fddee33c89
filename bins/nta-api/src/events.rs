//! [`Events`]: what happens in the server, as typed [`Event`]s broadcast to every
//! `GET /api/events` subscriber (Server-Sent Events): jobs changing state, their progress, and
//! anomalies stored. A slow subscriber loses the oldest events (it is told how many), never
//! holds the server back; a bounded channel keeps memory fixed.

use crate::job_state::State;
use serde::Serialize;
use tokio::sync::broadcast;
use utoipa::ToSchema;

/// Events kept for a subscriber that has not read them yet; beyond, the oldest are skipped.
pub const EVENT_BUFFER: usize = 1024;

/// One event of `GET /api/events` (`event:` is its `type`, `data:` the whole object as JSON).
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A job changed state.
    Job {
        /// Job id.
        id: String,
        /// `train`, `detect`, `startup`, `control`.
        kind: String,
        /// The new state.
        state: State,
        /// Why it failed.
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A running job's progress (at most ten a second per job).
    Progress {
        /// Job id.
        id: String,
        /// Capture bytes read.
        bytes_done: u64,
        /// Capture bytes in all.
        bytes_total: u64,
    },
    /// A live capture closed a window.
    Window {
        /// Its start, RFC 3339.
        window_start: String,
        /// Packets in it.
        packets: u64,
        /// Their bytes.
        bytes: u64,
        /// Packets the capture lost in it.
        #[serde(skip_serializing_if = "Option::is_none")]
        capture_dropped: Option<u64>,
    },
    /// Anomalies were detected and stored.
    Anomalies {
        /// The job that detected them (`live` for live detection).
        job: String,
        /// Abnormal windows found.
        anomalies: usize,
        /// Of them, new in the store.
        new: usize,
        /// Incidents they form.
        incidents: usize,
    },
}

impl Event {
    /// The SSE event name.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Job { .. } => "job",
            Event::Progress { .. } => "progress",
            Event::Window { .. } => "window",
            Event::Anomalies { .. } => "anomalies",
        }
    }
}

/// The broadcast channel of events.
#[derive(Clone, Debug)]
pub struct Events {
    tx: broadcast::Sender<Event>,
}

impl Default for Events {
    fn default() -> Events {
        Events::new()
    }
}

impl Events {
    /// A channel keeping [`EVENT_BUFFER`] events per subscriber.
    pub fn new() -> Events {
        Events { tx: broadcast::channel(EVENT_BUFFER).0 }
    }

    /// Sends `event` to every subscriber (none: dropped).
    pub fn publish(&self, event: Event) {
        let _ = self.tx.send(event);
    }

    /// A new subscriber: the events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }
}
