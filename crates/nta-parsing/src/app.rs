//! Application-layer hints: DNS, TLS ClientHello SNI and HTTP requests.
//!
//! DNS and TLS are read here with bounds-checked cursors rather than through a crate: the
//! candidates either allocate per message (simple-dns, dns-parser and tls-parser collect records
//! and extensions into `Vec`s) or panic on short input (pnet_packet's `dns` module slices past
//! the end of the buffer), and only the header, first question and SNI are needed. HTTP
//! request lines and headers are parsed by `httparse`, which does not allocate.

use crate::{DecodeError, Layer};
use serde::Serialize;

/// A run of text inside the frame (a TLS SNI, an HTTP Host): where it is, how long, and an
/// FNV-1a hash of its lower-cased bytes for distinct counting without allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct TextRef {
    /// Offset of the first byte in the frame.
    pub offset: u32,
    /// Length in bytes.
    pub len: u16,
    /// FNV-1a 64 of the lower-cased bytes.
    pub hash: u64,
}

impl TextRef {
    fn new(frame_offset: usize, text: &[u8]) -> TextRef {
        let mut h = Fnv::new();
        for b in text {
            h.push(b.to_ascii_lowercase());
        }
        TextRef { offset: frame_offset as u32, len: text.len().min(usize::from(u16::MAX)) as u16, hash: h.0 }
    }

    /// The bytes inside `frame` (the frame this summary was decoded from).
    pub fn bytes<'f>(&self, frame: &'f [u8]) -> &'f [u8] {
        let start = self.offset as usize;
        frame.get(start..start + usize::from(self.len)).unwrap_or_default()
    }
}

struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    #[inline]
    fn push(&mut self, b: u8) {
        self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
}

/// Shannon entropy, in bits per byte, of the bytes given (0 for none).
pub fn label_entropy(bytes: &[u8]) -> f32 {
    let mut counts = [0u16; 256];
    for b in bytes {
        if let Some(c) = counts.get_mut(usize::from(*b)) {
            *c = c.saturating_add(1);
        }
    }
    entropy(&counts, bytes.len())
}

fn entropy(counts: &[u16; 256], n: usize) -> f32 {
    if n == 0 {
        return 0.0;
    }
    let n = n as f64;
    let h: f64 = counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = f64::from(*c) / n;
            -p * p.log2()
        })
        .sum();
    h as f32
}

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

/// Bounds-checked big-endian reads over a slice.
#[derive(Clone, Copy)]
struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn u8(&mut self) -> Option<u8> {
        let v = self.b.get(self.pos).copied()?;
        self.pos += 1;
        Some(v)
    }
    fn u16(&mut self) -> Option<u16> {
        let v = self.b.get(self.pos..self.pos + 2)?.try_into().ok().map(u16::from_be_bytes)?;
        self.pos += 2;
        Some(v)
    }
    fn u24(&mut self) -> Option<usize> {
        let s = self.b.get(self.pos..self.pos + 3)?;
        self.pos += 3;
        Some(s.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b)))
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
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

/// The server name (lower-cased) and its hash (as [`TextRef::hash`]) of a TLS record holding
/// a whole ClientHello — one reassembled from several TCP segments. `None` when the record is
/// not a ClientHello, is cut short, or names no server.
pub fn client_hello_server_name(record: &[u8]) -> Option<(String, u64)> {
    let hello = tls_client_hello(record, 0, record.len()).ok()??;
    let sni = hello.sni.filter(|_| hello.complete)?;
    Some((String::from_utf8_lossy(sni.bytes(record)).to_ascii_lowercase(), sni.hash))
}

/// A TLS ClientHello: versions and the server name, if present.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct TlsSummary {
    /// Version in the record header.
    pub record_version: u16,
    /// `legacy_version` of the ClientHello.
    pub client_version: u16,
    /// The `server_name` extension's host name.
    pub sni: Option<TextRef>,
    /// Whether the whole ClientHello was in this segment (if not, `sni` may be missing).
    pub complete: bool,
}

