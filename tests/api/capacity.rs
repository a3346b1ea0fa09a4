//! Calling capacity: a 429 from Bland pauses every send for its `Retry-After` (on the
//! injected clock), on one process and across instances on one database; the call that
//! met it is retried with the same request id. The hourly and daily budgets hold calls in
//! order until the next hour or day, across a restart and across instances.

use std::time::Duration;

use serde_json::{json, Value};
use wiremock::ResponseTemplate;

use crate::helpers::{eventually, settled, settled_pair, spawn_app_with, spawn_pair, TestApp};
use crate::intake::{
    bland_calls, bland_fails_then_takes, bland_takes, live, post_lead, wait_for_calls,
};

fn lead(n: u32) -> Value {
    json!({"phone_number": format!("305555{:04}", 2000 + n), "lead_id": format!("P-{n}")})
}

fn slow_down() -> ResponseTemplate {
    ResponseTemplate::new(429)
        .insert_header("Retry-After", "1")
        .set_body_json(json!({"message": "slow down"}))
}

/// Waits for `app`'s `/health` to say sending is paused; its dispatch component.
async fn paused(app: &TestApp) -> Value {
    eventually(Duration::from_secs(5), || async {
        let d = app.health().await["components"]["dispatch"].clone();
        d["paused_until"].is_string().then_some(d)
    })
    .await
    .expect("sending paused")
}

async fn request_id(app: &TestApp, n: u32) -> String {
    let (_, body) = post_lead(app, lead(n)).await;
    assert_eq!(body["decision"], "accepted", "{body}");
    body["request_id"].as_str().expect("id").to_string()
}

#[tokio::test]
async fn a_429_pauses_every_send_until_retry_after_and_retries_the_call() {
    let app = spawn_app_with(live).await;
    bland_fails_then_takes(&app, slow_down(), 1).await;
    let first = request_id(&app, 1).await;
    let d = paused(&app).await;
    // One second after the test clock's 15:00:00.
    assert_eq!(d["paused_until"], "2026-11-23T15:00:01.000Z", "{d}");
    assert!(
        d["paused_why"]
            .as_str()
            .is_some_and(|w| w.contains("slow down")),
        "{d}"
    );
    assert_eq!(d["status"], "degraded");
    // Another lead is accepted and waits: nothing reaches Bland while the pause lasts.
    let second = request_id(&app, 2).await;
    settled(&app).await;
    assert_eq!(bland_calls(&app).await.len(), 1);
    // The clock passes the pause (Retry-After is honoured on the gateway's clock): both
    // are sent, the first with its own request id again.
    app.clock.advance(chrono::Duration::seconds(2));
    let calls = wait_for_calls(&app, 3).await;
    let ids: Vec<&str> = calls
        .iter()
        .filter_map(|c| c["metadata"]["request_id"].as_str())
        .collect();
    assert_eq!(ids.iter().filter(|i| **i == first).count(), 2, "{ids:?}");
    assert_eq!(ids.iter().filter(|i| **i == second).count(), 1, "{ids:?}");
    let d = app.health().await["components"]["dispatch"].clone();
    assert!(d.get("paused_until").is_none(), "{d}");
}

#[tokio::test]
async fn a_429_met_by_one_instance_pauses_the_other() {
    let Some((a, b)) = spawn_pair(live).await else {
        return;
    };
    bland_fails_then_takes(&a, slow_down(), 1).await;
    request_id(&a, 3).await;
    paused(&a).await;
    request_id(&b, 4).await;
    paused(&b).await;
    settled_pair(&a, &b).await;
    assert_eq!(
        bland_calls(&a).await.len(),
        1,
        "B sent while the deployment was paused"
    );
    a.clock.advance(chrono::Duration::seconds(2));
    wait_for_calls(&a, 3).await;
}

fn budget(per_hour: Option<u32>, per_day: Option<u32>) -> impl Fn(&mut callgate::config::Settings) {
    move |s| {
        live(s);
        s.bland.max_calls_per_hour = per_hour;
        s.bland.max_calls_per_day = per_day;
    }
}

async fn capacity(app: &TestApp) -> Value {
    app.health().await["components"]["dispatch"]["capacity"].clone()
}

fn sent_ids(calls: &[Value]) -> Vec<String> {
    calls
        .iter()
        .filter_map(|c| c["metadata"]["request_id"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn the_hourly_budget_holds_calls_in_order_until_the_next_hour_across_a_restart() {
    let app = spawn_app_with(budget(Some(2), None)).await;
    bland_takes(&app.bland).await;
    let ids = [
        request_id(&app, 10).await,
        request_id(&app, 11).await,
        request_id(&app, 12).await,
    ];
    wait_for_calls(&app, 2).await;
    settled(&app).await;
    assert_eq!(sent_ids(&bland_calls(&app).await), ids[..2].to_vec());
    let c = capacity(&app).await;
    assert_eq!(
        (
            c["hour"]["limit"].as_u64(),
            c["hour"]["used"].as_u64(),
            c["hour"]["left"].as_u64()
        ),
        (Some(2), Some(2), Some(0)),
        "{c}"
    );
    assert_eq!(c["held_until"], "2026-11-23T16:00:00.000Z", "{c}");
    assert_eq!(c["day"]["limit"], Value::Null);
    // A restart counts the hour's tries again, and so does the next one (files: from
    // the tries the first restart kept when it rewrote the outbox): the third call waits.
    let mut app = app;
    for _ in 0..2 {
        app = app.restart().await;
        settled(&app).await;
        assert_eq!(bland_calls(&app).await.len(), 2);
        assert_eq!(capacity(&app).await["hour"]["used"], 2);
    }
    app.clock.advance(chrono::Duration::hours(1));
    let calls = wait_for_calls(&app, 3).await;
    assert_eq!(sent_ids(&calls), ids.to_vec());
    assert_eq!(capacity(&app).await["hour"]["used"], 1);
    let stats = app
        .get_json("/api/admin/statistics?start=2026-11-23&end=2026-11-23")
        .await;
    assert_eq!(stats["total"]["held_for_capacity"], 1, "{stats}");
}

#[tokio::test]
async fn the_daily_budget_holds_until_the_next_business_day_on_either_instance() {
    let Some((a, b)) = spawn_pair(budget(Some(10), Some(1))).await else {
        return;
    };
    bland_takes(&a.bland).await;
    request_id(&a, 13).await;
    wait_for_calls(&a, 1).await;
    let second = request_id(&b, 14).await;
    settled_pair(&a, &b).await;
    assert_eq!(
        bland_calls(&a).await.len(),
        1,
        "the day's one call was placed"
    );
    // An hour later the day is still spent; the next day (10:00 in New York) it is not.
    a.clock.advance(chrono::Duration::hours(1));
    settled_pair(&a, &b).await;
    assert_eq!(bland_calls(&a).await.len(), 1);
    let c = capacity(&b).await;
    assert_eq!(c["held_until"], "2026-11-24T05:00:00.000Z", "{c}");
    a.clock.advance(chrono::Duration::hours(23));
    let calls = wait_for_calls(&a, 2).await;
    assert_eq!(sent_ids(&calls)[1], second);
}
