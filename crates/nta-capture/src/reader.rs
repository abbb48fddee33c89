//! [`CaptureReader`]: block framing for pcap and pcapng, lending one [`Packet`] at a time.

mod ng;

use crate::buffer::Window;
use crate::format::{Magic, sniff};
use crate::{ByteOrder, CaptureFormat, Compression, Error, LinkType, ReadStats, TsPrecision, Warning};
use serde::Serialize;
use std::fs::File;
use std::io::{Cursor, ErrorKind, Read};
use std::path::Path;

/// Largest pcapng block accepted (Wireshark's limit for packet blocks is 256 MiB; nothing real
/// comes close to this one).
const MAX_BLOCK: u64 = 128 << 20;
/// Largest legacy record accepted when the header's snaplen is smaller (libpcap's maximum).
const MAX_LEGACY_CAPLEN: u32 = 262_144;

const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 0x0000_0001;
const PB: u32 = 0x0000_0002;
const SPB: u32 = 0x0000_0003;
const EPB: u32 = 0x0000_0006;
const BOM: u32 = 0x1A2B_3C4D;

/// One packet, borrowed from the reader's buffer until the next call to
/// [`CaptureReader::next_packet`].
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    /// Capture timestamp, nanoseconds since 1970-01-01T00:00:00Z.
    pub ts_ns: i64,
    /// Data-link type of `data`.
    pub link_type: LinkType,
    /// Bytes captured (`data.len()`).
    pub caplen: u32,
    /// Length of the frame on the wire (may exceed `caplen` when a snaplen cut it).
    pub orig_len: u32,
    /// Index of the interface in [`CaptureReader::interfaces`] (0 for legacy pcap).
    pub interface: u32,
    /// The captured bytes.
    pub data: &'a [u8],
}

/// Timestamp resolution of a pcapng interface (`if_tsresol`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "base", content = "exponent", rename_all = "snake_case")]
pub enum TsResolution {
    /// Units of 10^-n seconds.
    Pow10(u8),
    /// Units of 2^-n seconds.
    Pow2(u8),
}

impl TsResolution {
    /// Decodes a raw `if_tsresol` byte; `None` when the unit cannot be represented.
    pub fn from_option(raw: u8) -> Option<TsResolution> {
        if raw & 0x80 == 0 {
            (raw <= 19).then_some(TsResolution::Pow10(raw))
        } else {
            let e = raw & 0x7f;
            (e <= 63).then_some(TsResolution::Pow2(e))
        }
    }

    /// Converts a tick count into nanoseconds (saturating; sub-nanosecond units truncate).
    #[inline]
    pub fn ticks_to_ns(self, ticks: u64) -> i128 {
        let ticks = i128::from(ticks);
        match self {
            TsResolution::Pow10(n) if n <= 9 => ticks * 10i128.pow(9 - u32::from(n)),
            TsResolution::Pow10(n) => ticks / 10i128.pow(u32::from(n) - 9),
            TsResolution::Pow2(n) => (ticks * 1_000_000_000) >> n,
        }
    }
}

/// One capture interface (pcapng IDB, or the single implicit interface of a legacy file).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Interface {
    /// pcapng section the interface belongs to (0 for legacy pcap).
    pub section: u32,
    /// Link type of its packets.
    pub link_type: LinkType,
    /// Snapshot length (0 = unlimited).
    pub snaplen: u32,
    /// Timestamp unit.
    pub resolution: TsResolution,
    /// `if_tsoffset`: seconds added to every timestamp.
    pub ts_offset_s: i64,
}

#[derive(Clone, Copy, Debug)]
enum Mode {
    Legacy { big_endian: bool, nano: bool, modified: bool, max_caplen: u32 },
    Ng { big_endian: bool, section_first_iface: usize },
    Done,
}

/// Where a packet sits in the window, computed before it is lent out.
#[derive(Clone, Copy, Debug)]
struct Meta {
    ts_ns: i64,
    interface: u32,
    link_type: LinkType,
    orig_len: u32,
    data_start: usize,
    data_end: usize,
    block_len: usize,
}

