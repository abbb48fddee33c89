//! [`Jobs`]: long work (extraction, training, detection) on a fixed pool of worker threads
//! fed by a bounded queue. A job is followed through `GET /api/jobs/{id}`: state, progress
//! (bytes done / total), result or error. When the queue is full a new job is refused
//! (the API answers 503 `busy`), never given a thread of its own. Finished jobs are kept up
//! to a number (the oldest pruned first), so the registry stays small whatever the history.
//! `cancel` marks the job cancelled at once; its work stops at the next batch of packets,
//! tree or block of rows, and writes nothing.

use crate::events::{Event, Events};
pub use crate::job_state::State;
use nta_store::{AnalyzeOutcome, DetectOutcome, TrainOutcome};
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// What a finished job made.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum JobResult {
    /// `train`: the model's metadata.
    Model(TrainOutcome),
    /// `detect`: the counts and incidents of the detection.
    Detection(DetectOutcome),
    /// `control`/`startup`: the capture analysed, the model made, the detection.
    Analysis(AnalyzeOutcome),
}

/// What `GET /api/jobs/{id}` shows.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct JobView {
    /// Server-chosen id.
    pub id: String,
    /// `train`, `detect`, `control` or `startup`.
    pub kind: String,
    /// Where it stands.
    pub state: State,
    /// Capture bytes read so far (extraction).
    pub bytes_done: u64,
    /// Capture bytes in all.
    pub bytes_total: u64,
    /// When done: what the work made (left out of listings: ask for the job).
    pub result: Option<JobResult>,
    /// When failed: why.
    pub error: Option<String>,
}

/// A job's shared handle: progress counters and the cancel flag, read by the work.
#[derive(Debug, Default)]
pub struct Handle {
    /// Set to stop the work.
    pub cancel: AtomicBool,
    /// Capture bytes read so far.
    pub bytes_done: AtomicU64,
    /// Capture bytes in all.
    pub bytes_total: AtomicU64,
    /// The job's id and the events its progress goes to.
    id: String,
    events: Option<Events>,
    /// When progress was last published (ms since the job was made), for the 10-a-second cap.
    last_event_ms: AtomicU64,
    made: Option<Instant>,
    /// Packets read so far.
    packets_done: AtomicU64,
    /// The server's totals this job adds to.
    processed: Option<Arc<Processed>>,
}

/// Packets and bytes of captures every job has read, for `GET /metrics`.
#[derive(Debug, Default)]
pub struct Processed {
    /// Packets.
    pub packets: AtomicU64,
    /// Capture bytes.
    pub bytes: AtomicU64,
}

impl Handle {
    /// A progress callback feeding the counters (and `progress` events, ten a second at most).
    pub fn progress(&self) -> impl Fn(nta_metrics::Progress) + Sync + '_ {
        |p: nta_metrics::Progress| {
            let (bytes_before, packets_before) = (
                self.bytes_done.swap(p.bytes_done, Ordering::Relaxed),
                self.packets_done.swap(p.packets, Ordering::Relaxed),
            );
            if let Some(t) = &self.processed {
                t.bytes.fetch_add(p.bytes_done.saturating_sub(bytes_before), Ordering::Relaxed);
                t.packets.fetch_add(p.packets.saturating_sub(packets_before), Ordering::Relaxed);
            }
            self.bytes_total.store(p.bytes_total, Ordering::Relaxed);
            let (Some(events), Some(made)) = (&self.events, self.made) else { return };
            let now = made.elapsed().as_millis() as u64 + 100;
            let last = self.last_event_ms.load(Ordering::Relaxed);
            if now >= last + 100
                && self.last_event_ms.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
            {
                events.publish(Event::Progress {
                    id: self.id.clone(),
                    bytes_done: p.bytes_done,
                    bytes_total: p.bytes_total,
                });
            }
        }
    }
}

/// Sizes of the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JobLimits {
    /// Worker threads (jobs running at once).
    pub workers: usize,
    /// Jobs waiting for a worker, at most; beyond, new jobs are refused.
    pub queue: usize,
    /// Finished jobs kept for `GET /api/jobs`; older ones are forgotten.
    pub keep: usize,
}

impl Default for JobLimits {
    fn default() -> JobLimits {
        JobLimits { workers: 2, queue: 16, keep: 100 }
    }
}

