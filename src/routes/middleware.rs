//! The outermost middleware: gives every request an id of ours (`req_<uuid>`; request ids
//! key leads, outbox entries and releases, so a caller never chooses one), keeps a sane
//! caller `X-Request-Id` as the correlation id (logged, echoed in `X-Correlation-Id`), runs it inside a `request` span and the [`REQUEST_ID`] task-local, turns any non-JSON
//! error response (router 404/405, actix defaults) into the JSON error body, sets the
//! `X-Request-Id` response header and records the request in the metrics.
//!
//! A request body is read in full before any handler runs, so no answer (a 401, a 404, a
//! route that takes no body) goes out while the client is still sending: actix's HTTP/1
//! dispatcher could then keep such a connection open, `Connection: close` or not. A body
//! over the route's limit is read on and discarded up to [`DRAIN_MAX`] bytes, then
//! answered 413 with `Connection: close`. The exception is a do-not-call list load
//! ([`super::upload`]): its body streams to the handler, which reads it to the end before
//! answering (and the admin-key check drains it before a 401).

use std::time::{Duration, Instant};

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

/// How much of an oversized body is read and thrown away before the 413 goes out.
pub const DRAIN_MAX: usize = 256 * 1024 * 1024;

/// The body limit of a path (bulk imports take more than ordinary requests).
fn body_limit(req: &ServiceRequest, default: usize) -> usize {
    if req.path() == "/api/admin/blocklist/bulk" {
        super::blocklist::BULK_MAX_BYTES
    } else {
        default
    }
}

fn has_body(req: &ServiceRequest) -> bool {
    let h = req.headers();
    h.contains_key(actix_web::http::header::TRANSFER_ENCODING)
        || h.get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0")
}

/// Reads the whole body into memory and puts it back as the request's payload. `Err` is
/// the answer to give instead (413 after draining, 400 for a body that cannot be read,
/// 408 for one that has not arrived whole within `deadline` — a body sent a byte a
/// second would otherwise hold its connection and worker for ever; actix bounds only the
/// headers).
async fn read_body_first(
    req: &mut ServiceRequest,
    limit: usize,
    deadline: Duration,
) -> Result<(), ApiError> {
    use futures_util::StreamExt;
    let mut payload = req.take_payload();
    let mut body = web::BytesMut::new();
    let mut seen = 0usize;
    let read = async {
        while let Some(chunk) = payload.next().await {
            let chunk =
                chunk.map_err(|e| ApiError::BadRequest(format!("cannot read the body: {e}")))?;
            seen = seen.saturating_add(chunk.len());
            if seen > limit {
                if seen > DRAIN_MAX {
                    break;
                }
                continue;
            }
            body.extend_from_slice(&chunk);
        }
        Ok::<(), ApiError>(())
    };
    match tokio::time::timeout(deadline, read).await {
        Ok(result) => result?,
        Err(_) => {
            return Err(ApiError::RequestTimeout(format!(
                "the request body did not arrive within {} s (BODY_TIMEOUT_SECS); send it again",
                deadline.as_secs()
            )))
        }
    }
    if seen > limit {
        return Err(ApiError::PayloadTooLarge(format!(
            "request body is over the limit of {limit} bytes"
        )));
    }
    req.set_payload(actix_web::dev::Payload::from(body.freeze()));
    Ok(())
}

pub async fn observe(
    mut req: ServiceRequest,
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

    let limit = state
        .as_ref()
        .map_or(256 * 1024, |s| body_limit(&req, s.settings.max_body_bytes));
    let deadline = Duration::from_secs(
        state
            .as_ref()
            .map_or(30, |s| s.settings.body_timeout_secs)
            .max(1),
    );
    let handled = async move {
        let early = if has_body(&req) && !super::upload::is_streamed(req.method(), req.path()) {
            read_body_first(&mut req, limit, deadline).await.err()
        } else {
            None
        };
        let res = match early {
            Some(e) => {
                let close = matches!(
                    e,
                    ApiError::PayloadTooLarge(_) | ApiError::RequestTimeout(_)
                );
                let mut res = req.into_response(e.error_response().map_into_boxed_body());
                if close {
                    res.response_mut()
                        .head_mut()
                        .set_connection_type(actix_web::http::ConnectionType::Close);
                }
                res
            }
            // Our handlers and middleware answer errors as responses; an `Err` here can
            // only come from actix itself and is passed on for it to answer.
            None => next.call(req).await?.map_into_boxed_body(),
        };
        Ok(finish(
            res,
            &correlation,
            state.as_ref(),
            &method,
            started,
            quiet,
        ))
    };
    REQUEST_ID.scope(id, handled).instrument(span).await
}

/// Every answer: a JSON body for errors, the id headers, metrics and the request log line.
fn finish(
    mut res: ServiceResponse<BoxBody>,
    correlation: &Option<String>,
    state: Option<&web::Data<AppState>>,
    method: &str,
    started: Instant,
    quiet: bool,
) -> ServiceResponse<BoxBody> {
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
    if let Some(value) = correlation
        .as_deref()
        .and_then(|c| HeaderValue::from_str(c).ok())
    {
        res.headers_mut()
            .insert(HeaderName::from_static(CORRELATION_ID_HEADER), value);
    }
    let elapsed = started.elapsed();
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_string());
    if let Some(state) = state {
        state
            .metrics
            .observe_http(method, &route, status.as_u16(), elapsed.as_secs_f64());
    }
    let duration_ms = elapsed.as_secs_f64() * 1000.0;
    if quiet {
        tracing::debug!(status = status.as_u16(), duration_ms, "request finished");
    } else {
        tracing::info!(status = status.as_u16(), duration_ms, "request finished");
    }
    res
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
