//! [`ReadStats`]: what a [`crate::CaptureReader`] has read so far.

use crate::{LinkType, Warning};
use serde::Serialize;

/// Most warnings kept verbatim; later ones are only counted in `warnings_dropped`.
pub(crate) const MAX_WARNINGS: usize = 64;

/// Counters kept while reading, cheap enough to update for every packet.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ReadStats {
    /// Packets returned.
    pub packets: u64,
    /// Sum of captured lengths (bytes present in the file).
    pub captured_bytes: u64,
    /// Sum of original (on-the-wire) lengths.
    pub wire_bytes: u64,
    /// Packets whose captured length is below their original length (snaplen cut).
    pub truncated: u64,
    /// Packets per link type, in order of first appearance.
    pub link_types: Vec<(LinkType, u64)>,
    /// Timestamp of the first packet, ns since the epoch.
    pub first_ts_ns: Option<i64>,
    /// Timestamp of the last packet.
    pub last_ts_ns: Option<i64>,
    /// Earliest timestamp seen.
    pub min_ts_ns: Option<i64>,
    /// Latest timestamp seen.
    pub max_ts_ns: Option<i64>,
    /// Packets whose timestamp is earlier than the previous packet's.
    pub out_of_order: u64,
    /// Records whose captured length exceeds their original length.
    pub caplen_exceeds_origlen: u64,
    /// Timestamps beyond what i64 nanoseconds can hold (year 2262), saturated.
    pub ts_out_of_range: u64,
    /// pcapng sections read.
    pub sections: u32,
    /// Bytes of the (decompressed) stream consumed.
    pub stream_bytes: u64,
    /// Warnings, in order (at most 64; see `warnings_dropped`).
    pub warnings: Vec<Warning>,
    /// Warnings beyond the first 64, counted only.
    pub warnings_dropped: u64,
}

impl ReadStats {
    pub(crate) fn warn(&mut self, w: Warning) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(w);
        } else {
            self.warnings_dropped += 1;
        }
    }

    #[inline]
    pub(crate) fn record(&mut self, ts_ns: i64, link_type: LinkType, caplen: u32, orig_len: u32) {
        self.packets += 1;
        self.captured_bytes += u64::from(caplen);
        self.wire_bytes += u64::from(orig_len);
        if caplen < orig_len {
            self.truncated += 1;
        } else if caplen > orig_len {
            self.caplen_exceeds_origlen += 1;
        }
        match self.link_types.iter_mut().find(|(lt, _)| *lt == link_type) {
            Some((_, n)) => *n += 1,
            None => self.link_types.push((link_type, 1)),
        }
        if let Some(last) = self.last_ts_ns {
            if ts_ns < last {
                self.out_of_order += 1;
            }
        } else {
            self.first_ts_ns = Some(ts_ns);
        }
        self.last_ts_ns = Some(ts_ns);
        self.min_ts_ns = Some(self.min_ts_ns.map_or(ts_ns, |m| m.min(ts_ns)));
        self.max_ts_ns = Some(self.max_ts_ns.map_or(ts_ns, |m| m.max(ts_ns)));
    }

    /// Adds the summary warnings (out-of-order, caplen > len) once reading is over.
    pub(crate) fn finish(&mut self) {
        if self.out_of_order > 0 {
            self.warn(Warning::OutOfOrder { count: self.out_of_order });
        }
        if self.ts_out_of_range > 0 {
            self.warn(Warning::TimestampOutOfRange { count: self.ts_out_of_range });
        }
        if self.caplen_exceeds_origlen > 0 {
            self.warn(Warning::CaplenExceedsOrigLen { count: self.caplen_exceeds_origlen });
        }
    }
}
