//! Attempts and statistics: `/api/admin/blocklist/attempts/…`,
//! `/api/admin/blocklist/statistics` and `/api/admin/statistics`. File reading and
//! aggregation run on the blocking pool.

use std::collections::HashMap;

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use super::error::ApiError;
use super::AppState;
use crate::journal::read_day;
use crate::stats::range::parse_date;
use crate::stats::{calls, parse_range};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/blocklist/attempts/{date}").route(web::get().to(attempts)))
        .service(web::resource("/blocklist/statistics").route(web::get().to(blocklist_statistics)))
        .service(web::resource("/statistics").route(web::get().to(pipeline_statistics)));
}

type Query = web::Query<HashMap<String, String>>;

fn today(state: &AppState) -> chrono::NaiveDate {
    crate::clock::business_date(state.clock.now(), state.settings.timezone)
}

fn number(q: &HashMap<String, String>, name: &str) -> Result<Option<usize>, ApiError> {
    q.get(name)
        .map(|v| {
            v.trim().parse().map_err(|_| {
                ApiError::BadRequest(format!("`{name}` must be a non-negative whole number"))
            })
        })
        .transpose()
}

async fn attempts(
    state: web::Data<AppState>,
    date: web::Path<String>,
    q: Query,
) -> Result<HttpResponse, ApiError> {
    let date = match date.as_str() {
        "today" => today(&state),
        other => parse_date("date", other).map_err(ApiError::BadRequest)?,
    };
    let limit = number(&q, "limit")?;
    let offset = number(&q, "offset")?.unwrap_or(0);
    let path = crate::journal::attempts_path(&state.settings.data_dir, date);
    let day = web::block(move || read_day(&path))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
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

async fn blocklist_statistics(
    state: web::Data<AppState>,
    q: Query,
) -> Result<HttpResponse, ApiError> {
    let range = parse_range(
        q.get("start").map(String::as_str),
        q.get("end").map(String::as_str),
        today(&state),
    )
    .map_err(ApiError::BadRequest)?;
    let st = state.clone();
    let body = web::block(move || {
        let blocklist = st.blocklist.clone();
        let current = move |id: &str| {
            blocklist.get(id).map(|f| {
                json!({"id": &*f.id, "field": &*f.field, "value": &*f.value, "reason": f.reason.as_deref()})
            })
        };
        st.stats.blocklist(range, today(&st), &current).and_then(|s| serde_json::to_vec(&s).map_err(std::io::Error::other))
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
}

async fn pipeline_statistics(
    state: web::Data<AppState>,
    q: Query,
) -> Result<HttpResponse, ApiError> {
    let range = parse_range(
        q.get("start").map(String::as_str),
        q.get("end").map(String::as_str),
        today(&state),
    )
    .map_err(ApiError::BadRequest)?;
    let csv = match q
        .get("format")
        .map(|f| f.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("") | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "`format` must be json or csv, not `{other}`"
            )))
        }
    };
    let st = state.clone();
    let stats = web::block(move || {
        st.stats
            .pipeline(range, today(&st), st.settings.timezone.name())
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    if csv {
        let body = calls::to_csv(&stats).map_err(ApiError::internal)?;
        Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .body(body))
    } else {
        Ok(HttpResponse::Ok().json(stats))
    }
}
