//! The dashboard at `/`: one page, its script and its style sheet, embedded in the binary
//! (no CDN, no web font, no npm step: plain JavaScript drawing SVG, docs/API.md "Dashboard").
//! Not API operations (no OpenAPI entry); public like `/health` — the data it shows comes
//! from the API, which asks for the token when one is set.

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpResponse, web};

/// The page.
pub const INDEX_HTML: &str = include_str!("../../assets/index.html");
/// Its script, first part: names, helpers, the timeline.
pub const CHART_JS: &str = include_str!("../../assets/chart.js");
/// Its script, second part: the API, the lists, uploads, jobs, live capture.
pub const APP_JS: &str = include_str!("../../assets/app.js");
/// Its style sheet.
pub const APP_CSS: &str = include_str!("../../assets/app.css");

fn asset(body: &'static str, content_type: &str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, content_type))
        .insert_header((CACHE_CONTROL, "no-cache"))
        .insert_header(("x-content-type-options", "nosniff"))
        .insert_header((
            "content-security-policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'",
        ))
        .body(body)
}

async fn index() -> HttpResponse {
    asset(INDEX_HTML, "text/html; charset=utf-8")
}

async fn chart_js() -> HttpResponse {
    asset(CHART_JS, "text/javascript; charset=utf-8")
}

async fn app_js() -> HttpResponse {
    asset(APP_JS, "text/javascript; charset=utf-8")
}

async fn app_css() -> HttpResponse {
    asset(APP_CSS, "text/css; charset=utf-8")
}

/// Registers `/`, `/index.html` and the assets.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(index))
        .route("/index.html", web::get().to(index))
        .route("/assets/chart.js", web::get().to(chart_js))
        .route("/assets/app.js", web::get().to(app_js))
        .route("/assets/app.css", web::get().to(app_css));
}