enum Step {
    Packet(Meta),
    Skip(usize),
    End,
}

/// Streaming capture reader: bounded memory, integer-nanosecond timestamps.
///
/// Once [`next_packet`](Self::next_packet) has returned `Ok(None)` or an error, it keeps
/// returning `Ok(None)`.
pub struct CaptureReader {
    src: Box<dyn Read + Send>,
    win: Window,
    format: CaptureFormat,
    mode: Mode,
    interfaces: Vec<Interface>,
    stats: ReadStats,
    pending: usize,
    last_ts_ns: i64,
}

impl std::fmt::Debug for CaptureReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureReader")
            .field("format", &self.format)
            .field("interfaces", &self.interfaces)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

fn io_err(offset: u64) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Io { offset, source }
}

/// Reads up to `n` bytes (fewer only at end of stream).
fn read_prefix(src: &mut dyn Read, n: usize) -> Result<Vec<u8>, Error> {
    let mut buf = Vec::with_capacity(n);
    src.take(n as u64).read_to_end(&mut buf).map_err(io_err(0))?;
    Ok(buf)
}

#[inline]
fn u32_at(b: &[u8], at: usize, big_endian: bool) -> u32 {
    let bytes: [u8; 4] = b.get(at..at + 4).and_then(|s| s.try_into().ok()).unwrap_or_default();
    if big_endian { u32::from_be_bytes(bytes) } else { u32::from_le_bytes(bytes) }
}

#[inline]
fn u16_at(b: &[u8], at: usize, big_endian: bool) -> u16 {
    let bytes: [u8; 2] = b.get(at..at + 2).and_then(|s| s.try_into().ok()).unwrap_or_default();
    if big_endian { u16::from_be_bytes(bytes) } else { u16::from_le_bytes(bytes) }
}

/// Nanoseconds as i64, saturating (about ±292 years around 1970); `None` when it saturated.
fn clamp_ns(ns: i128) -> (i64, bool) {
    match i64::try_from(ns) {
        Ok(v) => (v, false),
        Err(_) => (if ns < 0 { i64::MIN } else { i64::MAX }, true),
    }
}

fn not_a_capture(found: &'static str, head: &[u8]) -> Error {
    let mut first_bytes = [0u8; 4];
    for (dst, src) in first_bytes.iter_mut().zip(head) {
        *dst = *src;
    }
    Error::NotACapture { found, first_bytes }
}

impl CaptureReader {
    /// Opens a capture file; the format is detected from its content.
    pub fn open(path: impl AsRef<Path>) -> Result<CaptureReader, Error> {
        let file = File::open(path.as_ref()).map_err(|source| Error::Open { source })?;
        CaptureReader::from_reader(file)
    }

