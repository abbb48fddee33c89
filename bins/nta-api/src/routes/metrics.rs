//! `GET /api/metrics`: the window records of the last capture processed.

use crate::auth::Reader;
use crate::error::ApiResult;
use crate::routes::parse_time;
use actix_web::{HttpResponse, web};
use nta_store::{MetricsFilter, MetricsPage, RecordStore};
use serde::Deserialize;
use utoipa::IntoParams;

routes! {
    get "/api/metrics" => metrics,
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
    let page = web::block(move || store.metrics(&filter, offset, limit)).await??;
    Ok(HttpResponse::Ok().json(page))
}
