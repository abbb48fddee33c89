//! [`LiveStream`]: a [`PacketSource`] as a nanosecond pcap byte stream.
//!
//! The stream is what `tcpdump -w -` would write: a pcap header (magic `a1b23c4d`, the link
//! type, the snaplen), then one record per packet. It ends (EOF) when the stop flag is set or
//! the deadline passes — the reader then closes every window — and fails with the capture's
//! error when the interface goes away. The counters are shared with whoever started it.

use crate::{LiveStats, PacketSource};
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Counters of a [`LiveStream`], readable while it runs and after it ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Packets delivered into the stream.
    pub packets: u64,
    /// Their bytes on the wire.
    pub bytes: u64,
    /// The capture's counters (kernel received and dropped, interface dropped), as last read.
    pub capture: LiveStats,
}

/// Bytes gathered before a read returns (a read also returns once the source has nothing
/// within its poll interval, so a quiet link never holds packets back).
const FILL: usize = 256 << 10;

/// A packet source as a pcap byte stream.
#[derive(Debug)]
pub struct LiveStream<S: PacketSource> {
    source: S,
    stop: Arc<AtomicBool>,
    deadline: Option<Instant>,
    stats: Arc<Mutex<StreamStats>>,
    buf: Vec<u8>,
    pos: usize,
    ended: bool,
}

impl<S: PacketSource> LiveStream<S> {
    /// A stream of `source` until `stop` is set or `deadline` (wall clock) passes.
    pub fn new(source: S, stop: Arc<AtomicBool>, deadline: Option<Instant>) -> LiveStream<S> {
        let mut buf = Vec::with_capacity(FILL + 64 * 1024);
        buf.extend_from_slice(&0xa1b2_3c4d_u32.to_le_bytes());
        buf.extend_from_slice(&2u16.to_le_bytes());
        buf.extend_from_slice(&4u16.to_le_bytes());
        buf.extend_from_slice(&0i32.to_le_bytes());
        buf.extend_from_slice(&0u32.to_le_bytes());
        buf.extend_from_slice(&source.snaplen().to_le_bytes());
        buf.extend_from_slice(&u32::from(source.link_type().0).to_le_bytes());
        LiveStream { source, stop, deadline, stats: Arc::default(), buf, pos: 0, ended: false }
    }

    /// The counters, shared: read them while the stream runs or after it ended.
    pub fn stats(&self) -> Arc<Mutex<StreamStats>> {
        Arc::clone(&self.stats)
    }

    fn over(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Reads the capture's counters into the shared stats.
    fn update_counters(&mut self) -> std::io::Result<()> {
        let capture = self.source.stats().map_err(std::io::Error::other)?;
        if let Ok(mut s) = self.stats.lock() {
            s.capture = capture;
        }
        Ok(())
    }

    /// Gathers packets into `buf` until it holds [`FILL`] bytes, the source has nothing within
    /// its poll interval, or the stream is over.
    fn fill(&mut self) -> std::io::Result<()> {
        self.buf.clear();
        self.pos = 0;
        let (mut packets, mut bytes) = (0u64, 0u64);
        while self.buf.len() < FILL {
            if self.over() {
                self.ended = true;
                break;
            }
            let packet = self.source.next_packet().map_err(std::io::Error::other)?;
            let Some(p) = packet else {
                if self.buf.is_empty() {
                    // Nothing yet: keep the counters fresh and wait again.
                    self.update_counters()?;
                    continue;
                }
                break;
            };
            let ts = p.ts_ns.max(0);
            let (sec, nsec) = (ts / 1_000_000_000, ts % 1_000_000_000);
            let caplen = u32::try_from(p.data.len()).unwrap_or(u32::MAX);
            self.buf.extend_from_slice(&u32::try_from(sec).unwrap_or(u32::MAX).to_le_bytes());
            self.buf.extend_from_slice(&u32::try_from(nsec).unwrap_or(0).to_le_bytes());
            self.buf.extend_from_slice(&caplen.to_le_bytes());
            self.buf.extend_from_slice(&p.orig_len.max(caplen).to_le_bytes());
            self.buf.extend_from_slice(p.data);
            packets += 1;
            bytes += u64::from(p.orig_len);
        }
        if let Ok(mut s) = self.stats.lock() {
            s.packets += packets;
            s.bytes += bytes;
        }
        // Fresh counters with every batch of packets (one getsockopt), so the reader can
        // attribute drops to the windows being read.
        self.update_counters()?;
        Ok(())
    }
}

impl<S: PacketSource> Read for LiveStream<S> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.buf.len() {
            if self.ended {
                return Ok(0);
            }
            self.fill()?;
        }
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        let n = rest.len().min(out.len());
        if let (Some(dst), Some(src)) = (out.get_mut(..n), rest.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::{LiveError, RawPacket};
    use nta_capture::{CaptureReader, LinkType};

    /// Packets from a list, with a quiet poll between each, then quiet forever (or an error).
    struct Fake {
        packets: Vec<(i64, Vec<u8>)>,
        next: usize,
        quiet: bool,
        fail_at_end: bool,
        stop_at_end: Option<Arc<AtomicBool>>,
    }

    impl PacketSource for Fake {
        fn next_packet(&mut self) -> Result<Option<RawPacket<'_>>, LiveError> {
            self.quiet = !self.quiet;
            if self.quiet {
                return Ok(None);
            }
            match self.packets.get(self.next) {
                Some((ts, data)) => {
                    self.next += 1;
                    Ok(Some(RawPacket { ts_ns: *ts, orig_len: data.len() as u32 + 10, data }))
                }
                None if self.fail_at_end => {
                    Err(LiveError::Capture { interface: "veth0".into(), reason: "The interface disappeared".into() })
                }
                None => {
                    if let Some(s) = &self.stop_at_end {
                        s.store(true, Ordering::Relaxed);
                    }
                    Ok(None)
                }
            }
        }
        fn link_type(&self) -> LinkType {
            LinkType::ETHERNET
        }
        fn snaplen(&self) -> u32 {
            262_144
        }
        fn stats(&mut self) -> Result<LiveStats, LiveError> {
            Ok(LiveStats { received: self.next as u64, dropped_kernel: 0, dropped_interface: 0 })
        }
    }

