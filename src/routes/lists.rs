//! Do-not-call lists: `GET /lists`, `GET /lists/lookup?phone=`, `PUT /lists/{name}` (the
//! file as the body; `?downloaded_at=YYYY-MM-DD`, default today), `POST
//! /lists/{name}/changes` (an FTC change list). A load runs on the
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
        )
        .service(web::resource("/lists/{name}/contents").route(web::delete().to(empty)))
        .service(
            web::resource("/lists/{name}/changes")
                .app_data(web::PayloadConfig::new(LIST_MAX_BYTES))
                .route(web::post().to(changes)),
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
    let downloaded_at = downloaded_at(&state, &q)?.unwrap_or_else(|| today(&state));
    let (lists, now, shown) = (state.lists.clone(), state.clock.now(), name.clone());
    let source = format!("upload via the API ({} bytes)", body.len());
    let (meta, report) =
        web::block(move || lists.replace(&name, body.as_ref(), &source, downloaded_at, now))
            .await
            .map_err(ApiError::internal)?
            .map_err(refused)?;
    Ok(HttpResponse::Ok().json(json!({
        "name": shown,
        "version": meta.version,
        "count": meta.count,
        "prefixes": meta.prefixes,
        "downloaded_at": meta.downloaded_at,
        "sha256": meta.sha256,
        "invalid": report.invalid,
        "invalid_lines": report.invalid_lines,
    })))
}

/// An FTC change list applied to the version in force, as a new version.
async fn changes(
    state: web::Data<AppState>,
    name: web::Path<String>,
    q: Query,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let downloaded_at = downloaded_at(&state, &q)?;
    let (lists, now, shown) = (state.lists.clone(), state.clock.now(), name.clone());
    let source = format!("change list via the API ({} bytes)", body.len());
    let (meta, c) =
        web::block(move || lists.apply_changes(&name, body.as_ref(), &source, downloaded_at, now))
            .await
            .map_err(ApiError::internal)?
            .map_err(refused)?;
    Ok(HttpResponse::Ok().json(json!({
        "name": shown,
        "version": meta.version,
        "count": meta.count,
        "added": c.added,
        "deleted": c.deleted,
        "invalid": c.report.invalid,
        "invalid_lines": c.report.invalid_lines,
    })))
}

/// Empties a list (a new version with no entry).
async fn empty(
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let (lists, now, shown) = (state.lists.clone(), state.clock.now(), name.clone());
    let meta = web::block(move || lists.empty(&name, now))
        .await
        .map_err(ApiError::internal)?
        .map_err(refused)?;
    Ok(HttpResponse::Ok().json(json!({"name": shown, "version": meta.version, "count": 0})))
}

fn refused(e: ReplaceError) -> ApiError {
    match e {
        ReplaceError::NoSuchList(n) => ApiError::NotFound(format!("no list `{n}` is configured")),
        ReplaceError::Load(LoadError::Refused { why, report }) => ApiError::Invalid {
            message: format!("refused, the list keeps its previous version: {why}"),
            errors: report
                .invalid_lines
                .iter()
                .map(|l| json!({"line": l.line, "text": l.text, "error": l.error}))
                .collect(),
        },
        ReplaceError::Load(LoadError::Io(e)) | ReplaceError::Storage(e) => ApiError::storage(e),
    }
}

/// `?downloaded_at=YYYY-MM-DD`, not after today.
fn downloaded_at(state: &AppState, q: &Query) -> Result<Option<chrono::NaiveDate>, ApiError> {
    let Some(d) = q
        .get("downloaded_at")
        .map(|d| d.trim())
        .filter(|d| !d.is_empty())
    else {
        return Ok(None);
    };
    let date = crate::stats::range::parse_date("downloaded_at", d).map_err(ApiError::BadRequest)?;
    if date > today(state) {
        return Err(ApiError::BadRequest(
            "`downloaded_at` is in the future".into(),
        ));
    }
    Ok(Some(date))
}
