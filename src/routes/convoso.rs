//! Writes back to Convoso: `GET /convoso/pending` (queued, failing with the last error,
//! given up), `POST /convoso/pending/{id}/retry` (due now, a fresh run of tries) and
//! `DELETE /convoso/pending/{id}` (set aside, not sent).

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::error::ApiError;
use super::AppState;
use crate::convoso::WriteState;
use crate::dispatch::writeback::Writeback;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/convoso/pending").route(web::get().to(pending)))
        .service(web::resource("/convoso/pending/{id}/retry").route(web::post().to(retry)))
        .service(web::resource("/convoso/pending/{id}").route(web::delete().to(dismiss)));
}

fn writeback(state: &AppState) -> Result<&Writeback, ApiError> {
    state
        .writeback
        .as_deref()
        .ok_or_else(|| ApiError::Unavailable("Convoso write-back is not running".into()))
}

/// A write being sent is 409 (try again in a moment); a storage failure is the store's.
fn admin_error(e: crate::dispatch::writeback::AdminError) -> ApiError {
    use crate::dispatch::writeback::AdminError;
    match e {
        AdminError::Busy => ApiError::Conflict(e.to_string()),
        AdminError::Store(e) => ApiError::store(e),
    }
}

#[utoipa::path(get, path = "/api/admin/convoso/pending", tag = "admin", summary = "Open writes to Convoso", responses((status = 200, description = "done", body = super::schemas::ConvosoPending), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody), (status = 503, description = "unavailable (storage, database, or the admin API off)", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn pending(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let wb = writeback(&state)?;
    let writes = wb
        .pending()
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    let count = |s: WriteState| writes.iter().filter(|w| w.state == s).count();
    Ok(HttpResponse::Ok().json(json!({
        "dry_run": wb.settings().auth_token.is_none(),
        "queued": count(WriteState::Queued),
        "failing": count(WriteState::Failing),
        "gave_up": count(WriteState::GaveUp),
        "writes": writes,
    })))
}

#[utoipa::path(post, path = "/api/admin/convoso/pending/{id}/retry", tag = "admin", summary = "Retry an open write now", params(("id" = String, Path, description = "write id")), responses((status = 200, description = "done", body = super::schemas_admin::ConvosoRetried), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody), (status = 404, description = "not found", body = super::openapi::ErrorBody), (status = 409, description = "conflict with the current state", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn retry(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    match writeback(&state)?.retry(&id).await {
        Ok(Some(w)) => Ok(HttpResponse::Ok().json(json!({"retried": w}))),
        Ok(None) => Err(ApiError::NotFound(format!("no open Convoso write `{id}`"))),
        Err(e) => Err(admin_error(e)),
    }
}

#[utoipa::path(delete, path = "/api/admin/convoso/pending/{id}", tag = "admin", summary = "Set an open write aside", params(("id" = String, Path, description = "write id")), responses((status = 200, description = "done", body = super::schemas_admin::ConvosoDismissed), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody), (status = 404, description = "not found", body = super::openapi::ErrorBody), (status = 409, description = "conflict with the current state", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn dismiss(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    match writeback(&state)?.dismiss(&id).await {
        Ok(Some(w)) => Ok(HttpResponse::Ok().json(json!({"dismissed": w}))),
        Ok(None) => Err(ApiError::NotFound(format!("no open Convoso write `{id}`"))),
        Err(e) => Err(admin_error(e)),
    }
}