/// The work of a job failed.
#[derive(Debug)]
pub enum JobError {
    /// It saw the cancel flag.
    Cancelled,
    /// Why it failed.
    Failed(String),
}

impl From<nta_store::Error> for JobError {
    fn from(e: nta_store::Error) -> JobError {
        match e {
            nta_store::Error::Cancelled => JobError::Cancelled,
            other => JobError::Failed(other.to_string()),
        }
    }
}

/// The queue is full: the job was not started.
#[derive(Debug)]
pub struct Busy {
    /// Jobs waiting.
    pub queued: usize,
}

type Work = Box<dyn FnOnce(&Handle) -> Result<JobResult, JobError> + Send>;

#[derive(Debug)]
struct Entry {
    id: String,
    kind: String,
    state: State,
    handle: Arc<Handle>,
    result: Option<JobResult>,
    error: Option<String>,
}

impl Entry {
    fn view(&self, with_result: bool) -> JobView {
        JobView {
            id: self.id.clone(),
            kind: self.kind.clone(),
            state: self.state,
            bytes_done: self.handle.bytes_done.load(Ordering::Relaxed),
            bytes_total: self.handle.bytes_total.load(Ordering::Relaxed),
            result: if with_result { self.result.clone() } else { None },
            error: self.error.clone(),
        }
    }
}

/// Counts of jobs by state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct JobCounts {
    /// Waiting for a worker.
    pub queued: usize,
    /// Running.
    pub running: usize,
    /// Done (of those kept).
    pub done: usize,
    /// Failed (of those kept).
    pub failed: usize,
    /// Cancelled (of those kept).
    pub cancelled: usize,
    /// Finished jobs forgotten since the start (beyond the number kept).
    pub pruned: u64,
}

/// The registry and its worker pool.
#[derive(Debug)]
pub struct Jobs {
    /// Oldest first.
    entries: Mutex<VecDeque<Entry>>,
    /// Where state changes, progress and stored anomalies are told.
    events: Events,
    queue: SyncSender<(String, Arc<Handle>, Work)>,
    limits: JobLimits,
    pruned: AtomicU64,
    processed: Arc<Processed>,
}

impl Jobs {
    /// Packets and capture bytes all jobs have read so far.
    pub fn processed(&self) -> (u64, u64) {
        (self.processed.packets.load(Ordering::Relaxed), self.processed.bytes.load(Ordering::Relaxed))
    }

