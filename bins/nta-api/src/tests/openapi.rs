//! The OpenAPI document against the routing table and real responses.

use super::*;
use crate::create_app;
use actix_web::test;

/// Checks `value` against `schema` of the OpenAPI document `doc`: `$ref`, `type` (one or a
/// list), `enum`, `required`, `properties` (no undocumented keys unless
/// `additionalProperties`), `items`, `prefixItems`. Returns the first mismatch.
fn conforms(
    doc: &serde_json::Value,
    schema: &serde_json::Value,
    value: &serde_json::Value,
    at: &str,
) -> Result<(), String> {
    use serde_json::Value;
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/components/schemas/");
        let target = doc["components"]["schemas"].get(name).ok_or(format!("{at}: dangling {r}"))?;
        return conforms(doc, target, value, at);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(alts) = schema.get(key).and_then(Value::as_array) {
            return if alts.iter().any(|s| conforms(doc, s, value, at).is_ok()) {
                Ok(())
            } else {
                Err(format!("{at}: {value} matches no alternative of {key}"))
            };
        }
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        return all.iter().try_for_each(|s| conforms(doc, s, value, at));
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array)
        && !e.contains(value)
    {
        return Err(format!("{at}: {value} not in {e:?}"));
    }
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let allowed: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let fits = allowed.contains(&kind) || (kind == "integer" && allowed.contains(&"number"));
    if !allowed.is_empty() && !fits {
        return Err(format!("{at}: {kind} where the schema says {allowed:?}"));
    }
    match value {
        Value::Object(map) => {
            for r in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
                let r = r.as_str().unwrap_or_default();
                if !map.contains_key(r) {
                    return Err(format!("{at}: required {r} missing"));
                }
            }
            let props = schema.get("properties").and_then(Value::as_object);
            for (k, v) in map {
                match props.and_then(|p| p.get(k)) {
                    Some(s) => conforms(doc, s, v, &format!("{at}.{k}"))?,
                    None => match schema.get("additionalProperties") {
                        Some(Value::Object(s)) => conforms(doc, &Value::Object(s.clone()), v, &format!("{at}.{k}"))?,
                        Some(Value::Bool(true)) => {}
                        _ if props.is_none() && allowed.is_empty() => {}
                        _ => return Err(format!("{at}: key {k} is not in the schema")),
                    },
                }
            }
        }
        Value::Array(items) => {
            let prefix = schema.get("prefixItems").and_then(Value::as_array);
            for (i, v) in items.iter().enumerate() {
                let s = match prefix.and_then(|p| p.get(i)) {
                    Some(s) => s,
                    None => match schema.get("items") {
                        Some(s) if s.is_object() => s,
                        Some(Value::Bool(false)) => return Err(format!("{at}: item {i} beyond prefixItems")),
                        _ => continue,
                    },
                };
                conforms(doc, s, v, &format!("{at}[{i}]"))?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[actix_web::test]
async fn the_openapi_document_matches_the_routes_and_the_responses() {
    let st = state(None, 1 << 30);
    let app = test::init_service(create_app(st.clone())).await;
    let (s, doc) = call(&app, test::TestRequest::get().uri("/api/openapi.json")).await;
    assert_eq!(s, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    // The documented operations are exactly the routed ones.
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.push((method.clone(), path.clone()));
        }
    }
    documented.sort();
    let mut routed: Vec<(String, String)> =
        crate::routes::all_routes().iter().map(|(m, p)| ((*m).to_owned(), (*p).to_owned())).collect();
    routed.sort();
    assert_eq!(documented, routed);
    // Every operation names the bearer scheme, and it exists, but /health and this document.
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    for (m, p) in &routed {
        let secured = doc["paths"][p][m].get("security").is_some();
        assert_eq!(secured, p != "/health" && p != "/api/openapi.json", "{m} {p}");
    }
    // Real responses conform to the schemas the document gives them.
    let (_, page) = call(&app, test::TestRequest::get().uri("/api/anomalies?limit=3")).await;
    let id = page["items"][0]["id"].as_str().unwrap().to_owned();
    let wanted = [
        ("/health", "/health", "200"),
        ("/api/status", "/api/status", "200"),
        ("/api/anomalies?limit=50", "/api/anomalies", "200"),
        ("/api/anomalies/summary", "/api/anomalies/summary", "200"),
        (&format!("/api/anomalies/{id}"), "/api/anomalies/{id}", "200"),
        ("/api/anomalies/ffffffffffffffff", "/api/anomalies/{id}", "404"),
        ("/api/anomalies?since=yesterday", "/api/anomalies", "400"),
        ("/api/metrics?limit=5", "/api/metrics", "200"),
        ("/api/models", "/api/models", "200"),
        ("/api/baselines", "/api/baselines", "200"),
        ("/api/jobs", "/api/jobs", "200"),
        ("/api/control/state", "/api/control/state", "200"),
        ("/api/series?metric=tcp_syn&metric=packets,unique_src_ips", "/api/series", "200"),
        ("/api/series?metric=nope", "/api/series", "400"),
    ];
    for (uri, path, status) in wanted {
        let (s, body) = call(&app, test::TestRequest::get().uri(uri)).await;
        assert_eq!(s.to_string(), status, "{uri}: {body}");
        let schema = &doc["paths"][path]["get"]["responses"][status]["content"]["application/json"]["schema"];
        assert!(schema.is_object(), "{path} {status} has no schema");
        if let Err(e) = conforms(&doc, schema, &body, uri) {
            panic!("{e}");
        }
    }
    // And a mismatch is caught: the checker is not a yes-machine.
    let schema =
        &doc["paths"]["/api/anomalies/{id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
    let (_, mut one) = call(&app, test::TestRequest::get().uri(&format!("/api/anomalies/{id}"))).await;
    one["severity"] = "apocalyptic".into();
    assert!(conforms(&doc, schema, &one, "x").is_err());
    one["severity"] = "high".into();
    assert!(conforms(&doc, schema, &one, "x").is_ok());
    one["explanation"][0]["metric"] = "no_such_metric".into();
    assert!(conforms(&doc, schema, &one, "x").unwrap_err().contains("explanation[0].metric"));
    one["explanation"][0]["metric"] = "packets".into();
    one["undocumented"] = 1.into();
    assert!(conforms(&doc, schema, &one, "x").is_err());
}
