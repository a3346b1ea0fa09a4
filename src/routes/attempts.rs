//! `POST /webhooks/attempt`: a call another dialer placed (Convoso's own dialer, a
//! person), recorded so it counts toward the caps, the answering-machine counts and the
//! transfer cooldown like ours ([`crate::dispatch::external`]). Protected by
//! `WEBHOOK_TOKEN` like the lead webhook; JSON or form fields: `phone_number` (any
//! spelling) and `lead_id` (the lead webhook's aliases too), `source` and `id` (the
//! poster's key: recorded once), `at` (when it was placed; default now) and `outcome`.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::params::Query;
use super::webhooks::{body_fields, check_token, request_id};
use super::AppState;
use crate::dispatch::external::{ExternalCall, Recorded};
use crate::dispatch::Intake;
use crate::domain::Lead;
use crate::journal::Outcome;

/// Longest `source` and `id`, in bytes.
pub const MAX_SOURCE_BYTES: usize = 64;
pub const MAX_ID_BYTES: usize = 128;
/// How far back `at` may lie: no cap looks further (the rolling 24 h).
const MAX_AGE_SECS: i64 = 24 * 3600;
/// How far ahead `at` may lie (the other dialer's clock).
const MAX_AHEAD_SECS: i64 = 300;

/// `POST /webhooks/attempt`: a call another dialer placed.
// Read by utoipa only (the OpenAPI document), like `schemas_ops`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ExternalAttempt {
    /// The number called, any spelling (or the lead webhook's aliases).
    phone_number: String,
    lead_id: String,
    /// Who placed it (`convoso`, `manual`, …): with `id`, the key recorded once.
    source: String,
    /// The poster's id of the call.
    id: String,
    /// When it was placed: RFC 3339, local `YYYY-MM-DD HH:MM:SS` in `TIMEZONE`, or epoch
    /// seconds; within the last 24 h; default now.
    #[schema(required = false)]
    at: Option<String>,
    /// `human`, `voicemail`, `no_answer`, `busy`, `transferred` or `failed`.
    #[schema(required = false)]
    outcome: Option<String>,
}

/// `POST /webhooks/attempt`: `recorded` (with our `request_id`) or `duplicate`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ExternalAnswer {
    success: bool,
    status: String,
    #[schema(required = false)]
    request_id: Option<String>,
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/webhooks/attempt").route(web::post().to(attempt)));
}

#[utoipa::path(post, path = "/webhooks/attempt", tag = "webhooks", summary = "A call another dialer placed: counted toward the caps like ours", params(("token" = Option<String>, Query, description = "the webhook token (or X-Webhook-Token)")), request_body(content((ExternalAttempt = "application/json"), (ExternalAttempt = "application/x-www-form-urlencoded")), description = "the call"), responses((status = 200, description = "recorded, or a repeat of one recorded (`status`)", body = ExternalAnswer), (status = 400, description = "bad input, naming the problem", body = super::openapi::ErrorBody), (status = 401, description = "missing or wrong webhook token", body = super::openapi::ErrorBody), (status = 413, description = "body too large", body = super::openapi::ErrorBody), (status = 415, description = "a body that is not the content type the route reads", body = super::openapi::ErrorBody), (status = 503, description = "unavailable (storage or database); nothing was recorded", body = super::openapi::ErrorBody)), security((), ("webhook_token" = [])))]
async fn attempt(
    state: web::Data<AppState>,
    intake: web::Data<Intake>,
    req: HttpRequest,
    q: Query,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    check_token(&state, &req, &q)?;
    let fields = body_fields(&req, &body)?;
    let settings = &state.settings;
    let now = state.clock.now();
    let mut errors = Vec::new();
    let source = key_text(&fields, "source", MAX_SOURCE_BYTES, &mut errors);
    let id = key_text(&fields, "id", MAX_ID_BYTES, &mut errors);
    let at = placed_at(fields.get("at"), settings.timezone, now).unwrap_or_else(|e| {
        errors.push(e);
        now
    });
    let outcome = outcome(fields.get("outcome")).unwrap_or_else(|e| {
        errors.push(e);
        None
    });
    let lead = Lead::parse(fields, &settings.lead_fields, &settings.default_country)
        .map_err(|e| errors.extend(e))
        .ok();
    let (Some(lead), Some(source), Some(id), true) = (lead, source, id, errors.is_empty()) else {
        return Err(ApiError::Invalid {
            message: "invalid call attempt".into(),
            errors: errors.into_iter().map(Value::String).collect(),
        });
    };
    let request_id = request_id(&req);
    let call = ExternalCall {
        lead: &lead,
        source: &source,
        id: &id,
        at,
        outcome,
    };
    let body = match intake.record_external(call, &request_id).await? {
        Recorded::New { request_id } => {
            json!({"success": true, "status": "recorded", "request_id": request_id})
        }
        Recorded::Duplicate => json!({"success": true, "status": "duplicate"}),
    };
    Ok(HttpResponse::Ok().json(body))
}

/// A required key field: a non-empty string (or number) of at most `max` bytes, no
/// control characters.
fn key_text(
    fields: &Map<String, Value>,
    name: &str,
    max: usize,
    errors: &mut Vec<String>,
) -> Option<String> {
    let text = match fields.get(name) {
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        None | Some(Value::Null) => String::new(),
        Some(_) => {
            errors.push(format!("`{name}` must be a string"));
            return None;
        }
    };
    let problem = if text.is_empty() {
        Some(format!("`{name}` is required"))
    } else if text.len() > max {
        Some(format!("`{name}` is longer than {max} bytes"))
    } else if text.chars().any(char::is_control) {
        Some(format!("`{name}` must not hold control characters"))
    } else {
        None
    };
    match problem {
        Some(p) => {
            errors.push(p);
            None
        }
        None => Some(text),
    }
}

