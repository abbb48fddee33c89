//! `/api/jobs`: the jobs kept, one job, and cancelling one.

use crate::auth::Auth;
use crate::auth::Reader;
use crate::error::{ApiError, ApiResult};
use crate::jobs::{JobView, Jobs};
use actix_web::{HttpRequest, HttpResponse, web};

routes! {
    get "/api/jobs" => jobs,
    get "/api/jobs/{id}" => job,
    delete "/api/jobs/{id}" => cancel_job,
}

/// The jobs kept (active ones and the last finished ones), oldest first, without results.
#[utoipa::path(get, path = "/api/jobs", security(("bearer" = [])), tag = "jobs", responses((status = 200, body = Vec<JobView>)))]
pub async fn jobs(_reader: Reader, jobs: web::Data<Jobs>) -> HttpResponse {
    HttpResponse::Ok().json(jobs.all())
}

/// A job: state, progress (bytes done / total), result or error.
#[utoipa::path(get, path = "/api/jobs/{id}", security(("bearer" = [])), tag = "jobs", params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = JobView), (status = 404, body = crate::error::ErrorBody)))]
pub async fn job(_reader: Reader, jobs: web::Data<Jobs>, id: web::Path<String>) -> ApiResult<HttpResponse> {
    jobs.get(&id).map(|j| HttpResponse::Ok().json(j)).ok_or_else(|| ApiError::not_found(format!("no job {id}")))
}

/// Cancels a queued or running job: it stops within a batch of packets, a tree or a block of
/// rows, and writes nothing.
#[utoipa::path(delete, path = "/api/jobs/{id}", tag = "jobs", security(("bearer" = [])),
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = JobView), (status = 401, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)))]
pub async fn cancel_job(
    req: HttpRequest,
    auth: web::Data<Auth>,
    jobs: web::Data<Jobs>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    auth.check(&req)?;
    jobs.cancel(&id).map(|j| HttpResponse::Ok().json(j)).ok_or_else(|| ApiError::not_found(format!("no job {id}")))
}
