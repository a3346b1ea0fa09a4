//! The outermost middleware: gives every request an id of ours (`req_<uuid>`; request ids
//! key leads, outbox entries and releases, so a caller never chooses one), keeps a sane
//! caller `X-Request-Id` as the correlation id (logged, echoed in `X-Correlation-Id`), runs it inside a `request` span and the [`REQUEST_ID`] task-local, turns any non-JSON
//! error response (router 404/405, actix defaults) into the JSON error body, sets the
//! `X-Request-Id` response header and records the request in the metrics.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage, ResponseError};
use tracing::Instrument;

use super::error::{ApiError, REQUEST_ID};
use super::AppState;

pub const REQUEST_ID_HEADER: &str = "x-request-id";
pub const CORRELATION_ID_HEADER: &str = "x-correlation-id";

/// The id of the request, available to handlers through the request extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The caller's own `X-Request-Id`, when sane: logged and echoed, never a key.
#[derive(Debug, Clone)]
pub struct CorrelationId(pub String);

/// Accepts a caller's id only if it is short and plain (it ends up in logs and files).
fn sane(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

pub use crate::dispatch::new_request_id;

pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let started = Instant::now();
    let id = new_request_id();
    let correlation = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| sane(v))
        .map(str::to_string);
    req.extensions_mut().insert(RequestId(id.clone()));
    if let Some(c) = &correlation {
        req.extensions_mut().insert(CorrelationId(c.clone()));
    }
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let method = req.method().to_string();
    let quiet = req.path().starts_with("/health") || req.path() == "/metrics";
    let span = tracing::info_span!("request", request_id = %id,
        correlation_id = correlation.as_deref().unwrap_or(""), method = %method, path = %req.path());

    let handled = async move {
        // Our handlers and middleware answer errors as responses; an `Err` here can only
        // come from actix itself and is passed on for it to answer.
        let mut res = next.call(req).await?.map_into_boxed_body();
        let status = res.status();
        let is_json = res
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if (status.is_client_error() || status.is_server_error()) && !is_json {
            let replacement = ApiError::for_status(status).error_response();
            res = res.into_response(replacement.map_into_boxed_body());
        }
        if let Ok(value) = HeaderValue::from_str(&current_id()) {
            res.headers_mut()
                .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
        }
        if let Some(value) = correlation.and_then(|c| HeaderValue::from_str(&c).ok()) {
            res.headers_mut()
                .insert(HeaderName::from_static(CORRELATION_ID_HEADER), value);
        }
        let elapsed = started.elapsed();
        let route = res
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".to_string());
        if let Some(state) = &state {
            state
                .metrics
                .observe_http(&method, &route, status.as_u16(), elapsed.as_secs_f64());
        }
        let duration_ms = elapsed.as_secs_f64() * 1000.0;
        if quiet {
            tracing::debug!(status = status.as_u16(), duration_ms, "request finished");
        } else {
            tracing::info!(status = status.as_u16(), duration_ms, "request finished");
        }
        Ok(res)
    };
    REQUEST_ID.scope(id, handled).instrument(span).await
}

fn current_id() -> String {
    super::error::current_request_id()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_short_ids_are_taken_from_callers() {
        assert!(sane("abc-123_x.y:z"));
        assert!(!sane(""));
        assert!(!sane("has space"));
        assert!(!sane("inject\nline"));
        assert!(!sane(&"a".repeat(129)));
        assert!(new_request_id().starts_with("req_"));
    }
}
