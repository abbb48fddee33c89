//! Application payloads: DNS messages, TLS records, HTTP/1.1, SSH and NTP, encoded as the
//! real protocols are (so that tshark dissects them without complaint).

mod tls;

pub(crate) use tls::{change_cipher_spec, client_hello, server_hello, tls_stream, tls_stream_len};

use crate::rng::Rng;
use std::net::IpAddr;

/// DNS record types used here.
pub(crate) mod qtype {
    pub(crate) const A: u16 = 1;
    pub(crate) const CNAME: u16 = 5;
    pub(crate) const SOA: u16 = 6;
    pub(crate) const PTR: u16 = 12;
    pub(crate) const TXT: u16 = 16;
    pub(crate) const AAAA: u16 = 28;
}

/// The answer section of a DNS response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Addresses (A or AAAA by family), after an optional CNAME chain.
    Addrs { cnames: Vec<String>, addrs: Vec<IpAddr> },
    /// A PTR name.
    Ptr(String),
    /// TXT strings (each at most 255 bytes).
    Txt(Vec<String>),
    /// NXDOMAIN, with the zone's SOA in the authority section.
    NxDomain { zone: String },
}

fn name(out: &mut Vec<u8>, name: &str) {
    for label in name.split('.').filter(|l| !l.is_empty()) {
        let l = &label.as_bytes()[..label.len().min(63)];
        out.push(l.len() as u8);
        out.extend_from_slice(l);
    }
    out.push(0);
}

fn rr_header(out: &mut Vec<u8>, owner: Option<&str>, ty: u16, ttl: u32) -> usize {
    match owner {
        None => out.extend_from_slice(&[0xc0, 12]), // the question's name
        Some(n) => name(out, n),
    }
    out.extend_from_slice(&ty.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.len()
}

fn rr_finish(out: &mut [u8], data_start: usize) {
    let len = (out.len() - data_start) as u16;
    if let Some(slot) = out.get_mut(data_start - 2..data_start) {
        slot.copy_from_slice(&len.to_be_bytes());
    }
}

/// Encodes a DNS query (`answer` `None`) or its response into `out`.
pub(crate) fn dns(out: &mut Vec<u8>, id: u16, qname: &str, qt: u16, answer: Option<&Answer>) {
    out.clear();
    out.extend_from_slice(&id.to_be_bytes());
    let (flags, an, ns) = match answer {
        None => (0x0100u16, 0u16, 0u16),
        Some(Answer::Addrs { cnames, addrs }) => (0x8180, (cnames.len() + addrs.len()) as u16, 0),
        Some(Answer::Ptr(_)) => (0x8180, 1, 0),
        Some(Answer::Txt(_)) => (0x8180, 1, 0),
        Some(Answer::NxDomain { .. }) => (0x8183, 0, 1),
    };
    out.extend_from_slice(&flags.to_be_bytes());
    for count in [1, an, ns, 0] {
        out.extend_from_slice(&count.to_be_bytes());
    }
    name(out, qname);
    out.extend_from_slice(&qt.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    match answer {
        None => {}
        Some(Answer::Addrs { cnames, addrs }) => {
            let mut owner: Option<&str> = None;
            for c in cnames {
                let at = rr_header(out, owner, qtype::CNAME, 300);
                name(out, c);
                rr_finish(out, at);
                owner = Some(c);
            }
            for a in addrs {
                let at = match a {
                    IpAddr::V4(v4) => {
                        let at = rr_header(out, owner, qtype::A, 60);
                        out.extend_from_slice(&v4.octets());
                        at
                    }
                    IpAddr::V6(v6) => {
                        let at = rr_header(out, owner, qtype::AAAA, 60);
                        out.extend_from_slice(&v6.octets());
                        at
                    }
                };
                rr_finish(out, at);
            }
        }
        Some(Answer::Ptr(target)) => {
            let at = rr_header(out, None, qtype::PTR, 3600);
            name(out, target);
            rr_finish(out, at);
        }
        Some(Answer::Txt(strings)) => {
            let at = rr_header(out, None, qtype::TXT, 0);
            for s in strings {
                let b = &s.as_bytes()[..s.len().min(255)];
                out.push(b.len() as u8);
                out.extend_from_slice(b);
            }
            rr_finish(out, at);
        }
        Some(Answer::NxDomain { zone }) => {
            let at = rr_header(out, Some(zone), qtype::SOA, 900);
            name(out, &format!("ns1.{zone}"));
            name(out, &format!("hostmaster.{zone}"));
            for v in [2_026_030_201u32, 7200, 900, 1_209_600, 300] {
                out.extend_from_slice(&v.to_be_bytes());
            }
            rr_finish(out, at);
        }
    }
}

/// The reverse-lookup name of an address.
pub(crate) fn ptr_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("{d}.{c}.{b}.{a}.in-addr.arpa")
        }
        IpAddr::V6(v6) => {
            let mut s = String::with_capacity(73);
            for byte in v6.octets().iter().rev() {
                s.push_str(&format!("{:x}.{:x}.", byte & 0xf, byte >> 4));
            }
            s.push_str("ip6.arpa");
            s
        }
    }
}

