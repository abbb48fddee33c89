//! Live capture flags shared by `extract` and `detect` (`--interface`, `--filter`, `--snaplen`,
//! `--buffer-size`, `--duration`), the stop on SIGINT/SIGTERM, the closing counters, and
//! `nta-cli capture --list`.

use crate::config::{parse_duration_ns, parse_size};
use anyhow::{Context, Result, bail};
use nta_live::{LiveCapture, LiveOptions, LiveStream, StreamStats};
use nta_metrics::{CaptureCounters, CaptureSource, CounterProbe};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Capture from an interface instead of reading files.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct LiveArgs {
    /// Capture from this interface (repeatable: several are taken in turn as one capture; `any`
    /// for every interface at once) until SIGINT/SIGTERM or --duration; needs CAP_NET_RAW
    #[arg(long, value_name = "IFACE")]
    pub(crate) interface: Vec<String>,
    /// BPF filter (tcpdump syntax), compiled by libpcap
    #[arg(long, value_name = "EXPR", requires = "interface")]
    filter: Option<String>,
    /// Bytes kept of each packet
    #[arg(long, default_value_t = 262_144, requires = "interface")]
    snaplen: u32,
    /// Kernel ring buffer (e.g. 64MiB)
    #[arg(long, value_parser = parse_size, default_value = "64MiB", requires = "interface")]
    buffer_size: u64,
    /// Stop after this much wall-clock time (e.g. 30s, 24h) [default: until SIGINT/SIGTERM]
    #[arg(long, value_parser = parse_duration_ns, requires = "interface")]
    duration: Option<i64>,
}

/// A running live capture: its source for the pipeline and its counters.
pub(crate) struct Live {
    pub(crate) source: CaptureSource,
    pub(crate) name: String,
    stats: Arc<Mutex<StreamStats>>,
}

impl LiveArgs {
    /// Whether a capture was asked for.
    pub(crate) fn wanted(&self) -> bool {
        !self.interface.is_empty()
    }

    /// Opens the interface(s) (a clear error for a missing interface, missing privileges, a bad
    /// filter or a build without libpcap) and arms SIGINT/SIGTERM to end the capture.
    pub(crate) fn open(&self) -> Result<Option<Live>> {
        if self.interface.is_empty() {
            return Ok(None);
        }
        let interface = self.interface.join(",");
        let options = LiveOptions {
            filter: self.filter.clone(),
            snaplen: self.snaplen,
            buffer_size: u32::try_from(self.buffer_size).unwrap_or(u32::MAX),
            ..LiveOptions::default()
        };
        let capture = LiveCapture::open_many(&self.interface, &options)?;
        let stop = Arc::new(AtomicBool::new(false));
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(signal, Arc::clone(&stop)).context("arming SIGINT/SIGTERM")?;
        }
        let deadline = self.duration.map(|ns| Instant::now() + Duration::from_nanos(ns.max(0) as u64));
        let stream = LiveStream::new(capture, stop, deadline);
        let stats = stream.stats();
        let name = format!("live:{interface}");
        let probe_stats = Arc::clone(&stats);
        let counters: CounterProbe = Arc::new(move || {
            let s = probe_stats.lock().map(|s| s.capture).unwrap_or_default();
            CaptureCounters { received: s.received, dropped: s.dropped_kernel + s.dropped_interface }
        });
        eprintln!("capturing on {interface} (Ctrl-C or SIGTERM to stop)");
        let source = CaptureSource::Stream { name: name.clone(), reader: Box::new(stream), counters: Some(counters) };
        Ok(Some(Live { source, name, stats }))
    }
}

impl Live {
    /// Takes the source out for the pipeline, keeping the counters.
    pub(crate) fn take(self) -> (CaptureSource, LiveEnd) {
        (self.source, LiveEnd { name: self.name, stats: self.stats })
    }
}

/// What is left of a capture once the pipeline owns its source: its counters.
pub(crate) struct LiveEnd {
    name: String,
    stats: Arc<Mutex<StreamStats>>,
}

impl LiveEnd {
    /// The closing lines: packets received, dropped by the kernel, dropped by the interface.
    pub(crate) fn report(&self) {
        let s = self.stats.lock().map(|s| *s).unwrap_or_default();
        eprintln!(
            "{}: {} packets captured ({} bytes); kernel: {} received, {} dropped; interface: {} dropped",
            self.name, s.packets, s.bytes, s.capture.received, s.capture.dropped_kernel, s.capture.dropped_interface
        );
        let dropped = s.capture.dropped_kernel + s.capture.dropped_interface;
        if dropped > 0 {
            eprintln!(
                "warning: the capture dropped {dropped} packets: the windows where it did carry capture_dropped, \
                 under-count the traffic, and their decreases were not taken as evidence"
            );
        }
    }
}

/// `nta-cli capture`: what can be captured on.
#[derive(Debug, clap::Args)]
pub(crate) struct CaptureArgs {
    /// List the interfaces libpcap can capture on
    #[arg(long)]
    list: bool,
}

pub(crate) fn run_capture(args: &CaptureArgs) -> Result<ExitCode> {
    if !args.list {
        bail!("nothing to do: --list lists the interfaces (extract and detect capture with --interface)");
    }
    for i in nta_live::interfaces()? {
        let flags = [(i.up, "up"), (i.running, "running"), (i.loopback, "loopback")]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, n)| *n)
            .collect::<Vec<_>>()
            .join(",");
        let addrs = i.addresses.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ");
        println!(
            "{:<16} {:<22} {}{}",
            i.name,
            flags,
            addrs,
            i.description.map(|d| format!("  ({d})")).unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}
