//! [`ApiError`]: the one error type of the server, rendered as
//! `{"error": {"code", "message"}}` with its status; library errors convert into it.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

/// The result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// An answer with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into() }
    }

    /// 400 with `code`.
    pub fn bad(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 500 `internal`.
    pub fn internal(e: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut r = HttpResponse::build(self.status);
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            r.insert_header(("retry-after", "5"));
        }
        r.json(ErrorBody { error: ErrorDetail { code: self.code.to_owned(), message: self.message.clone() } })
    }
}

impl From<nta_store::Error> for ApiError {
    fn from(e: nta_store::Error) -> ApiError {
        use nta_store::Error as E;
        match &e {
            E::Name { .. } => ApiError::bad("bad_request", e.to_string()),
            E::NotFound { what: "model", .. } => ApiError::new(StatusCode::NOT_FOUND, "unknown_model", e.to_string()),
            E::NotFound { .. } => ApiError::not_found(e.to_string()),
            E::Cancelled => ApiError::new(StatusCode::CONFLICT, "cancelled", e.to_string()),
            E::Backend { .. } => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", e.to_string()),
            E::Query { .. } => ApiError::bad("bad_query", e.to_string()),
            _ => ApiError::internal(e),
        }
    }
}

impl From<nta_live::LiveError> for ApiError {
    /// 501 `not_built` without libpcap, 403 `forbidden` without capture privileges, 400 else.
    fn from(e: nta_live::LiveError) -> ApiError {
        use nta_live::LiveError as E;
        match e {
            E::NotBuilt => ApiError::new(StatusCode::NOT_IMPLEMENTED, "not_built", e.to_string()),
            E::Permission { .. } => ApiError::new(StatusCode::FORBIDDEN, "forbidden", e.to_string()),
            e => ApiError::bad("bad_request", e.to_string()),
        }
    }
}

impl From<nta_ml::Error> for ApiError {
    fn from(e: nta_ml::Error) -> ApiError {
        ApiError::bad("bad_request", e.to_string())
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> ApiError {
        ApiError::internal(e)
    }
}

impl From<crate::jobs::Busy> for ApiError {
    fn from(b: crate::jobs::Busy) -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            format!("the job queue is full ({} waiting): try again later", b.queued),
        )
    }
}

/// Every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `bad_query`, `bad_json`, `bad_request`, `unauthorized`,
    /// `not_found`, `unknown_model`, `too_large`, `not_a_capture`, `bad_capture`,
    /// `bad_multipart`, `no_file`, `upload_timeout`, `busy`, `conflict`, `job_failed`,
    /// `cancelled`, `internal`.
    #[schema(example = "not_found")]
    pub code: String,
    /// For people.
    pub message: String,
}
