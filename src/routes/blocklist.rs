//! `/api/admin/blocklist…`: the seed's flag API plus lookup, search, update, bulk and export.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::params::{boolean, number, Query};
use super::AppState;
use crate::blocklist::bulk::{self, InvalidLine};
use crate::blocklist::query::{ListQuery, Order};
use crate::blocklist::{BlocklistError, Flag, FlagPatch, FlagRecord};

/// Bulk bodies may be far larger than ordinary requests.
pub const BULK_MAX_BYTES: usize = 64 * 1024 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/blocklist")
            .route(web::get().to(list))
            .route(web::post().to(add)),
    )
    .service(web::resource("/blocklist/enabled").route(web::put().to(set_enabled)))
    .service(
        web::resource("/blocklist/lookup")
            .route(web::get().to(lookup))
            .route(web::head().to(lookup)),
    )
    .service(
        web::resource("/blocklist/bulk")
            .app_data(web::PayloadConfig::new(BULK_MAX_BYTES))
            .route(web::post().to(bulk_import)),
    )
    .service(web::resource("/blocklist/export").route(web::get().to(export)))
    .service(
        web::resource("/blocklist/{id}")
            .route(web::get().to(get_one))
            .route(web::put().to(update))
            .route(web::delete().to(remove)),
    );
}

impl From<BlocklistError> for ApiError {
    fn from(e: BlocklistError) -> Self {
        match e {
            BlocklistError::Invalid(e) => ApiError::BadRequest(e.to_string()),
            BlocklistError::NotFound(_) => ApiError::NotFound(e.to_string()),
            BlocklistError::Conflict(_) => ApiError::Conflict(e.to_string()),
            BlocklistError::Storage(e) => ApiError::store(e),
        }
    }
}

/// The seed's listing shape, serialised straight from the index.
#[derive(serde::Serialize)]
struct FlagList<'a> {
    enabled: bool,
    flags_count: usize,
    flags: &'a [&'a Flag],
}

/// The export document (the config file's shape).
#[derive(serde::Serialize)]
struct Document<'a> {
    enabled: bool,
    flags: &'a [&'a Flag],
}

#[utoipa::path(get, path = "/api/admin/blocklist", tag = "admin", summary = "Flags (seed shape), filtered and paged", params(("field" = Option<String>, Query, description = "filter by field"), ("value" = Option<String>, Query, description = "filter by value"), ("search" = Option<String>, Query, description = "substring of field, value or reason"), ("limit" = Option<String>, Query, description = "page size"), ("offset" = Option<String>, Query, description = "page start")), responses((status = 200, description = "every flag (seed shape)", body = super::schemas::FlagList), (status = 400, description = "bad input, naming the problem", body = super::openapi::ErrorBody), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn list(state: web::Data<AppState>, q: Query) -> Result<HttpResponse, ApiError> {
    let order = match q.get("order").map(|s| s.trim()) {
        None | Some("") | Some("added_at") => Order::AddedAt,
        Some("field") => Order::Field,
        Some("value") => Order::Value,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "`order` must be added_at, field or value, not `{other}`"
            )))
        }
    };
    let descending = match q
        .get("direction")
        .map(|s| s.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("") | Some("asc") => false,
        Some("desc") => true,
        Some(_) => {
            return Err(ApiError::BadRequest(
                "`direction` must be asc or desc".into(),
            ))
        }
    };
    let query = ListQuery {
        field: q.get("field").cloned(),
        value: q.get("value").cloned(),
        search: q.get("search").cloned(),
        active: boolean(&q, "active")?,
        limit: number(&q, "limit")?,
        offset: number(&q, "offset")?.unwrap_or(0),
        order,
        descending,
    };
    let enabled = state.blocklist.is_enabled();
    let body = state
        .blocklist
        .list_with(&query, |flags_count, flags| {
            serde_json::to_vec(&FlagList {
                enabled,
                flags_count,
                flags,
            })
        })
        .map_err(|e| ApiError::BadRequest(e.to_string()))?
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
}

fn object(body: Value) -> Result<Map<String, Value>, ApiError> {
    match body {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::BadRequest(
            "request body must be a JSON object".into(),
        )),
    }
}

