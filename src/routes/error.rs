//! The one JSON error body: `{"success": false, "error": "...", "request_id": "..."}`.
//! Every module's error becomes an [`ApiError`] here and nowhere else; internal causes are
//! logged with the request id and never returned to the client.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

tokio::task_local! {
    /// The id of the request being handled, set by the `observe` middleware.
    pub static REQUEST_ID: String;
}

/// The current request's id, or an empty string outside a request.
pub fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    /// 400 with every problem listed in `errors`.
    #[error("{message}")]
    Invalid {
        message: String,
        errors: Vec<serde_json::Value>,
    },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Unavailable(String),
    /// The request body did not arrive within `BODY_TIMEOUT_SECS`.
    #[error("{0}")]
    RequestTimeout(String),
    /// A failure on our side; the cause is logged, the client sees a generic message.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }

    /// A storage role's failure: 503 for the database (nothing was recorded; the caller
    /// retries), else 500.
    pub fn store(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Database(e) => Self::Unavailable(format!(
                "the database is unavailable: {e}; nothing was recorded, retry later"
            )),
            crate::store::StoreError::Io(e) => Self::from(e),
        }
    }

    /// The error for a bare status produced outside our handlers (router, actix defaults).
    pub fn for_status(status: StatusCode) -> Self {
        let reason = status.canonical_reason().unwrap_or("error").to_string();
        match status.as_u16() {
            404 => Self::NotFound("no such route".into()),
            405 => Self::MethodNotAllowed("method not allowed for this route".into()),
            413 => Self::PayloadTooLarge("request body is too large".into()),
            415 => Self::UnsupportedMediaType(reason),
            401 => Self::Unauthorized(reason),
            503 => Self::Unavailable(reason),
            s if s >= 500 => Self::Internal(reason),
            _ => Self::BadRequest(reason),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) | Self::Invalid { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let request_id = current_request_id();
        if let Self::Internal(cause) = self {
            tracing::error!(%cause, "internal error");
        }
        let mut body =
            json!({"success": false, "error": self.to_string(), "request_id": request_id});
        if let Self::Invalid { errors, .. } = self {
            body["errors"] = json!(errors);
        }
        HttpResponse::build(self.status_code()).json(body)
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::store(e)
    }
}

/// A file-system failure on our side (the quarantine, a report's files): 500.
impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<crate::stats::range::RangeError> for ApiError {
    fn from(e: crate::stats::range::RangeError) -> Self {
        Self::BadRequest(e.to_string())
    }
}

impl From<crate::store::document::Invalid> for ApiError {
    fn from(e: crate::store::document::Invalid) -> Self {
        Self::BadRequest(e.0)
    }
}

impl From<actix_web::error::JsonPayloadError> for ApiError {
    fn from(e: actix_web::error::JsonPayloadError) -> Self {
        use actix_web::error::JsonPayloadError as J;
        match e {
            J::OverflowKnownLength { length, limit } => Self::PayloadTooLarge(format!(
                "request body is {length} bytes; the limit is {limit} bytes"
            )),
            J::Overflow { limit } => {
                Self::PayloadTooLarge(format!("request body is over the limit of {limit} bytes"))
            }
            J::ContentType => {
                Self::UnsupportedMediaType("expected Content-Type: application/json".into())
            }
            J::Deserialize(e) if e.is_data() => {
                Self::BadRequest(format!("invalid request body: {e}"))
            }
            J::Deserialize(e) => Self::BadRequest(format!("malformed JSON: {e}")),
            J::Payload(actix_web::error::PayloadError::Overflow) => {
                Self::PayloadTooLarge("request body is over the limit".into())
            }
            other => Self::BadRequest(format!("could not read the request body: {other}")),
        }
    }
}

impl From<actix_web::error::QueryPayloadError> for ApiError {
    fn from(e: actix_web::error::QueryPayloadError) -> Self {
        Self::BadRequest(format!("invalid query string: {e}"))
    }
}

impl From<actix_web::error::PathError> for ApiError {
    fn from(e: actix_web::error::PathError) -> Self {
        Self::BadRequest(format!("invalid path: {e}"))
    }
}

impl From<actix_web::error::PayloadError> for ApiError {
    fn from(e: actix_web::error::PayloadError) -> Self {
        match e {
            actix_web::error::PayloadError::Overflow => {
                Self::PayloadTooLarge("request body is over the limit".into())
            }
            other => Self::BadRequest(format!("could not read the request body: {other}")),
        }
    }
}

/// Extractor configuration that routes every body/query/path error through [`ApiError`].
pub fn extractor_configs(
    max_body_bytes: usize,
) -> (
    actix_web::web::JsonConfig,
    actix_web::web::PayloadConfig,
    actix_web::web::FormConfig,
    actix_web::web::QueryConfig,
    actix_web::web::PathConfig,
) {
    use actix_web::web;
    let json = web::JsonConfig::default()
        .limit(max_body_bytes)
        .error_handler(|e, _| ApiError::from(e).into());
    let payload = web::PayloadConfig::new(max_body_bytes);
    let form = web::FormConfig::default()
        .limit(max_body_bytes)
        .error_handler(|e, _| {
            use actix_web::error::UrlencodedError as U;
            match e {
                U::Overflow { .. } | U::UnknownLength => {
                    ApiError::PayloadTooLarge("request body is over the limit".into()).into()
                }
                U::ContentType => ApiError::UnsupportedMediaType(
                    "expected Content-Type: application/x-www-form-urlencoded".into(),
                )
                .into(),
                other => ApiError::BadRequest(format!("invalid form body: {other}")).into(),
            }
        });
    let query = web::QueryConfig::default().error_handler(|e, _| ApiError::from(e).into());
    let path = web::PathConfig::default().error_handler(|e, _| ApiError::from(e).into());
    (json, payload, form, query, path)
}

#[cfg(test)]
mod tests {
    use super::ApiError;
    use crate::db::DbError;
    use crate::store::{Pending, StoreError};
    use actix_web::ResponseError;

    fn refused() -> StoreError {
        DbError::NoAnswer(5).into()
    }

    #[test]
    fn a_database_failure_is_503_and_a_file_failure_500() {
        let db = ApiError::from(refused());
        assert_eq!(db.status_code().as_u16(), 503);
        assert_eq!(
            db.to_string(),
            "the database is unavailable: no answer within 5 s; nothing was recorded, retry later"
        );
        let disk = ApiError::from(StoreError::from(std::io::Error::other("disk full")));
        assert_eq!(disk.status_code().as_u16(), 500);
        assert_eq!(disk.to_string(), "internal error");
    }

    /// One failed group commit answers every caller in it with the same kind of failure.
    #[tokio::test]
    async fn a_failed_commit_stays_the_databases_for_every_caller() {
        let first = refused();
        let copied = first.copy();
        assert!(copied.is_database());
        assert_eq!(copied.to_string(), first.to_string());
        let waited = Pending::settled(Err(copied)).wait().await;
        let answer = ApiError::from(waited.expect_err("failed"));
        assert_eq!(answer.status_code().as_u16(), 503);
        let disk = StoreError::from(std::io::Error::new(
            std::io::ErrorKind::StorageFull,
            "no space",
        ));
        match disk.copy() {
            StoreError::Io(e) => assert_eq!(e.kind(), std::io::ErrorKind::StorageFull),
            other => panic!("{other:?}"),
        }
    }
}
