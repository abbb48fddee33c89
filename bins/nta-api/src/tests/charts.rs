//! What the dashboard needs of the API: downsampled series, field selection, paging links,
//! the Prometheus scrape, and the page itself served from the binary.

use super::*;
use crate::create_app;
use actix_web::test;

#[actix_web::test]
async fn series_downsample_each_metric_as_it_says() {
    let (_, all) = get("/api/metrics?limit=10000").await;
    let records = all["items"].as_array().unwrap();
    let sum = |m: &str| records.iter().map(|r| r[m].as_f64().unwrap()).sum::<f64>();
    let max = |m: &str| records.iter().map(|r| r[m].as_f64().unwrap()).fold(0.0, f64::max);
    // 180 windows of 10 s: one step of a minute holds 6.
    let (s, sr) = get("/api/series?metric=packets&metric=unique_src_ips,packets_per_s&step=1m").await;
    assert_eq!(s, 200, "{sr}");
    assert_eq!(sr["step_ns"], 60_000_000_000i64);
    assert_eq!(sr["t_ns"].as_array().unwrap().len(), 30);
    assert!(sr["windows"].as_array().unwrap().iter().all(|w| w == 6));
    let series = sr["series"].as_array().unwrap();
    assert_eq!(series.len(), 3);
    assert_eq!((series[0]["metric"].as_str(), series[0]["aggregate"].as_str()), (Some("packets"), Some("sum")));
    assert_eq!(series[1]["aggregate"], "max");
    assert_eq!(series[2]["aggregate"], "mean");
    let values = |i: usize| -> Vec<f64> {
        series[i]["values"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect()
    };
    assert_eq!(values(0).iter().sum::<f64>(), sum("packets"), "counts add up");
    assert_eq!(
        values(1).iter().fold(0.0, |a: f64, b| a.max(*b)),
        max("unique_src_ips"),
        "distinct counts take the largest"
    );
    let mean_rate = values(2).iter().sum::<f64>() / 30.0;
    assert!((mean_rate - sum("packets_per_s") / 180.0).abs() < 1e-6, "rates average");
    // Without a step: about 1,000 points at most, a whole number of windows each.
    let (_, auto) = get("/api/series").await;
    assert_eq!(auto["series"][0]["metric"], "packets_per_s");
    assert_eq!(auto["step_ns"], 10_000_000_000i64, "30 minutes of 10 s windows need no downsampling");
    assert_eq!(auto["t_ns"].as_array().unwrap().len(), 180);
    // A range: only the windows that start in it.
    let (_, part) =
        get("/api/series?metric=packets&since=2026-03-02T09:10:00Z&until=2026-03-02T09:20:00Z&step=5m").await;
    assert_eq!(part["windows"], serde_json::json!([30, 30]));
    // Bounds and mistakes are 400s with the reason.
    for (q, says) in [
        ("/api/series?metric=packets&step=1ms", "at most 2000"),
        ("/api/series?metric=nope", "unknown metric"),
        ("/api/series?metrics=packets", "unknown parameter"),
        ("/api/series?step=-5", "step"),
        (
            "/api/series?metric=packets,bytes,tcp_syn,tcp_fin,tcp_rst,udp_packets,icmp_packets,arp_packets,fragments",
            "at most 8",
        ),
    ] {
        let (s, e) = get(q).await;
        assert_eq!(s, 400, "{q}: {e}");
        assert!(e["error"]["message"].as_str().unwrap().contains(says), "{q}: {e}");
    }
}

#[actix_web::test]
async fn a_week_of_one_second_windows_is_one_bounded_answer() {
    // The store's own series over 604,800 synthetic 1 s windows.
    let (_, one) = get("/api/metrics?limit=1").await;
    let template: nta_metrics::WindowRecord = serde_json::from_value(one["items"][0].clone()).unwrap();
    let week: Vec<nta_metrics::WindowRecord> = (0..604_800i64)
        .map(|i| {
            let mut r = template.clone();
            r.window_ns = 1_000_000_000;
            r.window_start_ns = 1_772_409_600_000_000_000 + i * 1_000_000_000;
            r.packets = (i % 100) as u64;
            r
        })
        .collect();
    let q = nta_store::SeriesQuery {
        metrics: vec![nta_metrics::Metric::Packets],
        since_ns: None,
        until_ns: None,
        step_ns: None,
        sensor: None,
    };
    let s = nta_store::series_of(&q, week.iter()).unwrap();
    assert!(s.t_ns.len() <= 1000 && s.t_ns.len() > 900, "{} points", s.t_ns.len());
    assert_eq!(s.step_ns % 1_000_000_000, 0, "a whole number of windows");
    let total: f64 = s.series[0].values.iter().flatten().sum();
    assert_eq!(total, week.iter().map(|r| r.packets as f64).sum::<f64>());
    assert!(serde_json::to_vec(&s).unwrap().len() < 64 << 10, "a small answer");
}

#[actix_web::test]
async fn fields_choose_what_listings_carry_and_pages_link_onwards() {
    let app = test::init_service(create_app(state(None, 1 << 30))).await;
    let (s, m) =
        call(&app, test::TestRequest::get().uri("/api/metrics?limit=3&fields=window_start,packets,tcp_syn")).await;
    assert_eq!(s, 200);
    for item in m["items"].as_array().unwrap() {
        let keys: Vec<&String> = item.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["packets", "tcp_syn", "window_start"]);
    }
    let (_, a) = call(&app, test::TestRequest::get().uri("/api/anomalies?limit=2&fields=id,severity,kind")).await;
    assert!(a["items"].as_array().unwrap().iter().all(|i| i.as_object().unwrap().len() == 3));
    for q in [
        "/api/metrics?fields=packets,nope",
        "/api/anomalies?fields=explanation,pkts",
        "/api/anomalies/summary?fields=id",
    ] {
        let (s, e) = call(&app, test::TestRequest::get().uri(q)).await;
        assert_eq!(s, 400, "{q}: {e}");
    }
    // Every field a record has can be chosen (the lists are complete).
    let (_, full) = call(&app, test::TestRequest::get().uri("/api/anomalies?limit=1000")).await;
    for item in full["items"].as_array().unwrap() {
        for k in item.as_object().unwrap().keys() {
            assert!(crate::routes::ANOMALY_FIELDS.contains(&k.as_str()), "anomaly field {k} cannot be chosen");
        }
    }
    let (_, full) = call(&app, test::TestRequest::get().uri("/api/metrics?limit=1")).await;
    for k in full["items"][0].as_object().unwrap().keys() {
        let ok = crate::routes::WINDOW_FIELDS.contains(&k.as_str()) || k.parse::<nta_metrics::Metric>().is_ok();
        assert!(ok, "window field {k} cannot be chosen");
    }
    // Links: first, prev and next, keeping the question.
    let req = test::TestRequest::get().uri("/api/anomalies?severity=medium&limit=5&offset=5").to_request();
    let resp = test::call_service(&app, req).await;
    let link = resp.headers().get("link").unwrap().to_str().unwrap().to_owned();
    let total = resp.headers().get("x-total-count").unwrap().to_str().unwrap().parse::<usize>().unwrap();
    assert!(total > 10, "{total}");
    assert!(link.contains("</api/anomalies?severity=medium&limit=5&offset=10>; rel=\"next\""), "{link}");
    assert!(link.contains("offset=0>; rel=\"prev\"") && link.contains("rel=\"first\""), "{link}");
    let req = test::TestRequest::get().uri(&format!("/api/anomalies?limit=5&offset={}", total.max(5) - 1)).to_request();
    let resp = test::call_service(&app, req).await;
    let last = resp.headers().get("link").unwrap().to_str().unwrap();
    assert!(!last.contains("rel=\"next\""), "the last page has no next: {last}");
}

