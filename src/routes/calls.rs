//! Admin views of calls: the outbox, one request's history, resolving unconfirmed sends,
//! and `check` — the pipeline's answer for a lead with no side effects.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::error::ApiError;
use super::params::blocking;
use super::AppState;
use crate::dispatch::{Intake, Ledger, Reconciler, ResolveError};
use crate::domain::Lead;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/check").route(web::post().to(check)))
        .service(web::resource("/calls/pending").route(web::get().to(pending)))
        .service(web::resource("/calls/reconcile").route(web::post().to(reconcile)))
        .service(web::resource("/calls/{request_id}/resolve").route(web::post().to(resolve)))
        .service(web::resource("/calls/{request_id}").route(web::get().to(one)));
}

#[utoipa::path(post, path = "/api/admin/check", tag = "admin", summary = "The pipeline's answer for a lead, with no side effects {lead, at?}", request_body(content = serde_json::Value, content_type = "application/json"), responses((status = 415, description = "a body that is not the content type the route reads", body = super::openapi::ErrorBody), (status = 200, description = "done", body = super::schemas_ops::CheckAnswer), (status = 400, description = "bad input, naming the problem", body = super::openapi::ErrorBody), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn check(
    state: web::Data<AppState>,
    intake: web::Data<Intake>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let Some(fields) = body.get("lead").and_then(Value::as_object).cloned() else {
        return Err(ApiError::BadRequest(
            "`lead` must be an object with the webhook's fields".into(),
        ));
    };
    let at = match body.get("at") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(
            DateTime::parse_from_rfc3339(s)
                .map_err(|_| {
                    ApiError::BadRequest(format!("`at` must be an RFC 3339 instant, not `{s}`"))
                })?
                .with_timezone(&Utc),
        ),
        Some(_) => {
            return Err(ApiError::BadRequest(
                "`at` must be an RFC 3339 string".into(),
            ))
        }
    };
    let settings = &state.settings;
    let lead = Lead::parse(fields, &settings.lead_fields, &settings.default_country).map_err(
        |errors| ApiError::Invalid {
            message: "invalid lead".into(),
            errors: errors.into_iter().map(Value::String).collect(),
        },
    )?;
    let eval = intake.check(&lead, at);
    Ok(HttpResponse::Ok().json(json!({
        "decision": eval.decision,
        "stage": eval.stage,
        "reason": eval.reason,
        "release_at": eval.release_at.map(crate::clock::format_instant),
        "flag_id": eval.flag_id(),
        "at": crate::clock::format_instant(at.unwrap_or_else(|| state.clock.now())),
        "trace": eval.trace,
    })))
}

#[utoipa::path(get, path = "/api/admin/calls/pending", tag = "admin", summary = "The open outbox", responses((status = 200, description = "done", body = super::schemas_ops::PendingCalls), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody), (status = 503, description = "unavailable (storage, database, or the admin API off)", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn pending(
    ledger: web::Data<Ledger>,
    pool: web::Data<crate::dispatch::callerid::CallerIds>,
) -> Result<HttpResponse, ApiError> {
    let entries = ledger.outbox_entries().await.map_err(ApiError::store)?;
    let count = |s: crate::dispatch::outbox::State| entries.iter().filter(|e| e.state == s).count();
    use crate::dispatch::outbox::State;
    Ok(HttpResponse::Ok().json(json!({
        "queued": count(State::Queued),
        "in_flight": count(State::InFlight),
        "unconfirmed": count(State::Unconfirmed),
        "failed": count(State::Failed),
        "waiting_for_caller_id": pool.waiting(),
        "entries": entries,
    })))
}