#[utoipa::path(post, path = "/api/admin/blocklist", tag = "admin", summary = "Add a flag {field, value, reason?, expires_at?}", request_body(content = serde_json::Value, content_type = "application/json"), responses((status = 415, description = "a body that is not the content type the route reads", body = super::openapi::ErrorBody), (status = 201, description = "the flag (seed shape)", body = super::schemas::FlagAdded), (status = 400, description = "bad input, naming the problem", body = super::openapi::ErrorBody), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody), (status = 503, description = "unavailable (storage, database, or the admin API off)", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn add(state: web::Data<AppState>, body: web::Json<Value>) -> Result<HttpResponse, ApiError> {
    let body = object(body.into_inner())?;
    let missing: Vec<&str> = ["field", "value"]
        .into_iter()
        .filter(|k| {
            body.get(*k)
                .is_none_or(|v| v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty()))
        })
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "Missing required fields: field and value are required (missing: {})",
            missing.join(", ")
        )));
    }
    let record: FlagRecord = serde_json::from_value(Value::Object(body))
        .map_err(|e| ApiError::BadRequest(format!("invalid flag: {e}")))?;
    let (reason, expires_at) = (record.reason.clone(), record.expires_at.clone());
    let added = state.blocklist.add(record).await?;
    if added.already_existed {
        // Re-adding with a new reason or expiry updates the flag (the caller means it).
        let new_reason = reason
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty() && Some(r.as_str()) != added.flag.reason.as_deref());
        let new_expiry = expires_at.filter(|e| !e.trim().is_empty());
        let (flag, updated) = if new_reason.is_some() || new_expiry.is_some() {
            let patch = crate::blocklist::FlagPatch {
                reason: new_reason.map(Some),
                expires_at: new_expiry.map(Some),
                value: None,
            };
            (state.blocklist.update(added.flag.id(), patch).await?, true)
        } else {
            (added.flag, false)
        };
        Ok(HttpResponse::Ok().json(json!({
            "success": true,
            "message": if updated {
                "Flag already present in blocklist; its reason/expiry were updated"
            } else {
                "Flag already present in blocklist"
            },
            "alreadyExists": true,
            "updated": updated,
            "flag": flag,
        })))
    } else {
        Ok(HttpResponse::Created().json(json!({
            "success": true,
            "message": "Blocklist flag added successfully",
            "alreadyExists": false,
            "flag": added.flag,
        })))
    }
}

#[utoipa::path(get, path = "/api/admin/blocklist/{id}", tag = "admin", summary = "One flag", params(("id" = String, Path, description = "flag id")), responses((status = 200, description = "the flag", body = super::schemas::OneFlag), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody), (status = 404, description = "not found", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn get_one(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let flag = state
        .blocklist
        .get(&id)
        .ok_or_else(|| ApiError::NotFound(format!("blocklist flag `{id}` not found")))?;
    Ok(HttpResponse::Ok().json(json!({"success": true, "flag": flag})))
}

#[utoipa::path(delete, path = "/api/admin/blocklist/{id}", tag = "admin", summary = "Delete a flag", params(("id" = String, Path, description = "flag id")), responses((status = 200, description = "seed shape", body = super::schemas::FlagChanged), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody), (status = 404, description = "not found", body = super::openapi::ErrorBody), (status = 503, description = "unavailable (storage, database, or the admin API off)", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn remove(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let flag = state.blocklist.remove(&id).await?;
    Ok(HttpResponse::Ok().json(json!({
        "success": true,
        "message": "Blocklist flag removed successfully",
        "flag": flag,
    })))
}

fn optional_string(
    body: &Map<String, Value>,
    key: &str,
) -> Result<Option<Option<String>>, ApiError> {
    match body.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
        Some(_) => Err(ApiError::BadRequest(format!(
            "`{key}` must be a string or null"
        ))),
    }
}

#[utoipa::path(put, path = "/api/admin/blocklist/{id}", tag = "admin", summary = "Change a flag (reason, expiry, value)", params(("id" = String, Path, description = "flag id")), request_body(content = serde_json::Value, content_type = "application/json"), responses((status = 415, description = "a body that is not the content type the route reads", body = super::openapi::ErrorBody), (status = 200, description = "the changed flag", body = super::schemas::FlagChanged), (status = 400, description = "bad input, naming the problem", body = super::openapi::ErrorBody), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody), (status = 404, description = "not found", body = super::openapi::ErrorBody), (status = 503, description = "unavailable (storage, database, or the admin API off)", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn update(
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let body = object(body.into_inner())?;
    if let Some(key) = body
        .keys()
        .find(|k| !matches!(k.as_str(), "reason" | "expires_at" | "value"))
    {
        return Err(ApiError::BadRequest(format!(
            "`{key}` cannot be changed; a flag's reason, expires_at and value can"
        )));
    }
    let patch = FlagPatch {
        reason: optional_string(&body, "reason")?,
        expires_at: optional_string(&body, "expires_at")?,
        value: body.get("value").cloned(),
    };
    let flag = state.blocklist.update(&id, patch).await?;
    Ok(HttpResponse::Ok().json(json!({
        "success": true,
        "message": "Blocklist flag updated successfully",
        "flag": flag,
    })))
}

