//! Attempts and statistics: `/api/admin/blocklist/attempts/…`,
//! `/api/admin/blocklist/statistics` and `/api/admin/statistics`. File reading and
//! aggregation run on the blocking pool.

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use super::error::ApiError;
use super::params::{blocking, date_range, number, Query};
use super::AppState;
use crate::journal::Kind;
use crate::stats::calls;
use crate::stats::range::parse_date;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/blocklist/attempts/today").route(web::get().to(attempts_today)))
        .service(web::resource("/blocklist/attempts/{date}").route(web::get().to(attempts)))
        .service(web::resource("/blocklist/statistics").route(web::get().to(blocklist_statistics)))
        .service(web::resource("/statistics").route(web::get().to(pipeline_statistics)));
}

fn today(state: &AppState) -> chrono::NaiveDate {
    crate::clock::business_date(state.clock.now(), state.settings.timezone)
}

#[utoipa::path(get, path = "/api/admin/blocklist/attempts/today", tag = "admin", summary = "Today's blocked attempts, the business date in TIMEZONE (seed shape)", params(("limit" = Option<String>, Query, description = "page size"), ("offset" = Option<String>, Query, description = "page start")), responses((status = 200, description = "the day (seed shape)", body = super::schemas::AttemptsDay), (status = 400, description = "bad input, naming the problem", body = super::openapi::ErrorBody), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn attempts_today(state: web::Data<AppState>, q: Query) -> Result<HttpResponse, ApiError> {
    let date = today(&state);
    attempts_of(state, date, q).await
}

#[utoipa::path(get, path = "/api/admin/blocklist/attempts/{date}", tag = "admin", summary = "One business day of blocked attempts (seed shape)", params(("date" = String, Path, description = "YYYY-MM-DD"), ("limit" = Option<String>, Query, description = "page size"), ("offset" = Option<String>, Query, description = "page start")), responses((status = 200, description = "the day (seed shape)", body = super::schemas::AttemptsDay), (status = 400, description = "bad input, naming the problem", body = super::openapi::ErrorBody), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn attempts(
    state: web::Data<AppState>,
    date: web::Path<String>,
    q: Query,
) -> Result<HttpResponse, ApiError> {
    let date = parse_date("date", date.as_str())?;
    attempts_of(state, date, q).await
}

/// One business day of the attempts journal, paged, in the seed's shape.
async fn attempts_of(
    state: web::Data<AppState>,
    date: chrono::NaiveDate,
    q: Query,
) -> Result<HttpResponse, ApiError> {
    let limit = number(&q, "limit")?;
    let offset = number(&q, "offset")?.unwrap_or(0);
    let quarantine = state.quarantine.clone();
    let journals = state.journals.clone();
    let day = blocking(move || journals.read_day(Kind::Attempts, date, Some(&quarantine))).await?;
    let blocked = day
        .records
        .iter()
        .filter(|r| r.get("blocked") == Some(&Value::Bool(true)))
        .count();
    let total = day.records.len();
    let page: Vec<Value> = day
        .records
        .into_iter()
        .skip(offset)
        .take(limit.unwrap_or(usize::MAX))
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "date": date.to_string(),
        "total_attempts": total,
        "blocked_count": blocked,
        "attempts": page,
    })))
}

#[utoipa::path(get, path = "/api/admin/blocklist/statistics", tag = "admin", summary = "Blocklist statistics (seed shape, plus by_list)", params(("start" = Option<String>, Query, description = "first business date (YYYY-MM-DD), inclusive"), ("end" = Option<String>, Query, description = "last business date (YYYY-MM-DD), inclusive")), responses((status = 200, description = "seed shape, plus by_list", body = super::schemas::BlocklistStatistics), (status = 400, description = "bad input, naming the problem", body = super::openapi::ErrorBody), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn blocklist_statistics(
    state: web::Data<AppState>,
    q: Query,
) -> Result<HttpResponse, ApiError> {
    let today = today(&state);
    let range = date_range(&q, today)?;
    let body = blocking(move || {
        let current = |id: &str| {
            state.blocklist.get(id).map(|f| {
                json!({"id": f.id(), "field": &*f.field, "value": f.value(), "reason": f.reason.as_deref()})
            })
        };
        let stats = state.stats.blocklist(range, today, &current)?;
        serde_json::to_vec(&stats).map_err(ApiError::internal)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
}

#[utoipa::path(get, path = "/api/admin/statistics", tag = "admin", summary = "Pipeline statistics per day and in total (JSON or CSV)", params(("start" = Option<String>, Query, description = "first business date (YYYY-MM-DD), inclusive"), ("end" = Option<String>, Query, description = "last business date (YYYY-MM-DD), inclusive"), ("format" = Option<String>, Query, description = "json or csv")), responses((status = 200, description = "per day and in total (JSON), or CSV with format=csv", content((super::schemas::PipelineStatistics = "application/json"), (String = "text/csv"))), (status = 400, description = "bad input, naming the problem", body = super::openapi::ErrorBody), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn pipeline_statistics(
    state: web::Data<AppState>,
    q: Query,
) -> Result<HttpResponse, ApiError> {
    let today = today(&state);
    let range = date_range(&q, today)?;
    let csv = wants_csv(&q)?;
    let stats = blocking(move || {
        state
            .stats
            .pipeline(range, today, state.settings.timezone.name())
    })
    .await?;
    if csv {
        let body = calls::to_csv(&stats).map_err(ApiError::internal)?;
        Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .body(body))
    } else {
        Ok(HttpResponse::Ok().json(stats))
    }
}

/// `?format=json|csv` (default json).
pub(super) fn wants_csv(q: &Query) -> Result<bool, ApiError> {
    match q
        .get("format")
        .map(|f| f.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("") | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(other) => Err(ApiError::BadRequest(format!(
            "`format` must be json or csv, not `{other}`"
        ))),
    }
}
