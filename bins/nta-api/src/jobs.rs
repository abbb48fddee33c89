//! Jobs: long work (extraction, training, detection) runs on a thread of its own and is
//! followed through `GET /api/jobs/{id}`: state, progress (bytes done / total), result or
//! error. `DELETE` asks it to stop: the job is marked cancelled at once, its work stops at the
//! next batch of packets, and nothing it would have written is written.

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Where a job stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum State {
    Running,
    Done,
    Failed,
    Cancelled,
}

/// What `GET /api/jobs/{id}` shows.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct JobView {
    pub(crate) id: String,
    /// `train`, `detect`, `control` or `startup`.
    pub(crate) kind: String,
    pub(crate) state: State,
    /// Capture bytes read so far (extraction).
    pub(crate) bytes_done: u64,
    /// Capture bytes in all.
    pub(crate) bytes_total: u64,
    /// When done: what the work made (model metadata, or counts of windows, anomalies and
    /// the incidents of a detection).
    pub(crate) result: Option<serde_json::Value>,
    /// When failed: why.
    pub(crate) error: Option<String>,
}

/// A job's shared handle: progress counters and the cancel flag, read by the worker.
#[derive(Debug)]
pub(crate) struct Handle {
    pub(crate) cancel: AtomicBool,
    pub(crate) bytes_done: AtomicU64,
    pub(crate) bytes_total: AtomicU64,
}

impl Handle {
    /// A handle no job owns (work run directly, in tests).
    pub(crate) fn detached() -> Handle {
        Handle { cancel: AtomicBool::new(false), bytes_done: AtomicU64::new(0), bytes_total: AtomicU64::new(0) }
    }
}

#[derive(Debug)]
struct Entry {
    kind: String,
    state: State,
    handle: Arc<Handle>,
    result: Option<serde_json::Value>,
    error: Option<String>,
}

/// Every job of this run.
#[derive(Debug, Default)]
pub(crate) struct Jobs {
    jobs: Mutex<BTreeMap<String, Entry>>,
}

/// The work of a job failed; `Cancelled` when it saw the flag.
#[derive(Debug)]
pub(crate) enum JobError {
    Cancelled,
    Failed(String),
}

impl Jobs {
    /// Starts `work` on a thread; returns the job id.
    pub(crate) fn spawn<F>(self: &Arc<Self>, kind: &str, work: F) -> String
    where
        F: FnOnce(&Handle) -> Result<serde_json::Value, JobError> + Send + 'static,
    {
        let id = crate::api::new_id();
        let handle = Arc::new(Handle::detached());
        if let Ok(mut j) = self.jobs.lock() {
            j.insert(
                id.clone(),
                Entry {
                    kind: kind.to_owned(),
                    state: State::Running,
                    handle: handle.clone(),
                    result: None,
                    error: None,
                },
            );
        }
        let jobs = self.clone();
        let job_id = id.clone();
        std::thread::spawn(move || {
            let outcome = work(&handle);
            if let Ok(mut j) = jobs.jobs.lock()
                && let Some(e) = j.get_mut(&job_id)
            {
                if e.state == State::Cancelled {
                    return;
                }
                match outcome {
                    Ok(v) => {
                        e.state = State::Done;
                        e.result = Some(v);
                    }
                    Err(JobError::Cancelled) => e.state = State::Cancelled,
                    Err(JobError::Failed(m)) => {
                        e.state = State::Failed;
                        e.error = Some(m);
                    }
                }
            }
        });
        id
    }

    /// One job.
    pub(crate) fn get(&self, id: &str) -> Option<JobView> {
        let j = self.jobs.lock().ok()?;
        j.get(id).map(|e| JobView {
            id: id.to_owned(),
            kind: e.kind.clone(),
            state: e.state,
            bytes_done: e.handle.bytes_done.load(Ordering::Relaxed),
            bytes_total: e.handle.bytes_total.load(Ordering::Relaxed),
            result: e.result.clone(),
            error: e.error.clone(),
        })
    }

    /// Every job, oldest id first.
    pub(crate) fn all(&self) -> Vec<JobView> {
        let ids: Vec<String> = self.jobs.lock().map(|j| j.keys().cloned().collect()).unwrap_or_default();
        ids.iter().filter_map(|id| self.get(id)).collect()
    }

    /// Asks a job to stop; `None` if unknown.
    pub(crate) fn cancel(&self, id: &str) -> Option<JobView> {
        if let Ok(mut j) = self.jobs.lock()
            && let Some(e) = j.get_mut(id)
            && e.state == State::Running
        {
            e.handle.cancel.store(true, Ordering::Relaxed);
            e.state = State::Cancelled;
        }
        self.get(id)
    }

    /// Cancels every running job; returns how many.
    pub(crate) fn cancel_running(&self) -> usize {
        let ids: Vec<String> = self
            .jobs
            .lock()
            .map(|j| j.iter().filter(|(_, e)| e.state == State::Running).map(|(id, _)| id.clone()).collect())
            .unwrap_or_default();
        ids.iter().filter(|id| self.cancel(id).is_some()).count()
    }

    /// Jobs still running.
    pub(crate) fn running(&self) -> usize {
        self.jobs.lock().map(|j| j.values().filter(|e| e.state == State::Running).count()).unwrap_or(0)
    }
}