    fn packets() -> Vec<(i64, Vec<u8>)> {
        (0..1000).map(|i| (1_772_442_000_123_456_789 + i * 1_000_003, vec![i as u8; 60 + (i as usize % 50)])).collect()
    }

    #[test]
    fn the_stream_reads_back_packet_for_packet_to_the_nanosecond() {
        let stop = Arc::new(AtomicBool::new(false));
        let fake =
            Fake { packets: packets(), next: 0, quiet: false, fail_at_end: false, stop_at_end: Some(stop.clone()) };
        let stream = LiveStream::new(fake, stop, None);
        let stats = stream.stats();
        let mut r = CaptureReader::from_reader(stream).unwrap();
        let want = packets();
        let mut n = 0;
        while let Some(p) = r.next_packet().unwrap() {
            assert_eq!((p.ts_ns, p.data, p.orig_len), (want[n].0, &want[n].1[..], want[n].1.len() as u32 + 10));
            assert_eq!(p.link_type, LinkType::ETHERNET);
            n += 1;
        }
        assert_eq!(n, 1000, "every packet, then EOF at the stop");
        let s = *stats.lock().unwrap();
        assert_eq!((s.packets, s.capture.received), (1000, 1000));
    }

    #[test]
    fn a_failing_capture_ends_the_stream_with_its_error_after_the_packets() {
        let fake = Fake { packets: packets(), next: 0, quiet: false, fail_at_end: true, stop_at_end: None };
        let mut r = CaptureReader::from_reader(LiveStream::new(fake, Arc::default(), None)).unwrap();
        let mut n = 0;
        let err = loop {
            match r.next_packet() {
                Ok(Some(_)) => n += 1,
                Ok(None) => panic!("EOF instead of the error"),
                Err(e) => break e,
            }
        };
        assert_eq!(n, 1000);
        let text = nta_store_like_chain(&err);
        assert!(text.contains("The interface disappeared"), "{text}");
    }

    #[test]
    fn a_deadline_ends_a_quiet_stream() {
        let fake = Fake { packets: Vec::new(), next: 0, quiet: false, fail_at_end: false, stop_at_end: None };
        let deadline = Instant::now() + std::time::Duration::from_millis(50);
        let mut r = CaptureReader::from_reader(LiveStream::new(fake, Arc::default(), Some(deadline))).unwrap();
        assert!(r.next_packet().unwrap().is_none());
    }

    /// The error and its sources on one line.
    fn nta_store_like_chain(e: &(dyn std::error::Error + 'static)) -> String {
        let mut out = e.to_string();
        let mut cause = e.source();
        while let Some(c) = cause {
            out.push_str(": ");
            out.push_str(&c.to_string());
            cause = c.source();
        }
        out
    }
}
