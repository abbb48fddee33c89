//! [`Telemetry`]: what `GET /metrics` tells operators, in the Prometheus (OpenMetrics) text
//! format: requests by route and status and their latency, jobs by state, packets and bytes
//! processed, live-capture drops, anomalies by severity and kind, and the size of the store.
//! Request counters are kept as requests are served; the rest is read when scraped.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Mutex;
use std::time::Duration;

type Labels = Vec<(&'static str, String)>;

/// The server's metrics registry.
#[derive(Debug)]
pub struct Telemetry {
    registry: Mutex<Registry>,
    requests: Family<Labels, Counter>,
    latency: Family<Labels, Histogram>,
    jobs: Family<Labels, Gauge>,
    anomalies: Family<Labels, Gauge>,
    packets: Gauge<u64, std::sync::atomic::AtomicU64>,
    bytes: Gauge<u64, std::sync::atomic::AtomicU64>,
    dropped: Gauge<u64, std::sync::atomic::AtomicU64>,
    store_bytes: Family<Labels, Gauge>,
    records: Family<Labels, Gauge>,
}

/// What is read at scrape time.
#[derive(Debug, Default)]
pub struct Scrape {
    /// Jobs by state name.
    pub jobs: Vec<(&'static str, u64)>,
    /// Packets and capture bytes processed (jobs and live capture).
    pub packets: u64,
    /// Capture bytes processed.
    pub bytes: u64,
    /// Packets the kernel and the interface dropped during live capture.
    pub dropped: u64,
    /// Anomalies by (severity, kind).
    pub anomalies: Vec<(String, String, u64)>,
    /// Bytes of each file of the store (`anomalies`, `metrics`, `flows`, `models`).
    pub store_bytes: Vec<(&'static str, u64)>,
    /// Records by kind (`windows`, `anomalies`).
    pub records: Vec<(&'static str, u64)>,
}

impl Default for Telemetry {
    fn default() -> Telemetry {
        Telemetry::new()
    }
}

impl Telemetry {
    /// An empty registry with every metric declared.
    pub fn new() -> Telemetry {
        let latency = Family::<Labels, Histogram>::new_with_constructor(|| {
            // 0.5 ms to ~16 s.
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        let t = Telemetry {
            registry: Mutex::new(Registry::with_prefix("nta")),
            requests: Family::default(),
            latency,
            jobs: Family::default(),
            anomalies: Family::default(),
            packets: Gauge::default(),
            bytes: Gauge::default(),
            dropped: Gauge::default(),
            store_bytes: Family::default(),
            records: Family::default(),
        };
        if let Ok(mut r) = t.registry.lock() {
            r.register("http_requests", "HTTP requests answered, by route and status", t.requests.clone());
            r.register("http_request_duration_seconds", "Time to answer a request, by route", t.latency.clone());
            r.register("jobs", "Jobs by state (finished ones: those kept)", t.jobs.clone());
            r.register("processed_packets", "Packets read from captures and interfaces since start", t.packets.clone());
            r.register("processed_bytes", "Capture bytes read since start", t.bytes.clone());
            r.register(
                "capture_dropped_packets",
                "Packets the kernel and the interface dropped during live capture",
                t.dropped.clone(),
            );
            r.register("anomalies", "Stored anomalies by severity and kind", t.anomalies.clone());
            r.register("store_bytes", "Bytes of the store's files", t.store_bytes.clone());
            r.register("records", "Records the API reads, by kind", t.records.clone());
        }
        t
    }

    /// Counts one answered request (`route` is its pattern, `/api/jobs/{id}`, written
    /// `/api/jobs/:id` so that no label holds a brace).
    pub fn observe(&self, route: &str, status: u16, took: Duration) {
        let route = route.replace('{', ":").replace('}', "");
        self.requests.get_or_create(&vec![("route", route.clone()), ("status", status.to_string())]).inc();
        self.latency.get_or_create(&vec![("route", route)]).observe(took.as_secs_f64());
    }

    /// The text to answer a scrape with, after setting what is read now.
    pub fn render(&self, now: &Scrape) -> String {
        self.jobs.clear();
        for (state, n) in &now.jobs {
            self.jobs.get_or_create(&vec![("state", (*state).to_owned())]).set(gauge(*n));
        }
        self.anomalies.clear();
        for (severity, kind, n) in &now.anomalies {
            self.anomalies.get_or_create(&vec![("severity", severity.clone()), ("kind", kind.clone())]).set(gauge(*n));
        }
        self.store_bytes.clear();
        for (file, n) in &now.store_bytes {
            self.store_bytes.get_or_create(&vec![("file", (*file).to_owned())]).set(gauge(*n));
        }
        self.records.clear();
        for (kind, n) in &now.records {
            self.records.get_or_create(&vec![("kind", (*kind).to_owned())]).set(gauge(*n));
        }
        self.packets.set(now.packets);
        self.bytes.set(now.bytes);
        self.dropped.set(now.dropped);
        let mut out = String::new();
        if let Ok(r) = self.registry.lock() {
            let _ = encode(&mut out, &r);
        }
        out
    }
}

fn gauge(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
