//! `GET /api/metrics`: the window records of the last capture processed (or of a fleet);
//! `GET /api/series`: their metrics downsampled for charts.

use crate::auth::Reader;
use crate::error::{ApiError, ApiResult};
use crate::routes::parse_time;
use actix_web::{HttpResponse, web};
use nta_metrics::Metric;
use nta_store::{MetricsFilter, MetricsPage, RecordStore, SeriesQuery};
use serde::Deserialize;
use utoipa::IntoParams;

routes! {
    get "/api/metrics" => metrics,
    get "/api/series" => series,
}

/// Query of `GET /api/metrics`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MetricsQuery {
    /// Windows ending after this: RFC 3339 or nanoseconds since the epoch.
    since: Option<String>,
    /// Windows starting before this.
    until: Option<String>,
    /// Only this sensor's windows (a fleet's store).
    sensor: Option<String>,
    /// Only these fields of each record (comma-separated: `window_start,packets,tcp_syn`).
    fields: Option<String>,
    /// Items per page (default 100, at most 10000).
    limit: Option<usize>,
    /// Items skipped (default 0).
    offset: Option<usize>,
}

/// Window records of `logs/metrics.jsonl` (the last capture processed), or of a fleet's
/// store, filtered by time and sensor.
#[utoipa::path(get, path = "/api/metrics", security(("bearer" = [])), tag = "metrics", params(MetricsQuery),
    responses((status = 200, body = MetricsPage), (status = 400, body = crate::error::ErrorBody)))]
pub async fn metrics(
    req: actix_web::HttpRequest,
    _reader: Reader,
    store: web::Data<dyn RecordStore>,
    q: web::Query<MetricsQuery>,
) -> ApiResult<HttpResponse> {
    let filter = MetricsFilter {
        since_ns: q.since.as_deref().map(|s| parse_time(s, "since")).transpose()?,
        until_ns: q.until.as_deref().map(|s| parse_time(s, "until")).transpose()?,
        sensor: q.sensor.clone(),
    };
    let (limit, offset) = (q.limit.unwrap_or(100).min(10_000), q.offset.unwrap_or(0));
    let fields = crate::routes::fields_of(q.fields.as_deref(), crate::routes::WINDOW_FIELDS, true)?;
    let page = web::block(move || store.metrics(&filter, offset, limit)).await??;
    let body = crate::routes::page_json(&page, fields.as_deref())?;
    Ok(crate::routes::paged(&req, &body, page.total, offset, limit))
}

/// Query of `GET /api/series` (documentation: the handler reads the query string itself, so
/// that `metric` may repeat).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct SeriesQueryDoc {
    /// A metric of the window records (`packets_per_s`, `tcp_syn`, …): repeat it, or separate
    /// names with commas, for up to 8 (default `packets_per_s`).
    metric: Option<String>,
    /// From: RFC 3339 or nanoseconds since the epoch (default: the first window).
    since: Option<String>,
    /// Until (default: the end of the last window).
    until: Option<String>,
    /// Step: a duration (`1m`, `1h`) or nanoseconds (default: about 1,000 points, a whole number
    /// of windows); at most 2,000 points.
    step: Option<String>,
    /// Only this sensor's windows (a fleet's store).
    sensor: Option<String>,
}

/// Window metrics downsampled for charts: one point per step, each metric combined as it says
/// (`aggregate`: `sum` for counts, `mean` for rates, means and entropies, `max` for distinct
/// counts and peaks); at most 2,000 points and 8 metrics, so a week of 1 s windows is one
/// answer of bounded size.
#[utoipa::path(get, path = "/api/series", security(("bearer" = [])), tag = "metrics", params(SeriesQueryDoc),
    responses((status = 200, body = nta_store::Series), (status = 400, body = crate::error::ErrorBody)))]
pub async fn series(
    _reader: Reader,
    store: web::Data<dyn RecordStore>,
    q: web::Query<Vec<(String, String)>>,
) -> ApiResult<HttpResponse> {
    let mut query = SeriesQuery { metrics: Vec::new(), since_ns: None, until_ns: None, step_ns: None, sensor: None };
    for (k, v) in q.into_inner() {
        match k.as_str() {
            "metric" => {
                for name in v.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                    let m = name.parse::<Metric>().map_err(|e| ApiError::bad("bad_query", e.to_string()))?;
                    if !query.metrics.contains(&m) {
                        query.metrics.push(m);
                    }
                }
            }
            "since" => query.since_ns = Some(parse_time(&v, "since")?),
            "until" => query.until_ns = Some(parse_time(&v, "until")?),
            "step" => query.step_ns = Some(step_of(&v)?),
            "sensor" => query.sensor = Some(v),
            other => {
                return Err(ApiError::bad(
                    "bad_query",
                    format!("unknown parameter {other:?}: expected metric, since, until, step or sensor"),
                ));
            }
        }
    }
    if query.metrics.is_empty() {
        query.metrics.push(Metric::PacketsPerS);
    }
    if query.metrics.len() > nta_store::MAX_SERIES_METRICS {
        return Err(ApiError::bad("bad_query", format!("at most {} metrics", nta_store::MAX_SERIES_METRICS)));
    }
    let s = web::block(move || store.series(&query)).await??;
    Ok(HttpResponse::Ok().json(s))
}

/// `1m`, `250ms` or nanoseconds.
fn step_of(v: &str) -> ApiResult<i64> {
    if let Ok(ns) = v.parse::<i64>() {
        return if ns > 0 { Ok(ns) } else { Err(ApiError::bad("bad_query", "step must be positive")) };
    }
    let d = humantime::parse_duration(v).map_err(|e| ApiError::bad("bad_query", format!("step {v:?}: {e}")))?;
    i64::try_from(d.as_nanos())
        .ok()
        .filter(|ns| *ns > 0)
        .ok_or_else(|| ApiError::bad("bad_query", format!("step {v:?}: out of range")))
}
