//! `GET /api/events`: Server-Sent Events of what happens — jobs changing state, their
//! progress, anomalies stored — for dashboards and `curl -N`.

use crate::auth::Reader;
use crate::events::{Event, Events};
use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

routes! {
    get "/api/events" => events,
}

/// A comment line sent when nothing happened for this long, so proxies keep the connection.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// One SSE message.
fn message(name: &str, data: &str) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

/// The stream: `event: hello` at once, then every [`Event`] as `event: TYPE` with its JSON;
/// `event: lagged` with `{"skipped": N}` when this subscriber fell more than the buffer behind;
/// a `: keep-alive` comment after 15 s of quiet.
#[utoipa::path(get, path = "/api/events", tag = "server", security(("bearer" = [])),
    responses((status = 200, description = "Server-Sent Events: `event: hello`, then `job`, `progress`, `anomalies` (the data is an Event), `lagged`, and `: keep-alive` comments", content_type = "text/event-stream", body = Event)))]
pub async fn events(_reader: Reader, events: web::Data<Events>) -> HttpResponse {
    let rx = events.subscribe();
    let hello = futures_util::stream::once(async { Ok::<_, actix_web::Error>(message("hello", "{}")) });
    let rest = futures_util::stream::unfold(rx, |mut rx| async move {
        let chunk = match actix_web::rt::time::timeout(KEEP_ALIVE, rx.recv()).await {
            Ok(Ok(event)) => {
                let data = serde_json::to_string(&event).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
                message(event.name(), &data)
            }
            Ok(Err(RecvError::Lagged(skipped))) => message("lagged", &format!("{{\"skipped\":{skipped}}}")),
            Ok(Err(RecvError::Closed)) => return None,
            Err(_) => Bytes::from_static(b": keep-alive\n\n"),
        };
        Some((Ok::<_, actix_web::Error>(chunk), rx))
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("cache-control", "no-cache"))
        .insert_header(("x-accel-buffering", "no"))
        .streaming(futures_util::StreamExt::chain(hello, rest))
}