const B32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `n` random base32 characters (what DNS tunnels put in labels).
pub(crate) fn base32(rng: &mut Rng, n: usize) -> String {
    (0..n).map(|_| char::from(B32[rng.below(32) as usize])).collect()
}

/// `n` random base64 characters (what DNS tunnels put in TXT answers).
pub(crate) fn base64(rng: &mut Rng, n: usize) -> String {
    (0..n).map(|_| char::from(B64[rng.below(64) as usize])).collect()
}

// ---------------------------------------------------------------------------------------- TLS

/// An HTTP/1.1 GET request.
pub(crate) fn http_request(out: &mut Vec<u8>, host: &str, path: &str, agent: &str) {
    out.clear();
    out.extend_from_slice(b"GET ");
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(host.as_bytes());
    out.extend_from_slice(b"\r\nUser-Agent: ");
    out.extend_from_slice(agent.as_bytes());
    out.extend_from_slice(b"\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n\r\n");
}

/// The header of an HTTP/1.1 200 response whose body is `len` opaque bytes.
pub(crate) fn http_response_header(out: &mut Vec<u8>, len: usize) {
    out.clear();
    out.extend_from_slice(b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: application/octet-stream\r\n");
    out.extend_from_slice(format!("Content-Length: {len}\r\n\r\n").as_bytes());
}

// ---------------------------------------------------------------------------------------- SSH

/// An SSH identification line.
pub(crate) fn ssh_banner(out: &mut Vec<u8>, server: bool) {
    out.clear();
    out.extend_from_slice(if server {
        b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"
    } else {
        b"SSH-2.0-OpenSSH_9.6\r\n"
    });
}

fn ssh_packet(out: &mut Vec<u8>, rng: &mut Rng, payload: &[u8]) {
    // Padding: at least 4 bytes, total a multiple of 8.
    let mut pad = 8 - (5 + payload.len()) % 8;
    if pad < 4 {
        pad += 8;
    }
    out.extend_from_slice(&((1 + payload.len() + pad) as u32).to_be_bytes());
    out.push(pad as u8);
    out.extend_from_slice(payload);
    let mut p = [0u8; 16];
    rng.fill(&mut p);
    out.extend_from_slice(&p[..pad]);
}

fn ssh_string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s);
}

/// SSH_MSG_KEXINIT.
pub(crate) fn ssh_kexinit(out: &mut Vec<u8>, rng: &mut Rng) {
    out.clear();
    let mut p = vec![20u8];
    let mut cookie = [0u8; 16];
    rng.fill(&mut cookie);
    p.extend_from_slice(&cookie);
    let lists: [&[u8]; 10] = [
        b"curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256",
        b"ssh-ed25519,rsa-sha2-512,rsa-sha2-256",
        b"chacha20-poly1305@openssh.com,aes128-ctr,aes256-gcm@openssh.com",
        b"chacha20-poly1305@openssh.com,aes128-ctr,aes256-gcm@openssh.com",
        b"umac-64-etm@openssh.com,hmac-sha2-256-etm@openssh.com",
        b"umac-64-etm@openssh.com,hmac-sha2-256-etm@openssh.com",
        b"none,zlib@openssh.com",
        b"none,zlib@openssh.com",
        b"",
        b"",
    ];
    for l in lists {
        ssh_string(&mut p, l);
    }
    p.extend_from_slice(&[0, 0, 0, 0, 0]);
    ssh_packet(out, rng, &p);
}