/// `at`: an RFC 3339 instant, a local `YYYY-MM-DD HH:MM:SS` (or with `T`) read in
/// `TIMEZONE`, or seconds since the epoch; absent, now. Within the last 24 hours and at
/// most five minutes ahead.
fn placed_at(value: Option<&Value>, tz: Tz, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let at = match value {
        None | Some(Value::Null) => return Ok(now),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(now),
        Some(Value::String(s)) => parse_at(s.trim(), tz)
            .ok_or_else(|| format!("`at` must be an RFC 3339 instant, a local `YYYY-MM-DD HH:MM:SS` or epoch seconds, not `{s}`"))?,
        Some(Value::Number(n)) => n
            .as_i64()
            .and_then(|s| DateTime::from_timestamp(s, 0))
            .ok_or_else(|| format!("`at`: {n} is not epoch seconds"))?,
        Some(_) => return Err("`at` must be a string or epoch seconds".into()),
    };
    let age = (now - at).num_seconds();
    if age > MAX_AGE_SECS {
        return Err("`at` is more than 24 hours ago: no cap counts such a call any more".into());
    }
    if age < -MAX_AHEAD_SECS {
        return Err("`at` is more than five minutes in the future".into());
    }
    Ok(at)
}

pub(super) fn parse_at(s: &str, tz: Tz) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(secs) = s.parse::<i64>() {
        return DateTime::from_timestamp(secs, 0);
    }
    let naive = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// `outcome`: one of ours (`human`, `voicemail`, `no_answer`, `busy`, `transferred`,
/// `failed`, any case, `-` or a space for `_`) or a common dialer word for one
/// (`answered`, `answering_machine`, `machine`, `am`, `na`, `transfer`, `xfer`).
fn outcome(value: Option<&Value>) -> Result<Option<Outcome>, String> {
    let text = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s.trim().to_ascii_lowercase().replace(['-', ' '], "_"),
        Some(_) => return Err("`outcome` must be a string".into()),
    };
    let o = match text.as_str() {
        "" => return Ok(None),
        "human" | "answered" => Outcome::Human,
        "voicemail" | "answering_machine" | "machine" | "am" => Outcome::Voicemail,
        "no_answer" | "na" | "noanswer" => Outcome::NoAnswer,
        "busy" => Outcome::Busy,
        "transferred" | "transfer" | "xfer" => Outcome::Transferred,
        "failed" => Outcome::Failed,
        _ => {
            return Err(format!(
                "`outcome` must be one of human, voicemail, no_answer, busy, transferred, failed, not `{text}`"
            ))
        }
    };
    Ok(Some(o))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-12-07T15:00:00Z".parse().expect("instant")
    }

    #[test]
    fn at_reads_rfc3339_local_and_epoch_within_bounds() {
        let tz: Tz = "America/New_York".parse().expect("zone");
        let at = |v: Value| placed_at(Some(&v), tz, now());
        assert_eq!(
            at(json!("2026-12-07T14:00:00Z")),
            Ok("2026-12-07T14:00:00Z".parse().expect("t"))
        );
        // 09:30 in New York in December is 14:30 UTC.
        assert_eq!(
            at(json!("2026-12-07 09:30:00")),
            Ok("2026-12-07T14:30:00Z".parse().expect("t"))
        );
        assert_eq!(
            at(json!(1_796_655_600)),
            Ok(DateTime::from_timestamp(1_796_655_600, 0).expect("t"))
        );
        assert_eq!(placed_at(None, tz, now()), Ok(now()));
        assert!(at(json!("2026-12-06T14:59:00Z"))
            .unwrap_err()
            .contains("24 hours"));
        assert!(at(json!("2026-12-07T15:06:00Z"))
            .unwrap_err()
            .contains("future"));
        assert!(at(json!("yesterday")).unwrap_err().contains("RFC 3339"));
        assert!(at(json!(true)).is_err());
    }

    #[test]
    fn outcomes_read_ours_and_dialer_words() {
        let o = |s: &str| outcome(Some(&json!(s)));
        assert_eq!(o("No-Answer"), Ok(Some(Outcome::NoAnswer)));
        assert_eq!(o("ANSWERING MACHINE"), Ok(Some(Outcome::Voicemail)));
        assert_eq!(o("xfer"), Ok(Some(Outcome::Transferred)));
        assert_eq!(o(""), Ok(None));
        assert!(o("SALE").unwrap_err().contains("one of"));
    }

    #[test]
    fn keys_are_bounded_and_required() {
        let mut errors = Vec::new();
        let fields: Map<String, Value> = serde_json::from_value(json!({
            "source": "convoso", "id": 42, "long": "x".repeat(200), "ctl": "a\u{7}b"
        }))
        .expect("map");
        assert_eq!(
            key_text(&fields, "source", 64, &mut errors).as_deref(),
            Some("convoso")
        );
        assert_eq!(
            key_text(&fields, "id", 128, &mut errors).as_deref(),
            Some("42")
        );
        assert_eq!(key_text(&fields, "long", 128, &mut errors), None);
        assert_eq!(key_text(&fields, "ctl", 128, &mut errors), None);
        assert_eq!(key_text(&fields, "missing", 128, &mut errors), None);
        assert_eq!(errors.len(), 3, "{errors:?}");
    }
}
