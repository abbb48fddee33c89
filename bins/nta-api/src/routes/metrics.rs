//! `GET /api/metrics`: the window records of the last capture processed.

use crate::auth::Reader;
use crate::error::ApiResult;
use crate::routes::parse_time;
use actix_web::{HttpResponse, web};
use nta_store::{FileStore, MetricsPage};
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
    /// Items per page (default 100, at most 10000).
    limit: Option<usize>,
    /// Items skipped (default 0).
    offset: Option<usize>,
}

/// Window records of `logs/metrics.jsonl` (the last capture processed), filtered by time.
#[utoipa::path(get, path = "/api/metrics", security(("bearer" = [])), tag = "metrics", params(MetricsQuery),
    responses((status = 200, body = MetricsPage), (status = 400, body = crate::error::ErrorBody)))]
pub async fn metrics(
    _reader: Reader,
    store: web::Data<FileStore>,
    q: web::Query<MetricsQuery>,
) -> ApiResult<HttpResponse> {
    let since = q.since.as_deref().map(|s| parse_time(s, "since")).transpose()?;
    let until = q.until.as_deref().map(|s| parse_time(s, "until")).transpose()?;
    let (limit, offset) = (q.limit.unwrap_or(100).min(10_000), q.offset.unwrap_or(0));
    let page = web::block(move || store.metrics_page(since, until, offset, limit)).await??;
    Ok(HttpResponse::Ok().json(page))
}
