//! Do-not-call lists: `GET /lists`, `GET /lists/lookup?phone=`, `GET /lists/audit`
//! (proof of scrub, JSON or CSV), `PUT /lists/{name}` (the file as the body, streamed:
//! plain, FTC, CSV with a header, gzip or zip; `?downloaded_at=YYYY-MM-DD`, `?column=`),
//! `POST /lists/{name}/changes` (an FTC change list), `DELETE /lists/{name}/contents`. A
//! load runs on the blocking pool while the body streams in; the version in force answers
//! until the new one is complete.

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::error::ApiError;
use super::params::Query;
use super::upload;
use super::AppState;
use crate::domain::PhoneNumber;
use crate::lists::parse::LoadError;
use crate::lists::store::Load;
use crate::lists::ReplaceError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/lists").route(web::get().to(list)))
        .service(web::resource("/lists/lookup").route(web::get().to(lookup)))
        .service(web::resource("/lists/audit").route(web::get().to(audit)))
        .service(web::resource("/lists/{name}").route(web::put().to(replace)))
        .service(web::resource("/lists/{name}/contents").route(web::delete().to(empty)))
        .service(web::resource("/lists/{name}/changes").route(web::post().to(changes)));
}

fn today(state: &AppState) -> chrono::NaiveDate {
    crate::clock::business_date(state.clock.now(), state.settings.timezone)
}

#[utoipa::path(get, path = "/api/admin/lists", tag = "admin", summary = "The do-not-call lists", responses((status = 200, description = "done", body = super::schemas::Lists), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn list(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"lists": state.lists.views(today(&state))}))
}

#[utoipa::path(get, path = "/api/admin/lists/lookup", tag = "admin", summary = "The lists holding a number", params(("phone" = String, Query, description = "the number, any spelling")), responses((status = 200, description = "done", body = super::schemas::ListLookup), (status = 400, description = "bad input, naming the problem", body = super::openapi::ErrorBody), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
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

/// `?source=`: the uploaded file's name (kept in the version's record, and searched for a
/// download date), at most 200 characters.
fn source(q: &Query, default: &str) -> String {
    q.get("source")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map_or_else(|| default.to_string(), |s| s.chars().take(200).collect())
}

/// `?downloaded_at=` and `?column=` (the phone column of a CSV file).
fn load_options(state: &AppState, q: &Query) -> Result<Load, ApiError> {
    Ok(Load {
        downloaded_at: downloaded_at(state, q)?,
        column: q
            .get("column")
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty()),
    })
}

/// `?format=`: `auto` (the default), `ftc`, `plain`, `csv` or `changes`; the readers detect
/// the format from the content, so this only refuses a format the route does not take.
fn check_format(q: &Query, changes: bool) -> Result<(), ApiError> {
    match (
        q.get("format")
            .map(|f| f.trim().to_ascii_lowercase())
            .as_deref(),
        changes,
    ) {
        (None | Some("" | "auto"), _) => Ok(()),
        (Some("ftc" | "plain" | "csv"), false) | (Some("changes" | "ftc"), true) => Ok(()),
        (Some("changes"), false) => Err(ApiError::BadRequest(
            "a change list is POSTed to /api/admin/lists/{name}/changes".into(),
        )),
        (Some(other), _) => Err(ApiError::BadRequest(format!(
            "`format` must be auto, ftc, plain, csv or changes, not `{other}`"
        ))),
    }
}

/// The load's options, or their refusal answered once the body is read to its end.
async fn options_or_drain(
    state: &AppState,
    q: &Query,
    changes: bool,
    payload: web::Payload,
) -> Result<(Load, web::Payload), ApiError> {
    match check_format(q, changes).and_then(|()| load_options(state, q)) {
        Ok(load) => Ok((load, payload)),
        Err(e) => {
            upload::drain(payload).await;
            Err(e)
        }
    }
}

#[utoipa::path(put, path = "/api/admin/lists/{name}", tag = "admin", summary = "Replace a list with the body's file (streamed; FTC, plain, CSV; gzip or zip)", params(("name" = String, Path, description = "list name"), ("downloaded_at" = Option<String>, Query, description = "YYYY-MM-DD"), ("column" = Option<String>, Query, description = "CSV phone column"), ("format" = Option<String>, Query, description = "auto, ftc, plain, csv"), ("source" = Option<String>, Query, description = "the file's name")), request_body(content = String, content_type = "application/octet-stream", description = "the list file"), responses((status = 200, description = "done", body = super::schemas_admin::ListReplaced), (status = 400, description = "bad input, naming the problem", body = super::openapi::ErrorBody), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody), (status = 404, description = "not found", body = super::openapi::ErrorBody), (status = 409, description = "conflict with the current state", body = super::openapi::ErrorBody), (status = 413, description = "body too large", body = super::openapi::ErrorBody), (status = 503, description = "unavailable (storage, database, or the admin API off)", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn replace(
    state: web::Data<AppState>,
    name: web::Path<String>,
    q: Query,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (load, payload) = options_or_drain(&state, &q, false, payload).await?;
    let name = name.into_inner();
    let (lists, now, shown) = (state.lists.clone(), state.clock.now(), name.clone());
    let source = source(&q, "upload via the API");
    let (loaded, bytes) = upload::stream(payload, move |body| {
        lists.replace(&name, body, &source, &load, now)
    })
    .await?;
    let (meta, report) = loaded.map_err(refused)?;
    tracing::info!(list = %shown, bytes, "list upload loaded");
    Ok(HttpResponse::Ok().json(json!({
        "name": shown,
        "version": meta.version,
        "count": meta.count,
        "prefixes": meta.prefixes,
        "downloaded_at": meta.downloaded_at,
        "sha256": meta.sha256,
        "bytes": bytes,
        "invalid": report.invalid,
        "invalid_lines": report.invalid_lines,
    })))
}

