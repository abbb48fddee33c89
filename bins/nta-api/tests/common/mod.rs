//! Helpers of the end-to-end tests: the real binary on a free port, plain HTTP/1.1 over TCP.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

pub(crate) struct Server(pub(crate) Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One request, `Connection: close`; returns the status and the body. A connection reset
/// before any byte of the response is retried (twice at most).
pub(crate) fn http(port: u16, method: &str, path: &str, content_type: Option<&str>, body: &[u8]) -> (u16, Vec<u8>) {
    for _ in 0..2 {
        if let Some(r) = try_http(port, method, path, content_type, body) {
            return r;
        }
    }
    try_http(port, method, path, content_type, body).unwrap_or_else(|| panic!("{method} {path}: no response"))
}

pub(crate) fn try_http(
    port: u16,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> Option<(u16, Vec<u8>)> {
    raw(port, method, path, content_type, body, "").map(|(s, _, b)| (s, b))
}

/// A request with extra header lines; returns status, lower-cased headers and body.
pub(crate) fn raw(
    port: u16,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
    extra: &str,
) -> Option<(u16, String, Vec<u8>)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(ct) = content_type {
        head.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    head.push_str(extra);
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    s.flush().unwrap();
    let mut resp = Vec::new();
    // A server closing right after its response may reset the connection once it is read:
    // what arrived before the reset is the response.
    if s.read_to_end(&mut resp).is_err() && resp.is_empty() {
        return None;
    }
    let split = resp.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let status_line = String::from_utf8_lossy(&resp[..split]).lines().next().unwrap().to_owned();
    let status: u16 = status_line.split_whitespace().nth(1).unwrap().parse().unwrap();
    let headers = String::from_utf8_lossy(&resp[..split]).to_lowercase();
    let mut body = resp[split + 4..].to_vec();
    if headers.contains("transfer-encoding: chunked") {
        // Decode chunks.
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let nl = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let n = usize::from_str_radix(String::from_utf8_lossy(&rest[..nl]).trim(), 16).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&rest[nl + 2..nl + 2 + n]);
            rest = &rest[nl + 2 + n + 2..];
        }
        body = out;
    }
    Some((status, headers, body))
}

pub(crate) fn json(port: u16, method: &str, path: &str, body: Option<serde_json::Value>) -> (u16, serde_json::Value) {
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    let ct = (!payload.is_empty()).then_some("application/json");
    let (s, b) = http(port, method, path, ct, payload.as_bytes());
    (s, serde_json::from_slice(&b).unwrap_or(serde_json::Value::Null))
}

pub(crate) fn wait_job(port: u16, id: &str) -> serde_json::Value {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(120) {
        let (_, j) = json(port, "GET", &format!("/api/jobs/{id}"), None);
        if j["state"] != "running" && j["state"] != "queued" {
            return j;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("job {id} did not finish");
}

/// The finished job behind a train or detect answer: 200 carries it, 202 says where to wait.
pub(crate) fn finished(port: u16, status: u16, answer: serde_json::Value) -> serde_json::Value {
    match status {
        200 => answer,
        202 => wait_job(port, answer["job"].as_str().unwrap()),
        _ => panic!("{status}: {answer}"),
    }
}

/// The real binary in `dir` on `port` (data and logs under `dir`, no token), once it accepts
/// connections.
pub(crate) fn start(dir: &std::path::Path, port: u16, extra: &[&str]) -> Server {
    let server = Server(
        Command::new(env!("CARGO_BIN_EXE_nta-api"))
            .current_dir(dir)
            .args(["--bind", &format!("127.0.0.1:{port}"), "--data-dir", "data", "--logs-dir", "logs"])
            .args(extra)
            .env_remove("NTA_API_TOKEN")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(t.elapsed() < Duration::from_secs(30), "the server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

/// A free port on loopback (free when asked).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
