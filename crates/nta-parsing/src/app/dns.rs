//! DNS: the header and the first question (name statistics, the domain, the name itself).

use super::{Cursor, Fnv, entropy};
use crate::{DecodeError, Layer};
use serde::Serialize;

/// Statistics of a DNS name, computed without building it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct NameStats {
    /// Length in presentation form without the trailing dot (`www.example.com` = 15).
    pub len: u16,
    /// Number of labels.
    pub labels: u8,
    /// Longest label, in bytes.
    pub longest_label: u8,
    /// Shannon entropy (bits per character) of the label bytes, lower-cased, dots excluded.
    pub entropy: f32,
    /// FNV-1a 64 of the lower-cased presentation form.
    pub hash: u64,
    /// [`domain_hash`] of the name's last two labels (`a.b.example.com` → `example.com`): the
    /// domain a client's queries are grouped by. Two labels, not the public suffix list's
    /// registrable domain: under `co.uk` every domain shares one group.
    pub domain_hash: u64,
}

/// The hash [`NameStats::domain_hash`] gives a name whose last two labels are `domain`
/// (presentation form, any case, no trailing dot): `domain_hash("in-addr.arpa")`.
pub fn domain_hash(domain: &str) -> u64 {
    let mut labels = domain.trim_end_matches('.').rsplit('.');
    let last = labels.next().map_or(Fnv::new().0, |l| label_hash(l.as_bytes()));
    let prev = labels.next().map_or(Fnv::new().0, |l| label_hash(l.as_bytes()));
    combine_domain(prev, last)
}

/// FNV-1a 64 of one label, lower-cased.
fn label_hash(label: &[u8]) -> u64 {
    let mut h = Fnv::new();
    for b in label {
        h.push(b.to_ascii_lowercase());
    }
    h.0
}

fn combine_domain(prev: u64, last: u64) -> u64 {
    let mut h = Fnv(prev);
    for b in last.to_le_bytes() {
        h.push(b);
    }
    h.0
}

/// How a DNS message travelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DnsTransport {
    /// UDP (port 53, or 5353 for mDNS).
    Udp,
    /// TCP (port 53, length-prefixed).
    Tcp,
}

/// A DNS message: header and first question.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct DnsSummary {
    /// Transaction id.
    pub id: u16,
    /// QR bit: a response.
    pub response: bool,
    /// OPCODE.
    pub opcode: u8,
    /// RCODE (3 = NXDOMAIN).
    pub rcode: u8,
    /// Question count.
    pub questions: u16,
    /// Answer count.
    pub answers: u16,
    /// Authority count.
    pub authorities: u16,
    /// Additional count.
    pub additionals: u16,
    /// QTYPE of the first question.
    pub qtype: Option<u16>,
    /// The first question's name.
    pub qname: Option<NameStats>,
    /// UDP or TCP.
    pub transport: DnsTransport,
    /// Multicast DNS (port 5353, and neither port 53).
    pub mdns: bool,
}

impl DnsSummary {
    /// A response with RCODE 3.
    pub fn nxdomain(&self) -> bool {
        self.response && self.rcode == 3
    }
}

pub(crate) fn dns_over_udp(frame: &[u8], start: usize, end: usize, mdns: bool) -> Result<DnsSummary, DecodeError> {
    dns_message(frame.get(start..end).unwrap_or_default(), start, DnsTransport::Udp, mdns)
}

pub(crate) fn dns_over_tcp(frame: &[u8], start: usize, end: usize) -> Result<DnsSummary, DecodeError> {
    let payload = frame.get(start..end).unwrap_or_default();
    let mut c = Cursor { b: payload, pos: 0 };
    let len = usize::from(c.u16().ok_or_else(|| DecodeError::truncated(Layer::Dns, start, 2, payload.len()))?);
    if len < 12 {
        return Err(DecodeError::invalid(Layer::Dns, start, "TCP length prefix", len as u32));
    }
    let msg = payload.get(2..(2 + len).min(payload.len())).unwrap_or_default();
    dns_message(msg, start + 2, DnsTransport::Tcp, false)
}

fn dns_message(msg: &[u8], offset: usize, transport: DnsTransport, mdns: bool) -> Result<DnsSummary, DecodeError> {
    let mut c = Cursor { b: msg, pos: 0 };
    let truncated = |needed: usize| DecodeError::truncated(Layer::Dns, offset, needed, msg.len());
    let (Some(id), Some(flags), Some(questions), Some(answers), Some(authorities), Some(additionals)) =
        (c.u16(), c.u16(), c.u16(), c.u16(), c.u16(), c.u16())
    else {
        return Err(truncated(12));
    };
    let mut summary = DnsSummary {
        id,
        response: flags & 0x8000 != 0,
        opcode: ((flags >> 11) & 0xf) as u8,
        rcode: (flags & 0xf) as u8,
        questions,
        answers,
        authorities,
        additionals,
        qtype: None,
        qname: None,
        transport,
        mdns,
    };
    if questions > 0 {
        let (stats, after) = dns_name(msg, 12).map_err(|e| DecodeError { offset: offset as u32 + e.offset, ..e })?;
        summary.qname = Some(stats);
        let mut c = Cursor { b: msg, pos: after };
        summary.qtype = Some(c.u16().ok_or_else(|| truncated(after + 4))?);
    }
    Ok(summary)
}

