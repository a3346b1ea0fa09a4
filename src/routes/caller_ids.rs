//! `/api/admin/caller-ids…`: the caller-ID pool — every number's use and state, one
//! number with its recent calls, rest and unrest, clearing the cooldowns, and the pool's
//! config document.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::error::ApiError;
use super::params::put_document;
use super::AppState;
use crate::dispatch::callerid::select::NumberStatus;
use crate::dispatch::callerid::CallerIds;
use crate::domain::PhoneNumber;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/caller-ids/config")
            .route(web::get().to(get_config))
            .route(web::put().to(put_config)),
    )
    .service(web::resource("/caller-ids/cooldowns/clear").route(web::post().to(clear)))
    .service(web::resource("/caller-ids").route(web::get().to(list)))
    .service(web::resource("/caller-ids/{number}").route(web::get().to(one)))
    .service(web::resource("/caller-ids/{number}/rest").route(web::post().to(rest)))
    .service(web::resource("/caller-ids/{number}/unrest").route(web::post().to(unrest)));
}

/// One number's row: its state and use now, its configuration, its tier hits.
fn row(pool: &CallerIds, s: &NumberStatus) -> Value {
    let c = pool.config.get();
    let mut v = serde_json::to_value(s).unwrap_or(Value::Null);
    if let (Some(obj), Some(n)) = (v.as_object_mut(), c.doc.numbers.get(&s.number)) {
        let (hourly, daily) = c.doc.caps(n);
        obj.insert("hourly_cap".into(), json!(hourly));
        obj.insert("daily_cap".into(), json!(daily));
        obj.insert("area_codes".into(), json!(n.area_codes));
        obj.insert("states".into(), json!(n.states));
        obj.insert("enabled".into(), json!(n.enabled));
        obj.insert("rested".into(), json!(n.rested));
        obj.insert("tier_hits".into(), pool.tier_hits(&s.number));
    }
    v
}

#[utoipa::path(get, path = "/api/admin/caller-ids", tag = "admin", summary = "The caller-ID pool: each number's calls this hour and today, pickup rate, streak, cooldown, rest, tier hits", responses((status = 200, description = "done", body = super::schemas_admin::CallerIdList), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody), (status = 503, description = "unavailable (storage, database, or the admin API off)", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn list(
    state: web::Data<AppState>,
    pool: web::Data<CallerIds>,
) -> Result<HttpResponse, ApiError> {
    let (st, t) = pool
        .status(state.clock.now())
        .await
        .map_err(ApiError::store)?;
    let numbers: Vec<Value> = st.iter().map(|s| row(&pool, s)).collect();
    let pool_rate = (t.pool_outcomes > 0).then(|| t.pool_pickups as f64 / t.pool_outcomes as f64);
    Ok(HttpResponse::Ok().json(json!({
        "enabled": pool.active(),
        "waiting": pool.waiting(),
        "pool_pickup_rate": pool_rate,
        "numbers": numbers,
    })))
}

/// The pool's key for a number in any spelling.
fn number(state: &AppState, pool: &CallerIds, raw: &str) -> Result<String, ApiError> {
    let phone = PhoneNumber::parse(raw, &state.settings.default_country)
        .map_err(|e| ApiError::BadRequest(format!("`{raw}`: {e}")))?;
    let key = phone.as_str().to_string();
    if pool.config.get().doc.numbers.contains_key(&key) {
        Ok(key)
    } else {
        Err(ApiError::NotFound(format!(
            "`{key}` is not in the caller-ID pool"
        )))
    }
}

#[utoipa::path(get, path = "/api/admin/caller-ids/{number}", tag = "admin", summary = "One pool number with its recent calls (newest first)", params(("number" = String, Path, description = "the number, any spelling")), responses((status = 200, description = "done", body = super::schemas_admin::CallerIdOne), (status = 400, description = "bad input, naming the problem", body = super::openapi::ErrorBody), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody), (status = 404, description = "not found", body = super::openapi::ErrorBody), (status = 503, description = "unavailable (storage, database, or the admin API off)", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn one(
    state: web::Data<AppState>,
    pool: web::Data<CallerIds>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = number(&state, &pool, &path)?;
    let now = state.clock.now();
    let (st, _) = pool.status(now).await.map_err(ApiError::store)?;
    let Some(s) = st.iter().find(|s| s.number == key) else {
        return Err(ApiError::NotFound(format!(
            "`{key}` is not in the caller-ID pool"
        )));
    };
    let recent: Vec<Value> = pool
        .calls_from(&key, now, 100)
        .await
        .map_err(ApiError::store)?
        .into_iter()
        .map(|c| {
            json!({
                "request_id": c.request_id,
                "phone": c.phone,
                "at": crate::clock::format_instant(c.at),
                "outcome": c.outcome.map(|(o, _)| o),
                "outcome_at": c.outcome.map(|(_, at)| crate::clock::format_instant(at)),
            })
        })
        .collect();
    let mut v = row(&pool, s);
    if let Some(obj) = v.as_object_mut() {
        obj.insert("recent_calls".into(), Value::Array(recent));
    }
    Ok(HttpResponse::Ok().json(v))
}

