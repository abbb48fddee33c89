//! Reads, listings, uploads and the JSON errors.

use super::*;
use crate::create_app;
use actix_web::test;

#[actix_web::test]
async fn health_and_status() {
    let (s, b) = get("/health").await;
    assert_eq!((s, b["status"].as_str()), (200, Some("ok")));
    let (s, b) = get("/api/status").await;
    assert_eq!(s, 200);
    assert_eq!(b["metrics_windows"], 180);
    assert!(b["anomalies"].as_u64().unwrap() > 30);
    assert_eq!(b["models"], 1);
    assert_eq!(b["active_model"], "test_net_traffic");
    assert_eq!(b["version"], env!("CARGO_PKG_VERSION"));
}

#[actix_web::test]
async fn anomalies_list_get_summary() {
    let (s, page) = get("/api/anomalies?limit=5&offset=2").await;
    assert_eq!(s, 200);
    let total = page["total"].as_u64().unwrap();
    assert!(total > 30);
    assert_eq!(page["items"].as_array().unwrap().len(), 5);
    assert_eq!(page["offset"], 2);
    let id = page["items"][0]["id"].as_str().unwrap().to_owned();
    let (s, one) = get(&format!("/api/anomalies/{id}")).await;
    assert_eq!(s, 200);
    assert_eq!(one["id"], id.as_str());
    assert!(one["explanation"].as_array().unwrap().len() >= 3);
    let (s, crit) = get("/api/anomalies?severity=critical&since=2026-03-02T09:05:00Z&limit=1000").await;
    assert_eq!(s, 200);
    let items = crit["items"].as_array().unwrap();
    assert!(!items.is_empty() && items.iter().all(|a| a["severity"] == "critical"));
    let (s, model) = get("/api/anomalies?detector=model&min_score=0.5").await;
    assert_eq!(s, 200);
    assert!(model["items"].as_array().unwrap().iter().all(|a| a["detector"] == "model"));
    let (s, sum) = get("/api/anomalies/summary").await;
    assert_eq!(s, 200);
    assert_eq!(sum["summary"]["total"].as_u64().unwrap(), total);
    let n = sum["incidents_total"].as_u64().unwrap() as usize;
    assert!(n > 5 && sum["incidents"].as_array().unwrap().len() == n.min(100));
    // Incidents most severe first, each with its kind, hosts and headline.
    let rank = |v: &serde_json::Value| ["low", "medium", "high", "critical"].iter().position(|s| v == s);
    let incidents = sum["incidents"].as_array().unwrap();
    assert!(incidents.windows(2).all(|w| rank(&w[0]["severity"]) >= rank(&w[1]["severity"])));
    let scan = incidents.iter().find(|i| i["kind"] == "port_scan").unwrap();
    assert_eq!(scan["attackers"][0]["ip"], "48.190.219.81");
    assert!(scan["headline"].as_str().unwrap().starts_with("PORT SCAN by 48.190.219.81 against 10.20.0.80"));
    // Listings most severe first by default, in time order on request; filters by kind, host
    // and capture (`source` read as its old name).
    let (_, all) = get("/api/anomalies?limit=1000").await;
    let all = all["items"].as_array().unwrap();
    assert!(all.windows(2).all(|w| rank(&w[0]["severity"]) >= rank(&w[1]["severity"])));
    let (_, by_time) = get("/api/anomalies?limit=1000&order=time").await;
    let t: Vec<i64> =
        by_time["items"].as_array().unwrap().iter().map(|a| a["window_start_ns"].as_i64().unwrap()).collect();
    assert!(t.windows(2).all(|w| w[0] <= w[1]));
    let (s, syn) = get("/api/anomalies?kind=syn_flood").await;
    assert_eq!(s, 200);
    let syn = syn["items"].as_array().unwrap();
    assert!(!syn.is_empty() && syn.iter().all(|a| a["kind"] == "syn_flood"));
    let (_, by_ip) = get("/api/anomalies?ip=48.190.219.81").await;
    assert!(by_ip["total"].as_u64().unwrap() > 0);
    let (_, cap) = get("/api/anomalies?capture=test_net_traffic&limit=1").await;
    let (_, old) = get("/api/anomalies?source=test_net_traffic&limit=1").await;
    assert_eq!(cap["total"].as_u64(), Some(total));
    assert_eq!(old["total"], cap["total"]);
    // limit/offset page the incidents.
    let (_, page) = get("/api/anomalies/summary?limit=2&offset=3").await;
    assert_eq!(page["incidents_total"].as_u64(), Some(n as u64));
    assert_eq!(page["incidents"].as_array().unwrap()[..], sum["incidents"].as_array().unwrap()[3..5]);
    assert_eq!(page["summary"], sum["summary"]);
}

