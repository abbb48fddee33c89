//! Streaming reader for pcap and pcapng captures, with integer-nanosecond timestamps.
//!
//! The principal types:
//! - [`CaptureReader`] — opens a file or any [`std::io::Read`], detects the format from its magic
//!   number (legacy pcap in both byte orders, micro/nanosecond and the modified variant; pcapng
//!   with any number of sections and interfaces; any of these gzip-compressed) and lends one
//!   [`Packet`] at a time out of a reused buffer: memory stays bounded whatever the file size.
//! - [`Packet`] — timestamp (`ts_ns`, nanoseconds since the Unix epoch), [`LinkType`], captured
//!   and original length, interface index and the borrowed frame bytes.
//! - [`ReadStats`] — what was read: packets, bytes, truncated frames, link types, first and last
//!   timestamps and every [`Warning`] (a file cut short, unknown interfaces, ...).
//! - [`CaptureWriter`] — writes legacy pcap ([`PcapWriter`], micro- or nanoseconds) or pcapng
//!   ([`PcapngWriter`]), as [`WriteFormat`] says: fixtures, evidence files, synthetic traffic.
//! - [`LineReader`] — text lines with a bound on their length ([`MAX_LINE_BYTES`]), for every
//!   line-oriented input of nta (JSON lines, CSV, labels).
//! - [`Label`] and [`AttackKind`] — ground truth about a capture (an interval of capture time
//!   and the kind of attack in it), read by [`read_labels`]: one type for the synthesizer that
//!   writes labels, the baselines that leave labelled windows out and the evaluation.
//!
//! Block framing is done here (so a corrupt length is reported with its byte offset and a file
//! cut short keeps every complete packet); headers, section and interface blocks are decoded by
//! `pcap-parser`.
//!
//! ```
//! # fn main() -> Result<(), nta_capture::Error> {
//! # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/sample.pcap");
//! let mut reader = nta_capture::CaptureReader::open(path)?;
//! while let Some(packet) = reader.next_packet()? {
//!     println!("{} {} bytes on {:?}", packet.ts_ns, packet.orig_len, packet.link_type);
//! }
//! for warning in &reader.stats().warnings {
//!     eprintln!("warning: {warning}");
//! }
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod buffer;
mod error;
mod format;
mod label;
mod lines;
mod linktype;
mod reader;
mod stats;
mod time;
mod writer;

pub use crate::{
    error::{Error, Warning, error_chain},
    format::{ByteOrder, CaptureFormat, Compression, TsPrecision},
    label::{AttackKind, Label, LabelError, MAX_LABEL_LINE, MAX_LABELS, parse_labels, read_labels},
    lines::{Line, LineError, LineReader, MAX_LINE_BYTES},
    linktype::LinkType,
    reader::{CaptureReader, Interface, Packet, TsResolution},
    stats::ReadStats,
    time::{TimeParseError, format_rfc3339_ns, parse_timestamp_ns},
    writer::{CaptureWriter, PcapWriter, PcapngWriter, UnknownWriteFormat, WriteFormat},
};
