//! Unconfirmed calls looked up at Bland: found in Bland's call list (matched on our
//! `metadata.request_id`, fetching a listed call whose metadata the list leaves out) →
//! settled as sent, so its completion is matched; absent past `reconcile_after_minutes` →
//! journaled once and left for an admin, or resent when `auto_resend_unconfirmed` is on.
//! The server runs the passes by itself; the tests that count one pass's result call the
//! admin route with the background pass slowed to once an hour (`by_hand`).

use std::time::Duration;

use chrono::TimeDelta;
use reqwest::Method;
use serde_json::{json, Value};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{eventually, spawn_app_with, TestApp};
use crate::intake::{bland_hangs, live, post_lead, Queued};

/// A lead whose send hangs past the timeout: its call ends `unconfirmed`.
async fn unconfirmed_call(app: &TestApp, phone: &str) -> String {
    bland_hangs(app).await;
    let (_, body) = post_lead(app, json!({"phone_number": phone, "lead_id": "R-1"})).await;
    let id = body["request_id"].as_str().expect("accepted").to_string();
    eventually(Duration::from_secs(10), || async {
        let p = app.get_json("/api/admin/calls/pending").await;
        (p["unconfirmed"] == 1).then_some(())
    })
    .await
    .expect("unconfirmed");
    id
}

/// Live, with the background pass out of the way of a test that counts passes.
fn by_hand(s: &mut callgate::config::Settings) {
    live(s);
    s.bland.reconcile_every_secs = 3600;
}

async fn reconcile(app: &TestApp) -> Value {
    let res = app
        .admin(Method::POST, "/api/admin/calls/reconcile")
        .send()
        .await
        .expect("reconcile");
    assert!(res.status().is_success());
    res.json().await.expect("json")
}

fn reconciled(calls: &[Value]) -> Vec<String> {
    calls
        .iter()
        .filter(|c| c["event"] == "reconciled")
        .map(|c| c["result"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn an_unconfirmed_call_found_at_bland_becomes_sent_and_its_completion_matches() {
    let app = spawn_app_with(by_hand).await;
    let id = unconfirmed_call(&app, "3055524001").await;
    // Bland lists two calls to the number: one without metadata (fetched: another
    // request's), and ours.
    Mock::given(method("GET"))
        .and(path("/v1/calls"))
        .and(query_param("to_number", "+13055524001"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"total_count": 2, "calls": [
                {"call_id": "bland-other", "to": "+13055524001"},
                {"call_id": "bland-ours", "to": "+13055524001", "metadata": {"request_id": id}},
            ]})),
        )
        .mount(&app.bland)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/calls/bland-other"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"call_id": "bland-other", "metadata": {"request_id": "req_someone_else"}}),
        ))
        .mount(&app.bland)
        .await;
    let done = reconcile(&app).await;
    assert_eq!(
        (done["looked_up"].clone(), done["found"].clone()),
        (json!(1), json!(1)),
        "{done}"
    );
    let h = app.get_json(&format!("/api/admin/calls/{id}")).await;
    assert_eq!(h["call_id"], "bland-ours", "{h}");
    assert_eq!(
        app.get_json("/api/admin/calls/pending").await["unconfirmed"],
        0
    );
    let res: Value = app
        .client
        .post(app.url("/webhooks/bland"))
        .json(&json!({"call_id": "bland-ours", "answered_by": "voicemail"}))
        .send()
        .await
        .expect("completion")
        .json()
        .await
        .expect("json");
    assert_eq!(res["status"], "recorded", "{res}");
    assert_eq!(reconciled(&app.calls("2026-11-23").await), vec!["found"]);
}