#[actix_web::test]
async fn flows_filtered_and_by_incident() {
    let (s, all) = get("/api/flows?limit=3").await;
    assert_eq!(s, 200, "{all}");
    let total = all["total"].as_u64().unwrap();
    assert!(total > 10_000 && all["items"].as_array().unwrap().len() == 3, "{total}");
    // By Community ID: that flow.
    let cid = all["items"][0]["community_id"].as_str().unwrap().to_owned();
    let (_, one) = get(&format!("/api/flows?community_id={}", cid.replace('+', "%2B").replace('/', "%2F"))).await;
    assert!(one["total"].as_u64().unwrap() >= 1);
    assert!(one["items"].as_array().unwrap().iter().all(|f| f["community_id"] == cid.as_str()));
    // The connections of the port scan's incident: the scanner's refused probes.
    let (_, sum) = get("/api/anomalies/summary?kind=port_scan").await;
    let id = sum["incidents"][0]["id"].as_str().unwrap().to_owned();
    let (s, scan) = get(&format!("/api/flows?anomaly={id}&limit=1000")).await;
    assert_eq!(s, 200, "{scan}");
    let items = scan["items"].as_array().unwrap();
    assert!(scan["total"].as_u64().unwrap() > 1000, "{}", scan["total"]);
    assert!(items.iter().all(|f| f["src_ip"] == "48.190.219.81"
        || f["dst_ip"] == "48.190.219.81"
        || f["src_ip"] == "10.20.0.80"
        || f["dst_ip"] == "10.20.0.80"));
    assert!(items.iter().filter(|f| f["conn_state"] == "REJ").count() > 500);
    // Narrowed by port; errors.
    let (_, ssh) = get(&format!("/api/flows?anomaly={id}&port=22")).await;
    assert!(ssh["items"].as_array().unwrap().iter().all(|f| f["src_port"] == 22 || f["dst_port"] == 22));
    let (s, e) = get("/api/flows?anomaly=0000000000000000").await;
    assert_eq!((s, e["error"]["code"].as_str()), (404, Some("not_found")));
    let (s, _) = get("/api/flows?ip=10.0.0.300").await;
    assert_eq!(s, 400);
}

#[actix_web::test]
async fn metrics_and_models() {
    let (s, m) = get("/api/metrics?since=2026-03-02T09:08:00Z&until=2026-03-02T09:09:00Z").await;
    assert_eq!(s, 200);
    assert_eq!(m["total"], 6);
    assert!(m["items"][0]["tcp_syn"].as_u64().unwrap() > 1000);
    let (s, models) = get("/api/models").await;
    assert_eq!(s, 200);
    assert_eq!(models[0]["n_estimators"], 100);
}

