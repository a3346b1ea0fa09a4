//! Texts from leads and callbacks on the real server (the injected clock: Monday
//! 2026-11-23, 10:00 in New York), against a mock Bland and Convoso: an opt-out by whole
//! word flags the number, cancels the redial and pushes Convoso's DNC, once however often
//! the webhook repeats; words inside other words do nothing; a callback word schedules a
//! callback that waits for the calling window and is then placed, with Convoso's `CB`;
//! the callback webhook waits for `callback_at`.

use std::time::Duration;

use chrono::TimeDelta;
use reqwest::StatusCode;
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::Mock;

use crate::convoso::{app_with_convoso, ok, received, wait_received};
use crate::helpers::{eventually, settled, spawn_app_with, TestApp};
use crate::intake::{bland_calls, bland_takes, live, post_lead, wait_for_calls};

async fn text(app: &TestApp, body: Value) -> (StatusCode, Value) {
    let res = app
        .client
        .post(app.url("/webhooks/sms"))
        .json(&body)
        .send()
        .await
        .expect("post");
    let status = res.status();
    (status, res.json().await.expect("json"))
}

/// A lead called and its call answered by `answered_by`.
async fn called(app: &TestApp, phone: &str, lead: &str, answered_by: &str) {
    let (_, body) = post_lead(
        app,
        json!({"phone_number": phone, "lead_id": lead, "list_id": "77", "first_name": "Ann"}),
    )
    .await;
    assert_eq!(body["decision"], "accepted", "{body}");
    let rid = body["request_id"].as_str().expect("id").to_string();
    crate::helpers::wait_sent(app, &rid).await;
    let payload = json!({"call_id": format!("call-{rid}"), "answered_by": answered_by, "call_length": 0.3,
        "metadata": {"request_id": rid, "lead_id": lead, "list_id": "77"}});
    let (status, body) = app.post_completion(&payload).await;
    assert_eq!(status, 200, "{body}");
}

