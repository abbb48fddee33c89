//! [`LiveRun`]: continuous live detection on an interface, on a thread of its own (not a job:
//! it runs until stopped). Each window, as it closes, is appended to `logs/metrics.jsonl`,
//! scored with the model and its baseline (or kept to learn them first, `learn`), its
//! anomalies appended to the store, and told on `/api/events`.

use crate::error::ApiError;
use crate::events::{Event, Events};
use nta_analysis::DetectConfig;
use nta_baselines::Baseline;
use nta_live::{LiveCapture, LiveOptions, LiveStream, StreamStats};
use nta_metrics::{CaptureCounters, CaptureSource, CounterProbe, ExtractConfig, WindowRecord, extract_sources};
use nta_ml::Model;
use nta_store::{AnomalyStore, Layout, Learner, MetricsLog};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;
use utoipa::ToSchema;

/// What to capture and how to judge it.
#[derive(Clone, Debug, Default)]
pub struct LiveRequest {
    /// The interface.
    pub interface: String,
    /// A BPF filter.
    pub filter: Option<String>,
    /// Learn normal from the first span of capture time (ns), saved as `model`.
    pub learn_ns: Option<i64>,
    /// The model to detect with (and its baseline, `data/baselines/NAME.json`), or the name to
    /// learn into (default `live_IFACE`).
    pub model: Option<String>,
    /// Window length [default: the model's, else 10 s].
    pub window_ns: Option<i64>,
    /// How packets are read: the layer of tunnelled packets, the shards (the server's
    /// `--tunnels`, `--shards`).
    pub reading: nta_metrics::Reading,
}

/// What the run has done so far.
#[derive(Debug, Default)]
struct Progress {
    windows: u64,
    anomalies: u64,
    learning: bool,
    error: Option<String>,
    ended: bool,
}

/// The live part of `GET /api/control/state`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct LiveState {
    /// The interface.
    interface: String,
    /// The BPF filter.
    filter: Option<String>,
    /// The model detecting (or being learnt).
    model: String,
    /// Still learning normal.
    learning: bool,
    /// When it started (wall clock, RFC 3339).
    started_at: String,
    /// Seconds since.
    uptime_s: f64,
    /// Packets captured.
    packets: u64,
    /// Their bytes on the wire.
    bytes: u64,
    /// Packets per second over the last second or so (since the previous look at the state,
    /// when that was at least a second ago; else the last rate measured).
    packets_per_s: f64,
    /// Packets per second since the start.
    mean_packets_per_s: f64,
    /// The kernel's counters: received for the capture, dropped (ring full), dropped by the
    /// interface.
    kernel_received: u64,
    /// Dropped by the kernel.
    kernel_dropped: u64,
    /// Dropped by the interface.
    interface_dropped: u64,
    /// Windows closed.
    windows: u64,
    /// Anomalies found.
    anomalies: u64,
    /// Ended (stopped, or the capture failed: `error`).
    ended: bool,
    /// Why it ended, if it failed.
    error: Option<String>,
}

impl LiveState {
    /// Packets and bytes captured, and packets the kernel and the interface dropped.
    pub fn counters(&self) -> (u64, u64, u64) {
        (self.packets, self.bytes, self.kernel_dropped + self.interface_dropped)
    }
}

/// A running live capture with detection.
#[derive(Debug)]
pub struct LiveRun {
    request: LiveRequest,
    model: String,
    started: Instant,
    started_at: String,
    stop: Arc<AtomicBool>,
    stats: Arc<Mutex<StreamStats>>,
    progress: Arc<Mutex<Progress>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The last rate sample: when, packets then, and the rate it gave.
    rate: Mutex<(Instant, u64, f64)>,
}

impl LiveRun {
    /// Opens the interface (errors answered now) and starts the run's thread.
    pub fn start(layout: Layout, events: Events, request: LiveRequest) -> Result<LiveRun, ApiError> {
        let name = match &request.model {
            Some(m) => m.clone(),
            None => nta_store::name_for_capture(std::path::Path::new(&format!("live_{}", request.interface))),
        };
        layout.model_path(&name)?;
        // The judges: learnt, or loaded now (a missing model is answered now).
        let (learner, judges) = match request.learn_ns {
            Some(span) => (Some(Learner::new(name.clone(), span)), None),
            None => {
                let model = nta_store::load_model(&layout, &name)?;
                let path = layout.baseline_path(&name)?;
                let baseline =
                    if path.exists() { Some(Baseline::load(&path).map_err(ApiError::internal)?) } else { None };
                (None, Some((model, baseline)))
            }
        };
        let window = request
            .window_ns
            .or_else(|| judges.as_ref().and_then(|(m, _)| m.source.window_ns))
            .unwrap_or(10_000_000_000);
        let cfg = request.reading.config(window);
        cfg.validate().map_err(|e| ApiError::bad("bad_request", e.to_string()))?;
        let options = LiveOptions { filter: request.filter.clone(), ..LiveOptions::default() };
        let capture = LiveCapture::open(&request.interface, &options)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stream = LiveStream::new(capture, Arc::clone(&stop), None);
        let stats = stream.stats();
        let probe_stats = Arc::clone(&stats);
        let counters: CounterProbe = Arc::new(move || {
            let s = probe_stats.lock().map(|s| s.capture).unwrap_or_default();
            CaptureCounters { received: s.received, dropped: s.dropped_kernel + s.dropped_interface }
        });
        let source = CaptureSource::Stream {
            name: format!("live:{}", request.interface),
            reader: Box::new(stream),
            counters: Some(counters),
        };
        let progress = Arc::new(Mutex::new(Progress { learning: learner.is_some(), ..Progress::default() }));
        let work = Work {
            layout,
            events,
            learner,
            judges,
            detector: nta_analysis::StreamDetector::new(),
            progress: Arc::clone(&progress),
        };
        let thread = std::thread::Builder::new()
            .name(format!("nta-live-{}", request.interface))
            .spawn(move || work.run(source, &cfg))
            .map_err(ApiError::internal)?;
        Ok(LiveRun {
            request,
            model: name,
            started: Instant::now(),
            started_at: nta_store::now_rfc3339(),
            stop,
            stats,
            progress,
            thread: Some(thread),
            rate: Mutex::new((Instant::now(), 0, 0.0)),
        })
    }

