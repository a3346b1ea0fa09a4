//! HTTP routes (actix lives here and in `startup`). Each module owns its routes; handlers
//! parse input, call one service method and shape the response — no file I/O here.

pub mod attempts;
pub mod auth;
pub mod blocklist;
mod caller_ids;
pub mod calls;
pub mod convoso;
pub mod error;
pub mod feeds;
pub mod lists;
pub mod lookup;
pub mod middleware;
pub mod openapi;
pub mod params;
pub mod quarantine;
pub mod redials;
pub mod scheduler;
pub mod schemas;
pub mod schemas_admin;
pub mod schemas_ops;
pub mod sms;
pub mod stats;
pub mod system;
pub mod texts;
pub mod tracker;
pub mod upload;
pub mod webhooks;

use std::sync::Arc;
use std::time::Instant;

use actix_web::web;

pub use error::ApiError;

use crate::blocklist::Blocklist;
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::health::HealthSource;
use crate::journal::Journals;
use crate::metrics::Metrics;
use crate::stats::Statistics;

/// Everything a handler may use, built once in `startup` and shared by every worker.
pub struct AppState {
    pub settings: Arc<Settings>,
    pub clock: SharedClock,
    pub metrics: Arc<Metrics>,
    pub health: Vec<Arc<dyn HealthSource>>,
    pub started: Instant,
    pub admin_keys: auth::AdminKeys,
    pub blocklist: Arc<Blocklist>,
    pub lists: Arc<crate::lists::Lists>,
    pub journals: Arc<Journals>,
    pub stats: Arc<Statistics>,
    pub tracker: Arc<crate::tracker::Tracker>,
    pub scheduler: Arc<crate::schedule::Scheduler>,
    /// Writes back to Convoso (`None`: not wired).
    pub writeback: Option<Arc<crate::dispatch::writeback::Writeback>>,
    pub feeds: Arc<crate::feeds::Feeds>,
    pub quarantine: Arc<crate::store::quarantine::Quarantine>,
    /// Whether a webhook taken now would be durable (`/health`, `/health/ready`).
    pub storage: Arc<dyn crate::store::probe::StorageProbe>,
}

/// Registers every route: operational ones open, everything under `/api/admin` behind the
/// admin key, and a JSON 404 for the rest.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(system::configure)
        .configure(openapi::configure)
        .configure(webhooks::configure)
        .configure(attempts::configure)
        .configure(sms::configure)
        .service(
            web::scope("/api/admin")
                .wrap(actix_web::middleware::from_fn(auth::require_admin_key))
                // Fixed paths first: `/blocklist/statistics` must not be taken for a flag id.
                .configure(stats::configure)
                .configure(tracker::configure)
                .configure(caller_ids::configure)
                .configure(texts::configure)
                .configure(calls::configure)
                .configure(quarantine::configure)
                .configure(lookup::configure)
                .configure(feeds::configure)
                .configure(lists::configure)
                .configure(convoso::configure)
                .configure(redials::configure)
                .configure(scheduler::configure)
                .configure(blocklist::configure)
                .default_service(web::to(not_found)),
        );
}

pub async fn not_found() -> ApiError {
    ApiError::NotFound("no such route".into())
}

impl actix_web::Responder for ApiError {
    type Body = actix_web::body::BoxBody;
    fn respond_to(self, _: &actix_web::HttpRequest) -> actix_web::HttpResponse {
        actix_web::ResponseError::error_response(&self)
    }
}
