//! Live capture from network interfaces, through libpcap (the `pcap` crate): on Linux the
//! kernel's memory-mapped ring (TPACKET_V3), BPF filters compiled by libpcap, kernel and
//! interface drop counts, nanosecond timestamps where the interface offers them.
//!
//! The principal types:
//! - [`LiveCapture`] — one interface opened with [`LiveOptions`] (filter, snaplen, buffer size,
//!   promiscuous mode); it lends [`RawPacket`]s and reports [`LiveStats`]. It is a
//!   [`PacketSource`], the trait the stream is built over.
//! - [`LiveStream`] — a [`PacketSource`] as a nanosecond pcap byte stream (`std::io::Read`),
//!   ending at a stop flag or a deadline: the rest of nta reads it with
//!   `nta_capture::CaptureReader::from_reader`, exactly as a capture file or a pipe from
//!   tcpdump, so every packet passes the same reader, decoder and windows.
//! - [`interfaces`] — what can be captured on.
//!
//! libpcap is linked only with the `libpcap` feature (Debian: `libpcap-dev`); without it,
//! [`LiveCapture::open`] and [`interfaces`] answer [`LiveError::NotBuilt`], so the rest of the
//! workspace builds and tests on a machine without libpcap.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

#[cfg(feature = "libpcap")]
mod capture;
#[cfg(not(feature = "libpcap"))]
mod no_capture;
mod stream;

#[cfg(feature = "libpcap")]
pub use crate::capture::{LiveCapture, interfaces};
#[cfg(not(feature = "libpcap"))]
pub use crate::no_capture::{LiveCapture, interfaces};
pub use crate::stream::{LiveStream, StreamStats};

use nta_capture::LinkType;
use std::net::IpAddr;

/// How to open an interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveOptions {
    /// A BPF filter expression (tcpdump syntax), compiled by libpcap.
    pub filter: Option<String>,
    /// Bytes kept of each packet (262,144 keeps every packet whole).
    pub snaplen: u32,
    /// The kernel ring buffer, bytes (64 MiB).
    pub buffer_size: u32,
    /// Promiscuous mode (on): see traffic not addressed to this host, as a monitor must.
    pub promisc: bool,
    /// How long one wait for packets may last, ms (100): how soon a stop is seen on a quiet link.
    pub poll_ms: u32,
}

impl Default for LiveOptions {
    fn default() -> LiveOptions {
        LiveOptions { filter: None, snaplen: 262_144, buffer_size: 64 << 20, promisc: true, poll_ms: 100 }
    }
}

/// The largest snaplen and buffer size [`LiveOptions`] may ask for.
pub const MAX_SNAPLEN: u32 = 262_144;
/// The largest kernel buffer [`LiveOptions`] may ask for (1 GiB).
pub const MAX_BUFFER_SIZE: u32 = 1 << 30;

impl LiveOptions {
    /// Checks the sizes: snaplen in 64..=[`MAX_SNAPLEN`], buffer in 1 MiB..=[`MAX_BUFFER_SIZE`],
    /// a poll interval of 1 ms to 10 s.
    pub fn validate(&self) -> Result<(), LiveError> {
        let bad = |reason: String| Err(LiveError::Options { reason });
        if !(64..=MAX_SNAPLEN).contains(&self.snaplen) {
            return bad(format!("snaplen must be in 64..={MAX_SNAPLEN} (got {})", self.snaplen));
        }
        if !((1 << 20)..=MAX_BUFFER_SIZE).contains(&self.buffer_size) {
            return bad(format!("buffer size must be between 1 MiB and 1 GiB (got {} bytes)", self.buffer_size));
        }
        if !(1..=10_000).contains(&self.poll_ms) {
            return bad(format!("poll interval must be 1 ms to 10 s (got {} ms)", self.poll_ms));
        }
        Ok(())
    }
}

/// Counters of a capture since it was opened (64-bit: libpcap's 32-bit counters are
/// accumulated across their wrap-around).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveStats {
    /// Packets the kernel received for this capture (after the filter).
    pub received: u64,
    /// Packets the kernel dropped because the ring was full (nta did not read fast enough).
    pub dropped_kernel: u64,
    /// Packets the interface or its driver dropped.
    pub dropped_interface: u64,
}

/// One packet as the capture lends it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawPacket<'a> {
    /// Capture time, ns since the Unix epoch (the kernel's timestamp).
    pub ts_ns: i64,
    /// Length on the wire.
    pub orig_len: u32,
    /// The captured bytes (at most the snaplen).
    pub data: &'a [u8],
}

/// Something that lends packets, one at a time: a live capture, or a test's list.
pub trait PacketSource: Send {
    /// The next packet, `None` when none came within the poll interval.
    fn next_packet(&mut self) -> Result<Option<RawPacket<'_>>, LiveError>;
    /// The link type of every packet.
    fn link_type(&self) -> LinkType;
    /// The snaplen packets are cut to.
    fn snaplen(&self) -> u32;
    /// The counters so far.
    fn stats(&mut self) -> Result<LiveStats, LiveError>;
}

/// An interface that can be captured on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceInfo {
    /// Name (`eth0`).
    pub name: String,
    /// libpcap's description, if any.
    pub description: Option<String>,
    /// Its addresses.
    pub addresses: Vec<IpAddr>,
    /// Administratively up.
    pub up: bool,
    /// Running (carrier).
    pub running: bool,
    /// A loopback interface.
    pub loopback: bool,
}

/// Why a capture could not be opened or went on no longer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LiveError {
    /// This build has no libpcap.
    #[error("this build has no live capture: rebuild with `--features live` (needs libpcap, Debian: libpcap-dev)")]
    NotBuilt,
    /// The options are out of range.
    #[error("capture options: {reason}")]
    Options {
        /// What is wrong.
        reason: String,
    },
    /// Capturing needs privileges the process lacks.
    #[error(
        "{interface}: {reason}: capturing needs CAP_NET_RAW (run as root, or grant it once: \
         sudo setcap cap_net_raw,cap_net_admin=eip $(command -v nta-cli))"
    )]
    Permission {
        /// The interface.
        interface: String,
        /// What libpcap said.
        reason: String,
    },
    /// The interface could not be opened.
    #[error("{interface}: {reason}")]
    Open {
        /// The interface.
        interface: String,
        /// What libpcap said.
        reason: String,
    },
    /// The filter does not compile.
    #[error("filter {expression:?}: {reason}")]
    Filter {
        /// The expression.
        expression: String,
        /// What libpcap said.
        reason: String,
    },
    /// Reading failed (the interface went away, ...).
    #[error("{interface}: capture failed: {reason}")]
    Capture {
        /// The interface.
        interface: String,
        /// What libpcap said.
        reason: String,
    },
}
