//! TLS 1.2/1.3 records: a ClientHello naming its server, the ServerHello, ChangeCipherSpec and
//! the application data of a stream, cut in records as a real stack cuts them.

use crate::rng::Rng;

fn u24(out: &mut Vec<u8>, v: usize) {
    out.extend_from_slice(&(v as u32).to_be_bytes()[1..]);
}

fn record(out: &mut Vec<u8>, content_type: u8, version: u16, body: &[u8]) {
    out.push(content_type);
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(body);
}

fn ext(out: &mut Vec<u8>, ty: u16, body: &[u8]) {
    out.extend_from_slice(&ty.to_be_bytes());
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(body);
}

/// A handshake message of `msg_type` — `body`, then the extensions `exts` after their
/// length — in a handshake record of `version`.
fn handshake(out: &mut Vec<u8>, msg_type: u8, version: u16, mut body: Vec<u8>, exts: &[u8]) {
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend_from_slice(exts);
    let mut hs = Vec::with_capacity(body.len() + 4);
    hs.push(msg_type);
    u24(&mut hs, body.len());
    hs.extend_from_slice(&body);
    record(out, 22, version, &hs);
}

/// A TLS 1.3 ClientHello record for `sni`, padded to 517 bytes as browsers do.
pub(crate) fn client_hello(out: &mut Vec<u8>, rng: &mut Rng, sni: &str) {
    let mut exts = Vec::with_capacity(512);
    let host = sni.as_bytes();
    let mut sn = Vec::with_capacity(host.len() + 5);
    sn.extend_from_slice(&((host.len() + 3) as u16).to_be_bytes());
    sn.push(0);
    sn.extend_from_slice(&(host.len() as u16).to_be_bytes());
    sn.extend_from_slice(host);
    ext(&mut exts, 0, &sn);
    ext(&mut exts, 23, &[]); // extended_master_secret
    ext(&mut exts, 65281, &[0]); // renegotiation_info
    ext(&mut exts, 10, &[0, 8, 0, 0x1d, 0, 0x17, 0, 0x18, 0, 0x19]); // supported_groups
    ext(&mut exts, 11, &[1, 0]); // ec_point_formats
    ext(&mut exts, 16, b"\x00\x0c\x02h2\x08http/1.1"); // ALPN
    ext(&mut exts, 13, &[0, 8, 4, 3, 8, 4, 4, 1, 5, 3]); // signature_algorithms
    let mut ks = vec![0, 36, 0, 0x1d, 0, 32];
    let mut key = [0u8; 32];
    rng.fill(&mut key);
    ks.extend_from_slice(&key);
    ext(&mut exts, 51, &ks); // key_share x25519
    ext(&mut exts, 45, &[1, 1]); // psk_key_exchange_modes
    ext(&mut exts, 43, &[4, 3, 4, 3, 3]); // supported_versions 1.3, 1.2
    let mut body = Vec::with_capacity(600);
    body.extend_from_slice(&[3, 3]);
    let mut random = [0u8; 32];
    rng.fill(&mut random);
    body.extend_from_slice(&random);
    body.push(32);
    rng.fill(&mut random);
    body.extend_from_slice(&random);
    let suites: [u16; 9] = [0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8];
    body.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        body.extend_from_slice(&s.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]);
    // Padding extension (21) so the record is 517 bytes: 5 + 4 + body + 2 + exts.
    let without_pad = 5 + 4 + body.len() + 2 + exts.len();
    if without_pad + 4 <= 517 {
        let pad = vec![0u8; 517 - without_pad - 4];
        ext(&mut exts, 21, &pad);
    }
    handshake(out, 1, 0x0301, body, &exts);
}

/// The server's TLS 1.3 ServerHello and ChangeCipherSpec records.
pub(crate) fn server_hello(out: &mut Vec<u8>, rng: &mut Rng) {
    let mut body = Vec::with_capacity(128);
    body.extend_from_slice(&[3, 3]);
    let mut random = [0u8; 32];
    rng.fill(&mut random);
    body.extend_from_slice(&random);
    body.push(32);
    rng.fill(&mut random);
    body.extend_from_slice(&random);
    body.extend_from_slice(&0x1301u16.to_be_bytes());
    body.push(0);
    let mut exts = Vec::with_capacity(48);
    ext(&mut exts, 43, &[3, 4]);
    let mut ks = vec![0, 0x1d, 0, 32];
    rng.fill(&mut random);
    ks.extend_from_slice(&random);
    ext(&mut exts, 51, &ks);
    handshake(out, 2, 0x0303, body, &exts);
    change_cipher_spec(out);
}

/// A ChangeCipherSpec record (TLS 1.3 middlebox compatibility).
pub(crate) fn change_cipher_spec(out: &mut Vec<u8>) {
    record(out, 20, 0x0303, &[1]);
}

/// Content bytes of one full application-data record.
const TLS_RECORD: usize = 16_401;

/// Rounds a stream length so that its last application-data record has content.
pub(crate) fn tls_stream_len(len: usize) -> usize {
    let rem = len % (TLS_RECORD + 5);
    if (1..=5).contains(&rem) { len + 6 - rem } else { len.max(6) }
}

/// Writes bytes `at..at + out.len()` of a stream of application-data records of total length
/// `total` (from [`tls_stream_len`]): headers where they fall, random content elsewhere.
pub(crate) fn tls_stream(out: &mut [u8], rng: &mut Rng, at: usize, total: usize) {
    rng.fill(out);
    let full = TLS_RECORD + 5;
    let mut rec_start = at - at % full;
    while rec_start < at + out.len() {
        let content = (total - rec_start - 5).min(TLS_RECORD) as u16;
        let len = content.to_be_bytes();
        let header = [23u8, 3, 3, len[0], len[1]];
        for (i, b) in header.iter().enumerate() {
            let pos = rec_start + i;
            if pos >= at
                && let Some(slot) = out.get_mut(pos - at)
            {
                *slot = *b;
            }
        }
        rec_start += full;
    }
}

// --------------------------------------------------------------------------------------- HTTP
