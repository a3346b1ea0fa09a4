//! Webhooks: `POST /webhooks/lead` (alias `/webhooks/awhealth-outbound`, the Node
//! version's path) and `POST /webhooks/bland` (alias `/webhooks/bland-callback`).

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use super::middleware::{new_request_id, RequestId};
use super::params::Query;
use super::AppState;
use crate::dispatch::{Completed, FollowUps, Intake};
use crate::domain::Lead;
use crate::journal::Decision;

pub fn configure(cfg: &mut web::ServiceConfig) {
    for path in ["/webhooks/lead", "/webhooks/awhealth-outbound"] {
        cfg.service(web::resource(path).route(web::post().to(lead)));
    }
    for path in ["/webhooks/bland", "/webhooks/bland-callback"] {
        cfg.service(web::resource(path).route(web::post().to(bland)));
    }
}

pub(super) fn request_id(req: &HttpRequest) -> String {
    req.extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_else(new_request_id)
}

fn same_secret(a: &[u8], b: &[u8]) -> bool {
    let (a, b): ([u8; 32], [u8; 32]) = (Sha256::digest(a).into(), Sha256::digest(b).into());
    a.ct_eq(&b).into()
}

/// The lead as a field map: JSON object, or form fields (string values).
pub(super) fn body_fields(req: &HttpRequest, body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("application/json") {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(ApiError::BadRequest(
                "the lead must be a JSON object".into(),
            )),
            Err(e) => Err(ApiError::BadRequest(format!("malformed JSON: {e}"))),
        }
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|e| ApiError::BadRequest(format!("invalid form body: {e}")))?;
        Ok(pairs
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect())
    } else {
        Err(ApiError::UnsupportedMediaType(
            "send the lead as application/json or application/x-www-form-urlencoded".into(),
        ))
    }
}

/// A webhook from the provider (completions, inbound texts) must carry its signature when
/// secrets are set.
pub(super) fn check_signature(
    follow_ups: &FollowUps,
    req: &HttpRequest,
    body: &[u8],
) -> Result<(), ApiError> {
    let provider = &follow_ups.provider;
    let signature = req
        .headers()
        .get(provider.signature_header())
        .and_then(|v| v.to_str().ok());
    if provider.verify(body, signature) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized(
            "missing or invalid X-Webhook-Signature".into(),
        ))
    }
}

/// With `WEBHOOK_TOKEN` set, the lead webhook needs it (`X-Webhook-Token` or `?token=`).
pub(super) fn check_token(state: &AppState, req: &HttpRequest, q: &Query) -> Result<(), ApiError> {
    let Some(token) = &state.settings.webhook_token else {
        return Ok(());
    };
    let given = req
        .headers()
        .get("x-webhook-token")
        .map(|v| v.as_bytes().to_vec())
        .or_else(|| q.get("token").map(|t| t.as_bytes().to_vec()));
    if given.is_some_and(|g| same_secret(&g, token.expose().as_bytes())) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized(
            "missing or wrong webhook token (X-Webhook-Token or ?token=)".into(),
        ))
    }
}

