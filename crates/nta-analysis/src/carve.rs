//! [`carve`]: the packets of an incident (a time range, optionally one host), as a capture
//! for Wireshark — optionally moved in time, to embed a capture in another.

use crate::Error;
use nta_capture::{CaptureReader, CaptureWriter, LinkType, WriteFormat};
use nta_parsing::{Network, decode};
use serde::Serialize;
use std::io::Write;
use std::net::IpAddr;
use std::path::Path;

/// What to carve.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CarveSpec {
    /// First timestamp kept (ns), inclusive.
    pub from_ns: Option<i64>,
    /// Last timestamp kept (ns), exclusive.
    pub to_ns: Option<i64>,
    /// Keep only packets from or to this address (IP source/destination, ARP sender/target).
    pub host: Option<IpAddr>,
    /// Move the carved packets so that the first one is at this time (ns).
    pub shift_to_ns: Option<i64>,
}

/// What [`carve`] wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CarveStats {
    /// Packets read.
    pub read: u64,
    /// Packets written.
    pub written: u64,
    /// Packets in range but of another link type than the first (pcap holds one): skipped.
    pub other_link_type: u64,
    /// Link type written.
    pub link_type: Option<LinkType>,
    /// The input stopped on an error after this many packets (they were kept).
    pub error: Option<String>,
}

fn involves(s: &nta_parsing::PacketSummary, host: IpAddr) -> bool {
    if let Some(ip) = s.ip {
        return ip.src == host || ip.dst == host;
    }
    match s.network {
        Network::Arp(a) => IpAddr::V4(a.sender) == host || IpAddr::V4(a.target) == host,
        _ => false,
    }
}

/// Copies the packets of `input` that match `spec` to `out` as nanosecond pcap.
pub fn carve<W: Write>(input: &Path, spec: &CarveSpec, out: W) -> Result<(CarveStats, W), Error> {
    let mut reader =
        CaptureReader::open(input).map_err(|e| Error::Format { path: input.to_owned(), reason: e.to_string() })?;
    let io = |source| Error::Io { path: input.to_owned(), source };
    let mut stats = CarveStats::default();
    let mut writer: Option<CaptureWriter<W>> = None;
    let mut out = Some(out);
    let mut shift: Option<i64> = None;
    loop {
        let p = match reader.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(e) => {
                stats.error = Some(e.to_string());
                break;
            }
        };
        stats.read += 1;
        if spec.from_ns.is_some_and(|f| p.ts_ns < f) || spec.to_ns.is_some_and(|t| p.ts_ns >= t) {
            continue;
        }
        if let Some(h) = spec.host
            && !involves(&decode(&p), h)
        {
            continue;
        }
        if writer.is_none() {
            let Some(o) = out.take() else { break };
            writer =
                Some(CaptureWriter::new(o, WriteFormat::PcapNs, p.link_type, 262_144, "nta-cli carve").map_err(io)?);
            stats.link_type = Some(p.link_type);
        }
        if Some(p.link_type) != stats.link_type {
            stats.other_link_type += 1;
            continue;
        }
        let delta = *shift.get_or_insert_with(|| spec.shift_to_ns.map_or(0, |t| t - p.ts_ns));
        if let Some(w) = writer.as_mut() {
            w.write_packet(p.ts_ns.saturating_add(delta), p.data, p.orig_len).map_err(io)?;
        }
        stats.written += 1;
    }
    let out = match (writer, out) {
        (Some(w), _) => w.into_inner().map_err(io)?,
        // Nothing matched: an empty capture (Ethernet) all the same.
        (None, Some(o)) => CaptureWriter::new(o, WriteFormat::PcapNs, LinkType::ETHERNET, 262_144, "")
            .and_then(|w| w.into_inner())
            .map_err(io)?,
        (None, None) => return Err(Error::Format { path: input.to_owned(), reason: "no output".into() }),
    };
    Ok((stats, out))
}
