//! Admin authentication: `X-API-Key`, compared in constant time against every configured
//! key (several allow rotation). It wraps the whole `/api/admin` scope, so it runs before
//! routing inside it: an unknown admin path without a key is 401, not 404.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, Error, FromRequest, ResponseError};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use super::AppState;
use crate::config::Secret;

pub const API_KEY_HEADER: &str = "X-API-Key";

/// SHA-256 digests of the accepted keys: equal length, so comparison is constant time.
#[derive(Clone, Default)]
pub struct AdminKeys(Vec<[u8; 32]>);

impl AdminKeys {
    pub fn new(keys: &[Secret]) -> Self {
        Self(keys.iter().map(|k| digest(k.expose().as_bytes())).collect())
    }

    pub fn is_configured(&self) -> bool {
        !self.0.is_empty()
    }

    /// True when `candidate` equals one of the keys; every key is compared every time.
    pub fn verify(&self, candidate: &[u8]) -> bool {
        let probe = digest(candidate);
        self.0
            .iter()
            .fold(subtle::Choice::from(0), |acc, k| acc | k.ct_eq(&probe))
            .into()
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn check(req: &ServiceRequest) -> Result<(), ApiError> {
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return Err(ApiError::internal("application state missing"));
    };
    if !state.admin_keys.is_configured() {
        return Err(ApiError::Unavailable(
            "the admin API is disabled until ADMIN_API_KEY is set".into(),
        ));
    }
    let query = req.query_string();
    if query.split('&').any(|pair| {
        let name = pair.split('=').next().unwrap_or("");
        matches!(
            name.to_ascii_lowercase().as_str(),
            "api_key" | "apikey" | "key" | "x-api-key"
        )
    }) {
        return Err(ApiError::Unauthorized(
            "API keys are not accepted in the query string; send the X-API-Key header".into(),
        ));
    }
    match req.headers().get(API_KEY_HEADER) {
        None => Err(ApiError::Unauthorized("missing X-API-Key header".into())),
        Some(value) if state.admin_keys.verify(value.as_bytes()) => Ok(()),
        Some(_) => Err(ApiError::Unauthorized("invalid API key".into())),
    }
}

pub async fn require_admin_key(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    match check(&req) {
        Ok(()) => Ok(next.call(req).await?.map_into_left_body()),
        Err(e) => {
            tracing::warn!(path = %req.path(), error = %e, "admin request refused");
            let mut req = req;
            if super::upload::is_streamed(req.method(), req.path()) {
                // Its body was not read first: read it now, so the 401 follows it.
                let (http, payload) = req.parts_mut();
                let payload = web::Payload::from_request(http, payload).await?;
                super::upload::drain(payload).await;
            }
            Ok(req.into_response(e.error_response()).map_into_right_body())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_configured_key_is_accepted_and_nothing_else() {
        let keys = AdminKeys::new(&[Secret::new("old-key"), Secret::new("new-key")]);
        assert!(keys.verify(b"old-key"));
        assert!(keys.verify(b"new-key"));
        assert!(!keys.verify(b"new-ke"));
        assert!(!keys.verify(b""));
        assert!(!AdminKeys::default().verify(b""));
    }
}
