//! `GET /api/openapi.json`: the OpenAPI 3.1 document, generated from the handlers'
//! `#[utoipa::path]` attributes and the `ToSchema` derives of the types they exchange (the
//! library crates' records derive it under their `openapi` feature). A test checks that every
//! route of `routes::configure` is documented and every documented operation is routed.

use crate::routes::{anomalies, control, events, flows, jobs, metrics, models, server, uploads};
use std::sync::OnceLock;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "nta-api",
        description = "REST backend of nta: captures in, per-window traffic metrics, models and \
                       explained anomalies out. Errors are `{\"error\": {\"code\", \"message\"}}`. \
                       Mutating operations need `Authorization: Bearer <NTA_API_TOKEN>` when the \
                       server has a token."
    ),
    paths(
        server::health,
        server::status,
        anomalies::anomalies,
        anomalies::anomaly_summary,
        anomalies::anomaly,
        metrics::metrics,
        metrics::series,
        flows::flows,
        models::models,
        models::baselines,
        uploads::upload,
        models::train,
        anomalies::detect,
        jobs::jobs,
        jobs::job,
        jobs::cancel_job,
        control::control_start,
        control::control_stop,
        control::control_state,
        server::document,
        events::events,
        server::prometheus,
    ),
    modifiers(&Bearer),
    tags(
        (name = "server", description = "Liveness and status"),
        (name = "captures", description = "Capture uploads"),
        (name = "metrics", description = "Per-window traffic metrics"),
        (name = "flows", description = "Flow records (the connection log)"),
        (name = "models", description = "Isolation Forest models"),
        (name = "anomalies", description = "Detection and the anomaly store"),
        (name = "jobs", description = "Long work: progress and cancellation"),
        (name = "control", description = "Processing a capture end to end"),
    )
)]
pub(crate) struct ApiDoc;

/// The `bearer` security scheme the mutating operations name.
struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document as JSON, built once.
pub(crate) fn json() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| ApiDoc::openapi().to_json().unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}")))
}
