//! `GET /api/models`, `GET /api/baselines` and `POST /api/train`.

use crate::Limits;
use crate::auth::Auth;
use crate::auth::Reader;
use crate::error::ApiResult;
use crate::jobs::{JobResult, Jobs};
use crate::routes::{DEFAULT_WINDOW_NS, answer, window_of};
use actix_web::{HttpRequest, HttpResponse, web};
use nta_ml::ModelInfo;
use nta_store::{FileStore, records_of};
use serde::Deserialize;
use utoipa::ToSchema;

routes! {
    get "/api/models" => models,
    get "/api/baselines" => baselines,
    post "/api/train" => train,
}

/// The model files in `data/models`, sorted by name (unreadable ones with their error).
#[utoipa::path(get, path = "/api/models", security(("bearer" = [])), tag = "models", responses((status = 200, body = Vec<ModelInfo>)))]
pub async fn models(_reader: Reader, store: web::Data<FileStore>) -> ApiResult<HttpResponse> {
    let list = web::block(move || store.models()).await??;
    Ok(HttpResponse::Ok().json(list))
}

/// The baselines in `data/baselines`, sorted by name (a model's baseline has its name;
/// unreadable ones with their error).
#[utoipa::path(get, path = "/api/baselines", security(("bearer" = [])), tag = "models", responses((status = 200, body = Vec<nta_store::BaselineInfo>)))]
pub async fn baselines(_reader: Reader, store: web::Data<FileStore>) -> ApiResult<HttpResponse> {
    let list = web::block(move || store.baselines()).await??;
    Ok(HttpResponse::Ok().json(list))
}

/// Body of `POST /api/train`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainRequest {
    /// Model name: letters, digits, `-`, `_`, `.` (saved as `data/models/<name>.json`).
    #[schema(example = "office")]
    name: String,
    /// Train on this upload (extracted first); without it, on `logs/metrics.jsonl`.
    upload_id: Option<String>,
    /// Window length when extracting an upload (default `10s`).
    #[schema(example = "10s")]
    window: Option<String>,
    /// Trees (default 100).
    n_estimators: Option<usize>,
    /// `auto`, an integer, or a fraction in (0, 1].
    max_samples: Option<String>,
    /// `auto` or a fraction in (0, 0.5].
    contamination: Option<String>,
    /// Random seed (default 0).
    seed: Option<u64>,
}

/// Trains a model: the model's metadata when done within a second, else the job to follow.
///
/// The job extracts the upload (or reads the stored metrics), trains and saves the model.
/// Two trainings of one name may run at once: each writes a complete file, the last wins.
#[utoipa::path(post, path = "/api/train", tag = "models", security(("bearer" = [])), request_body = TrainRequest,
    responses(
        (status = 200, description = "done: the job, its result the model's metadata", body = crate::jobs::JobView),
        (status = 202, description = "still running: follow the job", body = crate::routes::Accepted),
        (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody),
        (status = 404, description = "unknown upload", body = crate::error::ErrorBody),
        (status = 422, description = "the training failed (e.g. no usable window)", body = crate::error::ErrorBody),
        (status = 503, description = "the job queue is full", body = crate::error::ErrorBody)))]
pub async fn train(
    req: HttpRequest,
    auth: web::Data<Auth>,
    store: web::Data<FileStore>,
    jobs: web::Data<Jobs>,
    limits: web::Data<Limits>,
    reading: web::Data<nta_metrics::Reading>,
    body: web::Json<TrainRequest>,
) -> ApiResult<HttpResponse> {
    auth.check(&req)?;
    let b = body.into_inner();
    let layout = store.layout().clone();
    layout.model_path(&b.name)?;
    let mut params = nta_ml::ForestParams::default();
    if let Some(n) = b.n_estimators {
        params.n_estimators = n;
    }
    if let Some(m) = &b.max_samples {
        params.max_samples = m.parse()?;
    }
    if let Some(c) = &b.contamination {
        params.contamination = c.parse()?;
    }
    params.random_state = b.seed.unwrap_or(0);
    // Every parameter within its bounds before any work starts (400 with the limit).
    params.validate()?;
    let source = b.upload_id.as_deref().map(|id| layout.upload_path(id)).transpose()?;
    let window = b.window.as_deref().map(window_of).transpose()?.unwrap_or(DEFAULT_WINDOW_NS);
    let reading = **reading;
    let id = jobs.spawn("train", move |h| {
        let r = records_of(&layout, source.as_deref(), window, reading, &h.progress(), &h.cancel)?;
        let mut outcome = nta_store::train(&layout, &b.name, &r.records, &params, &h.cancel)?;
        outcome.warnings = r.warnings;
        Ok(JobResult::Model(outcome))
    })?;
    answer(&jobs, &id, limits.sync_wait).await
}
