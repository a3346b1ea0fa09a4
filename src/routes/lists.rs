//! Do-not-call lists: `GET /lists`, `GET /lists/lookup?phone=`, `PUT /lists/{name}` (the
//! file as the body; `?downloaded_at=YYYY-MM-DD`, default today). A load runs on the
//! blocking pool; the version in force answers until the new one is complete.

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::error::ApiError;
use super::params::Query;
use super::AppState;
use crate::domain::PhoneNumber;
use crate::lists::parse::LoadError;
use crate::lists::store::ReplaceError;

/// Largest list body through the API (the offline `callgate lists import` streams any size).
pub const LIST_MAX_BYTES: usize = 64 * 1024 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/lists").route(web::get().to(list)))
        .service(web::resource("/lists/lookup").route(web::get().to(lookup)))
        .service(
            web::resource("/lists/{name}")
                .app_data(web::PayloadConfig::new(LIST_MAX_BYTES))
                .route(web::put().to(replace)),
        );
}

fn today(state: &AppState) -> chrono::NaiveDate {
    crate::clock::business_date(state.clock.now(), state.settings.timezone)
}

async fn list(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"lists": state.lists.views(today(&state))}))
}

async fn lookup(state: web::Data<AppState>, q: Query) -> Result<HttpResponse, ApiError> {
    let Some(text) = q.get("phone").filter(|p| !p.trim().is_empty()) else {
        return Err(ApiError::BadRequest("`phone` is required".into()));
    };
    let phone = PhoneNumber::parse(text.trim(), &state.settings.default_country)
        .map_err(|e| ApiError::BadRequest(format!("`phone`: {e}")))?;
    Ok(HttpResponse::Ok().json(json!({
        "phone": phone.as_str(),
        "lists": state.lists.lookup(phone.as_str()),
    })))
}

async fn replace(
    state: web::Data<AppState>,
    name: web::Path<String>,
    q: Query,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    if state.lists.settings(&name).is_none() {
        return Err(ApiError::NotFound(format!(
            "no list `{name}` is configured"
        )));
    }
    let downloaded_at = match q
        .get("downloaded_at")
        .map(|d| d.trim())
        .filter(|d| !d.is_empty())
    {
        None => today(&state),
        Some(d) => {
            crate::stats::range::parse_date("downloaded_at", d).map_err(ApiError::BadRequest)?
        }
    };
    if downloaded_at > today(&state) {
        return Err(ApiError::BadRequest(
            "`downloaded_at` is in the future".into(),
        ));
    }
    let now = state.clock.now();
    let lists = state.lists.clone();
    let shown = name.clone();
    let source = format!("upload via the API ({} bytes)", body.len());
    let loaded =
        web::block(move || lists.replace(&name, body.as_ref(), &source, downloaded_at, now))
            .await
            .map_err(ApiError::internal)?;
    match loaded {
        Ok((meta, report)) => Ok(HttpResponse::Ok().json(json!({
            "name": shown,
            "version": meta.version,
            "count": meta.count,
            "prefixes": meta.prefixes,
            "downloaded_at": meta.downloaded_at,
            "sha256": meta.sha256,
            "invalid": report.invalid,
            "invalid_lines": report.invalid_lines,
        }))),
        Err(ReplaceError::NoSuchList(n)) => {
            Err(ApiError::NotFound(format!("no list `{n}` is configured")))
        }
        Err(ReplaceError::Load(LoadError::Refused { why, report })) => Err(ApiError::Invalid {
            message: format!("refused, the list keeps its previous version: {why}"),
            errors: report
                .invalid_lines
                .iter()
                .map(|l| json!({"line": l.line, "text": l.text, "error": l.error}))
                .collect(),
        }),
        Err(ReplaceError::Load(LoadError::Io(e)) | ReplaceError::Storage(e)) => {
            Err(ApiError::storage(e))
        }
    }
}