async fn queue(app: &TestApp, lead: &str) -> Vec<Value> {
    app.get_json(&format!("/api/admin/scheduler/queue?lead_id={lead}"))
        .await["entries"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn a_stop_text_flags_the_number_cancels_its_redial_and_pushes_the_dnc_once() {
    let (app, convoso) = app_with_convoso(|s| {
        s.convoso.push_dnc = true;
        s.redial.enabled = true;
        s.redial.intervals_minutes = vec![30];
    })
    .await;
    for p in ["/v1/leads/update", "/v1/dnc/insert"] {
        Mock::given(method("POST"))
            .and(path(p))
            .respond_with(ok())
            .mount(&convoso)
            .await;
    }
    Mock::given(method("POST"))
        .and(path("/v1/sms/send"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(json!({"data": {}})))
        .mount(&app.bland)
        .await;
    called(&app, "3055552101", "S-1", "voicemail").await;
    let redials = queue(&app, "S-1").await;
    assert_eq!(redials.len(), 1, "{redials:?}");
    assert_eq!(redials[0]["stage"], "redial");

    let stop = json!({"from": "(305) 555-2101", "to": "+13125550123", "body": "Please STOP texting me.", "id": "sms-1"});
    let (status, body) = text(&app, stop.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (
            &body["status"],
            &body["asked"],
            &body["word"],
            &body["action"],
            &body["lead_id"]
        ),
        (
            &json!("recorded"),
            &json!("opt_out"),
            &json!("STOP"),
            &json!("flagged"),
            &json!("S-1")
        )
    );
    let flag_id = body["flag_id"].as_str().expect("flag id");
    let flag = app
        .get_json(&format!("/api/admin/blocklist/{flag_id}"))
        .await;
    let flag = if flag["flag"].is_object() {
        flag["flag"].clone()
    } else {
        flag
    };
    assert_eq!(flag["value"], "+13055552101", "{flag}");
    assert_eq!(flag["added_by"], "sms", "{flag}");
    assert!(
        flag["reason"]
            .as_str()
            .unwrap_or("")
            .contains("Please STOP texting me."),
        "{flag}"
    );
    assert!(
        queue(&app, "S-1").await.is_empty(),
        "the redial is cancelled"
    );
    let dnc = wait_received(&convoso, "/v1/dnc/insert", 1).await;
    assert_eq!(dnc[0]["phone_number"], "3055552101", "{dnc:?}");

    // One confirmation, from the number the lead texted.
    let confirmations = crate::helpers::eventually(Duration::from_secs(10), || async {
        let got: Vec<Value> = app
            .bland
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path() == "/v1/sms/send")
            .filter_map(|r| serde_json::from_slice(&r.body).ok())
            .collect();
        (!got.is_empty()).then_some(got)
    })
    .await
    .expect("a confirmation");
    assert_eq!(
        (
            &confirmations[0]["user_number"],
            &confirmations[0]["agent_number"]
        ),
        (&json!("+13055552101"), &json!("+13125550123"))
    );

    // The same webhook again: nothing done twice.
    let (_, again) = text(&app, stop).await;
    assert_eq!(again["status"], "duplicate", "{again}");
    settled(&app).await;
    assert_eq!(received(&convoso, "/v1/dnc/insert").await.len(), 1);
    // The number's next lead is blocked by the flag.
    let (_, next) = post_lead(
        &app,
        json!({"phone_number": "3055552101", "lead_id": "S-2"}),
    )
    .await;
    assert_eq!(
        (&next["decision"], &next["stage"]),
        (&json!("blocked"), &json!("blocklist"))
    );

    // Words inside other words, and a text from a number no lead had: journaled, nothing done.
    let (_, other) = text(
        &app,
        json!({"from": "3055552102", "message": "See you this weekend, friend"}),
    )
    .await;
    assert_eq!(
        (&other["asked"], &other["action"], &other["lead_id"]),
        (&json!("other"), &json!("none"), &Value::Null)
    );
    let lines = app.calls("2026-11-23").await;
    let replies: Vec<_> = lines.iter().filter(|l| l["event"] == "reply").collect();
    assert_eq!(replies.len(), 2, "{replies:?}");
    assert_eq!(replies[1]["body"], "See you this weekend, friend");
    let total = app
        .get_json("/api/admin/statistics?start=2026-11-23&end=2026-11-23")
        .await["total"]
        .clone();
    assert_eq!(
        (&total["replies"], &total["opt_outs"]),
        (&json!(2), &json!(1)),
        "{total}"
    );
    // Bad input names the problem.
    let (status, bad) = text(&app, json!({"body": "STOP"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        bad["errors"][0].as_str().unwrap_or("").contains("`from`"),
        "{bad}"
    );
}

#[tokio::test]
async fn a_yes_text_schedules_a_callback_that_waits_for_the_window_and_writes_cb() {
    let (app, convoso) = app_with_convoso(|_| {}).await;
    Mock::given(method("POST"))
        .and(path("/v1/leads/update"))
        .respond_with(ok())
        .mount(&convoso)
        .await;
    called(&app, "3055552111", "Y-1", "voicemail").await;
    wait_for_calls(&app, 1).await;
    // 21:30 in New York: the lead's window (Florida) is closed.
    app.clock.advance(TimeDelta::minutes(11 * 60 + 30));
    let (_, body) = text(
        &app,
        json!({"from": "+13055552111", "body": "yes please, call me"}),
    )
    .await;
    assert_eq!(
        (&body["asked"], &body["word"], &body["action"]),
        (&json!("callback"), &json!("YES"), &json!("callback")),
        "{body}"
    );
    let cb = wait_received(&convoso, "/v1/leads/update", 2).await;
    assert!(
        cb.iter()
            .any(|w| w["status"] == "CB" && w["lead_id"] == "Y-1"),
        "{cb:?}"
    );
    // Released at once, the pipeline defers it to the morning: no call tonight.
    let deferred = eventually(Duration::from_secs(5), || async {
        let q = queue(&app, "Y-1").await;
        q.first().filter(|e| e["stage"] != "callback").cloned()
    })
    .await
    .expect("the callback re-queued by the window");
    assert_eq!(deferred["stage"], "schedule", "{deferred}");
    assert_eq!(bland_calls(&app).await.len(), 1);
    // The next morning it is placed, with the lead's fields.
    app.clock.advance(TimeDelta::hours(12));
    let calls = wait_for_calls(&app, 2).await;
    assert_eq!(calls[1]["phone_number"], "+13055552111");
    assert_eq!(calls[1]["metadata"]["lead_id"], "Y-1");
    assert_eq!(
        calls[1]["request_data"]["first_name"], "Ann",
        "{}",
        calls[1]
    );
    // The lead's history shows the text and the callback.
    let look = app
        .get_json("/api/admin/leads/lookup?phone=3055552111")
        .await;
    assert_eq!(
        (&look["replies"], &look["callbacks"]),
        (&json!(1), &json!(1)),
        "{look}"
    );
}

#[tokio::test]
async fn the_callback_webhook_waits_for_callback_at_then_places_the_call() {
    let app = spawn_app_with(live).await;
    bland_takes(&app.bland).await;
    let res = app
        .client
        .post(app.url("/webhooks/call-back"))
        .json(&json!({"phone_number": "3055552121", "lead_id": "CB-1", "first_name": "Bo", "last_name": "Li",
            "callback_at": "2026-11-23T12:30:00-05:00"}))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["status"], "scheduled");
    assert_eq!(body["release_at"], "2026-11-23T17:30:00.000Z");
    let q = queue(&app, "CB-1").await;
    assert_eq!(q[0]["stage"], "callback", "{q:?}");
    settled(&app).await;
    assert!(bland_calls(&app).await.is_empty(), "not before callback_at");
    app.clock.advance(TimeDelta::minutes(150));
    let calls = wait_for_calls(&app, 1).await;
    assert_eq!(calls[0]["metadata"]["lead_id"], "CB-1");
    let lines = app.calls("2026-11-23").await;
    assert!(lines
        .iter()
        .any(|l| l["event"] == "callback" && l["source"] == "webhook"));
    // Bad input: no number, a date too far ahead.
    let res = app
        .client
        .post(app.url("/webhooks/call-back"))
        .json(&json!({"lead_id": "CB-2", "callback_at": "2027-03-01T10:00:00Z"}))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let bad: Value = res.json().await.expect("json");
    let errors = bad["errors"].to_string();
    assert!(
        errors.contains("30 days ahead") && errors.contains("phone_number"),
        "{bad}"
    );
}
