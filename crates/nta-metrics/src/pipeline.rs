//! [`extract_files`]: captures in, window records out.
//!
//! One thread reads: it frames packets from every file, merges them by timestamp into one
//! time line, keeps 1 in `sample`, and copies them into a batch (a few MB of frame bytes and
//! their metadata). Batches are decoded in parallel (rayon, in order), and while batch N+1 is
//! read and decoded, batch N is accumulated by the [`Extractor`] on the reading thread. The
//! extractor sees the same packets in the same order whatever the thread count, so the output
//! is identical.

use crate::config::ExtractConfig;
use crate::extractor::{ExtractCounts, Extractor};
use crate::flow_record::FlowRecord;
use crate::input::{Batch, CaptureSource, FileSummary, Input, Progress, Source};
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
    let mut extractor = Extractor::new(cfg.clone(), names);
    if flows.is_some() {
        extractor.export_flows();
    }
    // Flow records go out after each packet that ended some (a gap may end many at once).
    let mut deliver_flows = |extractor: &mut Extractor, failed: &mut Option<std::io::Error>| {
        if let Some(sink) = flows.as_mut() {
            for f in extractor.take_flows() {
                if failed.is_none()
                    && let Err(e) = sink(f)
                {
                    *failed = Some(e);
                }
            }
        }
    };
    let mut out: Vec<WindowRecord> = Vec::new();
    let mut failed: Option<std::io::Error> = None;
    let mut deliver = |out: &mut Vec<WindowRecord>, failed: &mut Option<std::io::Error>| {
        for r in out.drain(..) {
            if failed.is_none()
                && let Err(e) = emit(r)
            {
                *failed = Some(e);
            }
        }
    };

    let (mut ready, mut next) = (Batch::default(), Batch::default());
    let mut census = Census::default();
    source.fill(&mut ready);
    source.probe(&mut ready);
    ready.decode(cfg.tunnels);
    while !ready.meta.is_empty() {
        // Accumulate `ready` here while the next batch is read and decoded beside it.
        // Records are delivered as soon as they are complete, not after the read beside
        // (which, from a stream, may wait for the next packets).
        census.merge(&ready.census);
        rayon::join(
            || {
                for ((s, src), m) in ready.summaries.iter().zip(&ready.meta) {
                    let frame = ready.data.get(m.start as usize..(m.start + m.len) as usize).unwrap_or_default();
                    extractor.push_frame(s, frame, *src as usize, &mut |r| out.push(r));
                    deliver_flows(&mut extractor, &mut failed);
                    // Deliver as records come (bounded memory; a failing or cancelling
                    // consumer stops the batch), and stop at the window bound.
                    if out.len() >= 256 || extractor.over_limit() {
                        deliver(&mut out, &mut failed);
                        if failed.is_some() || extractor.over_limit() {
                            break;
                        }
                    }
                }
                if let Some((received, dropped)) = ready.counters {
                    extractor.capture_counters(ready.meta.last().map(|m| m.ts_ns), received, dropped);
                }
                deliver(&mut out, &mut failed);
            },
            || {
                source.fill(&mut next);
                source.probe(&mut next);
                next.decode(cfg.tunnels);
            },
        );
        if let Some(e) = failed.take() {
            return Err(Error::Output(e));
        }
        if extractor.over_limit() {
            return Err(Error::TooManyWindows { limit: cfg.max_windows });
        }
        progress(source.progress());
        std::mem::swap(&mut ready, &mut next);
    }
    // The counters read with the last, empty batch (the stream's end) go to the last window.
    if let Some((received, dropped)) = ready.counters {
        extractor.capture_counters(None, received, dropped);
    }
    extractor.end_flows();
    deliver_flows(&mut extractor, &mut failed);
    let mut counts = extractor.finish(&mut |r| out.push(r));
    deliver(&mut out, &mut failed);
    if let Some(e) = failed {
        return Err(Error::Output(e));
    }
    counts.packets_seen = source.seen;
    let files = source.inputs.into_iter().map(|mut i| {
        i.close(None);
        i.summary
    });
    Ok(ExtractSummary { files: files.collect(), counts, census, threads })
}
