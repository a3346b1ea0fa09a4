//! Dispatch rules against a mock Bland, the completion webhook, and the outbox across
//! `kill -9` of the real binary.

use std::collections::HashMap;
use std::time::Duration;

use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::Sha256;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{client, eventually, spawn_app_with, spawn_process, TestApp, ADMIN_KEY};
use crate::intake::{bland_calls, live, post_lead, Queued, BLAND_KEY};
use callgate::config::Secret;

fn lead(n: u32) -> Value {
    json!({"phone_number": format!("305555{:04}", 1000 + n), "lead_id": format!("L-{n}")})
}

async fn history(app: &TestApp, id: &str) -> Value {
    app.get_json(&format!("/api/admin/calls/{id}")).await
}

async fn wait_status(app: &TestApp, id: &str, status: &str) -> Value {
    eventually(Duration::from_secs(5), || async {
        let h = history(app, id).await;
        let last = h["dispatches"]
            .as_array()
            .and_then(|d| d.last().cloned())
            .unwrap_or(Value::Null);
        (last["status"] == status).then_some(h)
    })
    .await
    .unwrap_or_else(|| panic!("{id} never reached {status}"))
}

#[tokio::test]
async fn a_503_is_retried_with_the_same_request_id() {
    let app = spawn_app_with(live).await;
    crate::intake::bland_fails_then_takes(&app, ResponseTemplate::new(503), 1).await;
    let (_, body) = post_lead(&app, lead(1)).await;
    let id = body["request_id"].as_str().expect("id").to_string();
    let h = wait_status(&app, &id, "sent").await;
    assert_eq!(h["call_id"], format!("call-{id}"));
    let calls = bland_calls(&app).await;
    assert_eq!(calls.len(), 2);
    assert!(calls
        .iter()
        .all(|c| c["metadata"]["request_id"] == id.as_str()));
}

#[tokio::test]
async fn a_400_is_final() {
    let app = spawn_app_with(live).await;
    Mock::given(method("POST"))
        .and(path("/v1/calls"))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(json!({"message": "Invalid phone number"})),
        )
        .mount(&app.bland)
        .await;
    let (_, body) = post_lead(&app, lead(3)).await;
    let id = body["request_id"].as_str().expect("id").to_string();
    let h = wait_status(&app, &id, "failed").await;
    assert!(h["dispatches"][0]["error"]
        .as_str()
        .expect("error")
        .contains("Invalid phone number"));
    crate::helpers::settled(&app).await;
    assert_eq!(bland_calls(&app).await.len(), 1);
    let stats = app
        .get_json("/api/admin/statistics?start=2026-11-23&end=2026-11-23")
        .await;
    assert_eq!(stats["total"]["dispatch_failures"], 1);
}

