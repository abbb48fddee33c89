//! TLS: the ClientHello's versions and server name, from one segment or reassembled.

use super::{Cursor, TextRef};
use crate::{DecodeError, Layer};
use serde::Serialize;

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
