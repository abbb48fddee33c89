//! [`Error`] (reading cannot go on) and [`Warning`] (reading went on, something was off).

use serde::Serialize;
use std::fmt;

/// Why a capture could not be read (further).
///
/// Packets returned before an error stay valid: the reader stops at the error and reports it,
/// it never discards what it already produced.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be opened (it does not exist, is not readable, ...).
    #[error("cannot open: {source}")]
    Open {
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The underlying read failed.
    #[error("I/O error at byte {offset}")]
    Io {
        /// Offset in the (decompressed) stream where the read was attempted.
        offset: u64,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a capture format we read.
    #[error("not a pcap or pcapng capture: found {found} (first bytes {first_bytes:02x?})")]
    NotACapture {
        /// What the first bytes look like.
        found: &'static str,
        /// Up to the first four bytes (zero-padded).
        first_bytes: [u8; 4],
    },
    /// A record or block header announces a length that cannot be right.
    #[error("corrupt {what} at byte {offset}: length {len} ({reason})")]
    CorruptLength {
        /// `pcap record`, `pcapng block`, ...
        what: &'static str,
        /// Offset of the record or block in the (decompressed) stream.
        offset: u64,
        /// The announced length.
        len: u64,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A block's content is inconsistent (for example its trailing length differs).
    #[error("corrupt {what} at byte {offset}: {reason}")]
    CorruptBlock {
        /// The kind of block.
        what: &'static str,
        /// Offset of the block in the (decompressed) stream.
        offset: u64,
        /// What is wrong.
        reason: &'static str,
    },
}

/// Something unusual that did not stop reading.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Warning {
    /// The file ends inside a record: every packet before it was read.
    Truncated {
        /// Offset where the incomplete record starts.
        offset: u64,
        /// Bytes the record needed.
        needed: u64,
        /// Bytes that were there.
        available: u64,
    },
    /// A packet block names an interface that was never described; the packet was skipped.
    UnknownInterface {
        /// Offset of the block.
        offset: u64,
        /// The interface id it names.
        interface: u32,
    },
    /// An interface block's options could not be decoded; defaults (microseconds, no offset)
    /// were used.
    BadInterfaceOptions {
        /// Offset of the block.
        offset: u64,
    },
    /// An `if_tsresol` value that cannot be represented; microseconds were used.
    BadTsResolution {
        /// Offset of the interface block.
        offset: u64,
        /// The raw option value.
        value: u8,
    },
    /// A legacy pcap header with a version other than 2.4.
    UnusualVersion {
        /// Major version.
        major: u16,
        /// Minor version.
        minor: u16,
    },
    /// Timestamps that went backwards compared with the previous packet.
    OutOfOrder {
        /// How many packets had a timestamp earlier than their predecessor.
        count: u64,
    },
    /// Timestamps that do not fit in i64 nanoseconds (after 2262) and were saturated.
    TimestampOutOfRange {
        /// How many.
        count: u64,
    },
    /// Records whose captured length exceeds their original length.
    CaplenExceedsOrigLen {
        /// How many.
        count: u64,
    },
    /// Bytes after the last complete block that do not form a block header.
    TrailingBytes {
        /// Offset of the leftover bytes.
        offset: u64,
        /// How many.
        len: u64,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::Truncated { offset, needed, available } => {
                write!(f, "file cut short at byte {offset}: the last record needs {needed} bytes, {available} present")
            }
            Warning::UnknownInterface { offset, interface } => {
                write!(f, "packet block at byte {offset} names undefined interface {interface}; skipped")
            }
            Warning::BadInterfaceOptions { offset } => {
                write!(f, "interface block at byte {offset} has unreadable options; defaults used")
            }
            Warning::BadTsResolution { offset, value } => {
                write!(f, "interface block at byte {offset} has unusable if_tsresol {value:#04x}; microseconds used")
            }
            Warning::UnusualVersion { major, minor } => write!(f, "unusual pcap version {major}.{minor}"),
            Warning::OutOfOrder { count } => {
                write!(f, "{count} packets have a timestamp earlier than the previous one")
            }
            Warning::TimestampOutOfRange { count } => {
                write!(f, "{count} timestamps lie beyond 2262 and were saturated")
            }
            Warning::CaplenExceedsOrigLen { count } => {
                write!(f, "{count} records have a captured length above their original length")
            }
            Warning::TrailingBytes { offset, len } => write!(f, "{len} trailing bytes at byte {offset} ignored"),
        }
    }
}

/// An error and its causes on one line, `a: b: c`, each cause left out when the text before it
/// already says it (errors that print their source and also return it from `source()` would
/// otherwise say it twice: `No such file or directory (os error 2): No such file or ...`).
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut cause = err.source();
    while let Some(e) = cause {
        let text = e.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = e.source();
    }
    out
}
