//! A lead's redials: `POST /redials/{lead_id}/pause`, `POST /redials/{lead_id}/resume`,
//! `DELETE /redials/{lead_id}`. Each answers the lead's redials in the deferred queue after
//! the change (`GET /scheduler/queue?lead_id=` shows them too); 404 when it has none.

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::error::ApiError;
use crate::dispatch::FollowUps;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/redials/{lead_id}/pause").route(web::post().to(pause)))
        .service(web::resource("/redials/{lead_id}/resume").route(web::post().to(resume)))
        .service(web::resource("/redials/{lead_id}").route(web::delete().to(delete)));
}

async fn has_redials(follow_ups: &FollowUps, lead_id: &str) -> Result<(), ApiError> {
    let found = follow_ups
        .redials_of(lead_id, None)
        .await
        .map_err(ApiError::store)?;
    if found.is_empty() {
        return Err(ApiError::NotFound(format!(
            "lead `{lead_id}` has no pending redial"
        )));
    }
    Ok(())
}

async fn toggle(
    follow_ups: &FollowUps,
    lead_id: &str,
    pause: bool,
) -> Result<HttpResponse, ApiError> {
    has_redials(follow_ups, lead_id).await?;
    let redials = follow_ups
        .pause_redials(lead_id, pause)
        .await
        .map_err(ApiError::store)?;
    Ok(HttpResponse::Ok().json(json!({"lead_id": lead_id, "redials": redials})))
}

#[utoipa::path(post, path = "/api/admin/redials/{lead_id}/pause", tag = "admin", summary = "Pause a lead's redials", params(("lead_id" = String, Path, description = "lead id")), responses((status = 200, description = "done", body = super::schemas_ops::RedialsView), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody), (status = 404, description = "not found", body = super::openapi::ErrorBody), (status = 503, description = "unavailable (storage, database, or the admin API off)", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn pause(
    follow_ups: web::Data<FollowUps>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    toggle(&follow_ups, &id, true).await
}

#[utoipa::path(post, path = "/api/admin/redials/{lead_id}/resume", tag = "admin", summary = "Resume a lead's redials (due now)", params(("lead_id" = String, Path, description = "lead id")), responses((status = 200, description = "done", body = super::schemas_ops::RedialsView), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody), (status = 404, description = "not found", body = super::openapi::ErrorBody), (status = 503, description = "unavailable (storage, database, or the admin API off)", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn resume(
    follow_ups: web::Data<FollowUps>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    toggle(&follow_ups, &id, false).await
}

#[utoipa::path(delete, path = "/api/admin/redials/{lead_id}", tag = "admin", summary = "Remove a lead's redials", params(("lead_id" = String, Path, description = "lead id")), responses((status = 200, description = "done", body = super::schemas_ops::RedialsRemoved), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody), (status = 404, description = "not found", body = super::openapi::ErrorBody), (status = 503, description = "unavailable (storage, database, or the admin API off)", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn delete(
    follow_ups: web::Data<FollowUps>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    has_redials(&follow_ups, &id).await?;
    let removed = follow_ups
        .cancel_redials(&id, None)
        .await
        .map_err(ApiError::store)?;
    Ok(HttpResponse::Ok().json(json!({"lead_id": &*id, "removed": removed})))
}
