//! `GET /api/flows`: the flow records of the last capture analysed, filtered — by time, host,
//! port, Community ID, or by an anomaly or incident ("the connections of this incident").

use crate::auth::Reader;
use crate::error::{ApiError, ApiResult};
use crate::routes::parse_time;
use actix_web::{HttpResponse, web};
use nta_store::{FlowFilter, FlowPage, RecordStore};
use serde::Deserialize;
use utoipa::IntoParams;

routes! {
    get "/api/flows" => flows,
}

/// Query of `GET /api/flows`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FlowQuery {
    /// The flows of this anomaly or incident (by id): active in its time, between its
    /// attackers and victims. The other filters narrow it further.
    anomaly: Option<String>,
    /// Flows whose last packet is at or after this: RFC 3339 or nanoseconds since the epoch.
    since: Option<String>,
    /// Flows whose first packet is before this.
    until: Option<String>,
    /// Flows with this address at either end.
    #[param(value_type = Option<String>)]
    ip: Option<std::net::IpAddr>,
    /// Flows with this port at either end.
    port: Option<u16>,
    /// Flows with this Community ID.
    community_id: Option<String>,
    /// Only this sensor's flows (a fleet's store).
    sensor: Option<String>,
    /// Items per page (default 100, at most 1000).
    limit: Option<usize>,
    /// Items skipped (default 0).
    offset: Option<usize>,
}

/// Flow records of `logs/flows.jsonl` (written by an analysis), in the order their flows
/// ended, filtered and paged.
#[utoipa::path(get, path = "/api/flows", security(("bearer" = [])), tag = "flows", params(FlowQuery),
    responses((status = 200, body = FlowPage), (status = 400, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)))]
pub async fn flows(
    req: actix_web::HttpRequest,
    _reader: Reader,
    store: web::Data<dyn RecordStore>,
    q: web::Query<FlowQuery>,
) -> ApiResult<HttpResponse> {
    let since = q.since.as_deref().map(|s| parse_time(s, "since")).transpose()?;
    let until = q.until.as_deref().map(|s| parse_time(s, "until")).transpose()?;
    let (limit, offset) = (q.limit.unwrap_or(100).min(1000), q.offset.unwrap_or(0));
    let q = q.into_inner();
    let page = web::block(move || -> ApiResult<FlowPage> {
        let mut filter = match &q.anomaly {
            None => FlowFilter::default(),
            Some(id) => {
                store.flows_of(id)?.ok_or_else(|| ApiError::not_found(format!("no anomaly or incident {id}")))?
            }
        };
        filter.since_ns = since.or(filter.since_ns);
        filter.until_ns = until.or(filter.until_ns);
        if let Some(ip) = q.ip {
            filter.ips = vec![ip];
        }
        filter.port = q.port;
        filter.community_id = q.community_id;
        if q.sensor.is_some() {
            filter.sensor = q.sensor;
        }
        Ok(store.flows(&filter, offset, limit)?)
    })
    .await??;
    let body = serde_json::to_value(&page).map_err(ApiError::internal)?;
    Ok(crate::routes::paged(&req, &body, page.total, offset, limit))
}
