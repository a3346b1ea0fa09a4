//! The trackers' admin routes: `/answering-machine/…`, `/protection/config`,
//! `/calls/active` and `/calls/history/{phone}`.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};

use super::error::ApiError;
use super::params::{blocking, put_document, Query};
use super::AppState;
use crate::domain::PhoneNumber;
use crate::tracker::checks::outcome_counts;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/answering-machine/config")
            .route(web::get().to(get_am))
            .route(web::put().to(put_am)),
    )
    .service(web::resource("/answering-machine/{lead_id}").route(web::get().to(am_counts)))
    .service(
        web::resource("/protection/config")
            .route(web::get().to(get_protection))
            .route(web::put().to(put_protection)),
    )
    .service(web::resource("/calls/active").route(web::get().to(active)))
    .service(web::resource("/calls/history/{phone}").route(web::get().to(history)));
}

#[utoipa::path(get, path = "/api/admin/answering-machine/config", tag = "admin", summary = "The answering-machine config", responses((status = 200, description = "done", body = super::schemas_ops::AnsweringMachineConfig), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn get_am(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(&state.tracker.am.get().doc)
}

#[utoipa::path(put, path = "/api/admin/answering-machine/config", tag = "admin", summary = "Change the answering-machine config (only the fields given)", request_body(content = serde_json::Value, content_type = "application/json"), responses((status = 415, description = "a body that is not the content type the route reads", body = super::openapi::ErrorBody), (status = 200, description = "done", body = super::schemas_ops::AnsweringMachineConfig), (status = 400, description = "bad input, naming the problem", body = super::openapi::ErrorBody), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody), (status = 503, description = "unavailable (storage, database, or the admin API off)", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn put_am(
    state: web::Data<AppState>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let tracker = state.tracker.clone();
    let patch = body.into_inner();
    put_document("answering-machine", tracker.am.update(&patch)).await
}

#[utoipa::path(get, path = "/api/admin/protection/config", tag = "admin", summary = "The protection config", responses((status = 200, description = "done", body = super::schemas_ops::ProtectionConfig), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn get_protection(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(&state.tracker.protection.get().doc)
}

#[utoipa::path(put, path = "/api/admin/protection/config", tag = "admin", summary = "Change the protection config (only the fields given)", request_body(content = serde_json::Value, content_type = "application/json"), responses((status = 415, description = "a body that is not the content type the route reads", body = super::openapi::ErrorBody), (status = 200, description = "done", body = super::schemas_ops::ProtectionConfig), (status = 400, description = "bad input, naming the problem", body = super::openapi::ErrorBody), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody), (status = 503, description = "unavailable (storage, database, or the admin API off)", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn put_protection(
    state: web::Data<AppState>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let tracker = state.tracker.clone();
    let patch = body.into_inner();
    put_document("protection", tracker.protection.update(&patch)).await
}

fn phone(state: &AppState, text: &str, name: &str) -> Result<PhoneNumber, ApiError> {
    PhoneNumber::parse(text.trim(), &state.settings.default_country)
        .map_err(|e| ApiError::BadRequest(format!("`{name}`: {e}")))
}

fn instant(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

/// Today's answering-machine count for a lead id on a number.
#[utoipa::path(get, path = "/api/admin/answering-machine/{lead_id}", tag = "admin", summary = "A lead's answering-machine counts today", params(("lead_id" = String, Path, description = "lead id"), ("phone" = String, Query, description = "the number, any spelling")), responses((status = 200, description = "done", body = super::schemas_ops::AttemptsToday), (status = 400, description = "bad input, naming the problem", body = super::openapi::ErrorBody), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn am_counts(
    state: web::Data<AppState>,
    lead_id: web::Path<String>,
    q: Query,
) -> Result<HttpResponse, ApiError> {
    let Some(p) = q.get("phone").filter(|p| !p.trim().is_empty()) else {
        return Err(ApiError::BadRequest("`phone` is required".into()));
    };
    let p = phone(&state, p, "phone")?;
    let lead_id = lead_id.into_inner();
    let now = state.clock.now();
    let tracker = &state.tracker;
    let v = tracker.view(p.as_str(), &lead_id, now);
    let config = tracker.am.get();
    let counts = outcome_counts(&v);
    let count: u64 = config
        .doc
        .counted_outcomes
        .iter()
        .filter_map(|o| counts.get(o.as_str()).and_then(Value::as_u64))
        .sum();
    Ok(HttpResponse::Ok().json(json!({
        "lead_id": lead_id,
        "phone": p.as_str(),
        "date": crate::clock::business_date(now, state.settings.timezone),
        "count": count,
        "max_attempts_per_day": config.doc.max_attempts_per_day,
        "counted_outcomes": config.doc.counted_outcomes,
        "outcomes": counts,
        "blocked": config.doc.enabled && count >= u64::from(config.doc.max_attempts_per_day),
    })))
}

/// Lines with a call in flight, with their automatic release time.
#[utoipa::path(get, path = "/api/admin/calls/active", tag = "admin", summary = "Numbers with a call in flight", responses((status = 200, description = "done", body = super::schemas_ops::ActiveLines), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn active(state: web::Data<AppState>) -> HttpResponse {
    let tracker = &state.tracker;
    let c = tracker.protection.get();
    let ends = i64::from(c.doc.max_call_minutes + c.doc.active_call_margin_minutes) * 60;
    let now = state.clock.now().timestamp();
    let mut lines: Vec<Value> = tracker
        .active()
        .into_iter()
        .filter(|(_, a)| a.since + ends > now)
        .map(|(digits, a)| {
            json!({
                "phone": format!("+{digits}"),
                "lead_id": &*a.lead_id,
                "request_id": &*a.request_id,
                "since": instant(a.since),
                "auto_release_at": instant(a.since + ends),
            })
        })
        .collect();
    lines.sort_by(|a, b| a["since"].as_str().cmp(&b["since"].as_str()));
    HttpResponse::Ok().json(json!({"count": lines.len(), "lines": lines}))
}

/// Today's decisions, dispatches and outcomes for a number, in journal order.
#[utoipa::path(get, path = "/api/admin/calls/history/{phone}", tag = "admin", summary = "Today's decisions, dispatches and outcomes for a number", params(("phone" = String, Path, description = "the number, any spelling")), responses((status = 200, description = "done", body = super::schemas_ops::CallHistory), (status = 400, description = "bad input, naming the problem", body = super::openapi::ErrorBody), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn history(
    state: web::Data<AppState>,
    number: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let p = phone(&state, &number.into_inner(), "phone")?;
    let today = crate::clock::business_date(state.clock.now(), state.settings.timezone);
    let journals = state.journals.clone();
    let e164 = p.as_str().to_string();
    let needle = format!("\"phone\":\"{e164}\"");
    let wanted = e164.clone();
    let quarantine = state.quarantine.clone();
    let events: Vec<Value> = blocking(move || {
        journals
            .calls_containing(today, &needle, Some(&quarantine))
            .map(|lines| {
                lines
                    .into_iter()
                    .filter(|l| l.get("phone").and_then(Value::as_str) == Some(wanted.as_str()))
                    .collect::<Vec<_>>()
            })
    })
    .await?;
    let count = |kind: &str| events.iter().filter(|e| e["event"] == kind).count();
    Ok(HttpResponse::Ok().json(json!({
        "phone": e164,
        "date": today,
        "decisions": count("decision"),
        "outcomes": count("outcome"),
        "events": events,
    })))
}
