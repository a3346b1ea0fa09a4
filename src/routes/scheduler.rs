//! `/api/admin/scheduler/…`: the scheduler config document and the deferred queue.

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use super::error::ApiError;
use super::params::{number, put_document, Query};
use super::AppState;
use crate::dispatch::release::Released;
use crate::dispatch::{Intake, Ledger};
use crate::domain::PhoneNumber;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/scheduler/config")
            .route(web::get().to(get_config))
            .route(web::put().to(put_config)),
    )
    .service(web::resource("/scheduler/queue").route(web::get().to(list)))
    .service(web::resource("/scheduler/queue/release").route(web::post().to(release)))
    .service(web::resource("/scheduler/queue/{id}").route(web::delete().to(delete)));
}

#[utoipa::path(get, path = "/api/admin/scheduler/config", tag = "admin", summary = "The scheduler config", responses((status = 200, description = "done", body = super::schemas_ops::SchedulerConfig), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn get_config(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(&state.scheduler.config.get().doc)
}

#[utoipa::path(put, path = "/api/admin/scheduler/config", tag = "admin", summary = "Change the scheduler config (only the fields given)", request_body(content = serde_json::Value, content_type = "application/json"), responses((status = 415, description = "a body that is not the content type the route reads", body = super::openapi::ErrorBody), (status = 200, description = "done", body = super::schemas_ops::SchedulerConfig), (status = 400, description = "bad input, naming the problem", body = super::openapi::ErrorBody), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody), (status = 503, description = "unavailable (storage, database, or the admin API off)", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn put_config(
    state: web::Data<AppState>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let scheduler = state.scheduler.clone();
    let patch = body.into_inner();
    put_document("scheduler", scheduler.config.update(&patch)).await
}

const MAX_LIMIT: usize = 1000;

#[utoipa::path(get, path = "/api/admin/scheduler/queue", tag = "admin", summary = "The deferred queue, by release time", params(("lead_id" = Option<String>, Query, description = "lead id"), ("phone" = Option<String>, Query, description = "the number, any spelling"), ("limit" = Option<String>, Query, description = "1-1000"), ("offset" = Option<String>, Query, description = "page start")), responses((status = 200, description = "done", body = super::schemas_ops::DeferredQueue), (status = 400, description = "bad input, naming the problem", body = super::openapi::ErrorBody), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn list(
    state: web::Data<AppState>,
    ledger: web::Data<Ledger>,
    q: Query,
) -> Result<HttpResponse, ApiError> {
    let limit = number(&q, "limit")?.unwrap_or(100);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::BadRequest(format!(
            "`limit` must be between 1 and {MAX_LIMIT}"
        )));
    }
    let offset = number(&q, "offset")?.unwrap_or(0);
    let phone = match q.get("phone").map(|p| p.trim()).filter(|p| !p.is_empty()) {
        None => None,
        Some(p) => Some(
            PhoneNumber::parse(p, &state.settings.default_country)
                .map_err(|e| ApiError::BadRequest(format!("`phone`: {e}")))?,
        ),
    };
    let lead_id = q.get("lead_id").map(|l| l.trim()).filter(|l| !l.is_empty());
    let ((matching, entries), (total, due, oldest)) = ledger
        .deferred_page(lead_id, phone.as_ref().map(|p| p.as_str()), offset, limit)
        .await
        .map_err(ApiError::store)?;
    Ok(HttpResponse::Ok().json(json!({
        "total": total,
        "due": due,
        "oldest_deferred_at": oldest,
        "matching": matching,
        "offset": offset,
        "limit": limit,
        "entries": entries,
    })))
}

#[utoipa::path(delete, path = "/api/admin/scheduler/queue/{id}", tag = "admin", summary = "Remove a deferred lead", params(("id" = String, Path, description = "queue entry id")), responses((status = 200, description = "done", body = super::schemas_ops::QueueDeleted), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody), (status = 404, description = "not found", body = super::openapi::ErrorBody), (status = 409, description = "conflict with the current state", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn delete(
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    match ledger.delete_deferred(&id).await {
        Err(e) => Err(ApiError::internal(e)),
        Ok(None) => Err(ApiError::NotFound(format!("no deferred lead `{id}`"))),
        Ok(Some(Err(_))) => Err(ApiError::Conflict(format!(
            "deferred lead `{id}` is being released right now"
        ))),
        Ok(Some(Ok(entry))) => Ok(HttpResponse::Ok().json(json!({"deleted": entry}))),
    }
}

/// `?id=` releases that entry now and answers with its new decision; without it every
/// entry becomes due now and is released by the release task in rounds.
#[utoipa::path(post, path = "/api/admin/scheduler/queue/release", tag = "admin", summary = "Release one entry now (id) or make every entry due", params(("id" = Option<String>, Query, description = "queue entry id")), responses((status = 200, description = "the released entry's decision", body = super::schemas_admin::ReleasedOne), (status = 202, description = "every entry made due", body = super::schemas_admin::ReleasedAll), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody), (status = 404, description = "not found", body = super::openapi::ErrorBody), (status = 409, description = "conflict with the current state", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn release(
    state: web::Data<AppState>,
    intake: web::Data<Intake>,
    q: Query,
) -> Result<HttpResponse, ApiError> {
    let gw = &intake;
    let Some(id) = q.get("id").map(|i| i.trim()).filter(|i| !i.is_empty()) else {
        let n = gw
            .hurry_deferred(state.clock.now())
            .await
            .map_err(ApiError::store)?;
        tracing::info!(count = n, "admin released every deferred lead");
        return Ok(HttpResponse::Accepted().json(json!({"released": n})));
    };
    match gw.release_one_now(id).await.map_err(ApiError::store)? {
        Released::Missing => Err(ApiError::NotFound(format!("no deferred lead `{id}`"))),
        Released::Busy => Err(ApiError::Conflict(format!(
            "deferred lead `{id}` is being released right now"
        ))),
        Released::One(s) => {
            let e = &s.eval;
            Ok(HttpResponse::Ok().json(json!({
                "queue_id": id,
                "decision": e.decision,
                "stage": e.stage,
                "reason": e.reason,
                "release_at": e.release_at.map(crate::clock::format_instant),
                "flag_id": e.flag_id(),
            })))
        }
    }
}
