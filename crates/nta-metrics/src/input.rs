//! The reading side of an extraction: [`CaptureSource`]s (files, standard input, live
//! streams with their kernel counters) read into batches of frames in timestamp order, with
//! [`FileSummary`] and [`Progress`] of what was read.

mod batch;

pub(crate) use batch::{Batch, Meta};
use nta_capture::{CaptureReader, LinkType, Packet};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Where a read stands, for progress displays.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Bytes of the files consumed so far.
    pub bytes_done: u64,
    /// Total size of the files.
    pub bytes_total: u64,
    /// Packets read.
    pub packets: u64,
}

/// What was read from one file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FileSummary {
    /// The path as given.
    pub path: String,
    /// Detected format (`pcap`, `pcapng`, ...).
    pub format: Option<String>,
    /// Packets read.
    pub packets: u64,
    /// Sum of original lengths.
    pub bytes: u64,
    /// First and last timestamps, ns.
    pub first_ts_ns: Option<i64>,
    /// Last timestamp, ns.
    pub last_ts_ns: Option<i64>,
    /// Reader warnings (a file cut short, ...).
    pub warnings: Vec<String>,
    /// The error that stopped this file, if any (its packets before it were used).
    pub error: Option<String>,
}

/// From a stream (standard input), a batch also ends after a packet that enters a new slot of
/// this much capture time: the packets read so far reach the extractor before the reader
/// waits for more, so a window is written as soon as a packet past it arrives, whatever the
/// packet rate.
const STREAM_SLOT_NS: i64 = 200_000_000;

/// The path that means standard input.
pub const STDIN_PATH: &str = "-";

/// One input: its reader and, when several files are merged, a copy of its next packet.
pub(crate) struct Input {
    pub(crate) reader: Option<CaptureReader>,
    /// A live capture's counters, and their values at the previous batch.
    pub(crate) counters: Option<(CounterProbe, CaptureCounters)>,
    pub(crate) head: Option<(i64, LinkType, u32, Vec<u8>)>,
    pub(crate) summary: FileSummary,
    /// Bytes consumed when the reader was closed.
    pub(crate) consumed: u64,
}

impl Input {
    pub(crate) fn open(source: CaptureSource) -> Input {
        let mut summary = FileSummary { path: source.name(), ..FileSummary::default() };
        let mut counters = None;
        let opened = match source {
            CaptureSource::File(path) if path.as_os_str() == STDIN_PATH => CaptureReader::from_reader(std::io::stdin()),
            CaptureSource::File(path) => CaptureReader::open(path),
            CaptureSource::Stream { reader, counters: probe, .. } => {
                counters = probe.map(|p| (p, CaptureCounters::default()));
                CaptureReader::from_reader(reader)
            }
        };
        let reader = match opened {
            Ok(r) => {
                summary.format = Some(r.format().short_name().to_owned());
                Some(r)
            }
            Err(e) => {
                summary.error = Some(nta_capture::error_chain(&e));
                None
            }
        };
        Input { reader, counters, head: None, summary, consumed: 0 }
    }

    /// Reads the next packet into `head`.
    pub(crate) fn advance(&mut self) {
        let Some(r) = self.reader.as_mut() else { return };
        match r.next_packet() {
            Ok(Some(p)) => {
                let mut buf = self.head.take().map(|h| h.3).unwrap_or_default();
                buf.clear();
                buf.extend_from_slice(p.data);
                self.head = Some((p.ts_ns, p.link_type, p.orig_len, buf));
            }
            Ok(None) => {
                self.head = None;
                self.close(None);
            }
            Err(e) => {
                self.head = None;
                self.close(Some(nta_capture::error_chain(&e)));
            }
        }
    }

    pub(crate) fn close(&mut self, error: Option<String>) {
        if let Some(r) = self.reader.take() {
            self.consumed = r.position();
            let st = r.stats();
            self.summary.packets = st.packets;
            self.summary.bytes = st.wire_bytes;
            self.summary.first_ts_ns = st.first_ts_ns;
            self.summary.last_ts_ns = st.last_ts_ns;
            self.summary.warnings = st.warnings.iter().map(ToString::to_string).collect();
            // Frames nta cannot decode are counted, not analysed: say so wherever warnings go.
            for (lt, n) in st.link_types.iter().filter(|(lt, _)| !nta_parsing::link_type_decoded(*lt)) {
                self.summary.warnings.push(format!(
                    "{n} packets of link type {} ({}), which nta does not decode: counted as undecoded_packets, not analysed",
                    lt.name().unwrap_or("unknown"),
                    lt.0
                ));
            }
        }
        if error.is_some() {
            self.summary.error = error;
        }
    }

    pub(crate) fn position(&self) -> u64 {
        self.reader.as_ref().map_or(self.consumed, |r| r.position())
    }
}

/// Whether a stream's batch ends after a packet at `ts_ns` (it enters a new slot).
pub(crate) fn cut(stream: bool, last_slot: &mut i64, ts_ns: i64) -> bool {
    if !stream {
        return false;
    }
    let slot = ts_ns.div_euclid(STREAM_SLOT_NS);
    let new = slot != *last_slot;
    *last_slot = slot;
    new
}

