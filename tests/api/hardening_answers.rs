//! The second black-box trial (issue 22), what the gateway answers: readiness for load
//! balancers beside `/health`, invalid international numbers, the seed's `attempts/today`
//! path and `today` in statistics, a body's read deadline, and the fields a decision keeps
//! for a re-check. Each test failed before its fix.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{eventually, spawn_app_with, TestApp};
use crate::intake::{live, post_lead};

async fn ready(app: &TestApp) -> (StatusCode, serde_json::Value) {
    let res = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .expect("ready");
    (res.status(), res.json().await.expect("json"))
}

#[tokio::test]
async fn a_list_not_loaded_makes_health_503_but_the_instance_stays_ready_for_the_balancer() {
    use callgate::config::lists::{ListKind, ListSettings};
    let app = spawn_app_with(|s| {
        s.lists = vec![ListSettings {
            name: "ftc".into(),
            kind: ListKind::NationalDnc,
            max_age_days: Some(31),
            states: Vec::new(),
            exemption: None,
        }]
    })
    .await;
    let res = app
        .client
        .get(app.url("/health"))
        .send()
        .await
        .expect("health");
    assert_eq!(
        res.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "the operator's view"
    );
    let (status, body) = ready(&app).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let storage = if crate::helpers::on_postgres() {
        "database"
    } else {
        "files"
    };
    assert_eq!(body, json!({"ready": true, "storage": storage}));
    // Leads are still taken and recorded as blocked by the closed gate.
    let (status, answer) =
        post_lead(&app, json!({"phone_number": "3055552120", "lead_id": "R"})).await;
    assert_eq!(
        (status, answer["decision"].as_str()),
        (StatusCode::OK, Some("blocked"))
    );
    // In database mode, readiness is the database answering.
    let Some(db) = app.dir.db.as_ref() else {
        return;
    };
    db.set_reachable(false)
        .await
        .expect("take the database away");
    // A lead is refused with the cause said once.
    let (status, body) =
        post_lead(&app, json!({"phone_number": "3055552121", "lead_id": "R2"})).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let error = body["error"].as_str().expect("error");
    assert_eq!(error.matches("unavailable").count(), 1, "{error}");
    let (status, body) = ready(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["ready"], false);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("database")),
        "{body}"
    );
    db.set_reachable(true).await.expect("bring it back");
    let back = eventually(Duration::from_secs(5), || async {
        let (status, _) = ready(&app).await;
        (status == StatusCode::OK).then_some(())
    })
    .await;
    assert!(back.is_some(), "ready again once the database answers");
}

/// The README's balancer and service examples probe readiness, never `/health`.
#[test]
fn the_readme_examples_check_readiness_not_the_operators_health() {
    let readme = include_str!("../../README.md");
    for fence in ["```haproxy", "```ini"] {
        let block = readme
            .split(fence)
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .unwrap_or_else(|| panic!("the README has a {fence} block"));
        assert!(block.contains("/health/ready"), "{block}");
        assert!(
            !block.replace("/health/ready", "").contains("/health"),
            "{block}"
        );
    }
}

#[tokio::test]
async fn an_international_number_valid_for_no_pattern_of_its_country_is_blocked_not_dialled() {
    let app = spawn_app_with(live).await;
    crate::intake::bland_takes(&app.bland).await;
    // No calling window for numbers outside the NANP here (their zone is the operator's).
    let res = app
        .admin(reqwest::Method::PUT, "/api/admin/scheduler/config")
        .json(&json!({"local_window": {"enabled": false}}))
        .send()
        .await
        .expect("config");
    assert_eq!(res.status(), StatusCode::OK);
    // libphonenumber's invalid example for GB: possible by length, no real number.
    let (status, body) = post_lead(
        &app,
        json!({"phone_number": "+44121234567", "lead_id": "I-1"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["decision"].as_str(), body["stage"].as_str()),
        (Some("blocked"), Some("protection")),
        "{body}"
    );
    assert!(
        body["reason"]
            .as_str()
            .is_some_and(|r| r.contains("not a valid number of its country")),
        "{body}"
    );
    // A real London number goes through.
    let (status, body) = post_lead(
        &app,
        json!({"phone_number": "+442079460958", "lead_id": "I-2"}),
    )
    .await;
    assert_eq!(
        (status, body["decision"].as_str()),
        (StatusCode::ACCEPTED, Some("accepted")),
        "{body}"
    );
    let calls = crate::intake::wait_for_calls(&app, 1).await;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["phone_number"], "+442079460958");
}

