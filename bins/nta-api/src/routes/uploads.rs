//! `POST /api/upload`: a capture streamed to `data/uploads/`, checked, kept under a
//! server-chosen id. A body that stalls longer than the idle limit is dropped with its part
//! file; a failed upload leaves nothing behind.

use crate::Limits;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::{Stream, StreamExt};
use nta_capture::CaptureReader;
use nta_store::FileStore;
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;
use utoipa::ToSchema;

routes! {
    post "/api/upload" => upload,
}

/// What an upload became.
#[derive(Debug, Serialize, ToSchema)]
pub struct Uploaded {
    /// Server-chosen id (16 hex digits): `upload_id` of train, detect and control/start.
    id: String,
    /// Bytes stored.
    size: u64,
    /// `pcap`, `pcap-ns`, `pcapng`, ... (gzip-compressed forms included).
    format: String,
    packets: u64,
    /// Reader warnings (e.g. a last packet cut short).
    warnings: Vec<String>,
}

/// The multipart form of `POST /api/upload` (documentation only: the body is streamed).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// The capture (pcap or pcapng, optionally gzip-compressed); the first part with a file
    /// name is used, other parts are ignored.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Removes the partial file on every early return.
struct Cleanup(PathBuf, bool);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if !self.1 {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

/// The next item of a multipart stream, or 408 when the client sends nothing for `idle`.
async fn next_within<S, T>(s: &mut S, idle: std::time::Duration) -> ApiResult<Option<T>>
where
    S: Stream<Item = Result<T, actix_multipart::MultipartError>> + Unpin,
{
    match actix_web::rt::time::timeout(idle, s.next()).await {
        Ok(Some(Ok(x))) => Ok(Some(x)),
        Ok(Some(Err(e))) => Err(ApiError::bad("bad_multipart", e.to_string())),
        Ok(None) => Ok(None),
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "upload_timeout",
            format!("the upload sent nothing for {} s", idle.as_secs_f64()),
        )),
    }
}

/// Uploads a capture, streamed to `data/uploads/` and validated.
///
/// The first multipart part with a file name is streamed to disk (never held in memory),
/// checked by magic number and read through once; a bad or stalled upload leaves nothing
/// behind.
#[utoipa::path(post, path = "/api/upload", tag = "captures", security(("bearer" = [])),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = Uploaded),
        (status = 400, description = "no file part, bad multipart, or a capture broken before its first packet", body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody),
        (status = 408, description = "the body stalled longer than the idle limit", body = crate::error::ErrorBody),
        (status = 413, description = "over the size limit (from Content-Length when given)", body = crate::error::ErrorBody),
        (status = 415, description = "not a pcap or pcapng file", body = crate::error::ErrorBody)))]
pub async fn upload(
    req: HttpRequest,
    auth: web::Data<Auth>,
    store: web::Data<FileStore>,
    limits: web::Data<Limits>,
    mut payload: Multipart,
) -> ApiResult<HttpResponse> {
    auth.check(&req)?;
    let too_big = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("uploads are limited to {} bytes", limits.max_upload),
        )
    };
    if let Some(len) =
        req.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok())
        && len > limits.max_upload + 64 * 1024
    {
        return Err(too_big());
    }
    let layout = store.layout();
    let dir = layout.uploads_dir();
    std::fs::create_dir_all(&dir).map_err(ApiError::internal)?;
    let id = nta_store::new_id();
    let part = layout.upload_part_path(&id)?;
    let mut guard = Cleanup(part.clone(), false);
    let mut size = 0u64;
    let mut got_file = false;
    while let Some(mut field) = next_within(&mut payload, limits.upload_idle).await? {
        if got_file || field.content_disposition().and_then(|d| d.get_filename()).is_none() {
            // Other parts (form fields) are drained and ignored.
            while next_within(&mut field, limits.upload_idle).await?.is_some() {}
            continue;
        }
        got_file = true;
        let mut file = std::fs::File::create(&part).map_err(ApiError::internal)?;
        while let Some(chunk) = next_within(&mut field, limits.upload_idle).await? {
            size += chunk.len() as u64;
            if size > limits.max_upload {
                return Err(too_big());
            }
            file.write_all(&chunk).map_err(ApiError::internal)?;
        }
        file.sync_all().map_err(ApiError::internal)?;
    }
    if !got_file {
        return Err(ApiError::bad("no_file", "the multipart body has no file part"));
    }
    // Read it through once, off the executor: format, packets, warnings.
    let check = part.clone();
    let read = web::block(move || -> Result<(String, u64, Vec<String>, Option<String>), nta_capture::Error> {
        let mut r = CaptureReader::open(&check)?;
        let mut err = None;
        loop {
            match r.next_packet() {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => {
                    err = Some(e.to_string());
                    break;
                }
            }
        }
        let warnings = r.stats().warnings.iter().map(ToString::to_string).collect();
        Ok((r.format().short_name().to_owned(), r.stats().packets, warnings, err))
    })
    .await?;
    let (format, packets, mut warnings, error) = match read {
        Ok(x) => x,
        Err(nta_capture::Error::NotACapture { found, .. }) => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "not_a_capture",
                format!("not a pcap or pcapng capture: {found}"),
            ));
        }
        Err(e) => return Err(ApiError::bad("bad_capture", e.to_string())),
    };
    if packets == 0
        && let Some(why) = error.clone().or_else(|| warnings.first().cloned())
    {
        // A header cut short or broken before the first packet: nothing to keep.
        return Err(ApiError::bad("bad_capture", why));
    }
    if let Some(e) = error {
        // Corrupt after good packets: kept, and said — the packets before it are what will be used.
        warnings.push(format!("{e}; the {packets} packets before it are used"));
    }
    let dest = layout.upload_final_path(&id, format.starts_with("pcapng"))?;
    std::fs::rename(&part, &dest).map_err(ApiError::internal)?;
    guard.1 = true;
    Ok(HttpResponse::Created().json(Uploaded { id, size, format, packets, warnings }))
}
