//! `POST /webhooks/sms` (alias `/webhooks/sms-reply`, the Node version's path): a text a
//! lead sent us, read for an opt-out or a callback word ([`crate::dispatch::replies`]).
//! Signed like Bland's completions when `BLAND_WEBHOOK_SECRET` is set. JSON or form; the
//! sender in `from` (or `user_number`, `phone_number`), the text in `body` (or `message`,
//! `text`), our number in `to` (or `agent_number`), and the provider's message id in `id`
//! (or `message_id`, `sms_id`): a text is recorded once by that id, or, without one, by
//! its sender, recipient and words.
//!
//! `POST /webhooks/call-back`: a callback asked for (the Node version's fields: the lead's
//! `phone_number`, `lead_id`, names…, and an optional `callback_at`), protected by
//! `WEBHOOK_TOKEN` like the lead webhook. The lead goes through the whole pipeline at
//! `callback_at` (at most 30 days ahead; one in the past means now) or now.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Duration;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::params::Query;
use super::webhooks::{body_fields, check_signature, check_token, request_id};
use super::AppState;
use crate::dispatch::replies::{Inbound, ReplyDone};
use crate::dispatch::{FollowUps, Intake};
use crate::domain::{Lead, PhoneNumber};

/// Longest message id, in bytes.
const MAX_ID_BYTES: usize = 128;
/// How far ahead a callback may be asked for.
const MAX_CALLBACK_DAYS: i64 = 30;

pub fn configure(cfg: &mut web::ServiceConfig) {
    for path in ["/webhooks/sms", "/webhooks/sms-reply"] {
        cfg.service(web::resource(path).route(web::post().to(sms)));
    }
    cfg.service(web::resource("/webhooks/call-back").route(web::post().to(call_back)));
}

/// `POST /webhooks/sms`: a text from a lead.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct InboundText {
    /// The sender, any spelling (or `user_number`, `phone_number`).
    from: String,
    /// The text (or `message`, `text`).
    body: String,
    /// Our number (or `agent_number`).
    #[schema(required = false)]
    to: Option<String>,
    /// The provider's message id (or `message_id`, `sms_id`): the text is recorded once.
    #[schema(required = false)]
    id: Option<String>,
}

/// What a text did.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct InboundAnswer {
    success: bool,
    /// `recorded` or `duplicate`.
    status: String,
    #[schema(required = false)]
    request_id: Option<String>,
    /// `opt_out`, `callback` or `other`.
    #[schema(required = false)]
    asked: Option<String>,
    #[schema(required = false)]
    word: Option<String>,
    /// `flagged`, `callback` or `none`.
    #[schema(required = false)]
    action: Option<String>,
    #[schema(required = false)]
    lead_id: Option<String>,
    #[schema(required = false)]
    flag_id: Option<String>,
    #[schema(required = false)]
    queue_id: Option<String>,
}

/// A callback scheduled.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct CallbackAnswer {
    success: bool,
    /// `scheduled`.
    status: String,
    request_id: String,
    queue_id: String,
    /// When the lead goes through the pipeline (RFC 3339).
    release_at: String,
}

fn first_text(fields: &Map<String, Value>, names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| match fields.get(*n) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// The text's key: the provider's id, or a digest of sender, recipient and words.
fn text_key(
    fields: &Map<String, Value>,
    phone: &str,
    to: Option<&str>,
    body: &str,
) -> Result<String, String> {
    if let Some(id) = first_text(fields, &["id", "message_id", "sms_id"]) {
        if id.len() > MAX_ID_BYTES || id.chars().any(char::is_control) {
            return Err(format!(
                "`id` must be at most {MAX_ID_BYTES} bytes without control characters"
            ));
        }
        return Ok(format!("id:{id}"));
    }
    let mut h = Sha256::new();
    for part in [phone, to.unwrap_or(""), body] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("sha256:{hex}"))
}

#[utoipa::path(post, path = "/webhooks/sms", tag = "webhooks", summary = "A text from a lead: opt-out and callback words acted on (alias /webhooks/sms-reply)", request_body(content((InboundText = "application/json"), (InboundText = "application/x-www-form-urlencoded")), description = "the text"), responses((status = 200, description = "recorded, or a repeat of one recorded (`status`)", body = InboundAnswer), (status = 400, description = "bad input, naming the problem", body = super::openapi::ErrorBody), (status = 401, description = "missing or wrong X-Webhook-Signature", body = super::openapi::ErrorBody), (status = 413, description = "body too large", body = super::openapi::ErrorBody), (status = 415, description = "a body that is not the content type the route reads", body = super::openapi::ErrorBody), (status = 503, description = "unavailable (storage or database); nothing was recorded, retry", body = super::openapi::ErrorBody)), security((), ("bland_signature" = [])))]
async fn sms(
    state: web::Data<AppState>,
    intake: web::Data<Intake>,
    follow_ups: web::Data<FollowUps>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    check_signature(&follow_ups, &req, &body)?;
    let fields = body_fields(&req, &body)?;
    let mut errors = Vec::new();
    let phone = match first_text(&fields, &["from", "user_number", "phone_number"]) {
        None => {
            errors.push("`from` (the sender) is required".to_string());
            None
        }
        Some(raw) => PhoneNumber::parse(&raw, &state.settings.default_country)
            .map_err(|e| errors.push(format!("`from`: {e}")))
            .ok(),
    };
    let text = first_text(&fields, &["body", "message", "text"]);
    if text.is_none() {
        errors.push("`body` (or `message`), the text, is required".into());
    }
    let to = first_text(&fields, &["to", "agent_number"]);
    let (Some(phone), Some(text)) = (phone, text) else {
        return Err(invalid(errors));
    };
    let key =
        text_key(&fields, phone.as_str(), to.as_deref(), &text).map_err(|e| invalid(vec![e]))?;
    let request_id = request_id(&req);
    let inbound = Inbound {
        phone: phone.as_str(),
        to: to.as_deref(),
        body: &text,
        key: &key,
    };
    let done = intake.reply(inbound, &request_id).await.map_err(|e| {
        tracing::error!(error = %e, database = e.is_database(), "a text could not be recorded; its sender retries");
        ApiError::Unavailable(format!("{e}; the text was not recorded, retry later"))
    })?;
    let out = match done {
        ReplyDone::Duplicate => json!({"success": true, "status": "duplicate"}),
        ReplyDone::Recorded {
            asked,
            action,
            lead_id,
            flag_id,
            queue_id,
        } => json!({"success": true, "status": "recorded", "request_id": request_id,
            "asked": asked.kind(), "word": asked.word(), "action": action,
            "lead_id": lead_id, "flag_id": flag_id, "queue_id": queue_id}),
    };
    Ok(HttpResponse::Ok().json(out))
}