#[utoipa::path(get, path = "/api/admin/calls/{request_id}", tag = "admin", summary = "A call: decision, outbox, dispatches, outcome", params(("request_id" = String, Path, description = "our request id")), responses((status = 200, description = "done", body = super::schemas_ops::CallView), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody), (status = 404, description = "not found", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn one(
    state: web::Data<AppState>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let (journals, today) = (
        state.journals.clone(),
        crate::clock::business_date(state.clock.now(), state.settings.timezone),
    );
    let wanted = id.clone();
    let quarantine = state.quarantine.clone();
    let events: Vec<Value> = blocking(move || -> crate::store::StoreResult<Vec<Value>> {
        let mut found = Vec::new();
        for back in (0..crate::dispatch::calls::REBUILD_DAYS).rev() {
            let Some(date) = today.checked_sub_days(chrono::Days::new(back)) else {
                continue;
            };
            let needle = format!("\"request_id\":{}", Value::from(wanted.as_str()));
            found.extend(
                journals
                    .calls_containing(date, &needle, Some(&quarantine))?
                    .into_iter()
                    .filter(|r| {
                        r.get("request_id").and_then(Value::as_str) == Some(wanted.as_str())
                    }),
            );
        }
        Ok(found)
    })
    .await?;
    // Read after the journal: an entry leaves the outbox before its result is journaled,
    // so this order never shows a finished call as still open.
    let outbox = ledger.outbox_entry(&id).await.map_err(ApiError::store)?;
    if outbox.is_none() && events.is_empty() {
        return Err(ApiError::NotFound(format!(
            "no call with request id `{id}` in the last {} days",
            crate::dispatch::calls::REBUILD_DAYS
        )));
    }
    let of = |kind: &str| {
        events
            .iter()
            .filter(|e| e.get("event").and_then(Value::as_str) == Some(kind))
            .cloned()
            .collect::<Vec<_>>()
    };
    let dispatches = of("dispatch");
    let call_id = dispatches
        .iter()
        .rev()
        .find_map(|d| d.get("call_id").and_then(Value::as_str))
        .map(str::to_string);
    Ok(HttpResponse::Ok().json(json!({
        "request_id": id,
        "decision": of("decision").into_iter().next(),
        "outbox": outbox,
        "dispatches": dispatches,
        "call_id": call_id,
        "outcome": of("outcome").into_iter().last(),
    })))
}

#[utoipa::path(post, path = "/api/admin/calls/{request_id}/resolve", tag = "admin", summary = "Settle an unconfirmed or failed call {resolution, call_id?}", params(("request_id" = String, Path, description = "our request id")), request_body(content = serde_json::Value, content_type = "application/json"), responses((status = 415, description = "a body that is not the content type the route reads", body = super::openapi::ErrorBody), (status = 200, description = "done", body = super::schemas_ops::Resolved), (status = 400, description = "bad input, naming the problem", body = super::openapi::ErrorBody), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody), (status = 404, description = "not found", body = super::openapi::ErrorBody), (status = 409, description = "conflict with the current state", body = super::openapi::ErrorBody), (status = 503, description = "unavailable (storage, database, or the admin API off)", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn resolve(
    reconciler: web::Data<Reconciler>,
    id: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let resolution = body.get("resolution").and_then(Value::as_str).unwrap_or("");
    if !matches!(resolution, "sent" | "resend" | "cancel") {
        return Err(ApiError::BadRequest(
            "`resolution` must be `sent` (Bland has the call), `resend` or `cancel`".into(),
        ));
    }
    let call_id = body
        .get("call_id")
        .and_then(Value::as_str)
        .map(str::to_string);
    match reconciler.resolve(&id, resolution, call_id).await {
        Ok(v) => Ok(HttpResponse::Ok().json(json!({"success": true, "resolved": v}))),
        Err(e @ ResolveError::NotFound(_)) => Err(ApiError::NotFound(e.to_string())),
        Err(
            e @ (ResolveError::NotResolvable(..)
            | ResolveError::NotSent
            | ResolveError::Unreadable(_)),
        ) => Err(ApiError::Conflict(e.to_string())),
        Err(ResolveError::Storage(e)) => Err(ApiError::internal(e)),
    }
}

/// `POST /calls/reconcile`: looks every unconfirmed call up at Bland now (the background
/// task does it every `BLAND_RECONCILE_EVERY_SECS`) and answers what it did.
#[utoipa::path(post, path = "/api/admin/calls/reconcile", tag = "admin", summary = "Look unconfirmed and silent calls up at Bland now", responses((status = 200, description = "done", body = super::schemas_ops::Reconciled), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody), (status = 503, description = "unavailable (storage, database, or the admin API off)", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn reconcile(reconciler: web::Data<Reconciler>) -> Result<HttpResponse, ApiError> {
    let done = reconciler.reconcile().await.map_err(ApiError::store)?;
    Ok(HttpResponse::Ok().json(done))
}
