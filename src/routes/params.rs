//! Query-parameter parsing shared by the admin routes: every bad value is a 400 naming the
//! parameter.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::error::ApiError;
use crate::stats::{parse_range, DateRange};

pub type Query = actix_web::web::Query<HashMap<String, String>>;

pub fn number(q: &HashMap<String, String>, name: &str) -> Result<Option<usize>, ApiError> {
    q.get(name)
        .map(|v| {
            v.trim().parse().map_err(|_| {
                ApiError::BadRequest(format!("`{name}` must be a non-negative whole number"))
            })
        })
        .transpose()
}

pub fn boolean(q: &HashMap<String, String>, name: &str) -> Result<Option<bool>, ApiError> {
    q.get(name)
        .map(|v| match v.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Ok(true),
            "false" | "0" | "no" => Ok(false),
            _ => Err(ApiError::BadRequest(format!(
                "`{name}` must be true or false"
            ))),
        })
        .transpose()
}

/// `start`/`end`, inclusive, defaulting to the 7 days ending `today`.
pub fn date_range(q: &HashMap<String, String>, today: NaiveDate) -> Result<DateRange, ApiError> {
    parse_range(
        q.get("start").map(String::as_str),
        q.get("end").map(String::as_str),
        today,
    )
    .map_err(ApiError::from)
}

/// Runs blocking work (file reads, aggregation) on the blocking pool; its error becomes
/// the answer it maps to (a database failure 503, a file failure 500).
pub async fn blocking<T, E>(
    work: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    E: Into<ApiError> + Send + 'static,
{
    actix_web::web::block(work)
        .await
        .map_err(ApiError::internal)?
        .map_err(Into::into)
}

/// A partial `PUT` of an admin-editable document: answers the whole new document, or 400
/// naming the bad field.
pub async fn put_document<D>(
    what: &'static str,
    update: impl std::future::Future<Output = Result<D, crate::store::document::UpdateError>>,
) -> Result<actix_web::HttpResponse, ApiError>
where
    D: serde::Serialize,
{
    use crate::store::document::UpdateError;
    match update.await {
        Ok(doc) => {
            tracing::info!("{what} config changed");
            Ok(actix_web::HttpResponse::Ok().json(doc))
        }
        Err(UpdateError::Invalid(e)) => Err(ApiError::BadRequest(e.0)),
        Err(UpdateError::Storage(e)) => Err(ApiError::store(e)),
    }
}
