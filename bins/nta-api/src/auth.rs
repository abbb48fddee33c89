//! [`Auth`]: the bearer token that guards the API, and [`Reader`], the extractor that read
//! routes take: with a token set, reads need it too unless `open_reads` says the network is
//! trusted. `/health` and `/api/openapi.json` stay open.

use crate::error::{ApiError, ApiResult};
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, web};
use std::future::{Ready, ready};

/// The server's token, if it has one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Auth {
    /// `NTA_API_TOKEN`; `None` lets everyone in (loopback only).
    pub token: Option<String>,
    /// Reads (anomalies, metrics, models, status, jobs) without the token, for a trusted
    /// network (`--open-reads`); changes always need it.
    pub open_reads: bool,
}

impl Auth {
    /// A token is usable when it is not empty and has no whitespace (a token pasted with a
    /// trailing newline or made of spaces would be a trap).
    pub fn check_token(token: &str) -> Result<(), String> {
        if token.is_empty() || token.chars().any(char::is_whitespace) {
            return Err("NTA_API_TOKEN must be non-empty and without whitespace".into());
        }
        Ok(())
    }

    /// Passes when no token is set, or the request carries `Authorization: Bearer <token>`
    /// (the scheme in any case, RFC 7235).
    pub fn check(&self, req: &HttpRequest) -> ApiResult<()> {
        let Some(token) = &self.token else { return Ok(()) };
        let given = req.headers().get("authorization").and_then(|v| v.to_str().ok()).and_then(bearer);
        if given.is_some_and(|g| same(g.as_bytes(), token.as_bytes())) {
            Ok(())
        } else {
            Err(ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "a valid bearer token is required"))
        }
    }

    /// [`Auth::check`] unless reads are open.
    pub fn check_read(&self, req: &HttpRequest) -> ApiResult<()> {
        if self.open_reads { Ok(()) } else { self.check(req) }
    }
}

/// The credentials of `Bearer <token>`, the scheme matched without regard to case.
fn bearer(header: &str) -> Option<&str> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim_start())
}

/// Equality in time independent of where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Proof that the request may read: read routes take it as an argument.
#[derive(Clone, Copy, Debug)]
pub struct Reader;

impl FromRequest for Reader {
    type Error = ApiError;
    type Future = Ready<Result<Reader, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        ready(match req.app_data::<web::Data<Auth>>() {
            Some(auth) => auth.check_read(req).map(|()| Reader),
            None => Ok(Reader),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_in_any_case_and_tokens_without_whitespace() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer abc"), Some("abc"));
        assert_eq!(bearer("BEARER  abc"), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearerabc"), None);
        assert!(same(b"abc", b"abc") && !same(b"abc", b"abd") && !same(b"abc", b"ab"));
        assert!(Auth::check_token("s3cret").is_ok());
        for bad in ["", "   ", "tok en", "tok\n", "\ttok"] {
            assert!(Auth::check_token(bad).is_err(), "{bad:?}");
        }
    }
}