#[actix_web::test]
async fn errors_are_json_with_the_right_status() {
    for (path, status, code) in [
        ("/api/anomalies/0000000000000000", 404, "not_found"),
        ("/api/nothing", 404, "not_found"),
        ("/api/anomalies?severity=apocalyptic", 400, "bad_query"),
        ("/api/anomalies?since=yesterday", 400, "bad_query"),
        ("/api/anomalies?limit=-3", 400, "bad_query"),
        ("/api/anomalies?colour=red", 400, "bad_query"),
        ("/api/anomalies?kind=port_scanning", 400, "bad_query"),
        ("/api/anomalies?ip=10.0.0.300", 400, "bad_query"),
        ("/api/anomalies?order=random", 400, "bad_query"),
        ("/api/metrics?until=soon", 400, "bad_query"),
    ] {
        let (s, b) = get(path).await;
        assert_eq!(s, status, "{path}: {b}");
        assert_eq!(b["error"]["code"], code, "{path}");
        assert!(b["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}

#[actix_web::test]
async fn uploads_are_streamed_validated_and_never_named_by_the_client() {
    let sample = std::fs::read(fixture()).unwrap();
    let (s, b) = upload(None, None, 1 << 30, "../../etc/passwd", &sample).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["packets"], 36_216);
    assert_eq!(b["format"], "pcapng");
    assert_eq!(b["size"], sample.len() as u64);
    let id = b["id"].as_str().unwrap();
    assert!(uploads_dir().join(format!("{id}.pcapng")).is_file());
    assert!(!uploads_dir().join("passwd").exists());
    let count = || std::fs::read_dir(uploads_dir()).unwrap().count();
    let before = count();
    // A text file: 415, nothing left behind.
    let (s, b) = upload(None, None, 1 << 30, "notes.pcap", b"this is not a capture at all\n").await;
    assert_eq!((s, b["error"]["code"].as_str()), (415, Some("not_a_capture")));
    // A truncated header: 400.
    let (s, b) = upload(None, None, 1 << 30, "cut.pcap", &sample[..10]).await;
    assert_eq!(s, 400, "{b}");
    // Too large: 413, from Content-Length before any byte is stored.
    let (s, b) = upload(None, None, 100_000, "big.pcapng", &sample).await;
    assert_eq!((s, b["error"]["code"].as_str()), (413, Some("too_large")));
    assert_eq!(count(), before, "failed uploads leave nothing");
    // With a token: none or a wrong one is 401; the right one works.
    let (s, b) = upload(Some("s3cret"), None, 1 << 30, "x.pcapng", &sample).await;
    assert_eq!((s, b["error"]["code"].as_str()), (401, Some("unauthorized")));
    let (s, _) = upload(Some("s3cret"), Some("guess"), 1 << 30, "x.pcapng", &sample).await;
    assert_eq!(s, 401);
    let (s, _) = upload(Some("s3cret"), Some("s3cret"), 1 << 30, "x.pcapng", &sample).await;
    assert_eq!(s, 201);
    // No file part at all.
    let app = test::init_service(create_app(state(None, 1 << 30))).await;
    let boundary = "B0";
    let body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--{boundary}--\r\n");
    let req = test::TestRequest::post()
        .uri("/api/upload")
        .insert_header(("content-type", format!("multipart/form-data; boundary={boundary}")))
        .set_payload(body)
        .to_request();
    let resp = test::call_service(&app, req).await;
    assert_eq!(resp.status().as_u16(), 400);
}

/// A state over directories of its own (jobs write models and anomalies). Train and detect
/// wait up to a minute for their job (the server waits a second), so that answering directly
/// does not depend on how loaded the test machine is.

#[actix_web::test]
async fn listings_follow_the_files() {
    let st = own_state(None);
    let app = test::init_service(create_app(st.clone())).await;
    let (_, m) = call(&app, test::TestRequest::get().uri("/api/metrics?limit=1")).await;
    assert_eq!(m["total"], 180);
    let (_, a) = call(&app, test::TestRequest::get().uri("/api/anomalies?limit=1")).await;
    let n = a["total"].as_u64().unwrap();
    assert!(n > 10);
    // metrics.jsonl replaced (as extraction does: a new file renamed over it).
    let path = st.store.layout().logs_dir().join("metrics.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let head: String = text.lines().take(7).map(|l| format!("{l}\n")).collect();
    nta_store::write_atomic(&path, head.as_bytes()).unwrap();
    let (_, m) = call(&app, test::TestRequest::get().uri("/api/metrics?limit=1")).await;
    assert_eq!(m["total"], 7);
    let (_, s) = call(&app, test::TestRequest::get().uri("/api/status")).await;
    assert_eq!(s["metrics_windows"], 7);
    // An anomaly appended to the store shows up in the listing, the summary (cached until the
    // store changes) and by id.
    let (_, s0) = call(&app, test::TestRequest::get().uri("/api/anomalies/summary")).await;
    let (_, s1) = call(&app, test::TestRequest::get().uri("/api/anomalies/summary")).await;
    assert_eq!((s0["summary"]["total"].as_u64(), &s0), (Some(n), &s1));
    let mut extra: nta_analysis::Anomaly = serde_json::from_value(a["items"][0].clone()).unwrap();
    extra.id = "00000000000000ff".into();
    nta_store::AnomalyStore::new(st.store.layout().anomalies_path()).append(&[extra]).unwrap();
    let (_, a) = call(&app, test::TestRequest::get().uri("/api/anomalies?limit=1")).await;
    assert_eq!(a["total"].as_u64(), Some(n + 1));
    let (_, s) = call(&app, test::TestRequest::get().uri("/api/anomalies/summary")).await;
    assert_eq!(s["summary"]["total"].as_u64(), Some(n + 1));
    let (st_code, one) = call(&app, test::TestRequest::get().uri("/api/anomalies/00000000000000ff")).await;
    assert_eq!((st_code, one["id"].as_str()), (200, Some("00000000000000ff")));
    // Models: a new file appears, a damaged one is listed with its error, a removed one goes.
    let names = |v: &serde_json::Value| -> Vec<String> {
        v.as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap().to_owned()).collect()
    };
    let (_, before) = call(&app, test::TestRequest::get().uri("/api/models")).await;
    assert_eq!(names(&before), ["test_net_traffic"]);
    let models = st.store.layout().data_dir().join("models");
    std::fs::copy(models.join("test_net_traffic.json"), models.join("a-copy.json")).unwrap();
    let (_, after) = call(&app, test::TestRequest::get().uri("/api/models")).await;
    assert_eq!(names(&after), ["a-copy", "test_net_traffic"]);
    assert!(after[0]["error"].is_null() && after[0]["n_estimators"] == 100);
    nta_store::write_atomic(&models.join("a-copy.json"), b"{\"not\": \"a model\"}").unwrap();
    let (_, damaged) = call(&app, test::TestRequest::get().uri("/api/models")).await;
    assert!(damaged[0]["error"].is_string() && damaged[0]["n_estimators"].is_null(), "{damaged}");
    std::fs::remove_file(models.join("a-copy.json")).unwrap();
    let (_, s) = call(&app, test::TestRequest::get().uri("/api/status")).await;
    assert_eq!((s["models"].as_u64(), s["active_model"].as_str()), (Some(1), Some("test_net_traffic")));
}

/// With a token, reads need it too (anomalies expose internal hosts); `open_reads` lets them
/// through for a trusted network; `/health` and the OpenAPI document stay open. The scheme is
/// case-insensitive; a JSON body over its limit is a 413.
#[actix_web::test]
async fn reads_need_the_token_unless_opened() {
    let reads = [
        "/api/anomalies",
        "/api/anomalies/summary",
        "/api/anomalies/0000000000000000",
        "/api/metrics",
        "/api/models",
        "/api/status",
        "/api/jobs",
        "/api/jobs/nope",
        "/api/control/state",
    ];
    let (data, logs) = super::processed().clone();
    for open_reads in [false, true] {
        let mut st =
            super::services_over(data.clone(), logs.clone(), Some("s3cret"), Default::default(), Default::default());
        st.auth = actix_web::web::Data::new(crate::Auth { token: Some("s3cret".into()), open_reads });
        let app = test::init_service(create_app(st)).await;
        for path in reads {
            let (s, j) = call(&app, test::TestRequest::get().uri(path)).await;
            if open_reads {
                assert_ne!(s, 401, "{path}: {j}");
            } else {
                assert_eq!((s, j["error"]["code"].as_str()), (401, Some("unauthorized")), "{path}");
            }
            for scheme in ["Bearer", "bearer", "BEARER"] {
                let req =
                    test::TestRequest::get().uri(path).insert_header(("authorization", format!("{scheme} s3cret")));
                let (s, _) = call(&app, req).await;
                assert_ne!(s, 401, "{path} with {scheme}");
            }
            let req = test::TestRequest::get().uri(path).insert_header(("authorization", "Bearer wrong"));
            assert_eq!(
                call(&app, req).await.0,
                if open_reads { call(&app, test::TestRequest::get().uri(path)).await.0 } else { 401 }
            );
        }
        for open in ["/health", "/api/openapi.json"] {
            assert_eq!(call(&app, test::TestRequest::get().uri(open)).await.0, 200, "{open}");
        }
        // Changes always need the token.
        let train = test::TestRequest::post().uri("/api/train").set_json(serde_json::json!({"name": "x"}));
        assert_eq!(call(&app, train).await.0, 401);
        // A JSON body over 64 KiB.
        let big = serde_json::json!({"name": "x", "pad": "a".repeat(70_000)});
        let req =
            test::TestRequest::post().uri("/api/train").insert_header(("authorization", "bearer s3cret")).set_json(big);
        let (s, j) = call(&app, req).await;
        assert_eq!((s, j["error"]["code"].as_str()), (413, Some("too_large")), "{j}");
    }
}