#[utoipa::path(put, path = "/api/admin/blocklist/enabled", tag = "admin", summary = "Turn flags, feeds and the content screen on or off {enabled}", request_body(content = serde_json::Value, content_type = "application/json"), responses((status = 415, description = "a body that is not the content type the route reads", body = super::openapi::ErrorBody), (status = 200, description = "seed shape", body = super::schemas::EnabledSet), (status = 400, description = "bad input, naming the problem", body = super::openapi::ErrorBody), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn set_enabled(
    state: web::Data<AppState>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let Some(enabled) = body.get("enabled").and_then(Value::as_bool) else {
        return Err(ApiError::BadRequest(
            "`enabled` must be a boolean (true or false)".into(),
        ));
    };
    state.blocklist.set_enabled(enabled).await?;
    let word = if enabled { "enabled" } else { "disabled" };
    Ok(HttpResponse::Ok().json(json!({
        "success": true,
        "message": format!("Blocklist {word} successfully"),
        "enabled": enabled,
    })))
}

#[utoipa::path(method(get, head), path = "/api/admin/blocklist/lookup", tag = "admin", summary = "Is a value flagged? 204 with X-Flag-Id, or 404", params(("field" = String, Query, description = "field"), ("value" = String, Query, description = "value")), responses((status = 204, description = "yes"), (status = 400, description = "bad input, naming the problem", body = super::openapi::ErrorBody), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody), (status = 404, description = "not found", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn lookup(state: web::Data<AppState>, q: Query) -> Result<HttpResponse, ApiError> {
    let field = q.get("field").map(String::as_str).unwrap_or("phone");
    let Some(value) = q.get("value").filter(|v| !v.trim().is_empty()) else {
        return Err(ApiError::BadRequest("`value` is required".into()));
    };
    match state.blocklist.lookup(field, value) {
        Err(e) => Err(ApiError::BadRequest(e.to_string())),
        Ok(None) => Err(ApiError::NotFound("no live flag matches".into())),
        Ok(Some(flag)) => Ok(HttpResponse::NoContent()
            .insert_header(("X-Blocklist-Flag-Id", flag.id().to_string()))
            .finish()),
    }
}

#[utoipa::path(post, path = "/api/admin/blocklist/bulk", tag = "admin", summary = "Bulk add flags from CSV or JSON", request_body(content((String = "text/csv"), (serde_json::Value = "application/json"))), responses((status = 415, description = "a body that is not the content type the route reads", body = super::openapi::ErrorBody), (status = 200, description = "done", body = super::schemas_ops::BulkResult), (status = 400, description = "bad input, naming the problem", body = super::openapi::ErrorBody), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody), (status = 413, description = "body too large", body = super::openapi::ErrorBody), (status = 503, description = "unavailable (storage, database, or the admin API off)", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn bulk_import(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("text/csv")
        .to_ascii_lowercase();
    let country = state.blocklist.country().to_string();
    let parsed = if content_type.starts_with("application/json") {
        bulk::parse_json(&body, &country).map_err(|e| ApiError::BadRequest(e.to_string()))?
    } else if content_type.starts_with("text/")
        || content_type.starts_with("application/octet-stream")
    {
        bulk::parse_csv(&body, &country)
    } else {
        return Err(ApiError::UnsupportedMediaType(
            "send application/json (an array of flags) or text/csv".into(),
        ));
    };
    let invalid: Vec<InvalidLine> = parsed.invalid;
    let (added, existing) = state.blocklist.add_many(parsed.records).await?;
    Ok(HttpResponse::Ok().json(json!({
        "success": true,
        "added": added.len(),
        "existing": existing.len(),
        "invalid": invalid,
    })))
}

#[utoipa::path(get, path = "/api/admin/blocklist/export", tag = "admin", summary = "Every flag as JSON or CSV", params(("format" = Option<String>, Query, description = "json or csv")), responses((status = 200, description = "every flag as JSON, or CSV with format=csv", content((super::schemas_admin::FlagExport = "application/json"), (String = "text/csv"))), (status = 400, description = "bad input, naming the problem", body = super::openapi::ErrorBody), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn export(state: web::Data<AppState>, q: Query) -> Result<HttpResponse, ApiError> {
    match q
        .get("format")
        .map(|f| f.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("") | Some("json") => {
            let body = state.blocklist.read(|index| {
                serde_json::to_vec(&Document {
                    enabled: index.enabled,
                    flags: &index.sorted(),
                })
            });
            let body = body.map_err(ApiError::internal)?;
            Ok(HttpResponse::Ok()
                .content_type("application/json")
                .insert_header((
                    "Content-Disposition",
                    "attachment; filename=\"blocklist.json\"",
                ))
                .body(body))
        }
        Some("csv") => {
            let body = state
                .blocklist
                .read(|index| bulk::to_csv(&index.sorted()))
                .map_err(ApiError::internal)?;
            Ok(HttpResponse::Ok()
                .content_type("text/csv; charset=utf-8")
                .insert_header((
                    "Content-Disposition",
                    "attachment; filename=\"blocklist.csv\"",
                ))
                .body(body))
        }
        Some(other) => Err(ApiError::BadRequest(format!(
            "`format` must be csv or json, not `{other}`"
        ))),
    }
}
