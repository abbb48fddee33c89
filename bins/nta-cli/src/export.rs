//! `nta-cli anomalies export --format ecs`: anomalies as Elastic Common Schema alerts, one
//! JSON line each, that Elasticsearch, OpenSearch and Security Onion ingest without a
//! pipeline (docs/ANALYSIS.md, "Export for SIEMs", has the mapping).

use nta_analysis::{Anomaly, Severity};
use serde_json::{Value, json};

/// The ECS version the documents follow.
pub(crate) const ECS_VERSION: &str = "8.11.0";

/// `event.severity`: the top of Elastic Security's range for each severity (low 21, medium
/// 47, high 73, critical 99).
pub(crate) fn ecs_severity(s: Severity) -> u8 {
    match s {
        Severity::Low => 21,
        Severity::Medium => 47,
        Severity::High => 73,
        Severity::Critical => 99,
    }
}

/// One anomaly as an ECS alert document.
pub(crate) fn ecs(a: &Anomaly) -> Value {
    let ips = |hosts: &[nta_analysis::Host]| hosts.iter().map(|h| h.ip.to_string()).collect::<Vec<_>>();
    let mut doc = json!({
        "@timestamp": a.window_start,
        "ecs": { "version": ECS_VERSION },
        "message": a.summary,
        "event": {
            "kind": "alert",
            "category": ["network", "intrusion_detection"],
            "type": ["info"],
            "module": "nta",
            "dataset": "nta.anomaly",
            "id": a.id,
            "severity": ecs_severity(a.severity),
            "start": a.window_start,
            "end": a.window_end,
            "duration": a.window_end_ns.saturating_sub(a.window_start_ns),
        },
        "rule": { "name": a.kind.name(), "category": "network anomaly", "description": a.detail },
        "observer": { "vendor": "nta", "product": "nta", "type": "ids" },
        "nta": {
            "severity": a.severity.name(),
            "detector": a.detector.name(),
            "capture": a.capture,
            "score": a.score,
            "score_threshold": a.score_threshold,
            "max_abs_z": a.max_abs_z,
            "model": a.model,
            "baseline": a.baseline,
            "attackers": a.attackers,
            "victims": a.victims,
            "explanation": a.explanation,
            "top_sources": a.top_sources,
            "top_dst_ports": a.top_dst_ports,
        },
    });
    if let Some(obj) = doc.as_object_mut() {
        if !a.attackers.is_empty() {
            obj.insert("source".into(), json!({ "ip": ips(&a.attackers) }));
        }
        if !a.victims.is_empty() {
            obj.insert("destination".into(), json!({ "ip": ips(&a.victims) }));
        }
        let related: Vec<String> = ips(&a.attackers).into_iter().chain(ips(&a.victims)).collect();
        if !related.is_empty() {
            obj.insert("related".into(), json!({ "ip": related }));
        }
    }
    doc
}