    /// Stops the capture: every open window is written and scored, then the thread ends.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Whether it still runs.
    pub fn running(&self) -> bool {
        !self.progress.lock().unwrap_or_else(PoisonError::into_inner).ended
    }

    /// Where it stands.
    pub fn state(&self) -> LiveState {
        let s = self.stats.lock().map(|s| *s).unwrap_or_default();
        let p = self.progress.lock().unwrap_or_else(PoisonError::into_inner);
        let uptime_s = self.started.elapsed().as_secs_f64();
        let packets_per_s = {
            let mut r = self.rate.lock().unwrap_or_else(PoisonError::into_inner);
            let dt = r.0.elapsed().as_secs_f64();
            if dt >= 1.0 {
                *r = (Instant::now(), s.packets, s.packets.saturating_sub(r.1) as f64 / dt);
            }
            r.2
        };
        LiveState {
            interface: self.request.interface.clone(),
            filter: self.request.filter.clone(),
            model: self.model.clone(),
            learning: p.learning,
            started_at: self.started_at.clone(),
            uptime_s,
            packets: s.packets,
            bytes: s.bytes,
            packets_per_s,
            mean_packets_per_s: s.packets as f64 / uptime_s.max(1e-9),
            kernel_received: s.capture.received,
            kernel_dropped: s.capture.dropped_kernel,
            interface_dropped: s.capture.dropped_interface,
            windows: p.windows,
            anomalies: p.anomalies,
            ended: p.ended,
            error: p.error.clone(),
        }
    }
}

impl Drop for LiveRun {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The run's thread: what it owns.
struct Work {
    layout: Layout,
    events: Events,
    learner: Option<Learner>,
    judges: Option<(Model, Option<Baseline>)>,
    /// Window-by-window detection with the last windows as context.
    detector: nta_analysis::StreamDetector,
    progress: Arc<Mutex<Progress>>,
}

impl Work {
    fn run(mut self, source: CaptureSource, cfg: &ExtractConfig) {
        let result = (|| -> Result<(), String> {
            let mut log = MetricsLog::open(&self.layout).map_err(|e| e.to_string())?;
            let store = AnomalyStore::new(self.layout.anomalies_path());
            let summary = extract_sources(vec![source], cfg, &|_| {}, &mut |r| {
                log.append(&r).map_err(std::io::Error::other)?;
                self.window(&store, &r).map_err(std::io::Error::other)
            })
            .map_err(|e| e.to_string())?;
            match summary.files.iter().find_map(|f| f.error.clone()) {
                Some(e) => Err(e),
                None => Ok(()),
            }
        })();
        let mut p = self.progress.lock().unwrap_or_else(PoisonError::into_inner);
        p.ended = true;
        p.error = result.err();
    }

    /// One closed window: told, learnt from or scored, its anomalies stored and told.
    fn window(&mut self, store: &AnomalyStore, r: &WindowRecord) -> Result<(), nta_store::Error> {
        self.events.publish(Event::Window {
            window_start: r.window_start.clone(),
            packets: r.packets,
            bytes: r.bytes,
            capture_dropped: r.capture_dropped,
        });
        if let Some(l) = self.learner.as_mut() {
            let Some(learnt) = l.offer(&self.layout, r)? else { return self.count(0) };
            self.judges = Some((learnt.model, Some(learnt.baseline)));
            self.learner = None;
            self.progress.lock().unwrap_or_else(PoisonError::into_inner).learning = false;
        }
        let Some((model, baseline)) = &self.judges else { return Ok(()) };
        let d = self.detector.push(r.clone(), Some(model), baseline.as_ref(), &DetectConfig::default())?;
        let new = store.append(&d.anomalies)?;
        if !d.anomalies.is_empty() {
            self.events.publish(Event::Anomalies {
                job: "live".into(),
                anomalies: d.anomalies.len(),
                new,
                incidents: d.incidents.len(),
            });
        }
        self.count(d.anomalies.len() as u64)
    }

    fn count(&self, anomalies: u64) -> Result<(), nta_store::Error> {
        let mut p = self.progress.lock().unwrap_or_else(PoisonError::into_inner);
        p.windows += 1;
        p.anomalies += anomalies;
        Ok(())
    }
}