fn invalid(errors: Vec<String>) -> ApiError {
    ApiError::Invalid {
        message: "invalid text".into(),
        errors: errors.into_iter().map(Value::String).collect(),
    }
}

#[utoipa::path(post, path = "/webhooks/call-back", tag = "webhooks", summary = "A callback asked for: the lead through the whole pipeline at `callback_at` or now", params(("token" = Option<String>, Query, description = "the webhook token (or X-Webhook-Token)")), request_body(content((serde_json::Value = "application/json"), (serde_json::Value = "application/x-www-form-urlencoded")), description = "the lead (the lead webhook's fields) and an optional `callback_at` (RFC 3339, local `YYYY-MM-DD HH:MM:SS` in `TIMEZONE`, or epoch seconds)"), responses((status = 202, description = "scheduled", body = CallbackAnswer), (status = 400, description = "bad input, naming the problem", body = super::openapi::ErrorBody), (status = 401, description = "missing or wrong webhook token", body = super::openapi::ErrorBody), (status = 413, description = "body too large", body = super::openapi::ErrorBody), (status = 415, description = "a body that is not the content type the route reads", body = super::openapi::ErrorBody), (status = 503, description = "unavailable (storage or database); nothing was recorded", body = super::openapi::ErrorBody)), security((), ("webhook_token" = [])))]
async fn call_back(
    state: web::Data<AppState>,
    intake: web::Data<Intake>,
    req: HttpRequest,
    q: Query,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    check_token(&state, &req, &q)?;
    let mut fields = body_fields(&req, &body)?;
    let settings = &state.settings;
    let now = state.clock.now();
    let mut errors = Vec::new();
    let at = match fields.remove("callback_at") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => super::attempts::parse_at(s.trim(), settings.timezone)
            .or_else(|| {
                errors.push(format!("`callback_at` must be an RFC 3339 instant, a local `YYYY-MM-DD HH:MM:SS` or epoch seconds, not `{s}`"));
                None
            }),
        Some(Value::Number(n)) => n.as_i64().and_then(|s| chrono::DateTime::from_timestamp(s, 0)).or_else(|| {
            errors.push(format!("`callback_at`: {n} is not epoch seconds"));
            None
        }),
        Some(_) => {
            errors.push("`callback_at` must be a string or epoch seconds".into());
            None
        }
    };
    if at.is_some_and(|a| a - now > Duration::days(MAX_CALLBACK_DAYS)) {
        errors.push(format!(
            "`callback_at` is more than {MAX_CALLBACK_DAYS} days ahead"
        ));
    }
    let lead = Lead::parse(fields, &settings.lead_fields, &settings.default_country)
        .map_err(|e| errors.extend(e))
        .ok();
    let (Some(lead), true) = (lead, errors.is_empty()) else {
        return Err(ApiError::Invalid {
            message: "invalid callback".into(),
            errors: errors.into_iter().map(Value::String).collect(),
        });
    };
    let request_id = request_id(&req);
    let done = intake.callback(&lead, &request_id, at, "webhook").await?;
    Ok(
        HttpResponse::Accepted().json(json!({"success": true, "status": "scheduled",
        "request_id": request_id, "queue_id": done.queue_id,
        "release_at": crate::clock::format_instant(done.release_at)})),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_is_keyed_by_its_id_or_by_what_it_says() {
        let with_id = Map::from_iter([("message_id".to_string(), json!("m-1"))]);
        assert_eq!(
            text_key(&with_id, "+13055550100", None, "STOP").as_deref(),
            Ok("id:m-1")
        );
        let none = Map::new();
        let a = text_key(&none, "+13055550100", Some("+13125550123"), "STOP");
        let b = text_key(&none, "+13055550100", Some("+13125550123"), "STOP");
        let c = text_key(&none, "+13055550100", Some("+13125550123"), "STOP now");
        assert_eq!(a, b);
        assert_ne!(a, c);
        let long = Map::from_iter([("id".to_string(), json!("x".repeat(200)))]);
        assert!(text_key(&long, "+1", None, "").is_err());
    }
}
