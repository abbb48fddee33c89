//! End to end: the real binary on a free port, driven over real TCP connections with plain
//! HTTP/1.1 — upload the sample, train, detect, list, summarize, events.

mod common;

use common::{finished, http, json, raw, start};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn upload_train_detect_list_over_real_http() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = std::env::temp_dir().join(format!("nta-api-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // No fixtures/ in `dir`: the server starts idle.
    let mut server = start(&dir, port, &["--cors-origin", "http://ui.example"]);
    let (s, h) = json(port, "GET", "/health", None);
    assert_eq!((s, h["status"].as_str()), (200, Some("ok")));
    let (_, st) = json(port, "GET", "/api/status", None);
    assert_eq!(st["mode"], "idle");

    // Upload the sample.
    let sample =
        std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/test_net_traffic.pcapng"))
            .unwrap();
    let boundary = "e2eBoundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"sample.pcapng\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&sample);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let (s, up) = http(port, "POST", "/api/upload", Some(&format!("multipart/form-data; boundary={boundary}")), &body);
    let up: serde_json::Value = serde_json::from_slice(&up).unwrap();
    assert_eq!(s, 201, "{up}");
    assert_eq!(up["packets"], 36_216);
    let id = up["id"].as_str().unwrap().to_owned();

    // Train on it, then detect with the model.
    let (s, j) = json(port, "POST", "/api/train", Some(serde_json::json!({"name": "e2e", "upload_id": id})));
    let done = finished(port, s, j);
    assert_eq!((done["state"].as_str(), done["result"]["name"].as_str()), (Some("done"), Some("e2e")), "{done}");
    let (s, j) =
        json(port, "POST", "/api/anomalies/detect", Some(serde_json::json!({"model": "e2e", "upload_id": id})));
    let done = finished(port, s, j);
    assert_eq!(done["state"], "done", "{done}");
    let found = done["result"]["anomalies"].as_u64().unwrap();
    assert!(found > 30);

    // List and summarize.
    let (s, page) = json(port, "GET", "/api/anomalies?limit=10&severity=high", None);
    assert_eq!(s, 200);
    assert!(page["total"].as_u64().unwrap() > 0);
    assert!(page["items"].as_array().unwrap().iter().all(|a| a["severity"] == "high" || a["severity"] == "critical"));
    let (s, sum) = json(port, "GET", "/api/anomalies/summary", None);
    assert_eq!(s, 200);
    assert_eq!(sum["summary"]["total"].as_u64().unwrap(), found);
    let (s, models) = json(port, "GET", "/api/models", None);
    assert_eq!((s, models[0]["name"].as_str()), (200, Some("e2e")));
    let (s, err) = json(port, "GET", "/api/anomalies/ffffffffffffffff", None);
    assert_eq!((s, err["error"]["code"].as_str()), (404, Some("not_found")));
    // The OpenAPI document describes the operations just used.
    let (s, doc) = json(port, "GET", "/api/openapi.json", None);
    assert_eq!((s, doc["openapi"].as_str()), (200, Some("3.1.0")));
    for (path, method) in
        [("/api/upload", "post"), ("/api/train", "post"), ("/api/anomalies/detect", "post"), ("/api/jobs/{id}", "get")]
    {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }

    // The dashboard's page, its series and the Prometheus scrape over real connections.
    let (s, page) = http(port, "GET", "/", None, b"");
    assert!(s == 200 && String::from_utf8_lossy(&page).contains("/assets/app.js"));
    let (s, series) = json(port, "GET", "/api/series?metric=tcp_syn&step=1m", None);
    assert_eq!((s, series["series"][0]["aggregate"].as_str()), (200, Some("sum")), "{series}");
    let (s, headers, _) = raw(port, "GET", "/api/anomalies?limit=1", None, b"", "").unwrap();
    assert!(s == 200 && headers.contains("rel=\"next\""), "{headers}");
    let (s, text) = http(port, "GET", "/metrics", None, b"");
    let text = String::from_utf8_lossy(&text);
    assert!(s == 200 && text.contains("nta_http_requests_total{route=\"/api/upload\",status=\"201\"} 1"), "{text}");
    assert!(text.contains("nta_processed_bytes"), "{text}");

    // CORS: the configured origin is allowed, another is not.
    let pre = "Origin: http://ui.example\r\nAccess-Control-Request-Method: GET\r\n";
    let (s, headers, _) = raw(port, "OPTIONS", "/api/anomalies", None, b"", pre).unwrap();
    assert_eq!(s, 200);
    assert!(headers.contains("access-control-allow-origin: http://ui.example"), "{headers}");
    let (_, headers, _) = raw(port, "GET", "/health", None, b"", "Origin: http://evil.example\r\n").unwrap();
    assert!(!headers.contains("access-control-allow-origin"), "{headers}");

    // Structured request logs in logs/app.log.
    let log = std::fs::read_to_string(dir.join("logs/app.log")).unwrap();
    let line: serde_json::Value =
        serde_json::from_str(log.lines().find(|l| l.contains("/api/upload")).unwrap()).unwrap();
    assert_eq!((line["method"].as_str(), line["status"].as_u64()), (Some("POST"), Some(201)));

    // Graceful shutdown on SIGTERM: exit code 0.
    let pid = server.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let t = Instant::now();
    let status = loop {
        if let Some(st) = server.0.try_wait().unwrap() {
            break st;
        }
        assert!(t.elapsed() < Duration::from_secs(20), "no shutdown");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn refuses_to_listen_beyond_loopback_without_a_token() {
    let out = Command::new(env!("CARGO_BIN_EXE_nta-api"))
        .args(["--bind", "0.0.0.0:0"])
        .env_remove("NTA_API_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("NTA_API_TOKEN"));
}

/// A token made of whitespace (or empty) is refused at startup, even on loopback.
#[test]
fn refuses_a_blank_token() {
    for token in ["", "   ", "tok en", "tok\n"] {
        let out = Command::new(env!("CARGO_BIN_EXE_nta-api"))
            .args(["--bind", "127.0.0.1:0", "--pcap", "/nonexistent"])
            .env("NTA_API_TOKEN", token)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{token:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("without whitespace"), "{token:?}");
    }
}

/// A taken port: a clear message and exit code 3, before anything is announced or started.
#[test]
fn a_taken_port_is_said_and_nothing_starts() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = std::env::temp_dir().join(format!("nta-api-e2e-taken-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/test_net_traffic.pcapng");
    let out = Command::new(env!("CARGO_BIN_EXE_nta-api"))
        .current_dir(&dir)
        .args(["--bind", &format!("127.0.0.1:{port}"), "--pcap", fixture.to_str().unwrap()])
        .env_remove("NTA_API_TOKEN")
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")) && stderr.contains("already in use"),
        "{stderr}"
    );
    assert!(!stdout.contains("listening") && !stdout.contains("startup job"), "{stdout}");
    assert!(!dir.join("logs/metrics.jsonl").exists(), "no work started");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Uploads that stall (headers and a little body, then nothing) are dropped after the idle
/// limit with their part files; part files a crash left behind are removed at start.
#[test]
fn stalled_uploads_are_dropped_and_leave_nothing() {
    use std::io::{Read, Write};
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = std::env::temp_dir().join(format!("nta-api-stall-{}", std::process::id()));
    let uploads = dir.join("data/uploads");
    std::fs::create_dir_all(&uploads).unwrap();
    std::fs::write(uploads.join(".0123456789abcdef.part"), b"left by a crash").unwrap();
    let _server = start(&dir, port, &["--upload-idle-timeout", "1s"]);
    let parts = || {
        std::fs::read_dir(&uploads)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
            .count()
    };
    assert_eq!(parts(), 0, "the crash's part file was removed at start");
    let boundary = "stall";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.pcap\"\r\n\r\n\u{d4}\u{c3}"
    );
    let stalled: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            write!(
                s,
                "POST /api/upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: 1000000\r\n\r\n{head}"
            )
            .unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(parts(), 20, "each stalled upload has its part file while it waits");
    std::thread::sleep(Duration::from_millis(2000));
    assert_eq!(parts(), 0, "the idle limit removed every part file");
    for mut s in stalled {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 408"), "{text}");
        assert!(text.contains("upload_timeout"), "{text}");
    }
    let (s, _) = json(port, "GET", "/health", None);
    assert_eq!(s, 200);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `GET /api/events` streams what happens: connected (`hello`), a training's states, and a
/// detection's stored anomalies, over a real connection as they happen.
#[test]
fn events_stream_jobs_and_anomalies_as_they_happen() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = std::env::temp_dir().join(format!("nta-api-e2e-events-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("fixtures")).unwrap();
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/test_net_traffic.pcapng");
    let _server = start(&dir, port, &["--pcap", fixture.to_str().unwrap()]);
    // Wait for the startup job to finish, so the metrics and a model exist.
    let t = Instant::now();
    loop {
        let (_, st) = json(port, "GET", "/api/status", None);
        if st["running_jobs"] == 0 && st["models"] == 1 {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(120), "{st}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut sse = TcpStream::connect(("127.0.0.1", port)).unwrap();
    sse.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(sse, "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n").unwrap();
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    let mut read_until = |sse: &mut TcpStream, seen: &mut String, want: &str| {
        while !seen.contains(want) {
            let n = sse.read(&mut buf).unwrap();
            assert!(n > 0, "stream ended before {want:?}: {seen}");
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    };
    read_until(&mut sse, &mut seen, "event: hello");
    assert!(seen.to_lowercase().contains("content-type: text/event-stream"), "{seen}");
    let (s, j) = json(port, "POST", "/api/train", Some(serde_json::json!({"name": "ev"})));
    let train = finished(port, s, j)["id"].as_str().unwrap().to_owned();
    read_until(
        &mut sse,
        &mut seen,
        &format!("{{\"type\":\"job\",\"id\":\"{train}\",\"kind\":\"train\",\"state\":\"done\"}}"),
    );
    assert!(seen.contains(&format!("\"id\":\"{train}\",\"kind\":\"train\",\"state\":\"running\"")), "{seen}");
    let (s, j) = json(port, "POST", "/api/anomalies/detect", Some(serde_json::json!({"model": "ev"})));
    let detect = finished(port, s, j)["id"].as_str().unwrap().to_owned();
    read_until(&mut sse, &mut seen, &format!("event: anomalies\ndata: {{\"type\":\"anomalies\",\"job\":\"{detect}\""));
    std::fs::remove_dir_all(&dir).unwrap();
}