#[actix_web::test]
async fn prometheus_scrapes_the_server() {
    let app = test::init_service(create_app(state(None, 1 << 30))).await;
    for uri in ["/api/anomalies?limit=1", "/api/anomalies?limit=2", "/api/anomalies/ffffffffffffffff", "/nope"] {
        let _ = call(&app, test::TestRequest::get().uri(uri)).await;
    }
    let resp = test::call_service(&app, test::TestRequest::get().uri("/metrics").to_request()).await;
    assert_eq!(resp.status(), 200);
    let ct = resp.headers().get("content-type").unwrap().to_str().unwrap().to_owned();
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    let text = String::from_utf8(test::read_body(resp).await.to_vec()).unwrap();
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).unwrap();
    let value = |name: &str, labels: &[(&str, &str)]| -> f64 {
        scrape
            .samples
            .iter()
            .filter(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => 0.0,
            })
            .sum()
    };
    let names: Vec<&str> = scrape.samples.iter().map(|s| s.metric.as_str()).collect();
    assert_eq!(
        value("nta_http_requests_total", &[("route", "/api/anomalies"), ("status", "200")]),
        2.0,
        "{names:?}\n{text}"
    );
    assert_eq!(value("nta_http_requests_total", &[("route", "/api/anomalies/:id"), ("status", "404")]), 1.0, "{text}");
    assert_eq!(value("nta_http_requests_total", &[("route", "unmatched"), ("status", "404")]), 1.0, "{text}");
    assert!(
        scrape.samples.iter().any(|s| s.metric == "nta_http_request_duration_seconds"
            && matches!(s.value, prometheus_parse::Value::Histogram(_))),
        "a latency histogram"
    );
    let (_, status) = get("/api/status").await;
    let stored = status["anomalies"].as_f64().unwrap();
    assert_eq!(value("nta_anomalies", &[]), stored, "anomalies by severity and kind add up to the store");
    assert!(value("nta_anomalies", &[("severity", "critical"), ("kind", "syn_flood")]) >= 1.0);
    assert_eq!(value("nta_records", &[("kind", "windows")]), 180.0);
    assert!(value("nta_store_bytes", &[("file", "anomalies")]) > 1000.0);
    assert!(text.contains("nta_jobs{state=\"done\"}") && text.contains("nta_processed_packets"));
}

