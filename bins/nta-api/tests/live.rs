//! The API's live mode on a real interface (a veth pair in a network namespace, the sample
//! replayed by tcpreplay): `POST /api/control/start {"interface"}` runs continuous detection,
//! `/api/control/state` shows the capture, anomalies reach the store and `/api/events`.
//! Needs the `live` feature, root and tcpreplay; says why it skipped otherwise.

mod common;

use common::{json, start};
use nta_corpus::veth::{Veth, skip};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[test]
fn live_mode_detects_stores_and_streams() {
    let v = match Veth::new("api", cfg!(feature = "live")) {
        Ok(v) => v,
        Err(why) => return skip(&why),
    };
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = std::env::temp_dir().join(format!("nta-api-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/test_net_traffic.pcapng");
    // The sample processed at start gives the model (10 s windows) that live detection uses.
    let _server = start(&dir, port, &["--pcap", fixture.to_str().unwrap()]);
    let t = Instant::now();
    while json(port, "GET", "/api/status", None).1["running_jobs"] != 0 {
        assert!(t.elapsed() < Duration::from_secs(120));
        std::thread::sleep(Duration::from_millis(100));
    }
    let before = json(port, "GET", "/api/status", None).1["anomalies"].as_u64().unwrap();
    // Subscribe to the events first.
    let mut sse = TcpStream::connect(("127.0.0.1", port)).unwrap();
    sse.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(sse, "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let (s, j) = json(
        port,
        "POST",
        "/api/control/start",
        Some(serde_json::json!({"interface": v.host, "model": "test_net_traffic"})),
    );
    assert_eq!(s, 200, "{j}");
    let (s, busy) = json(port, "POST", "/api/control/start", Some(serde_json::json!({"interface": v.host})));
    assert_eq!((s, busy["error"]["code"].as_str()), (409, Some("busy")), "{busy}");
    v.replay(&fixture, 50_000).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let (_, st) = json(port, "GET", "/api/control/state", None);
    assert_eq!(st["mode"], format!("live {}", v.host));
    assert_eq!(
        (st["live"]["packets"].as_u64(), st["live"]["kernel_dropped"].as_u64()),
        (Some(36_216), Some(0)),
        "{st}"
    );
    // Stop: the open window is flushed, scored and stored.
    let (s, stopped) = json(port, "POST", "/api/control/stop", None);
    assert_eq!(s, 200, "{stopped}");
    assert_eq!(stopped["live"]["ended"], true, "{stopped}");
    assert!(stopped["live"]["windows"].as_u64().unwrap() >= 1, "{stopped}");
    let after = json(port, "GET", "/api/status", None).1["anomalies"].as_u64().unwrap();
    assert!(after > before, "{before} → {after}");
    // The events told the windows and the anomalies.
    let mut seen = String::new();
    let mut buf = [0u8; 8192];
    while !(seen.contains("event: window") && seen.contains("\"job\":\"live\"")) {
        let n = sse.read(&mut buf).unwrap();
        assert!(n > 0, "{seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    // The live windows went to the metrics file too.
    let metrics = std::fs::read_to_string(dir.join("logs/metrics.jsonl")).unwrap();
    assert!(metrics.contains(&format!("\"capture\":\"live:{}\"", v.host)));
    std::fs::remove_dir_all(&dir).unwrap();
}