/// An FTC change list applied to the version in force, as a new version.
#[utoipa::path(post, path = "/api/admin/lists/{name}/changes", tag = "admin", summary = "Apply an FTC change list", params(("name" = String, Path, description = "list name"), ("downloaded_at" = Option<String>, Query, description = "YYYY-MM-DD"), ("source" = Option<String>, Query, description = "the file's name")), request_body(content = String, content_type = "application/octet-stream", description = "the list file"), responses((status = 200, description = "done", body = super::schemas_admin::ListChanged), (status = 400, description = "bad input, naming the problem", body = super::openapi::ErrorBody), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody), (status = 404, description = "not found", body = super::openapi::ErrorBody), (status = 409, description = "conflict with the current state", body = super::openapi::ErrorBody), (status = 413, description = "body too large", body = super::openapi::ErrorBody), (status = 503, description = "unavailable (storage, database, or the admin API off)", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn changes(
    state: web::Data<AppState>,
    name: web::Path<String>,
    q: Query,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (load, payload) = options_or_drain(&state, &q, true, payload).await?;
    let name = name.into_inner();
    let (lists, now, shown) = (state.lists.clone(), state.clock.now(), name.clone());
    let source = source(&q, "change list via the API");
    let (applied, _) = upload::stream(payload, move |body| {
        lists.apply_changes(&name, body, &source, &load, now)
    })
    .await?;
    let (meta, c) = applied.map_err(refused)?;
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
#[utoipa::path(delete, path = "/api/admin/lists/{name}/contents", tag = "admin", summary = "Empty a list (a new version)", params(("name" = String, Path, description = "list name")), responses((status = 200, description = "done", body = super::schemas_admin::ListEmptied), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody), (status = 404, description = "not found", body = super::openapi::ErrorBody), (status = 503, description = "unavailable (storage, database, or the admin API off)", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
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
        e @ ReplaceError::Conflict(_) => ApiError::Conflict(e.to_string()),
        ReplaceError::Date(why) => ApiError::BadRequest(why),
        ReplaceError::Load(LoadError::Refused { why, report }) => ApiError::Invalid {
            message: format!("refused, the list keeps its previous version: {why}"),
            errors: report
                .invalid_lines
                .iter()
                .map(|l| json!({"line": l.line, "text": l.text, "error": l.error}))
                .collect(),
        },
        ReplaceError::Load(e @ (LoadError::Io(_) | LoadError::Unreadable(_))) => {
            ApiError::BadRequest(format!("refused, the list keeps its previous version: {e}"))
        }
        ReplaceError::Load(LoadError::Storage(e)) => ApiError::from(e),
        ReplaceError::Storage(e) => ApiError::store(e),
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
    let date = crate::stats::range::parse_date("downloaded_at", d)?;
    if date > today(state) {
        return Err(ApiError::BadRequest(
            "`downloaded_at` is in the future".into(),
        ));
    }
    Ok(Some(date))
}

/// `GET /lists/audit?start=&end=[&format=csv]`: per business day, the leads checked and,
/// per list and snapshot version in force, checks, hits, closed-gate blocks, exemptions.
#[utoipa::path(get, path = "/api/admin/lists/audit", tag = "admin", summary = "Proof of scrub per business day (JSON or CSV)", params(("start" = Option<String>, Query, description = "first business date (YYYY-MM-DD), inclusive"), ("end" = Option<String>, Query, description = "last business date (YYYY-MM-DD), inclusive"), ("format" = Option<String>, Query, description = "json or csv")), responses((status = 200, description = "the audit (JSON), or CSV with format=csv", content((super::schemas_admin::ScrubAudit = "application/json"), (String = "text/csv"))), (status = 400, description = "bad input, naming the problem", body = super::openapi::ErrorBody), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn audit(state: web::Data<AppState>, q: Query) -> Result<HttpResponse, ApiError> {
    let today = today(&state);
    let range = super::params::date_range(&q, today)?;
    let csv = super::stats::wants_csv(&q)?;
    let audit = super::params::blocking(move || {
        state
            .stats
            .audit(range, today, state.settings.timezone.name())
    })
    .await?;
    if csv {
        let body = crate::stats::scrub::to_csv(&audit).map_err(ApiError::internal)?;
        Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .body(body))
    } else {
        Ok(HttpResponse::Ok().json(audit))
    }
}
