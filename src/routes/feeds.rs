//! Feeds and screening: `/api/admin/blocklist/feeds`, `…/feeds/refresh`,
//! `…/check` (number, text or lead; no side effects) and `…/words/check`.

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use super::error::ApiError;
use super::params::Query;
use super::AppState;
use crate::domain::{Lead, PhoneNumber};
use crate::pipeline::blocklist;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/blocklist/feeds").route(web::get().to(list)))
        .service(web::resource("/blocklist/feeds/refresh").route(web::post().to(refresh)))
        .service(web::resource("/blocklist/check").route(web::post().to(check)))
        .service(web::resource("/blocklist/words/check").route(web::post().to(words)));
}

#[utoipa::path(get, path = "/api/admin/blocklist/feeds", tag = "admin", summary = "Feeds and their freshness", responses((status = 200, description = "done", body = super::schemas_ops::Feeds), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn list(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .json(json!({"feeds": state.feeds.status(), "content_terms": state.feeds.screen().len()}))
}

#[utoipa::path(post, path = "/api/admin/blocklist/feeds/refresh", tag = "admin", summary = "Refresh feeds now", params(("name" = Option<String>, Query, description = "one feed")), responses((status = 200, description = "done", body = super::schemas_ops::FeedsRefreshed), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody), (status = 404, description = "not found", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn refresh(state: web::Data<AppState>, q: Query) -> Result<HttpResponse, ApiError> {
    let name = q.get("name").map(String::as_str);
    match state.feeds.refresh(name).await {
        Some(feeds) => Ok(HttpResponse::Ok().json(json!({"success": true, "feeds": feeds}))),
        None => Err(ApiError::NotFound(format!(
            "no feed named `{}`",
            name.unwrap_or("")
        ))),
    }
}

fn text_field<'a>(body: &'a Value, key: &str) -> Result<Option<&'a str>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::BadRequest(format!("`{key}` must be a string"))),
    }
}

#[utoipa::path(post, path = "/api/admin/blocklist/check", tag = "admin", summary = "Which feeds, flags and words a number or lead matches", request_body(content = serde_json::Value, content_type = "application/json"), responses((status = 415, description = "a body that is not the content type the route reads", body = super::openapi::ErrorBody), (status = 200, description = "done", body = super::schemas_ops::ScreenAnswer), (status = 400, description = "bad input, naming the problem", body = super::openapi::ErrorBody), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn check(
    state: web::Data<AppState>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let number = text_field(&body, "number")?;
    let text = text_field(&body, "text")?;
    let lead_fields = match body.get("lead") {
        None | Some(Value::Null) => None,
        Some(Value::Object(map)) => Some(map.clone()),
        Some(_) => return Err(ApiError::BadRequest("`lead` must be an object".into())),
    };
    if number.is_none() && text.is_none() && lead_fields.is_none() {
        return Err(ApiError::BadRequest(
            "give `number`, `text` or `lead`".into(),
        ));
    }
    let settings = &state.settings;
    let mut matches = Vec::new();
    let mut screen_text = text.map(str::to_string);
    let mut phones = Vec::new();
    if let Some(raw) = number {
        let phone = PhoneNumber::parse(raw, &settings.default_country)
            .map_err(|e| ApiError::BadRequest(format!("`number`: {e}")))?;
        if let Ok(Some(flag)) = state.blocklist.lookup("phone", phone.as_str()) {
            matches.push(
                json!({"source": "flag", "name_or_flag_id": flag.id(), "term": phone.as_str()}),
            );
        }
        phones.push(phone);
    }
    if let Some(fields) = lead_fields {
        let lead = Lead::parse(fields, &settings.lead_fields, &settings.default_country).map_err(
            |errors| ApiError::Invalid {
                message: "invalid lead".into(),
                errors: errors.into_iter().map(Value::String).collect(),
            },
        )?;
        if let Some(hit) = state
            .blocklist
            .match_lead(&lead.fields, state.clock.now().timestamp_millis())
        {
            matches.push(json!({"source": "flag", "name_or_flag_id": hit.flag.id(), "term": format!("{}={}", hit.flag.field, hit.value)}));
        }
        let call = blocklist::call_text(
            &blocklist::templates(&settings.bland),
            &state.feeds.lead_fields,
            &lead,
        );
        screen_text = Some(screen_text.map_or(call.clone(), |t| format!("{t}\n{call}")));
        phones.push(lead.phone);
    }
    for phone in &phones {
        if let Some(feed) = state.feeds.number_feed(phone.as_str()) {
            matches
                .push(json!({"source": "feed", "name_or_flag_id": feed, "term": phone.as_str()}));
        }
    }
    if let Some(t) = screen_text {
        for term in state.feeds.screen().matches(&t) {
            matches
                .push(json!({"source": "content", "name_or_flag_id": Value::Null, "term": term}));
        }
    }
    Ok(HttpResponse::Ok().json(json!({"blocked": !matches.is_empty(), "matches": matches})))
}

#[utoipa::path(post, path = "/api/admin/blocklist/words/check", tag = "admin", summary = "Blocked words in a text", request_body(content = serde_json::Value, content_type = "application/json"), responses((status = 415, description = "a body that is not the content type the route reads", body = super::openapi::ErrorBody), (status = 200, description = "done", body = super::schemas_ops::WordsAnswer), (status = 400, description = "bad input, naming the problem", body = super::openapi::ErrorBody), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn words(
    state: web::Data<AppState>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let Some(text) = text_field(&body, "text")? else {
        return Err(ApiError::BadRequest("`text` is required".into()));
    };
    let screen = state.feeds.screen();
    let terms = screen.matches(text);
    Ok(HttpResponse::Ok().json(json!({"blocked": !terms.is_empty(), "terms": terms})))
}
