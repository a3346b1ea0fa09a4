//! The ops console: a static single-page app under `/console`, its files embedded in the
//! binary (no CDN, no network, no Node build step). It talks to the admin API with the key
//! the operator types, kept in the browser's `sessionStorage` and sent as `X-API-Key`; the
//! server keeps no console state. `/` redirects here.
//!
//! The files live in `console/` at the repository root: `index.html`, `app.css`, the
//! modules under `js/` and the vendored chart library under `vendor/uplot/` (with its
//! licence and `VENDORED.md`). Each answer carries a strong `ETag` (a conditional request
//! gets a 304), `Cache-Control: no-cache`, and, for the page, a Content-Security-Policy that
//! allows this origin's scripts, styles and API only.

use std::sync::OnceLock;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

use crate::routes::ApiError;

struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $type:expr) => {
        Asset {
            path: $path,
            content_type: $type,
            body: include_bytes!(concat!("../console/", $path)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

static ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("js/api.js", JS),
    asset!("js/dom.js", JS),
    asset!("js/app.js", JS),
    asset!("js/today.js", JS),
    asset!("js/statistics.js", JS),
    asset!("js/charts.js", JS),
    asset!("js/flags.js", JS),
    asset!("js/flag_forms.js", JS),
    asset!("js/lookup.js", JS),
    asset!("js/caller_ids.js", JS),
    asset!("js/settings.js", JS),
    asset!("js/forms.js", JS),
    asset!("vendor/uplot/uPlot.iife.min.js", JS),
    asset!("vendor/uplot/uPlot.min.css", "text/css; charset=utf-8"),
    asset!("vendor/uplot/LICENSE", "text/plain; charset=utf-8"),
];

/// Scripts, styles, images and API calls from this origin only; no frames, no plugins, no
/// form posts elsewhere. uPlot sizes its canvas through the CSSOM, which a CSP allows.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
                   connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn etags() -> &'static [String] {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                let digest = Sha256::digest(a.body);
                let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
                format!("\"{hex}\"")
            })
            .collect()
    })
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/").route(web::get().to(root)))
        .service(
            web::resource("/console")
                .route(web::get().to(page))
                .route(web::head().to(page)),
        )
        .service(
            web::resource("/console/{path:.*}")
                .route(web::get().to(file))
                .route(web::head().to(file)),
        );
}

async fn root() -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, "/console"))
        .finish()
}

async fn page(req: HttpRequest) -> HttpResponse {
    serve(&req, 0)
}

async fn file(req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let path = path.into_inner();
    if path.is_empty() {
        return Ok(serve(&req, 0));
    }
    match ASSETS.iter().position(|a| a.path == path) {
        Some(i) => Ok(serve(&req, i)),
        None => Err(ApiError::NotFound(format!("no console file {path:?}"))),
    }
}

fn serve(req: &HttpRequest, i: usize) -> HttpResponse {
    let asset = &ASSETS[i];
    let etag = &etags()[i];
    let mut answer = if fresh(req, etag) {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    answer
        .insert_header((header::ETAG, etag.as_str()))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"));
    if asset.path == "index.html" {
        answer
            .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
            .insert_header((header::X_FRAME_OPTIONS, "DENY"));
    }
    if fresh(req, etag) {
        return answer.finish();
    }
    answer.content_type(asset.content_type).body(asset.body)
}

fn fresh(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_under_console_is_embedded() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("console");
        let mut on_disk = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("console dir") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.file_name().is_some_and(|n| n != "VENDORED.md") {
                    let rel = path.strip_prefix(&root).expect("under root");
                    on_disk.push(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        on_disk.sort();
        let mut embedded: Vec<String> = ASSETS.iter().map(|a| a.path.to_string()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded, "console/ and ASSETS differ");
    }

    #[test]
    fn etags_differ_per_file() {
        let tags = etags();
        let unique: std::collections::HashSet<_> = tags.iter().collect();
        assert_eq!(unique.len(), tags.len());
    }
}
