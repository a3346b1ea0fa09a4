//! Lead intake, the exact Bland request, retry rules, dry-run and `check`.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::helpers::{eventually, spawn_app, spawn_app_with, TestApp};
use callgate::config::{Secret, Settings};

pub const BLAND_KEY: &str = "bland-test-key";

/// Answers like Bland, with a call id derived from the request's `metadata.request_id`.
pub struct Queued;

impl Respond for Queued {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let id = body["metadata"]["request_id"].as_str().unwrap_or("none");
        ResponseTemplate::new(200).set_body_json(json!({"status": "success", "message": "Call successfully queued.", "call_id": format!("call-{id}")}))
    }
}

pub fn live(s: &mut Settings) {
    s.bland.api_key = Some(Secret::new(BLAND_KEY));
    s.bland.retry_base_ms = 10;
    s.bland.max_calls_per_second = 1000.0;
    s.bland.timeout_secs = 1;
}

/// Bland takes every call (`call-<request id>`).
pub async fn bland_takes(bland: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/v1/calls"))
        .respond_with(Queued)
        .mount(bland)
        .await;
}

pub use crate::helpers::bland_hangs;

/// Bland answers `first` to the first `times` calls, then takes every call.
pub async fn bland_fails_then_takes(app: &TestApp, first: ResponseTemplate, times: u64) {
    Mock::given(method("POST"))
        .and(path("/v1/calls"))
        .respond_with(first)
        .up_to_n_times(times)
        .with_priority(1)
        .mount(&app.bland)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/calls"))
        .respond_with(Queued)
        .with_priority(5)
        .mount(&app.bland)
        .await;
}

/// A live app whose mock Bland takes every call.
pub async fn live_app() -> TestApp {
    let app = spawn_app_with(live).await;
    Mock::given(method("POST"))
        .and(path("/v1/calls"))
        .respond_with(Queued)
        .mount(&app.bland)
        .await;
    app
}

pub async fn bland_calls(app: &TestApp) -> Vec<Value> {
    bland_calls_on(&app.bland).await
}

/// The call bodies a mock Bland received, in order.
pub async fn bland_calls_on(bland: &wiremock::MockServer) -> Vec<Value> {
    bland
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == "/v1/calls")
        .map(|r| serde_json::from_slice(&r.body).unwrap_or(Value::Null))
        .collect()
}

/// Waits until Bland has received `n` calls (at most 5 s).
pub async fn wait_for_calls(app: &TestApp, n: usize) -> Vec<Value> {
    eventually(Duration::from_secs(5), || async {
        let calls = bland_calls(app).await;
        (calls.len() >= n).then_some(calls)
    })
    .await
    .unwrap_or_else(|| panic!("Bland did not receive {n} calls"))
}

pub async fn post_lead(app: &TestApp, lead: Value) -> (StatusCode, Value) {
    let res = app
        .client
        .post(app.url("/webhooks/lead"))
        .json(&lead)
        .send()
        .await
        .expect("req");
    let status = res.status();
    (status, res.json().await.expect("json"))
}

fn lead() -> Value {
    json!({"phone_number": "(305) 555-1234", "lead_id": "L-1", "list_id": "77", "first_name": "Ada", "last_name": "Lovelace", "state": "FL", "custom_x": "y"})
}