#[actix_web::test]
async fn the_dashboard_is_served_from_the_binary() {
    let app = test::init_service(create_app(state(None, 1 << 30))).await;
    let page = |uri: &'static str| {
        let app = &app;
        async move {
            let resp = test::call_service(app, test::TestRequest::get().uri(uri).to_request()).await;
            let status = resp.status().as_u16();
            let ct = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
            let csp = resp.headers().get("content-security-policy").is_some();
            (status, ct, csp, String::from_utf8(test::read_body(resp).await.to_vec()).unwrap())
        }
    };
    let (s, ct, csp, html) = page("/").await;
    assert_eq!((s, ct.as_str(), csp), (200, "text/html; charset=utf-8", true));
    assert!(html.contains("<script src=\"/assets/app.js\">") && html.contains("/assets/app.css"));
    let (s, ct, _, app) = page("/assets/app.js").await;
    assert_eq!((s, ct.as_str()), (200, "text/javascript; charset=utf-8"));
    let (s, _, _, chart) = page("/assets/chart.js").await;
    assert_eq!(s, 200);
    assert!(html.contains("<script src=\"/assets/chart.js\">"));
    let js = chart + &app;
    let (s, _, _, css) = page("/assets/app.css").await;
    assert_eq!(s, 200);
    // Every metric can be charted, and nothing is fetched from elsewhere.
    for m in nta_metrics::Metric::ALL {
        assert!(js.contains(&format!("\"{}\"", m.name())), "the page cannot chart {m}");
    }
    for text in [&html, &js, &css] {
        // (The SVG namespace is a name, not an address fetched.)
        let text = text.replace("http://www.w3.org/2000/svg", "");
        assert!(!text.contains("http://") && !text.contains("https://") && !text.contains("//cdn"), "a remote asset");
        assert!(!text.contains("@import") && !text.contains("url("), "a remote style asset");
    }
    let weight = html.len() + js.len() + css.len();
    assert!(weight < 64 << 10, "the page weighs {weight} bytes");
}