#[tokio::test]
async fn an_absent_call_waits_its_time_then_is_journaled_once_and_left_for_an_admin() {
    let app = spawn_app_with(by_hand).await;
    let id = unconfirmed_call(&app, "3055524002").await;
    Mock::given(method("GET"))
        .and(path("/v1/calls"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"calls": []})))
        .mount(&app.bland)
        .await;
    let done = reconcile(&app).await;
    assert_eq!(done["waiting"], 1, "not yet certain: {done}");
    app.clock.advance(TimeDelta::minutes(9));
    assert_eq!(
        reconcile(&app).await["waiting"],
        1,
        "9 minutes: still not certain"
    );
    app.clock.advance(TimeDelta::minutes(2));
    assert_eq!(reconcile(&app).await["absent"], 1);
    assert_eq!(reconcile(&app).await["absent"], 1);
    assert_eq!(
        reconciled(&app.calls("2026-11-23").await),
        vec!["absent"],
        "journaled once"
    );
    let p = app.get_json("/api/admin/calls/pending").await;
    assert_eq!(p["unconfirmed"], 1, "left for an admin: {p}");
    let posts = app
        .bland
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .count();
    assert_eq!(posts, 1, "never resent on its own");
    let _ = id;
}

#[tokio::test]
async fn with_auto_resend_an_absent_call_is_sent_again_under_its_request_id() {
    let app = spawn_app_with(|s| {
        by_hand(s);
        s.bland.auto_resend_unconfirmed = true;
    })
    .await;
    let id = unconfirmed_call(&app, "3055524003").await;
    Mock::given(method("GET"))
        .and(path("/v1/calls"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"calls": []})))
        .mount(&app.bland)
        .await;
    // Bland takes calls again.
    Mock::given(method("POST"))
        .and(path("/v1/calls"))
        .respond_with(Queued)
        .with_priority(1)
        .mount(&app.bland)
        .await;
    app.clock.advance(TimeDelta::minutes(11));
    assert_eq!(reconcile(&app).await["resent"], 1);
    let call_id = format!("call-{id}");
    eventually(Duration::from_secs(10), || async {
        let h = app.get_json(&format!("/api/admin/calls/{id}")).await;
        (h["call_id"] == call_id.as_str()).then_some(())
    })
    .await
    .expect("sent after the resend");
    let sent_for_id = app
        .bland
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .filter(|r| {
            serde_json::from_slice::<Value>(&r.body)
                .ok()
                .and_then(|b| b["metadata"]["request_id"].as_str().map(str::to_string))
                == Some(id.clone())
        })
        .count();
    assert_eq!(
        sent_for_id, 2,
        "the hung send, then the resend, same request id"
    );
    assert_eq!(reconciled(&app.calls("2026-11-23").await), vec!["resent"]);
}

#[tokio::test]
async fn a_sent_call_whose_completion_never_came_is_fetched_and_its_outcome_applied() {
    let app = spawn_app_with(|s| {
        by_hand(s);
        s.bland.max_duration = 10;
    })
    .await;
    crate::intake::bland_takes(&app.bland).await;
    let mut ids = Vec::new();
    for (n, phone) in ["3055524011", "3055524012"].iter().enumerate() {
        let (_, body) = post_lead(
            &app,
            json!({"phone_number": phone, "lead_id": format!("S-{n}")}),
        )
        .await;
        ids.push(body["request_id"].as_str().expect("accepted").to_string());
    }
    for id in &ids {
        crate::helpers::wait_sent(&app, id).await;
    }
    // Bland: the first call is over (a voicemail), the second still going.
    Mock::given(method("GET"))
        .and(path(format!("/v1/calls/call-{}", ids[0])))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "call_id": format!("call-{}", ids[0]), "completed": true, "status": "completed",
            "answered_by": "voicemail", "call_length": 0.4, "metadata": {"request_id": ids[0]}})))
        .mount(&app.bland)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/calls/call-{}", ids[1])))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "call_id": format!("call-{}", ids[1]), "completed": false, "status": "in-progress"})))
        .mount(&app.bland)
        .await;
    assert_eq!(
        reconcile(&app).await["polled"],
        0,
        "within max_duration + 5 min: not yet"
    );
    app.clock.advance(TimeDelta::minutes(16));
    let done = reconcile(&app).await;
    assert_eq!(
        (done["polled"].clone(), done["completed_by_poll"].clone()),
        (json!(2), json!(1)),
        "{done}"
    );
    let h = app.get_json(&format!("/api/admin/calls/{}", ids[0])).await;
    assert_eq!(h["outcome"]["outcome"], "voicemail", "{h}");
    let calls = app.calls("2026-11-23").await;
    let outcome = calls
        .iter()
        .find(|c| c["event"] == "outcome")
        .expect("outcome line");
    assert_eq!(outcome["source"], "poll", "{outcome}");
    // The webhook, late, is a duplicate; the second call is asked again next pass.
    let res: Value = app
        .client
        .post(app.url("/webhooks/bland"))
        .json(&json!({"call_id": format!("call-{}", ids[0]), "answered_by": "voicemail"}))
        .send()
        .await
        .expect("late webhook")
        .json()
        .await
        .expect("json");
    assert_eq!(res["status"], "duplicate");
    assert_eq!(reconcile(&app).await["polled"], 1);
}