/// Walks a (possibly compressed) name starting at `at`; returns its statistics and the offset
/// just after it in the message. Offsets in errors are relative to the message.
fn dns_name(msg: &[u8], at: usize) -> Result<(NameStats, usize), DecodeError> {
    let mut counts = [0u16; 256];
    let mut chars = 0usize;
    let mut hash = Fnv::new();
    // Hashes of the last two labels (for the domain).
    let (mut prev_label, mut last_label) = (Fnv::new().0, Fnv::new().0);
    let (mut labels, mut longest, mut len) = (0u8, 0u8, 0usize);
    let mut pos = at;
    let mut after = None;
    let mut jumps = 0;
    loop {
        let Some(&l) = msg.get(pos) else {
            return Err(DecodeError::truncated(Layer::Dns, 0, pos + 1, msg.len()));
        };
        match l & 0xc0 {
            0x00 if l == 0 => {
                let after = after.unwrap_or(pos + 1);
                let stats = NameStats {
                    len: len as u16,
                    labels,
                    longest_label: longest,
                    entropy: entropy(&counts, chars),
                    hash: hash.0,
                    domain_hash: combine_domain(prev_label, last_label),
                };
                return Ok((stats, after));
            }
            0x00 => {
                let label = msg
                    .get(pos + 1..pos + 1 + usize::from(l))
                    .ok_or_else(|| DecodeError::truncated(Layer::Dns, 0, pos + 1 + usize::from(l), msg.len()))?;
                if labels > 0 {
                    hash.push(b'.');
                    len += 1;
                }
                prev_label = last_label;
                last_label = label_hash(label);
                for b in label {
                    let b = b.to_ascii_lowercase();
                    hash.push(b);
                    if let Some(c) = counts.get_mut(usize::from(b)) {
                        *c = c.saturating_add(1);
                    }
                }
                chars += label.len();
                len += label.len();
                labels = labels.saturating_add(1);
                longest = longest.max(l);
                if len > 253 {
                    return Err(DecodeError::invalid(Layer::Dns, at, "name length", len as u32));
                }
                pos += 1 + usize::from(l);
            }
            0xc0 => {
                let Some(&low) = msg.get(pos + 1) else {
                    return Err(DecodeError::truncated(Layer::Dns, 0, pos + 2, msg.len()));
                };
                let target = (usize::from(l & 0x3f) << 8) | usize::from(low);
                after.get_or_insert(pos + 2);
                jumps += 1;
                // A pointer must point backwards; a bounded number of them ends any loop.
                if target >= pos || jumps > 64 {
                    return Err(DecodeError::invalid(Layer::Dns, pos, "compression pointer", target as u32));
                }
                pos = target;
            }
            _ => return Err(DecodeError::invalid(Layer::Dns, pos, "label type", u32::from(l))),
        }
    }
}

/// The first question's name of the DNS message `msg` (header first), in presentation form,
/// lower-cased, without the trailing dot: what flow records show as a DNS flow's hint. `None`
/// when there is no question or the name is malformed (the same bounds as [`decode`]: compression
/// pointers point backwards, at most 64 of them, at most 253 characters).
///
/// [`decode`]: crate::decode
pub fn dns_question_name(msg: &[u8]) -> Option<String> {
    let questions = u16::from_be_bytes([*msg.get(4)?, *msg.get(5)?]);
    if questions == 0 {
        return None;
    }
    let mut out = String::new();
    let (mut pos, mut jumps) = (12usize, 0);
    loop {
        let l = *msg.get(pos)?;
        match l & 0xc0 {
            0x00 if l == 0 => return Some(out),
            0x00 => {
                let label = msg.get(pos + 1..pos + 1 + usize::from(l))?;
                if !out.is_empty() {
                    out.push('.');
                }
                out.extend(label.iter().map(|b| char::from(b.to_ascii_lowercase())));
                if out.len() > 253 {
                    return None;
                }
                pos += 1 + usize::from(l);
            }
            0xc0 => {
                let target = (usize::from(l & 0x3f) << 8) | usize::from(*msg.get(pos + 1)?);
                jumps += 1;
                if target >= pos || jumps > 64 {
                    return None;
                }
                pos = target;
            }
            _ => return None,
        }
    }
}