/// `POST …/rest`'s body.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RestBody {
    reason: String,
    #[serde(default)]
    until: Option<String>,
}

#[utoipa::path(post, path = "/api/admin/caller-ids/{number}/rest", tag = "admin", summary = "Rest a number {reason, until?} (without until: until it is brought back)", params(("number" = String, Path, description = "the number, any spelling")), request_body(content = serde_json::Value, content_type = "application/json"), responses((status = 415, description = "a body that is not the content type the route reads", body = super::openapi::ErrorBody), (status = 200, description = "the pool's config document", body = super::schemas_admin::CallerIdPool), (status = 400, description = "bad input, naming the problem", body = super::openapi::ErrorBody), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody), (status = 404, description = "not found", body = super::openapi::ErrorBody), (status = 503, description = "unavailable (storage, database, or the admin API off)", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn rest(
    state: web::Data<AppState>,
    pool: web::Data<CallerIds>,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let key = number(&state, &pool, &path)?;
    let b: RestBody = serde_json::from_value(body.into_inner())
        .map_err(|e| ApiError::BadRequest(format!("the body: {e}")))?;
    let reason = b.reason.trim();
    if reason.is_empty() || reason.len() > 500 {
        return Err(ApiError::BadRequest(
            "`reason`: give 1 to 500 characters".into(),
        ));
    }
    let until = match b.until.as_deref() {
        None => None,
        Some(t) => Some(t.parse::<DateTime<Utc>>().map_err(|e| {
            ApiError::BadRequest(format!("`until`: `{t}` is not an RFC 3339 instant: {e}"))
        })?),
    };
    let now = state.clock.now();
    if until.is_some_and(|u| u <= now) {
        return Err(ApiError::BadRequest(
            "`until`: must be in the future".into(),
        ));
    }
    tracing::info!(number = key, reason, "caller id rested by an admin");
    put_document(
        "caller-ID pool",
        pool.rest(&key, reason, until, "admin", now),
    )
    .await
}

#[utoipa::path(post, path = "/api/admin/caller-ids/{number}/unrest", tag = "admin", summary = "Bring a rested number back (its earlier calls no longer count toward the automatic rest)", params(("number" = String, Path, description = "the number, any spelling")), responses((status = 200, description = "the pool's config document", body = super::schemas_admin::CallerIdPool), (status = 400, description = "bad input, naming the problem", body = super::openapi::ErrorBody), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody), (status = 404, description = "not found", body = super::openapi::ErrorBody), (status = 503, description = "unavailable (storage, database, or the admin API off)", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn unrest(
    state: web::Data<AppState>,
    pool: web::Data<CallerIds>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = number(&state, &pool, &path)?;
    tracing::info!(number = key, "caller id brought back by an admin");
    put_document("caller-ID pool", pool.unrest(&key, state.clock.now())).await
}

#[utoipa::path(post, path = "/api/admin/caller-ids/cooldowns/clear", tag = "admin", summary = "End every cooldown (streaks count only later outcomes)", responses((status = 200, description = "the pool's config document", body = super::schemas_admin::CallerIdPool), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody), (status = 503, description = "unavailable (storage, database, or the admin API off)", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn clear(
    state: web::Data<AppState>,
    pool: web::Data<CallerIds>,
) -> Result<HttpResponse, ApiError> {
    put_document("caller-ID pool", pool.clear_cooldowns(state.clock.now())).await
}

#[utoipa::path(get, path = "/api/admin/caller-ids/config", tag = "admin", summary = "The caller-ID pool's config document", responses((status = 200, description = "done", body = super::schemas_admin::CallerIdPool), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn get_config(pool: web::Data<CallerIds>) -> HttpResponse {
    HttpResponse::Ok().json(&pool.config.get().doc)
}

#[utoipa::path(put, path = "/api/admin/caller-ids/config", tag = "admin", summary = "Change the caller-ID pool (only the fields given; a number set to null leaves the pool)", request_body(content = serde_json::Value, content_type = "application/json"), responses((status = 415, description = "a body that is not the content type the route reads", body = super::openapi::ErrorBody), (status = 200, description = "done", body = super::schemas_admin::CallerIdPool), (status = 400, description = "bad input, naming the problem", body = super::openapi::ErrorBody), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody), (status = 503, description = "unavailable (storage, database, or the admin API off)", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn put_config(
    pool: web::Data<CallerIds>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let patch = body.into_inner();
    put_document("caller-ID pool", pool.config.update(&patch)).await
}