#[tokio::test]
async fn the_seeds_attempts_today_is_its_own_path_and_statistics_take_today() {
    let app = crate::helpers::spawn_app().await;
    let doc = app.get_json("/api/openapi.json").await;
    let today = &doc["paths"]["/api/admin/blocklist/attempts/today"]["get"];
    assert!(today.is_object(), "described as its own path");
    assert!(
        today["parameters"]
            .as_array()
            .is_none_or(|p| p.iter().all(|x| x["in"] != "path")),
        "{today}"
    );
    let day = app.get_json("/api/admin/blocklist/attempts/today").await;
    assert_eq!(day["date"], "2026-11-23");
    let stats = app
        .get_json("/api/admin/statistics?start=today&end=today")
        .await;
    assert_eq!(stats["days"][0]["date"], "2026-11-23", "{stats}");
    let seed = app
        .get_json("/api/admin/blocklist/statistics?start=today")
        .await;
    assert_eq!(
        seed["date_range"],
        json!({"start": "2026-11-23", "end": "2026-11-23"})
    );
    // A word that is not a date is still refused.
    let res = app
        .admin(
            reqwest::Method::GET,
            "/api/admin/statistics?start=yesterday",
        )
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_body_sent_a_byte_at_a_time_is_answered_408_once_its_deadline_passes() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with(|s| s.body_timeout_secs = 1).await;
    let addr = app.address.trim_start_matches("http://").to_string();
    let mut conn = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let body = br#"{"lead_id":"S","phone_number":"3055552150"}"#;
    let head = format!(
        "POST /webhooks/lead HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).await.expect("head");
    // A byte every 100 ms: the body would take 4 s; the answer comes before it is sent.
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    for b in body {
        if conn.write_all(&[*b]).await.is_err() {
            break;
        }
        match tokio::time::timeout(Duration::from_millis(100), conn.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                answer.extend_from_slice(&buf[..n]);
                break;
            }
            Err(_) => {}
        }
    }
    // Whatever is still on the way.
    if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf)).await {
        answer.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    let json = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(json).expect("a JSON error body");
    assert_eq!(v["success"], false);
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|e| e.contains("BODY_TIMEOUT_SECS")),
        "{v}"
    );
    // Nothing was decided.
    let q = app
        .get_json("/api/admin/leads/lookup?phone=3055552150")
        .await;
    assert_eq!(q["decisions"], 0, "{q}");
}

#[tokio::test]
async fn each_decision_keeps_the_fields_the_checks_read_bounded_for_a_recheck() {
    let app = spawn_app_with(live).await;
    let long = "x".repeat(2000);
    let lead = json!({"lead_id": "K-1", "phone_number": "3055552170", "status": "DNC",
        "state": "FL", "list_id": 77, "notes": long, "tags": ["a"]});
    let (_, answer) = post_lead(&app, lead).await;
    assert_eq!(answer["stage"], "protection", "{answer}");
    let id = answer["request_id"].as_str().expect("id");
    let view = app.get_json(&format!("/api/admin/calls/{id}")).await;
    let fields = &view["decision"]["fields"];
    assert_eq!(fields["status"], "DNC", "{view}");
    assert_eq!(fields["state"], "FL");
    assert_eq!(fields["list_id"], 77);
    assert_eq!(fields["phone_number"], "+13055552170");
    assert_eq!(
        fields["notes"],
        serde_json::Value::Null,
        "long text is not kept"
    );
    assert_eq!(fields["tags"], serde_json::Value::Null, "nor nested values");
    // Checked again on those fields, the answer is the lead's own; on the number alone
    // it would not be.
    let again = app
        .post_json("/api/admin/check", json!({"lead": fields}))
        .await
        .json::<serde_json::Value>()
        .await
        .expect("json");
    assert_eq!(again["stage"], "protection", "{again}");
    let bare = app
        .post_json(
            "/api/admin/check",
            json!({"lead": {"lead_id": "K-1", "phone_number": "3055552170"}}),
        )
        .await
        .json::<serde_json::Value>()
        .await
        .expect("json");
    assert_ne!(bare["stage"], "protection", "{bare}");
}