#[tokio::test]
async fn an_accepted_lead_becomes_exactly_this_bland_request() {
    let app = spawn_app_with(|s| {
        live(s);
        s.bland.pathway_id = Some("pw-123".into());
        s.bland.from = vec!["+13055550001".into(), "+13055550002".into()];
        s.bland.voice = Some("maya".into());
        s.bland.first_sentence = Some("Hi {{first_name}}".into());
        s.bland.voicemail_message = Some("Sorry we missed you, {{first_name}}".into());
        s.public_base_url = Some("https://gw.example.com".into());
        s.bland.extra.insert("language".into(), json!("en-US"));
    })
    .await;
    Mock::given(method("POST"))
        .and(path("/v1/calls"))
        .respond_with(Queued)
        .mount(&app.bland)
        .await;
    let (status, body) = post_lead(&app, lead()).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(body["success"], true);
    assert_eq!(body["decision"], "accepted");
    let request_id = body["request_id"].as_str().expect("request id").to_string();
    let calls = wait_for_calls(&app, 1).await;
    let received = app.bland.received_requests().await.unwrap_or_default();
    assert_eq!(
        received[0]
            .headers
            .get("authorization")
            .map(|v| v.to_str().unwrap_or("")),
        Some(BLAND_KEY)
    );
    assert_eq!(
        calls[0],
        json!({
            "phone_number": "+13055551234",
            "pathway_id": "pw-123",
            "from": "+13055550001",
            "voice": "maya",
            "first_sentence": "Hi {{first_name}}",
            "max_duration": 30,
            "record": false,
            "wait_for_greeting": false,
            "answered_by_enabled": true,
            "voicemail": {"message": "Sorry we missed you, Ada", "action": "leave_message"},
            "webhook": "https://gw.example.com/webhooks/bland",
            "metadata": {"request_id": request_id, "lead_id": "L-1", "list_id": "77"},
            "request_data": {"phone_number": "+13055551234", "lead_id": "L-1", "list_id": "77", "first_name": "Ada",
                             "last_name": "Lovelace", "state": "FL", "custom_x": "y"},
            "language": "en-US"
        })
    );
    // The next call uses the next caller id (round-robin).
    let (_, _) = post_lead(
        &app,
        json!({"phone_number": "3055550009", "lead_id": "L-2"}),
    )
    .await;
    let calls = wait_for_calls(&app, 2).await;
    assert_eq!(calls[1]["from"], "+13055550002");
    // The call's history shows the decision, the dispatch and the call id.
    let history = eventually(Duration::from_secs(3), || async {
        let h = app
            .get_json(&format!("/api/admin/calls/{request_id}"))
            .await;
        (h["call_id"] == format!("call-{request_id}")).then_some(h)
    })
    .await
    .expect("call history");
    assert_eq!(history["decision"]["decision"], "accepted");
    let checks: Vec<&str> = history["decision"]["trace"]
        .as_array()
        .expect("trace")
        .iter()
        .filter_map(|s| s["check"].as_str())
        .collect();
    assert_eq!(
        checks,
        ["schedule", "answering_machine", "protection", "blocklist"]
    );
    assert_eq!(history["dispatches"][0]["status"], "sent");
}