    /// Reads a capture from any byte stream (no seeking needed).
    pub fn from_reader<R: Read + Send + 'static>(mut src: R) -> Result<CaptureReader, Error> {
        let head = read_prefix(&mut src, 16)?;
        match sniff(&head) {
            Magic::Gzip => {
                let mut inner: Box<dyn Read + Send> =
                    Box::new(flate2::read::MultiGzDecoder::new(Cursor::new(head).chain(src)));
                let head = read_prefix(&mut inner, 16)?;
                match sniff(&head) {
                    Magic::Gzip => Err(not_a_capture("a gzip file inside a gzip file", &head)),
                    magic => CaptureReader::with_magic(magic, head, inner, Compression::Gzip),
                }
            }
            magic => CaptureReader::with_magic(magic, head, Box::new(src), Compression::None),
        }
    }

    fn with_magic(
        magic: Magic,
        head: Vec<u8>,
        src: Box<dyn Read + Send>,
        compression: Compression,
    ) -> Result<CaptureReader, Error> {
        let mut reader = CaptureReader {
            src,
            win: Window::new(head),
            format: CaptureFormat::Pcapng { byte_order: ByteOrder::Little, compression },
            mode: Mode::Done,
            interfaces: Vec::new(),
            stats: ReadStats::default(),
            pending: 0,
            last_ts_ns: 0,
        };
        match magic {
            Magic::Pcap { byte_order, precision, modified } => {
                reader.format = CaptureFormat::Pcap { byte_order, precision, modified, compression };
                reader.start_legacy(byte_order == ByteOrder::Big, precision == TsPrecision::Nano, modified)?;
            }
            Magic::Pcapng => {
                reader.fill(12)?;
                let bom = u32_at(reader.win.available(), 8, false);
                let byte_order = if bom == BOM.swap_bytes() { ByteOrder::Big } else { ByteOrder::Little };
                reader.format = CaptureFormat::Pcapng { byte_order, compression };
                reader.mode = Mode::Ng { big_endian: byte_order == ByteOrder::Big, section_first_iface: 0 };
            }
            Magic::Gzip => return Err(not_a_capture("a gzip file inside a gzip file", reader.win.available())),
            Magic::Other(found) => return Err(not_a_capture(found, reader.win.available())),
        }
        Ok(reader)
    }

    fn start_legacy(&mut self, big_endian: bool, nano: bool, modified: bool) -> Result<(), Error> {
        if !self.fill(24)? {
            return Err(Error::CorruptLength {
                what: "pcap file header",
                offset: 0,
                len: self.win.available().len() as u64,
                reason: "the file ends inside the 24-byte header",
            });
        }
        let header = match pcap_parser::parse_pcap_header(self.win.available()) {
            Ok((_, h)) => h,
            Err(_) => {
                return Err(Error::CorruptBlock { what: "pcap file header", offset: 0, reason: "unreadable" });
            }
        };
        if (header.version_major, header.version_minor) != (2, 4) {
            self.stats.warn(Warning::UnusualVersion { major: header.version_major, minor: header.version_minor });
        }
        let link_type = LinkType::from_header_field(header.network.0 as u32);
        self.interfaces.push(Interface {
            section: 0,
            link_type,
            snaplen: header.snaplen,
            resolution: TsResolution::Pow10(if nano { 9 } else { 6 }),
            ts_offset_s: 0,
        });
        let max_caplen = MAX_LEGACY_CAPLEN.max(header.snaplen.min(MAX_BLOCK as u32));
        self.mode = Mode::Legacy { big_endian, nano, modified, max_caplen };
        self.win.consume(24);
        Ok(())
    }

    /// The detected container format.
    pub fn format(&self) -> CaptureFormat {
        self.format
    }

    /// Interfaces described so far (all sections, in order).
    pub fn interfaces(&self) -> &[Interface] {
        &self.interfaces
    }

    /// Counters and warnings so far.
    pub fn stats(&self) -> &ReadStats {
        &self.stats
    }

    /// Bytes of the (decompressed) stream consumed so far.
    pub fn position(&self) -> u64 {
        self.win.offset()
    }

    /// Returns the next packet, `Ok(None)` at the end (including a file cut short, which adds a
    /// [`Warning::Truncated`]), or the error that stops reading.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, Error> {
        self.win.consume(std::mem::take(&mut self.pending));
        let meta = loop {
            let step = match self.mode {
                Mode::Legacy { big_endian, nano, modified, max_caplen } => {
                    self.step_legacy(big_endian, nano, modified, max_caplen)
                }
                Mode::Ng { big_endian, section_first_iface } => self.step_ng(big_endian, section_first_iface),
                Mode::Done => return Ok(None),
            };
            match step {
                Ok(Step::Packet(meta)) => break meta,
                Ok(Step::Skip(n)) => self.win.consume(n),
                Ok(Step::End) => {
                    self.end();
                    return Ok(None);
                }
                Err(e) => {
                    self.end();
                    return Err(e);
                }
            }
        };
        self.pending = meta.block_len;
        self.last_ts_ns = meta.ts_ns;
        let data = self.win.available().get(meta.data_start..meta.data_end).unwrap_or_default();
        let caplen = data.len() as u32;
        self.stats.record(meta.ts_ns, meta.link_type, caplen, meta.orig_len);
        Ok(Some(Packet {
            ts_ns: meta.ts_ns,
            link_type: meta.link_type,
            caplen,
            orig_len: meta.orig_len,
            interface: meta.interface,
            data,
        }))
    }

    fn end(&mut self) {
        if !matches!(self.mode, Mode::Done) {
            self.mode = Mode::Done;
            self.stats.stream_bytes = self.win.offset() + self.win.available().len() as u64;
            self.stats.finish();
        }
    }

    /// Ensures `n` bytes are buffered; `Ok(false)` if the stream ends first. A decompressor
    /// reporting an unexpected end is a file cut short, not an I/O failure.
    #[inline]
    fn fill(&mut self, n: usize) -> Result<bool, Error> {
        match self.win.fill(&mut *self.src, n) {
            Ok(ok) => Ok(ok),
            Err(e) if matches!(e.kind(), ErrorKind::UnexpectedEof) => Ok(false),
            Err(e) => Err(Error::Io { offset: self.win.offset(), source: e }),
        }
    }

    /// Ends reading at a record that is not all there: a warning if some bytes are.
    fn cut_short(&mut self, needed: u64) -> Step {
        let available = self.win.available().len() as u64;
        if available > 0 {
            self.stats.warn(Warning::Truncated { offset: self.win.offset(), needed, available });
        }
        Step::End
    }

    fn step_legacy(&mut self, big_endian: bool, nano: bool, modified: bool, max_caplen: u32) -> Result<Step, Error> {
        let hdr = if modified { 24 } else { 16 };
        if !self.fill(hdr)? {
            return Ok(self.cut_short(hdr as u64));
        }
        let caplen = u32_at(self.win.available(), 8, big_endian);
        if caplen > max_caplen {
            return Err(Error::CorruptLength {
                what: "pcap record",
                offset: self.win.offset(),
                len: u64::from(caplen),
                reason: "captured length above the maximum packet size",
            });
        }
        let total = hdr + caplen as usize;
        if !self.fill(total)? {
            return Ok(self.cut_short(total as u64));
        }
        let avail = self.win.available();
        let parsed = match (modified, big_endian) {
            (false, false) => pcap_parser::parse_pcap_frame(avail),
            (false, true) => pcap_parser::parse_pcap_frame_be(avail),
            (true, false) => pcap_parser::parse_pcap_frame_modified(avail),
            (true, true) => {
                // pcap-parser has no big-endian reader for the modified format: same layout.
                let ts_sec = u32_at(avail, 0, true);
                let ts_frac = u32_at(avail, 4, true);
                let orig_len = u32_at(avail, 12, true);
                return Ok(Step::Packet(self.legacy_meta(ts_sec, ts_frac, nano, orig_len, hdr, total)));
            }
        };
        match parsed {
            Ok((_, rec)) => Ok(Step::Packet(self.legacy_meta(rec.ts_sec, rec.ts_usec, nano, rec.origlen, hdr, total))),
            Err(_) => Err(Error::CorruptBlock { what: "pcap record", offset: self.win.offset(), reason: "unreadable" }),
        }
    }

    fn legacy_meta(&self, ts_sec: u32, ts_frac: u32, nano: bool, orig_len: u32, hdr: usize, total: usize) -> Meta {
        let frac_ns = if nano { i64::from(ts_frac) } else { i64::from(ts_frac) * 1_000 };
        Meta {
            ts_ns: i64::from(ts_sec) * 1_000_000_000 + frac_ns,
            interface: 0,
            link_type: self.interfaces.first().map_or(LinkType::ETHERNET, |i| i.link_type),
            orig_len,
            data_start: hdr,
            data_end: total,
            block_len: total,
        }
    }
}
