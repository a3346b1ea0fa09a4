//! `GET /api/admin/leads/lookup?phone=&lead_id=&start=&end=`: "why was this lead not
//! called?" without a request id. Every decision (with its trace), dispatch, outcome,
//! call placed elsewhere (`external`, with its source), text the lead sent (`reply`) and
//! callback asked for (`callback`) for a number (any spelling) and/or
//! a lead id over a date range of business days (inclusive, default the last 7, at most
//! 31), oldest first, at most 1,000 events.

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use super::error::ApiError;
use super::params::{blocking, Query};
use super::AppState;
use crate::domain::PhoneNumber;

/// The longest range one lookup reads, in days.
pub const MAX_LOOKUP_DAYS: i64 = 31;
const MAX_EVENTS: usize = 1000;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/leads/lookup").route(web::get().to(lookup)));
}

#[utoipa::path(get, path = "/api/admin/leads/lookup", tag = "admin", summary = "Why was this lead not called? Decisions, dispatches, outcomes", params(("phone" = Option<String>, Query, description = "the number, any spelling"), ("lead_id" = Option<String>, Query, description = "lead id"), ("start" = Option<String>, Query, description = "first business date (YYYY-MM-DD), inclusive"), ("end" = Option<String>, Query, description = "last business date (YYYY-MM-DD), inclusive")), responses((status = 200, description = "done", body = super::schemas_ops::LeadLookup), (status = 400, description = "bad input, naming the problem", body = super::openapi::ErrorBody), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn lookup(state: web::Data<AppState>, q: Query) -> Result<HttpResponse, ApiError> {
    let phone = match q.get("phone").filter(|p| !p.trim().is_empty()) {
        Some(p) => Some(
            PhoneNumber::parse(p, &state.settings.default_country)
                .map_err(|e| ApiError::BadRequest(format!("`phone`: {e}")))?,
        ),
        None => None,
    };
    let lead_id = q
        .get("lead_id")
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty());
    if phone.is_none() && lead_id.is_none() {
        return Err(ApiError::BadRequest(
            "give `phone` (any spelling) and/or `lead_id`".into(),
        ));
    }
    let today = crate::clock::business_date(state.clock.now(), state.settings.timezone);
    let range = crate::stats::range::parse_range(
        q.get("start").map(String::as_str),
        q.get("end").map(String::as_str),
        today,
    )?;
    let days = (range.end - range.start).num_days() + 1;
    if days > MAX_LOOKUP_DAYS {
        return Err(ApiError::BadRequest(format!(
            "the range covers {days} days; a lookup reads at most {MAX_LOOKUP_DAYS}"
        )));
    }
    let journals = state.journals.clone();
    let e164 = phone.as_ref().map(|p| p.as_str().to_string());
    let wanted = (e164.clone(), lead_id.clone());
    let quarantine = state.quarantine.clone();
    let (events, truncated) = blocking(move || {
        let (phone, lead) = &wanted;
        // The rarer key narrows the lines parsed; both must then match exactly.
        let needle = match (phone, lead) {
            (Some(p), _) => serde_json::to_string(&json!({"phone": p})),
            (None, Some(l)) => serde_json::to_string(&json!({"lead_id": l})),
            (None, None) => Ok(String::new()),
        }
        .map(|s| s.trim_start_matches('{').trim_end_matches('}').to_string())
        .unwrap_or_default();
        let is = |v: &Value, k: &str, want: &Option<String>| {
            want.as_deref()
                .is_none_or(|w| v.get(k).and_then(Value::as_str) == Some(w))
        };
        let mut out = Vec::new();
        for date in range.dates() {
            for line in journals.calls_containing(date, &needle, Some(&quarantine))? {
                if is(&line, "phone", phone) && is(&line, "lead_id", lead) {
                    out.push(line);
                }
            }
        }
        let truncated = out.len() > MAX_EVENTS;
        out.truncate(MAX_EVENTS);
        Ok::<_, crate::store::StoreError>((out, truncated))
    })
    .await?;
    let count = |kind: &str| events.iter().filter(|e| e["event"] == kind).count();
    Ok(HttpResponse::Ok().json(json!({
        "phone": e164,
        "lead_id": lead_id,
        "date_range": {"start": range.start, "end": range.end},
        "decisions": count("decision"),
        "dispatches": count("dispatch"),
        "outcomes": count("outcome"),
        "external": count("external"),
        "replies": count("reply"),
        "callbacks": count("callback"),
        "truncated": truncated,
        "events": events,
    })))
}