#[tokio::test]
async fn form_encoded_leads_are_accepted_with_string_values() {
    let app = spawn_app_with(live).await;
    Mock::given(method("POST"))
        .and(path("/v1/calls"))
        .respond_with(Queued)
        .mount(&app.bland)
        .await;
    let res = app
        .client
        .post(app.url("/webhooks/awhealth-outbound"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("phone_number=305-555-1234&lead_id=12345&first_name=Ada")
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let calls = wait_for_calls(&app, 1).await;
    assert_eq!(calls[0]["request_data"]["lead_id"], "12345");
    assert_eq!(calls[0]["request_data"]["first_name"], "Ada");
}

#[tokio::test]
async fn invalid_leads_are_400_listing_every_problem_and_journaled() {
    let app = spawn_app().await;
    let (status, body) = post_lead(&app, json!({"first_name": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["success"], false);
    let errors = body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 2, "{body}");
    let (status, body) = post_lead(&app, json!({"phone_number": "555-12", "lead_id": "1"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["errors"][0]
        .as_str()
        .expect("e")
        .contains("phone_number"));
    let (status, _) = post_lead(&app, json!(["not", "an", "object"])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let res = app
        .client
        .post(app.url("/webhooks/lead"))
        .header("Content-Type", "text/plain")
        .body("x")
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let res = app
        .client
        .post(app.url("/webhooks/lead"))
        .header("Content-Type", "application/json")
        .body("{oops")
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let stats = app
        .get_json("/api/admin/statistics?start=2026-11-23&end=2026-11-23")
        .await;
    assert_eq!(stats["total"]["rejected"], 2);
    assert!(bland_calls(&app).await.is_empty());
}

#[tokio::test]
async fn the_webhook_token_is_required_when_set() {
    let app = spawn_app_with(|s| s.webhook_token = Some(Secret::new("hook-secret"))).await;
    let (status, _) = post_lead(&app, lead()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let res = app
        .client
        .post(app.url("/webhooks/lead"))
        .header("X-Webhook-Token", "wrong")
        .json(&lead())
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app
        .client
        .post(app.url("/webhooks/lead"))
        .header("X-Webhook-Token", "hook-secret")
        .json(&lead())
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    // Another lead on another number (the same one again would be a duplicate).
    let mut other = lead();
    other["lead_id"] = json!("L-2");
    other["phone_number"] = json!("3055554321");
    let res = app
        .client
        .post(app.url("/webhooks/lead?token=hook-secret"))
        .json(&other)
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), StatusCode::ACCEPTED);
}

#[tokio::test]
async fn a_blocklisted_lead_is_blocked_journaled_and_never_sent() {
    let app = spawn_app_with(live).await;
    Mock::given(method("POST"))
        .and(path("/v1/calls"))
        .respond_with(Queued)
        .mount(&app.bland)
        .await;
    let res = app
        .post_json(
            "/api/admin/blocklist",
            json!({"field": "phone", "value": "3055551234", "reason": "asked"}),
        )
        .await;
    let flag_id = res.json::<Value>().await.expect("json")["flag"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let (status, body) = post_lead(&app, lead()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["decision"], "blocked");
    assert_eq!(body["stage"], "blocklist");
    assert_eq!(body["reason"], "Blocked by flag: phone=+13055551234");
    assert_eq!(body["flag_id"], flag_id.as_str());
    let today = app.get_json("/api/admin/blocklist/attempts/today").await;
    assert_eq!(today["total_attempts"], 1);
    assert_eq!(today["attempts"][0]["lead_id"], "L-1");
    assert_eq!(today["attempts"][0]["request_id"], body["request_id"]);
    assert_eq!(today["attempts"][0]["source"], "flag");
    let stats = app
        .get_json("/api/admin/statistics?start=2026-11-23&end=2026-11-23")
        .await;
    assert_eq!(stats["total"]["blocked"]["blocklist"], 1);
    crate::helpers::settled(&app).await;
    assert!(
        bland_calls(&app).await.is_empty(),
        "a blocked lead must never reach Bland"
    );
}

#[tokio::test]
async fn check_answers_with_a_trace_and_moves_nothing() {
    let app = spawn_app_with(live).await;
    Mock::given(method("POST"))
        .and(path("/v1/calls"))
        .respond_with(Queued)
        .mount(&app.bland)
        .await;
    app.post_json(
        "/api/admin/blocklist",
        json!({"field": "lead_id", "value": "L-1", "expires_at": "2026-11-24T00:00:00Z"}),
    )
    .await;
    let res = app
        .post_json("/api/admin/check", json!({"lead": lead()}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["decision"], "blocked");
    assert_eq!(body["stage"], "blocklist");
    assert_eq!(body["trace"][0]["check"], "schedule");
    assert_eq!(body["trace"][0]["verdict"], "allow");
    assert_eq!(body["trace"][3]["check"], "blocklist");
    assert_eq!(body["trace"][3]["verdict"], "block");
    assert!(body["trace"][3]["micros"].is_number());
    // At a later instant the flag has expired.
    let res = app
        .post_json(
            "/api/admin/check",
            json!({"lead": lead(), "at": "2026-11-24T15:00:00Z"}),
        )
        .await;
    assert_eq!(
        res.json::<Value>().await.expect("json")["decision"],
        "accepted"
    );
    let res = app
        .post_json("/api/admin/check", json!({"lead": {"lead_id": "1"}}))
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = app
        .post_json(
            "/api/admin/check",
            json!({"lead": lead(), "at": "tomorrow"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // Nothing journaled, nothing sent, no counter moved.
    let stats = app
        .get_json("/api/admin/statistics?start=2026-11-23&end=2026-11-23")
        .await;
    assert_eq!(stats["total"]["leads_received"], 0);
    assert_eq!(
        app.get_json("/api/admin/blocklist/attempts/today").await["total_attempts"],
        0
    );
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("req")
        .text()
        .await
        .expect("text");
    assert!(!metrics.contains("callgate_leads_total{"), "{metrics}");
    crate::helpers::settled(&app).await;
    assert!(bland_calls(&app).await.is_empty());
}

#[tokio::test]
async fn dry_run_logs_instead_of_calling() {
    let app = spawn_app().await;
    Mock::given(method("POST"))
        .and(path("/v1/calls"))
        .respond_with(Queued)
        .mount(&app.bland)
        .await;
    let (status, body) = post_lead(&app, lead()).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let id = body["request_id"].as_str().expect("id").to_string();
    let history = eventually(Duration::from_secs(3), || async {
        let h = app.get_json(&format!("/api/admin/calls/{id}")).await;
        // The journal records the dry run first, then the outbox lets go of the call.
        (h["dispatches"][0]["status"] == "dry_run" && h["outbox"].is_null()).then_some(h)
    })
    .await
    .expect("dry run recorded and the call out of the outbox");
    assert_eq!(history["dispatches"].as_array().map(Vec::len), Some(1));
    let health = app.health().await;
    assert_eq!(health["components"]["dispatch"]["mode"], "dry_run");
    assert!(bland_calls(&app).await.is_empty());
}
