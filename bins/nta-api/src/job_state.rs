//! [`State`]: where a job stands (its own module: both the job registry and the events
//! speak of it).

use serde::Serialize;

/// Where a job stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Waiting for a worker.
    Queued,
    /// A worker is on it.
    Running,
    /// Finished; `result` holds what it made.
    Done,
    /// Failed; `error` says why.
    Failed,
    /// Cancelled before it finished: it wrote nothing.
    Cancelled,
}

impl State {
    /// Queued or running.
    pub fn active(self) -> bool {
        matches!(self, State::Queued | State::Running)
    }
}