#[tokio::test]
async fn a_hang_becomes_unconfirmed_with_no_second_request_until_resolved() {
    let app = spawn_app_with(live).await;
    crate::intake::bland_hangs(&app).await;
    let (_, body) = post_lead(&app, lead(4)).await;
    let id = body["request_id"].as_str().expect("id").to_string();
    wait_status(&app, &id, "unconfirmed").await;
    let pending = app.get_json("/api/admin/calls/pending").await;
    assert_eq!(pending["unconfirmed"], 1);
    assert_eq!(pending["entries"][0]["request_id"], id.as_str());
    let health = app.health().await;
    assert_eq!(health["status"], "degraded");
    crate::helpers::settled(&app).await;
    assert_eq!(
        bland_calls(&app).await.len(),
        1,
        "an unconfirmed call is never retried blindly"
    );
    // Resolving: a bad resolution is 400, an unknown id 404, then `sent` settles it.
    let url = |s: &str| format!("/api/admin/calls/{s}/resolve");
    assert_eq!(
        app.post_json(&url(&id), json!({"resolution": "maybe"}))
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.post_json(&url("nope"), json!({"resolution": "sent"}))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let res = app
        .post_json(
            &url(&id),
            json!({"resolution": "sent", "call_id": "call-found-in-bland"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        app.post_json(&url(&id), json!({"resolution": "sent"}))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get_json("/api/admin/calls/pending").await["unconfirmed"],
        0
    );
    // The resolved call id is known to the completion webhook.
    let res = app
        .client
        .post(app.url("/webhooks/bland"))
        .json(&json!({"call_id": "call-found-in-bland", "answered_by": "human", "call_length": 1}))
        .send()
        .await
        .expect("req");
    assert_eq!(
        res.json::<Value>().await.expect("json")["status"],
        "recorded"
    );
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn completion_webhook_signature_duplicates_and_unknown_calls() {
    let app = spawn_app_with(|s| {
        live(s);
        s.bland.webhook_secrets = vec![Secret::new("old-secret"), Secret::new("new-secret")];
    })
    .await;
    Mock::given(method("POST"))
        .and(path("/v1/calls"))
        .respond_with(Queued)
        .mount(&app.bland)
        .await;
    let (_, body) = post_lead(&app, lead(5)).await;
    let id = body["request_id"].as_str().expect("id").to_string();
    wait_status(&app, &id, "sent").await;
    let payload = serde_json::to_vec(&json!({
        "call_id": format!("call-{id}"), "status": "completed", "answered_by": "human", "call_length": 0.75,
        "metadata": {"request_id": id}
    }))
    .expect("json");
    let post = |sig: Option<String>, body: Vec<u8>| {
        let mut req = app
            .client
            .post(app.url("/webhooks/bland-callback"))
            .header("Content-Type", "application/json")
            .body(body);
        if let Some(sig) = sig {
            req = req.header("X-Webhook-Signature", sig);
        }
        req.send()
    };
    assert_eq!(
        post(None, payload.clone()).await.expect("req").status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post(Some(sign("wrong", &payload)), payload.clone())
            .await
            .expect("req")
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let res = post(Some(sign("old-secret", &payload)), payload.clone())
        .await
        .expect("req");
    assert_eq!(res.status(), StatusCode::OK);
    let first: Value = res.json().await.expect("json");
    assert_eq!(first["status"], "recorded");
    assert_eq!(first["outcome"], "human");
    assert_eq!(first["request_id"], id.as_str());
    let again: Value = post(Some(sign("new-secret", &payload)), payload.clone())
        .await
        .expect("req")
        .json()
        .await
        .expect("json");
    assert_eq!(again["status"], "duplicate");
    let unknown =
        serde_json::to_vec(&json!({"call_id": "someone-elses", "answered_by": "voicemail"}))
            .expect("json");
    let res: Value = post(Some(sign("new-secret", &unknown)), unknown)
        .await
        .expect("req")
        .json()
        .await
        .expect("json");
    assert_eq!(res["status"], "unmatched");
    let missing = b"{\"status\":\"completed\"}".to_vec();
    assert_eq!(
        post(Some(sign("new-secret", &missing)), missing)
            .await
            .expect("req")
            .status(),
        StatusCode::BAD_REQUEST
    );
    let stats = app
        .get_json("/api/admin/statistics?start=2026-11-23&end=2026-11-23")
        .await;
    assert_eq!(
        stats["total"]["outcomes"]["human"], 1,
        "the duplicate is not counted twice"
    );
    assert_eq!(stats["total"]["answered"], 1, "0.75 min = 45 s");
    let h = history(&app, &id).await;
    assert_eq!(h["outcome"]["duration_s"], 45.0);
    // Duplicates are still recognised after a restart.
    let app = app.restart().await;
    let res: Value = app
        .client
        .post(app.url("/webhooks/bland"))
        .header("X-Webhook-Signature", sign("new-secret", &payload))
        .header("Content-Type", "application/json")
        .body(payload.clone())
        .send()
        .await
        .expect("req")
        .json()
        .await
        .expect("json");
    assert_eq!(res["status"], "duplicate");
}

#[tokio::test]
async fn the_outbox_survives_kill_9_and_nothing_is_sent_twice() {
    let bland = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/calls"))
        .respond_with(Queued)
        .mount(&bland)
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let env = [
        ("BLAND_API_KEY", BLAND_KEY),
        ("BLAND_API_URL", &bland.uri()),
        ("BLAND_MAX_CALLS_PER_SECOND", "2"),
    ];
    let http = client();
    let mut proc = spawn_process(dir.path(), &env);
    let mut accepted = Vec::new();
    for n in 0..8 {
        let res = http
            .post(format!("{}/webhooks/lead", proc.address))
            .json(&lead(n))
            .send()
            .await
            .expect("req");
        assert_eq!(res.status(), StatusCode::ACCEPTED);
        accepted.push(
            res.json::<Value>().await.expect("json")["request_id"]
                .as_str()
                .expect("id")
                .to_string(),
        );
    }
    // Some calls are sent (two a second), not all: kill then.
    crate::helpers::eventually(Duration::from_secs(5), || async {
        (!bland
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty())
        .then_some(())
    })
    .await
    .expect("a first call was sent");
    proc.child.kill().expect("kill -9");
    let _ = proc.child.wait();
    let before = bland.received_requests().await.unwrap_or_default().len();
    assert!(
        before < accepted.len(),
        "the kill came before everything was sent ({before})"
    );
    let proc = spawn_process(
        dir.path(),
        &[
            ("BLAND_API_KEY", BLAND_KEY),
            ("BLAND_API_URL", &bland.uri()),
        ],
    );
    let pending_url = format!("{}/api/admin/calls/pending", proc.address);
    let settled = eventually(Duration::from_secs(10), || async {
        let received: Vec<Value> = bland
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .map(|r| serde_json::from_slice(&r.body).unwrap_or(Value::Null))
            .collect();
        let pending: Value = http
            .get(&pending_url)
            .header("X-API-Key", ADMIN_KEY)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let unconfirmed: Vec<String> = pending["entries"]
            .as_array()?
            .iter()
            .filter(|e| e["state"] == "unconfirmed")
            .filter_map(|e| e["request_id"].as_str().map(str::to_string))
            .collect();
        let open = pending["queued"].as_u64()? + pending["in_flight"].as_u64()?;
        (open == 0 && received.len() + unconfirmed.len() >= accepted.len())
            .then_some((received, unconfirmed))
    })
    .await;
    let (received, unconfirmed) =
        settled.expect("every accepted lead was sent or is waiting for an admin");
    let mut seen: HashMap<String, usize> = HashMap::new();
    for call in &received {
        *seen
            .entry(
                call["metadata"]["request_id"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
            .or_default() += 1;
    }
    for id in &accepted {
        let times = seen.get(id).copied().unwrap_or(0);
        assert!(times <= 1, "{id} was sent {times} times");
        assert!(times == 1 || unconfirmed.contains(id), "{id} was lost");
    }
    assert!(
        unconfirmed.len() <= 1,
        "only a send under way at the kill can be unconfirmed: {unconfirmed:?}"
    );
}

#[tokio::test]
async fn connection_refused_is_retried_then_given_up() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let app = spawn_app_with(move |s| {
        live(s);
        s.bland.api_url = url;
        s.bland.max_attempts = 3;
    })
    .await;
    let (_, body) = post_lead(&app, lead(6)).await;
    let id = body["request_id"].as_str().expect("id").to_string();
    let h = wait_status(&app, &id, "failed").await;
    let error = h["dispatches"][0]["error"].as_str().expect("error");
    assert!(
        error.contains("gave up after 3 tries") && error.contains("connection failed"),
        "{error}"
    );
}

#[tokio::test]
async fn every_answered_block_survives_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("blocklist-config.json"),
        r#"{"enabled": true, "flags": [{"id": "f1", "field": "lead_id", "value": "blocked-lead"}]}"#,
    )
    .expect("config");
    let http = client();
    let mut proc = spawn_process(dir.path(), &[]);
    let mut ids = Vec::new();
    for n in 0..25 {
        let body =
            json!({"phone_number": format!("305555{:04}", 2000 + n), "lead_id": "blocked-lead"});
        let res = http
            .post(format!("{}/webhooks/lead", proc.address))
            .json(&body)
            .send()
            .await
            .expect("req");
        assert_eq!(res.status(), StatusCode::OK);
        ids.push(
            res.json::<Value>().await.expect("json")["request_id"]
                .as_str()
                .expect("id")
                .to_string(),
        );
    }
    proc.child.kill().expect("kill -9");
    let _ = proc.child.wait();
    let proc = spawn_process(dir.path(), &[]);
    let today: Value = http
        .get(format!(
            "{}/api/admin/blocklist/attempts/today",
            proc.address
        ))
        .header("X-API-Key", ADMIN_KEY)
        .send()
        .await
        .expect("req")
        .json()
        .await
        .expect("json");
    let got: Vec<&str> = today["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .filter_map(|a| a["request_id"].as_str())
        .collect();
    for id in &ids {
        assert!(got.contains(&id.as_str()), "{id} lost");
    }
    assert_eq!(got.len(), ids.len());
}