/// The reading side: fills batches from one or several inputs in timestamp order.
pub(crate) struct Source {
    pub(crate) inputs: Vec<Input>,
    /// Some input is a stream: batches are cut by capture time too.
    pub(crate) stream: bool,
    /// The capture-time slot of the last packet batched (streams).
    pub(crate) last_slot: i64,
    pub(crate) sample: u64,
    pub(crate) seen: u64,
    pub(crate) done_bytes: u64,
    pub(crate) total_bytes: u64,
}

impl Source {
    /// Reads the live inputs' counters into `batch`, as differences since the last batch.
    pub(crate) fn probe(&mut self, batch: &mut Batch) {
        for input in &mut self.inputs {
            if let Some((probe, last)) = input.counters.as_mut() {
                let now = probe();
                let (r, d) = batch.counters.unwrap_or((0, 0));
                batch.counters = Some((
                    r + now.received.saturating_sub(last.received),
                    d + now.dropped.saturating_sub(last.dropped),
                ));
                *last = now;
            }
        }
    }

    pub(crate) fn fill(&mut self, batch: &mut Batch) {
        batch.clear();
        if let [input] = self.inputs.as_mut_slice() {
            // One file: straight from the reader's buffer.
            let Some(r) = input.reader.as_mut() else { return };
            loop {
                match r.next_packet() {
                    Ok(Some(p)) => {
                        self.seen += 1;
                        if (self.seen - 1).is_multiple_of(self.sample) {
                            batch.push(0, &p);
                            if batch.full() || cut(self.stream, &mut self.last_slot, p.ts_ns) {
                                return;
                            }
                        }
                    }
                    Ok(None) => return input.close(None),
                    Err(e) => return input.close(Some(nta_capture::error_chain(&e))),
                }
            }
        }
        loop {
            // Several files: the input whose next packet is earliest (ties: first file).
            let next = self.inputs.iter().enumerate().filter_map(|(i, inp)| inp.head.as_ref().map(|h| (h.0, i))).min();
            let Some((_, i)) = next else { return };
            let Some(input) = self.inputs.get_mut(i) else { return };
            self.seen += 1;
            if (self.seen - 1).is_multiple_of(self.sample)
                && let Some((ts, lt, orig, data)) = input.head.as_ref()
            {
                let p = Packet {
                    ts_ns: *ts,
                    link_type: *lt,
                    caplen: data.len() as u32,
                    orig_len: *orig,
                    interface: 0,
                    data,
                };
                batch.push(i, &p);
                if cut(self.stream, &mut self.last_slot, *ts) {
                    input.advance();
                    return;
                }
            }
            input.advance();
            if batch.full() {
                return;
            }
        }
    }

    pub(crate) fn progress(&self) -> Progress {
        let open: u64 = self.inputs.iter().map(Input::position).sum();
        Progress {
            bytes_done: (self.done_bytes + open).min(self.total_bytes),
            bytes_total: self.total_bytes,
            packets: self.seen,
        }
    }
}

/// Where an extraction reads packets from.
pub enum CaptureSource {
    /// A capture file, or standard input when the path is [`STDIN_PATH`].
    File(PathBuf),
    /// Any capture byte stream (a live capture, a pipe), read as standard input is: batches
    /// and windows close by capture time as packets come.
    Stream {
        /// Its name in records (`source`) and summaries (`live:eth0`).
        name: String,
        /// The bytes of a pcap or pcapng stream.
        reader: Box<dyn std::io::Read + Send>,
        /// A live capture's cumulative kernel counters, read after each batch and attributed
        /// to the windows being read (`capture_received`, `capture_dropped`).
        counters: Option<CounterProbe>,
    },
}

/// A live capture's cumulative counters: packets the kernel received for it, and dropped (by
/// the kernel or the interface).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CaptureCounters {
    /// Received.
    pub received: u64,
    /// Dropped.
    pub dropped: u64,
}

/// Reads a live capture's [`CaptureCounters`].
pub type CounterProbe = std::sync::Arc<dyn Fn() -> CaptureCounters + Send + Sync>;

impl std::fmt::Debug for CaptureSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CaptureSource::File(p) => f.debug_tuple("File").field(p).finish(),
            CaptureSource::Stream { name, .. } => f.debug_struct("Stream").field("name", name).finish_non_exhaustive(),
        }
    }
}

impl CaptureSource {
    /// Its name in records: a file's canonical path ([`source_name`]), a stream's name.
    pub fn name(&self) -> String {
        match self {
            CaptureSource::File(p) => source_name(p),
            CaptureSource::Stream { name, .. } => name.clone(),
        }
    }

    pub(crate) fn is_stream(&self) -> bool {
        match self {
            CaptureSource::File(p) => p.as_os_str() == STDIN_PATH,
            CaptureSource::Stream { .. } => true,
        }
    }

    pub(crate) fn size(&self) -> u64 {
        match self {
            CaptureSource::File(p) => std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
            CaptureSource::Stream { .. } => 0,
        }
    }
}

/// The `source` of records read from `path`: its canonical path (standard input stays `-`; a
/// path that cannot be resolved stays as given).
pub fn source_name(path: &Path) -> String {
    if path.as_os_str() == STDIN_PATH {
        return STDIN_PATH.to_owned();
    }
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned()).display().to_string()
}
