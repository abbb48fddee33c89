//! [`Auth`]: the bearer token that guards mutating endpoints.

use crate::error::{ApiError, ApiResult};
use actix_web::HttpRequest;
use actix_web::http::StatusCode;

/// The server's token, if it has one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Auth {
    /// `NTA_API_TOKEN`; `None` lets everyone change things (loopback only).
    pub token: Option<String>,
}

impl Auth {
    /// Passes when no token is set, or the request carries `Authorization: Bearer <token>`.
    pub fn check(&self, req: &HttpRequest) -> ApiResult<()> {
        let Some(token) = &self.token else { return Ok(()) };
        let given =
            req.headers().get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        if given == Some(token.as_str()) {
            Ok(())
        } else {
            Err(ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "a valid bearer token is required"))
        }
    }
}