    /// A registry with `limits.workers` threads waiting for work.
    pub fn new(limits: JobLimits, events: Events) -> Arc<Jobs> {
        let (tx, rx) = std::sync::mpsc::sync_channel(limits.queue.max(1));
        let jobs = Arc::new(Jobs {
            entries: Mutex::default(),
            events,
            queue: tx,
            limits,
            pruned: AtomicU64::new(0),
            processed: Arc::default(),
        });
        let rx = Arc::new(Mutex::new(rx));
        for n in 0..limits.workers.max(1) {
            let (jobs, rx) = (Arc::downgrade(&jobs), rx.clone());
            let spawned = std::thread::Builder::new().name(format!("nta-job-{n}")).spawn(move || worker(&jobs, &rx));
            if let Err(e) = spawned {
                eprintln!("nta-api: job worker {n} could not start: {e}");
            }
        }
        jobs
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `work`; returns the job id, or [`Busy`] when the queue is full.
    pub fn spawn<F>(&self, kind: &str, work: F) -> Result<String, Busy>
    where
        F: FnOnce(&Handle) -> Result<JobResult, JobError> + Send + 'static,
    {
        let id = nta_store::new_id();
        let handle = Arc::new(Handle {
            id: id.clone(),
            events: Some(self.events.clone()),
            made: Some(Instant::now()),
            processed: Some(self.processed.clone()),
            ..Handle::default()
        });
        let mut entries = self.lock();
        match self.queue.try_send((id.clone(), handle.clone(), Box::new(work))) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                return Err(Busy { queued: entries.iter().filter(|e| e.state == State::Queued).count() });
            }
        }
        entries.push_back(Entry {
            id: id.clone(),
            kind: kind.to_owned(),
            state: State::Queued,
            handle,
            result: None,
            error: None,
        });
        drop(entries);
        self.events.publish(Event::Job { id: id.clone(), kind: kind.to_owned(), state: State::Queued, error: None });
        Ok(id)
    }

    /// One job, with its result.
    pub fn get(&self, id: &str) -> Option<JobView> {
        self.lock().iter().find(|e| e.id == id).map(|e| e.view(true))
    }

    /// The jobs kept, oldest first, without their results.
    pub fn all(&self) -> Vec<JobView> {
        self.lock().iter().map(|e| e.view(false)).collect()
    }

    /// The queued and running jobs, without results.
    pub fn active(&self) -> Vec<JobView> {
        self.lock().iter().filter(|e| e.state.active()).map(|e| e.view(false)).collect()
    }

    /// Counts by state.
    pub fn counts(&self) -> JobCounts {
        let mut c = JobCounts { pruned: self.pruned.load(Ordering::Relaxed), ..JobCounts::default() };
        for e in self.lock().iter() {
            match e.state {
                State::Queued => c.queued += 1,
                State::Running => c.running += 1,
                State::Done => c.done += 1,
                State::Failed => c.failed += 1,
                State::Cancelled => c.cancelled += 1,
            }
        }
        c
    }

    /// Asks a job to stop; `None` if unknown.
    pub fn cancel(&self, id: &str) -> Option<JobView> {
        let mut entries = self.lock();
        let e = entries.iter_mut().find(|e| e.id == id)?;
        if e.state.active() {
            e.handle.cancel.store(true, Ordering::Relaxed);
            e.state = State::Cancelled;
            self.events.publish(Event::Job { id: e.id.clone(), kind: e.kind.clone(), state: e.state, error: None });
        }
        Some(e.view(true))
    }

    /// Cancels every queued or running job; returns how many.
    pub fn cancel_running(&self) -> usize {
        let mut n = 0;
        for e in self.lock().iter_mut().filter(|e| e.state.active()) {
            e.handle.cancel.store(true, Ordering::Relaxed);
            e.state = State::Cancelled;
            n += 1;
        }
        n
    }

    /// Jobs queued or running.
    pub fn running(&self) -> usize {
        self.lock().iter().filter(|e| e.state.active()).count()
    }

    fn set(&self, id: &str, f: impl FnOnce(&mut Entry)) {
        let mut entries = self.lock();
        if let Some(e) = entries.iter_mut().find(|e| e.id == id) {
            let before = e.state;
            f(e);
            if e.state != before {
                self.events.publish(Event::Job {
                    id: e.id.clone(),
                    kind: e.kind.clone(),
                    state: e.state,
                    error: e.error.clone(),
                });
                let found = match &e.result {
                    Some(JobResult::Detection(d)) => Some((d.anomalies, d.new, d.incidents.len())),
                    Some(JobResult::Analysis(a)) => Some((a.anomalies, a.new, a.incidents.len())),
                    _ => None,
                };
                if let Some((anomalies, new, incidents)) = found {
                    self.events.publish(Event::Anomalies { job: e.id.clone(), anomalies, new, incidents });
                }
            }
        }
        // Forget the oldest finished jobs beyond the number kept.
        let finished = entries.iter().filter(|e| !e.state.active()).count();
        let mut excess = finished.saturating_sub(self.limits.keep);
        while excess > 0 {
            let Some(pos) = entries.iter().position(|e| !e.state.active()) else { break };
            entries.remove(pos);
            self.pruned.fetch_add(1, Ordering::Relaxed);
            excess -= 1;
        }
    }
}

/// A worker: takes the next job, runs it unless it was cancelled while queued, records the
/// outcome. Ends when the registry is gone.
fn worker(jobs: &std::sync::Weak<Jobs>, rx: &Mutex<Receiver<(String, Arc<Handle>, Work)>>) {
    loop {
        let next = rx.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok((id, handle, work)) = next else { return };
        let Some(registry) = jobs.upgrade() else { return };
        if handle.cancel.load(Ordering::Relaxed) {
            continue;
        }
        registry.set(&id, |e| e.state = State::Running);
        drop(registry);
        let outcome = work(&handle);
        let Some(registry) = jobs.upgrade() else { return };
        registry.set(&id, |e| {
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
        });
    }
}