#[utoipa::path(post, path = "/webhooks/lead", tag = "webhooks", summary = "A lead from Convoso: decided, and called, deferred or blocked", params(("token" = Option<String>, Query, description = "the webhook token (or X-Webhook-Token)")), request_body(content((serde_json::Value = "application/json"), (serde_json::Value = "application/x-www-form-urlencoded")), description = "the lead's fields"), responses((status = 415, description = "a body that is not the content type the route reads", body = super::openapi::ErrorBody), (status = 200, description = "blocked", body = super::schemas_ops::LeadAnswer), (status = 202, description = "accepted (the call is queued) or deferred", body = super::schemas_ops::LeadAnswer), (status = 400, description = "bad input, naming the problem", body = super::openapi::ErrorBody), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody), (status = 413, description = "body too large", body = super::openapi::ErrorBody), (status = 503, description = "unavailable (storage, database, or the admin API off)", body = super::openapi::ErrorBody)), security((), ("webhook_token" = [])))]
async fn lead(
    state: web::Data<AppState>,
    intake: web::Data<Intake>,
    req: HttpRequest,
    q: Query,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    check_token(&state, &req, &q)?;
    let request_id = request_id(&req);
    let fields = body_fields(&req, &body)?;
    let settings = &state.settings;
    let lead = match Lead::parse(fields, &settings.lead_fields, &settings.default_country) {
        Ok(lead) => lead,
        Err(errors) => {
            tracing::warn!(errors = ?errors, "lead webhook rejected");
            intake
                .reject(&request_id, &errors)
                .await
                .map_err(ApiError::store)?;
            state
                .metrics
                .leads
                .get_or_create(&crate::metrics::DecisionLabels {
                    decision: "rejected",
                    stage: "",
                })
                .inc();
            let errors = errors.into_iter().map(Value::String).collect();
            return Err(ApiError::Invalid {
                message: "invalid lead".into(),
                errors,
            });
        }
    };
    let submitted = intake
        .submit(&lead, &request_id)
        .await
        .map_err(ApiError::store)?;
    let eval = submitted.eval;
    let decision = match eval.decision {
        Decision::Accepted => "accepted",
        Decision::Deferred => "deferred",
        Decision::Blocked => "blocked",
    };
    state
        .metrics
        .leads
        .get_or_create(&crate::metrics::DecisionLabels {
            decision,
            stage: eval.stage.unwrap_or(""),
        })
        .inc();
    let mut body = json!({"success": true, "request_id": request_id, "decision": decision});
    match eval.decision {
        Decision::Accepted => Ok(HttpResponse::Accepted().json(body)),
        Decision::Deferred => {
            body["stage"] = json!(eval.stage);
            body["reason"] = json!(eval.reason);
            body["release_at"] = json!(eval.release_at.map(crate::clock::format_instant));
            body["queue_id"] = json!(submitted.queue_id);
            Ok(HttpResponse::Accepted().json(body))
        }
        Decision::Blocked => {
            body["stage"] = json!(eval.stage);
            body["reason"] = json!(eval.reason);
            if let Some(flag) = eval.flag_id() {
                body["flag_id"] = json!(flag);
            }
            Ok(HttpResponse::Ok().json(body))
        }
    }
}

#[utoipa::path(post, path = "/webhooks/bland", tag = "webhooks", summary = "Bland's completion webhook (X-Webhook-Signature when secrets are set)", request_body(content = serde_json::Value, content_type = "application/json"), responses((status = 415, description = "a body that is not the content type the route reads", body = super::openapi::ErrorBody), (status = 200, description = "done", body = super::schemas_ops::CompletionAnswer), (status = 400, description = "bad input, naming the problem", body = super::openapi::ErrorBody), (status = 401, description = "missing or wrong X-Webhook-Signature", body = super::openapi::ErrorBody), (status = 503, description = "the completion could not be recorded (the store is named); Bland retries", body = super::openapi::ErrorBody)), security((), ("bland_signature" = [])))]
async fn bland(
    follow_ups: web::Data<FollowUps>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    check_signature(&follow_ups, &req, &body)?;
    let provider = &follow_ups.provider;
    let payload: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))?;
    provider
        .parse_completion(&payload)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let (c, done) = follow_ups.complete(&payload).await.map_err(|e| {
        tracing::error!(error = %e, database = e.is_database(), "a completion could not be recorded; Bland retries it");
        // Nothing was recorded (what failed is named in `e`, the database included): Bland
        // retries a 5xx, and 503 says "not now" as the lead webhook does, not a bug.
        ApiError::Unavailable(format!("{e}; the completion was not recorded, retry later"))
    })?;
    let status = match &done {
        Completed::Recorded { .. } => "recorded",
        Completed::Duplicate => "duplicate",
        Completed::Unmatched => "unmatched",
    };
    let mut out =
        json!({"success": true, "call_id": c.call_id, "outcome": c.outcome, "status": status});
    if let Completed::Recorded { request_id } = done {
        out["request_id"] = json!(request_id);
    }
    Ok(HttpResponse::Ok().json(out))
}
