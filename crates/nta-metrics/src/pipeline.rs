//! [`extract_files`]: captures in, window records out.
//!
//! One thread reads: it frames packets from every file, merges them by timestamp into one
//! time line, keeps 1 in `sample`, and copies them into a batch (a few MB of frame bytes and
//! their metadata). Batches are decoded in parallel (rayon, in order), and while batch N+1 is
//! read and decoded, batch N is accumulated by the [`Shards`] — a fixed number of
//! [`Extractor`](crate::Extractor)s, each with its share of the flows, in parallel. They see
//! the same packets in the same order whatever the thread count, so the output is identical.

use crate::config::ExtractConfig;
use crate::extractor::ExtractCounts;
use crate::flow_record::FlowRecord;
use crate::input::{Batch, CaptureSource, FileSummary, Input, Progress, Source};
use crate::shards::Shards;
use crate::{Error, WindowRecord};
use nta_parsing::Census;
use serde::Serialize;
use std::path::PathBuf;

/// What [`extract_files`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ExtractSummary {
    /// Per input file.
    pub files: Vec<FileSummary>,
    /// Per extraction.
    pub counts: ExtractCounts,
    /// Protocol census of the packets processed (after sampling), counted while decoding:
    /// a report needs no second read of the captures.
    pub census: Census,
    /// Worker threads used.
    pub threads: usize,
}

impl ExtractSummary {
    /// Whether some file could not be read to its end.
    pub fn had_errors(&self) -> bool {
        self.files.iter().any(|f| f.error.is_some())
    }
}

/// Extracts window records from `paths`, merged into one time line by timestamp. `emit`
/// receives each record as soon as it is complete; `progress` is called after every batch.
/// A file that cannot be opened or read to its end is reported in the summary; the others go on.
/// The path [`STDIN_PATH`](crate::STDIN_PATH) (`-`) reads a capture stream from standard input (e.g. `tcpdump -U
/// -w -`): a window is emitted once a packet at least the reorder horizon past its end has
/// arrived — capture time, not the wall clock, closes windows.
pub fn extract_files(
    paths: &[PathBuf],
    cfg: &ExtractConfig,
    progress: &(dyn Fn(Progress) + Sync),
    emit: &mut (dyn FnMut(WindowRecord) -> std::io::Result<()> + Send),
) -> Result<ExtractSummary, Error> {
    extract_sources(paths.iter().cloned().map(CaptureSource::File).collect(), cfg, progress, emit)
}

/// [`extract_files`] over any [`CaptureSource`]s: files, standard input, live captures.
pub fn extract_sources(
    sources: Vec<CaptureSource>,
    cfg: &ExtractConfig,
    progress: &(dyn Fn(Progress) + Sync),
    emit: &mut (dyn FnMut(WindowRecord) -> std::io::Result<()> + Send),
) -> Result<ExtractSummary, Error> {
    extract_with_flows(sources, cfg, progress, emit, None)
}

/// The sink of flow records: each [`FlowRecord`] as its flow ends.
pub type FlowSink<'a> = &'a mut (dyn FnMut(FlowRecord) -> std::io::Result<()> + Send);

/// [`extract_sources`] that also writes a [`FlowRecord`] of every flow to `flows` as it ends
/// (idle, active timeout, close, eviction; at the end of the input every flow still open), in
/// the same single pass. Without a sink it is [`extract_sources`].
pub fn extract_with_flows(
    sources: Vec<CaptureSource>,
    cfg: &ExtractConfig,
    progress: &(dyn Fn(Progress) + Sync),
    emit: &mut (dyn FnMut(WindowRecord) -> std::io::Result<()> + Send),
    flows: Option<FlowSink<'_>>,
) -> Result<ExtractSummary, Error> {
    cfg.validate()?;
    let pool =
        rayon::ThreadPoolBuilder::new().num_threads(cfg.threads).build().map_err(|e| Error::Threads(e.to_string()))?;
    let threads = pool.current_num_threads();
    pool.install(|| run(sources, cfg, progress, (emit, flows), threads))
}