/// Bland lists `id`'s call to `phone` as `bland-<phone>`.
async fn bland_lists(app: &TestApp, phone: &str, id: &str) -> String {
    let call_id = format!("bland-{phone}");
    Mock::given(method("GET"))
        .and(path("/v1/calls"))
        .and(query_param("to_number", format!("+1{phone}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"calls": [
            {"call_id": call_id, "metadata": {"request_id": id}},
        ]})))
        .mount(&app.bland)
        .await;
    call_id
}

#[tokio::test]
async fn the_server_reconciles_by_itself_finding_unconfirmed_calls_and_polling_silent_ones() {
    let app = spawn_app_with(|s| {
        live(s);
        s.bland.reconcile_every_secs = 1;
        s.bland.max_duration = 10;
    })
    .await;
    let id = unconfirmed_call(&app, "3055524021").await;
    let call_id = bland_lists(&app, "3055524021", &id).await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/calls/{call_id}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "call_id": call_id, "completed": true, "status": "completed",
            "answered_by": "voicemail", "metadata": {"request_id": id}})))
        .mount(&app.bland)
        .await;
    // No admin route: the background pass finds the call at Bland.
    let found = eventually(Duration::from_secs(10), || async {
        let h = app.get_json(&format!("/api/admin/calls/{id}")).await;
        (h["call_id"] == call_id.as_str()).then_some(h)
    })
    .await;
    assert!(found.is_some(), "the unconfirmed call was never looked up");
    // Its completion never comes: past max_duration + 5 minutes it is fetched.
    app.clock.advance(TimeDelta::minutes(16));
    let polled = eventually(Duration::from_secs(10), || async {
        let h = app.get_json(&format!("/api/admin/calls/{id}")).await;
        (h["outcome"]["outcome"] == "voicemail").then_some(h)
    })
    .await;
    assert!(polled.is_some(), "the silent call was never polled");
    let results = reconciled(&app.calls("2026-11-23").await);
    assert_eq!(results, vec!["found"], "found once, by the server");
}

#[tokio::test]
async fn passes_at_once_from_the_route_and_the_server_resend_an_absent_call_once() {
    let app = spawn_app_with(|s| {
        live(s);
        s.bland.auto_resend_unconfirmed = true;
        s.bland.reconcile_every_secs = 1;
    })
    .await;
    let _id = unconfirmed_call(&app, "3055524022").await;
    // Bland's list is slow, so passes overlap.
    Mock::given(method("GET"))
        .and(path("/v1/calls"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_delay(Duration::from_millis(300))
                .set_body_json(json!({"calls": []})),
        )
        .mount(&app.bland)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/calls"))
        .respond_with(ResponseTemplate::new(503))
        .with_priority(1)
        .mount(&app.bland)
        .await;
    app.clock.advance(TimeDelta::minutes(11));
    let passes = futures_util::future::join_all((0..4).map(|_| reconcile(&app))).await;
    let resent: u64 = passes
        .iter()
        .map(|p| p["resent"].as_u64().unwrap_or(0))
        .sum();
    assert!(resent <= 1, "{passes:?}");
    eventually(Duration::from_secs(10), || async {
        let r = reconciled(&app.calls("2026-11-23").await);
        r.contains(&"resent".to_string()).then_some(())
    })
    .await
    .expect("resent by some pass");
    // Once it is no longer unconfirmed no pass can resend it again: count now.
    eventually(Duration::from_secs(10), || async {
        let p = app.get_json("/api/admin/calls/pending").await;
        (p["unconfirmed"] == 0).then_some(())
    })
    .await
    .expect("no longer unconfirmed");
    let r = reconciled(&app.calls("2026-11-23").await);
    assert_eq!(r.iter().filter(|x| *x == "resent").count(), 1, "{r:?}");
}
