//! Application-layer hints: DNS, TLS ClientHello SNI and HTTP requests.
//!
//! DNS and TLS are read here with bounds-checked cursors rather than through a crate: the
//! candidates either allocate per message (simple-dns, dns-parser and tls-parser collect records
//! and extensions into `Vec`s) or panic on short input (pnet_packet's `dns` module slices past
//! the end of the buffer), and only the header, first question and SNI are needed. HTTP
//! request lines and headers are parsed by `httparse`, which does not allocate.

use crate::{DecodeError, Layer};
use serde::Serialize;

mod dns;
mod tls;

pub use dns::{DnsSummary, DnsTransport, NameStats, dns_question_name, domain_hash};
pub(crate) use dns::{dns_over_tcp, dns_over_udp};
pub(crate) use tls::tls_client_hello;
pub use tls::{TlsSummary, client_hello_server_name};

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
    /// An extension method (WebDAV's PROPFIND, RPC over HTTP's RPC_IN_DATA, ...): an upper-case
    /// token on a request line that ends in `HTTP/1.x`.
    Other,
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
    // Every method, known or extension, starts with an upper-case letter, `_` or `-`: most
    // payloads (TLS records, binary protocols) are told apart by their first byte.
    if !payload.first().is_some_and(|b| b.is_ascii_uppercase() || *b == b'_' || *b == b'-') {
        return Ok(None);
    }
    let Some(method) = METHODS
        .iter()
        .find(|(m, _)| payload.starts_with(m))
        .map(|(_, m)| *m)
        .or_else(|| extension_method(payload).then_some(HttpMethod::Other))
    else {
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
        // A request line servers accept and attacks send (a space in the target, say): still a
        // request, as Wireshark counts it.
        Err(_) if lenient_request_line(payload) => scan_host(payload, start),
        Err(_) => return Err(DecodeError::invalid(Layer::Http, start, "request syntax", 0)),
    };
    Ok(Some(HttpSummary { method, host }))
}

/// Whether the payload starts with a request line of an extension method: 3 to 20 upper-case
/// letters, `_` or `-`, a space, and a line that ends in `HTTP/1.x`.
fn extension_method(payload: &[u8]) -> bool {
    let token = payload.iter().take(21).take_while(|b| b.is_ascii_uppercase() || **b == b'_' || **b == b'-').count();
    (3..=20).contains(&token) && payload.get(token) == Some(&b' ') && lenient_request_line(payload)
}

/// Whether the first line is `METHOD target HTTP/1.x` apart from what httparse rejects in the
/// target (spaces, bytes outside the URI grammar), or an HTTP/0.9 `GET target`.
fn lenient_request_line(payload: &[u8]) -> bool {
    let line = payload.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let http_09 = line.strip_prefix(b"GET /").is_some_and(|target| target.iter().all(u8::is_ascii_graphic));
    line.len() < payload.len() && (line.ends_with(b" HTTP/1.1") || line.ends_with(b" HTTP/1.0") || http_09)
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