fn run(
    sources: Vec<CaptureSource>,
    cfg: &ExtractConfig,
    progress: &(dyn Fn(Progress) + Sync),
    (emit, mut flows): (&mut (dyn FnMut(WindowRecord) -> std::io::Result<()> + Send), Option<FlowSink<'_>>),
    threads: usize,
) -> Result<ExtractSummary, Error> {
    // One capture, one name whatever path names it (`x.pcap`, `./x.pcap`, `/abs/x.pcap`, a
    // symbolic link): the canonical path, so anomaly ids — derived from it — de-duplicate.
    let names = sources.iter().map(CaptureSource::name).collect();
    let total_bytes = sources.iter().map(CaptureSource::size).sum();
    let stream = sources.iter().any(CaptureSource::is_stream);
    let mut inputs: Vec<Input> = sources.into_iter().map(Input::open).collect();
    if inputs.len() > 1 {
        inputs.iter_mut().for_each(Input::advance);
    }
    let mut source = Source {
        inputs,
        stream,
        last_slot: i64::MIN,
        sample: u64::from(cfg.sample),
        seen: 0,
        done_bytes: 0,
        total_bytes,
    };
    let mut shards = Shards::new(cfg, names, flows.is_some());
    // Records go out as they are complete; after a failed write nothing more is written.
    let mut failed: Option<std::io::Error> = None;
    let mut flow_failed: Option<std::io::Error> = None;
    let (mut ready, mut next, mut spare) = (Batch::default(), Batch::default(), Batch::default());
    let mut census = Census::default();
    source.fill(&mut ready);
    source.probe(&mut ready);
    ready.decode(cfg.tunnels, cfg.shards);
    // With a thread to spare beside the shards' walks, the next batch is read and decoded
    // there. With as many walks as threads, a third batch: while `ready` is walked, the batch
    // after `next` is read beside and `next` — read during the last walks — is decoded by the
    // first thread done with its walk (else the thread that reads would end its walk late
    // and the others wait). A stream keeps two batches (a third would hold its records back),
    // and so does one thread (it does everything in turn: a third batch would gain nothing).
    let decode_beside = shards.walks() < threads || stream || threads == 1;
    if !decode_beside {
        source.fill(&mut next);
        source.probe(&mut next);
    }
    while !ready.meta.is_empty() {
        // Accumulate `ready` (its shards in parallel) while the next batch is read (and
        // decoded) beside it. Records are delivered as soon as they are complete, not after
        // the read beside (which, from a stream, may wait for the next packets).
        census.merge(&ready.census);
        // The batch decoded beside the walks (none when it is decoded where it is read), and
        // the one read.
        let (walked, reading) = if decode_beside { (None, &mut next) } else { (Some(&mut next), &mut spare) };
        rayon::join(
            || {
                let side = || {
                    if let Some(b) = walked {
                        b.decode(cfg.tunnels, cfg.shards);
                    }
                };
                shards.batch(
                    &ready,
                    &mut |r| deliver(emit, &mut failed, r),
                    &mut |f| deliver_flow(&mut flows, &mut flow_failed, f),
                    side,
                );
                if let Some((received, dropped)) = ready.counters {
                    shards.capture_counters(ready.meta.last().map(|m| m.ts_ns), received, dropped);
                }
            },
            || {
                source.fill(reading);
                source.probe(reading);
                if decode_beside {
                    reading.decode(cfg.tunnels, cfg.shards);
                }
            },
        );
        if let Some(e) = failed.take().or(flow_failed.take()) {
            return Err(Error::Output(e));
        }
        if shards.over_limit() {
            return Err(Error::TooManyWindows { limit: cfg.max_windows });
        }
        progress(source.progress());
        // `ready` was walked: the next batch (decoded) comes up, and the one read behind it.
        std::mem::swap(&mut ready, &mut next);
        if !decode_beside {
            std::mem::swap(&mut next, &mut spare);
        }
    }
    // The counters read with the last, empty batch (the stream's end) go to the last window.
    if let Some((received, dropped)) = ready.counters {
        shards.capture_counters(None, received, dropped);
    }
    let mut counts = shards
        .finish_all(&mut |r| deliver(emit, &mut failed, r), &mut |f| deliver_flow(&mut flows, &mut flow_failed, f));
    if let Some(e) = failed.or(flow_failed) {
        return Err(Error::Output(e));
    }
    counts.packets_seen = source.seen;
    let files = source.inputs.into_iter().map(|mut i| {
        i.close(None);
        i.summary
    });
    Ok(ExtractSummary { files: files.collect(), counts, census, threads })
}

/// Gives `x` to `sink` unless an earlier write failed; keeps the first failure. Whether to go
/// on (no failure).
fn deliver<T>(sink: &mut dyn FnMut(T) -> std::io::Result<()>, failed: &mut Option<std::io::Error>, x: T) -> bool {
    if failed.is_none()
        && let Err(e) = sink(x)
    {
        *failed = Some(e);
    }
    failed.is_none()
}

/// [`deliver`] to the flow sink, when there is one.
fn deliver_flow(sink: &mut Option<FlowSink<'_>>, failed: &mut Option<std::io::Error>, f: FlowRecord) -> bool {
    match sink.as_mut() {
        Some(sink) => deliver(*sink, failed, f),
        None => true,
    }
}