/// SSH_MSG_KEX_ECDH_INIT (client) or SSH_MSG_KEX_ECDH_REPLY and SSH_MSG_NEWKEYS (server).
pub(crate) fn ssh_kex(out: &mut Vec<u8>, rng: &mut Rng, server: bool) {
    out.clear();
    let mut key = [0u8; 32];
    rng.fill(&mut key);
    if server {
        let mut p = vec![31u8];
        let mut host_key = Vec::with_capacity(51);
        ssh_string(&mut host_key, b"ssh-ed25519");
        ssh_string(&mut host_key, &key);
        ssh_string(&mut p, &host_key);
        rng.fill(&mut key);
        ssh_string(&mut p, &key);
        let mut sig = Vec::with_capacity(83);
        ssh_string(&mut sig, b"ssh-ed25519");
        let mut s = [0u8; 64];
        rng.fill(&mut s);
        ssh_string(&mut sig, &s);
        ssh_string(&mut p, &sig);
        ssh_packet(out, rng, &p);
    } else {
        let mut p = vec![30u8];
        ssh_string(&mut p, &key);
        ssh_packet(out, rng, &p);
    }
    ssh_packet(out, rng, &[21]); // SSH_MSG_NEWKEYS
}

// ---------------------------------------------------------------------------------------- NTP

/// Seconds from 1900 (NTP) to 1970 (Unix).
const NTP_EPOCH: i64 = 2_208_988_800;

fn ntp_ts(out: &mut Vec<u8>, ts_ns: i64) {
    let secs = (ts_ns / 1_000_000_000 + NTP_EPOCH) as u32;
    let frac = (((ts_ns % 1_000_000_000) as u64) << 32) / 1_000_000_000;
    out.extend_from_slice(&secs.to_be_bytes());
    out.extend_from_slice(&(frac as u32).to_be_bytes());
}

/// An NTPv4 client request (`server` false) or server reply, with capture-time timestamps.
pub(crate) fn ntp(out: &mut Vec<u8>, server: bool, origin_ns: i64, now_ns: i64) {
    out.clear();
    if server {
        out.extend_from_slice(&[0x24, 2, 6, 0xe9]); // LI 0, v4, mode 4; stratum 2; poll; precision
        out.extend_from_slice(&[0, 0, 0x0a, 0x3c, 0, 0, 0x1c, 0x52]); // root delay, dispersion
        out.extend_from_slice(&[0xc0, 0x00, 0x02, 0x7b]); // reference id
        ntp_ts(out, now_ns - 64_000_000_000);
        ntp_ts(out, origin_ns);
        ntp_ts(out, now_ns - 20_000);
        ntp_ts(out, now_ns - 10_000);
    } else {
        out.extend_from_slice(&[0x23, 0, 6, 0x20]); // LI 0, v4, mode 3
        out.extend_from_slice(&[0; 12]);
        out.extend_from_slice(&[0; 24]);
        ntp_ts(out, now_ns);
    }
}

/// Linux ping's 56 data bytes: a timestamp, then 0x10, 0x11, ...
pub(crate) fn ping_data(out: &mut Vec<u8>, ts_ns: i64, len: usize) {
    out.clear();
    out.extend_from_slice(&((ts_ns / 1_000_000_000) as u64).to_le_bytes());
    out.extend_from_slice(&(((ts_ns % 1_000_000_000) / 1000) as u64).to_le_bytes());
    let mut b = 0x10u8;
    while out.len() < len {
        out.push(b);
        b = b.wrapping_add(1);
    }
    out.truncate(len);
}
