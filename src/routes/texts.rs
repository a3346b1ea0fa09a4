//! `GET`/`PUT /api/admin/sms/config`: the follow-up texts' config document
//! ([`crate::dispatch::texts::config`]).

use actix_web::{web, HttpResponse};
use serde_json::Value;

use super::error::ApiError;
use crate::dispatch::texts::Texts;

/// `GET`/`PUT /api/admin/sms/config` (under the admin scope).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/sms/config")
            .route(web::get().to(get_config))
            .route(web::put().to(put_config)),
    );
}

#[utoipa::path(get, path = "/api/admin/sms/config", tag = "admin", summary = "The follow-up texts' config document", responses((status = 200, description = "done", body = super::schemas_admin::SmsConfig), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn get_config(texts: web::Data<Texts>) -> HttpResponse {
    HttpResponse::Ok().json(&texts.config.get().doc)
}

#[utoipa::path(put, path = "/api/admin/sms/config", tag = "admin", summary = "Change the follow-up texts' rules (only the fields given)", request_body(content = serde_json::Value, content_type = "application/json"), responses((status = 415, description = "a body that is not the content type the route reads", body = super::openapi::ErrorBody), (status = 200, description = "the whole new document", body = super::schemas_admin::SmsConfig), (status = 400, description = "bad input, naming the field", body = super::openapi::ErrorBody), (status = 401, description = "missing or wrong X-API-Key", body = super::openapi::ErrorBody), (status = 503, description = "unavailable (storage or database)", body = super::openapi::ErrorBody)), security(("api_key" = [])))]
async fn put_config(
    texts: web::Data<Texts>,
    patch: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    super::params::put_document("texts", texts.config.update(&patch)).await
}