pub(crate) fn tls_client_hello(frame: &[u8], start: usize, end: usize) -> Result<Option<TlsSummary>, DecodeError> {
    let payload = frame.get(start..end).unwrap_or_default();
    let mut c = Cursor { b: payload, pos: 0 };
    let (Some(0x16), Some(major), Some(minor)) = (c.u8(), c.u8(), c.u8()) else {
        return Ok(None);
    };
    if major != 3 || minor > 4 {
        return Ok(None);
    }
    let Some(record_len) = c.u16() else { return Ok(None) };
    let record = payload.get(5..(5 + usize::from(record_len)).min(payload.len())).unwrap_or_default();
    let mut h = Cursor { b: record, pos: 0 };
    if h.u8() != Some(1) {
        return Ok(None); // another handshake message, or nothing yet
    }
    let Some(hs_len) = h.u24() else { return Ok(None) };
    let body_start = 4;
    let body = record.get(body_start..(body_start + hs_len).min(record.len())).unwrap_or_default();
    let complete = body.len() == hs_len;
    let mut summary =
        TlsSummary { record_version: u16::from_be_bytes([major, minor]), client_version: 0, sni: None, complete };
    let base = start + 5 + body_start;
    let mut b = Cursor { b: body, pos: 0 };
    let parsed = (|| {
        summary.client_version = b.u16()?;
        b.take(32)?;
        let sid = usize::from(b.u8()?);
        b.take(sid)?;
        let suites = usize::from(b.u16()?);
        b.take(suites)?;
        let comp = usize::from(b.u8()?);
        b.take(comp)?;
        if b.pos == body.len() {
            return Some(()); // no extensions at all
        }
        let ext_len = usize::from(b.u16()?);
        let mut exts = Cursor { b: b.take(ext_len)?, pos: 0 };
        let exts_base = base + b.pos - ext_len;
        while exts.pos < exts.b.len() {
            let ty = exts.u16()?;
            let len = usize::from(exts.u16()?);
            let data_at = exts.pos;
            let data = exts.take(len)?;
            if ty == 0 {
                let mut s = Cursor { b: data, pos: 0 };
                let _list_len = s.u16()?;
                let name_type = s.u8()?;
                let name_len = usize::from(s.u16()?);
                let name_at = s.pos;
                let name = s.take(name_len)?;
                if name_type == 0 {
                    summary.sni = Some(TextRef::new(exts_base + data_at + name_at, name));
                }
            }
        }
        Some(())
    })();
    match parsed {
        Some(()) => Ok(Some(summary)),
        // Cut by the segment boundary: a ClientHello all the same, only its tail is elsewhere.
        None if !complete => Ok(Some(summary)),
        None => Err(DecodeError::invalid(Layer::Tls, start, "ClientHello length", hs_len as u32)),
    }
}

/// HTTP request methods recognised at the start of a TCP payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// GET
    Get,
    /// POST
    Post,
    /// HEAD
    Head,
    /// PUT
    Put,
    /// DELETE
    Delete,
    /// OPTIONS
    Options,
    /// PATCH
    Patch,
    /// CONNECT
    Connect,
    /// TRACE
    Trace,
}

const METHODS: [(&[u8], HttpMethod); 9] = [
    (b"GET ", HttpMethod::Get),
    (b"POST ", HttpMethod::Post),
    (b"HEAD ", HttpMethod::Head),
    (b"PUT ", HttpMethod::Put),
    (b"DELETE ", HttpMethod::Delete),
    (b"OPTIONS ", HttpMethod::Options),
    (b"PATCH ", HttpMethod::Patch),
    (b"CONNECT ", HttpMethod::Connect),
    (b"TRACE ", HttpMethod::Trace),
];

/// An HTTP/1.x request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct HttpSummary {
    /// Method.
    pub method: HttpMethod,
    /// The Host header's value, if it is in this segment.
    pub host: Option<TextRef>,
}

pub(crate) fn http_request(frame: &[u8], start: usize, end: usize) -> Result<Option<HttpSummary>, DecodeError> {
    let payload = frame.get(start..end).unwrap_or_default();
    let Some(method) = METHODS.iter().find(|(m, _)| payload.starts_with(m)).map(|(_, m)| *m) else {
        return Ok(None);
    };
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    let host = match req.parse(payload) {
        Ok(httparse::Status::Complete(_)) => {
            req.headers.iter().find(|h| h.name.eq_ignore_ascii_case("host")).map(|h| {
                // httparse hands out sub-slices of `payload`: their distance is the offset.
                let at = h.value.as_ptr() as usize - payload.as_ptr() as usize;
                TextRef::new(start + at, h.value)
            })
        }
        Ok(httparse::Status::Partial) | Err(httparse::Error::TooManyHeaders) => scan_host(payload, start),
        Err(_) => return Err(DecodeError::invalid(Layer::Http, start, "request syntax", 0)),
    };
    Ok(Some(HttpSummary { method, host }))
}

/// Finds a complete `Host:` line in a request whose headers continue in a later segment.
fn scan_host(payload: &[u8], start: usize) -> Option<TextRef> {
    let mut at = 0;
    for line in payload.split(|b| *b == b'\n') {
        let line_at = at;
        at += line.len() + 1;
        if at > payload.len() {
            return None; // the last, incomplete line
        }
        let Some((name, value)) = line.split_at_checked(5) else { continue };
        if name.eq_ignore_ascii_case(b"host:") {
            let value = value.strip_suffix(b"\r").unwrap_or(value);
            let trimmed = value.trim_ascii_start();
            let value_at = line_at + 5 + (value.len() - trimmed.len());
            return Some(TextRef::new(start + value_at, trimmed.trim_ascii_end()));
        }
    }
    None
}
