//! Unauthenticated operational routes: `/health` (the operator's view of every component),
//! `/health/ready` (for load balancers: can this instance take a webhook durably?),
//! `/health/live` and `/metrics`.

use actix_web::{web, HttpResponse};
use serde_json::{json, Map, Value};

use super::AppState;
use crate::dispatch::Ledger;
use crate::health::HealthStatus;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/health").route(web::get().to(health)))
        .service(web::resource("/health/ready").route(web::get().to(ready)))
        .service(web::resource("/health/live").route(web::get().to(live)))
        .service(web::resource("/metrics").route(web::get().to(metrics)));
}

#[utoipa::path(get, path = "/health", tag = "system", summary = "Component health (200 ok/degraded, 503 unhealthy)", responses((status = 200, description = "done", body = super::schemas_ops::Health), (status = 503, description = "unhealthy: the same report, naming the component", body = super::schemas_ops::Health)))]
async fn health(state: web::Data<AppState>, ledger: web::Data<Ledger>) -> HttpResponse {
    let probed = state.storage.probe().await;
    let data_dir_writable = probed.data_dir_writable;
    let mut status = if data_dir_writable {
        HealthStatus::Ok
    } else {
        HealthStatus::Unhealthy
    };
    let mut components = Map::new();
    // The shared queues' sizes as of now, for the dispatch and scheduler components.
    ledger.refresh_counts().await;
    if let Some((name, report, healthy)) = probed.component {
        if !healthy {
            status = HealthStatus::Unhealthy;
        }
        components.insert(name.into(), report);
    }
    for source in &state.health {
        let report = source.report();
        status = status.max(report.status);
        components.insert(source.name().to_string(), json!(report));
    }
    let body = json!({
        "status": status,
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_s": state.started.elapsed().as_secs(),
        "data_dir_writable": data_dir_writable,
        "mode": if state.settings.dry_run() { "dry_run" } else { "live" },
        "timezone": state.settings.timezone.name(),
        "components": Value::Object(components),
    });
    if status == HealthStatus::Unhealthy {
        HttpResponse::ServiceUnavailable().json(body)
    } else {
        HttpResponse::Ok().json(body)
    }
}

/// Readiness for a load balancer: 200 while this instance's storage answers (the data
/// directory is writable; in database mode the database answers within two seconds), so a
/// lead it takes is durable. Nothing else: a list not loaded yet or a closed gate blocks
/// leads (recorded, answered 200) on every instance alike, and taking every instance out
/// of the balancer for it would refuse leads instead and leave the list upload nowhere to
/// go. `/health` stays the operator's view.
#[utoipa::path(get, path = "/health/ready", tag = "system", summary = "Readiness for load balancers (200 while storage answers, else 503)", responses((status = 200, description = "ready", body = super::schemas_ops::Ready), (status = 503, description = "not ready: the storage that does not answer", body = super::schemas_ops::Ready)))]
async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let storage = &state.storage;
    let error = storage.probe().await.not_ready;
    let mut body = json!({"ready": error.is_none(), "storage": storage.name()});
    match error {
        None => HttpResponse::Ok().json(body),
        Some(e) => {
            body["error"] = json!(e);
            HttpResponse::ServiceUnavailable().json(body)
        }
    }
}

#[utoipa::path(get, path = "/health/live", tag = "system", summary = "Liveness (204, no body)", responses((status = 204, description = "yes")))]
async fn live() -> HttpResponse {
    HttpResponse::NoContent().finish()
}

#[utoipa::path(get, path = "/metrics", tag = "system", summary = "Prometheus metrics (OpenMetrics text)", responses((status = 200, description = "metrics", body = String, content_type = "application/openmetrics-text")))]
async fn metrics(
    state: web::Data<AppState>,
    ledger: web::Data<Ledger>,
    pool: web::Data<crate::dispatch::callerid::CallerIds>,
) -> HttpResponse {
    ledger.refresh_counts().await;
    if pool.active() {
        match pool.status(state.clock.now()).await {
            Ok((st, _)) => {
                let m = &state.metrics;
                for s in st {
                    let l = crate::metrics::CallerIdLabels { number: s.number };
                    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
                    m.caller_id_calls_today
                        .get_or_create(&l)
                        .set(n(s.usage.calls_today));
                    m.caller_id_calls_hour
                        .get_or_create(&l)
                        .set(n(s.usage.calls_this_hour));
                    m.caller_id_pickups
                        .get_or_create(&l)
                        .set(n(s.usage.pickups));
                    let usable = s.state == crate::dispatch::callerid::select::State::Usable;
                    m.caller_id_usable.get_or_create(&l).set(i64::from(usable));
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the caller-ID pool for /metrics"),
        }
    }
    let (depth, due, _) = ledger.deferred_summary();
    let n = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
    let (depth, due) = (n(depth), n(due));
    state.metrics.deferred_leads.set(depth);
    state.metrics.deferred_due.set(due);
    let today = crate::clock::business_date(state.clock.now(), state.settings.timezone);
    for view in state.lists.views(today) {
        let labels = crate::metrics::ListLabels {
            list: view["name"].as_str().unwrap_or_default().to_string(),
        };
        let count = view["count"].as_i64().unwrap_or(0);
        let age = view["age_days"].as_i64().unwrap_or(-1);
        state.metrics.list_entries.get_or_create(&labels).set(count);
        state.metrics.list_age_days.get_or_create(&labels).set(age);
    }
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(state.metrics.render())
}
