//! `GET /api/admin/quarantine` (lines that could not be read back, kept aside) and
//! `POST /api/admin/quarantine/acknowledge` (an admin has seen them: `/health` is no longer
//! degraded by them; the file keeps them).

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::error::ApiError;
use super::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/quarantine").route(web::get().to(list)))
        .service(web::resource("/quarantine/acknowledge").route(web::post().to(acknowledge)));
}

#[utoipa::path(get, path = "/api/admin/quarantine", tag = "admin", summary = "Lines kept aside because they could not be read back", responses((status = 200, description = "done", body = super::schemas_ops::QuarantineView), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let (unacknowledged, total, _) = state.quarantine.counts();
    let lines = state.quarantine.lines().map_err(ApiError::from)?;
    Ok(HttpResponse::Ok()
        .json(json!({"unacknowledged": unacknowledged, "total": total, "lines": lines})))
}

#[utoipa::path(post, path = "/api/admin/quarantine/acknowledge", tag = "admin", summary = "Acknowledge the quarantined lines", responses((status = 200, description = "done", body = super::schemas_ops::Acknowledged), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn acknowledge(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let n = state.quarantine.acknowledge().map_err(ApiError::from)?;
    Ok(HttpResponse::Ok().json(json!({"success": true, "acknowledged": n})))
}
