//! The answering-machine tracker and protection rules over HTTP, fed by real Bland
//! completions: config documents, the concurrency case, the line held by a call in flight
//! and released by its outcome or automatically, caps and terminal outcomes, restarts
//! rebuilding every count from the journal, and the admin views. Fixed clock: Monday
//! 2026-11-23 10:00 Eastern.

use std::time::Duration;

use chrono::TimeDelta;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{eventually, TestApp};
use crate::intake::{bland_calls, post_lead, wait_for_calls};

async fn app() -> TestApp {
    crate::intake::live_app().await
}

fn lead(id: &str, phone: &str) -> Value {
    json!({"phone_number": phone, "lead_id": id})
}

/// Posts a lead and returns (decision, stage, body).
async fn decide(app: &TestApp, body: Value) -> (String, String, Value) {
    let (_, b) = post_lead(app, body).await;
    let d = b["decision"].as_str().unwrap_or("").to_string();
    let s = b["stage"].as_str().unwrap_or("").to_string();
    (d, s, b)
}

/// Bland's completion for a request we accepted (the mock's call id is `call-<request id>`).
async fn complete(app: &TestApp, request_id: &str, fields: Value) -> Value {
    let mut body = json!({"call_id": format!("call-{request_id}"), "call_length": 1});
    if let (Some(b), Some(f)) = (body.as_object_mut(), fields.as_object()) {
        b.extend(f.clone());
    }
    let res = app
        .client
        .post(app.url("/webhooks/bland"))
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.expect("json")
}

/// Accepts a lead, waits for Bland to have it, and completes it with `fields`.
async fn call(app: &TestApp, body: Value, fields: Value) -> String {
    let before = bland_calls(app).await.len();
    let (d, _, b) = decide(app, body.clone()).await;
    assert_eq!(d, "accepted", "{body}: {b}");
    let id = b["request_id"].as_str().expect("id").to_string();
    wait_for_calls(app, before + 1).await;
    // Bland answers with the call id before it posts the completion.
    eventually(Duration::from_secs(3), || async {
        let h = app.get_json(&format!("/api/admin/calls/{id}")).await;
        h["call_id"].is_string().then_some(())
    })
    .await
    .expect("dispatched");
    assert_eq!(complete(app, &id, fields).await["status"], "recorded");
    id
}

async fn put(app: &TestApp, path: &str, body: Value) -> (StatusCode, Value) {
    let res = app
        .admin(Method::PUT, path)
        .json(&body)
        .send()
        .await
        .expect("request");
    (res.status(), res.json().await.expect("json"))
}

#[tokio::test]
async fn both_config_documents_take_partial_updates_and_persist() {
    let app = app().await;
    let am = app.get_json("/api/admin/answering-machine/config").await;
    assert_eq!(
        am,
        json!({"enabled": true, "max_attempts_per_day": 4, "counted_outcomes": ["voicemail", "no_answer"]})
    );
    let p = app.get_json("/api/admin/protection/config").await;
    assert_eq!(p["max_call_minutes"], 30);
    assert_eq!(p["duplicate_window_minutes"], 10);
    assert_eq!(p["max_daily_attempts_per_number"], 3);
    assert_eq!(p["terminal_statuses"][0], "DNC");
    let (s, body) = put(
        &app,
        "/api/admin/answering-machine/config",
        json!({"max_attempts_per_day": 2}),
    )
    .await;
    assert_eq!(
        (s, body["max_attempts_per_day"].as_u64()),
        (StatusCode::OK, Some(2))
    );
    let (s, body) = put(
        &app,
        "/api/admin/protection/config",
        json!({"rules": {"duplicate": false}, "duplicate_window_minutes": 20}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["rules"]["duplicate"], false);
    assert_eq!(body["rules"]["daily_cap"], true, "other rules untouched");
    for (path, bad, field) in [
        (
            "/api/admin/protection/config",
            json!({"max_call_minutes": 0}),
            "max_call_minutes",
        ),
        (
            "/api/admin/protection/config",
            json!({"rules": {"dupe": true}}),
            "rules",
        ),
        (
            "/api/admin/protection/config",
            json!({"rolling_cap_states": ["Florida"]}),
            "rolling_cap_states",
        ),
        (
            "/api/admin/answering-machine/config",
            json!({"counted_outcomes": ["maybe"]}),
            "counted_outcomes",
        ),
        (
            "/api/admin/answering-machine/config",
            json!({"enabled": "yes"}),
            "enabled",
        ),
    ] {
        let (s, err) = put(&app, path, bad.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
        assert!(
            err["error"].as_str().unwrap_or("").starts_with(field),
            "{bad}: {err}"
        );
    }
    let app = app.restart().await;
    assert_eq!(
        app.get_json("/api/admin/answering-machine/config").await["max_attempts_per_day"],
        2
    );
    let p = app.get_json("/api/admin/protection/config").await;
    assert_eq!(
        (
            p["rules"]["duplicate"].as_bool(),
            p["duplicate_window_minutes"].as_u64()
        ),
        (Some(false), Some(20))
    );
}

#[tokio::test]
async fn two_webhooks_for_one_number_at_the_same_moment_accept_exactly_one() {
    let app = app().await;
    for n in 0..10 {
        let phone = format!("30555530{n:02}");
        // Same lead twice (a dialer retry) and two leads on one number.
        let (a, b) = tokio::join!(
            post_lead(&app, lead("same", &phone)),
            post_lead(&app, lead("same", &phone))
        );
        let accepted = [&a.1, &b.1]
            .iter()
            .filter(|r| r["decision"] == "accepted")
            .count();
        assert_eq!(accepted, 1, "{a:?} {b:?}");
        let other = format!("30555531{n:02}");
        let (a, b) = tokio::join!(
            post_lead(&app, lead("x", &other)),
            post_lead(&app, lead("y", &other))
        );
        let decisions = [a.1["decision"].clone(), b.1["decision"].clone()];
        assert!(
            decisions.contains(&json!("accepted")) && decisions.contains(&json!("deferred")),
            "{decisions:?}"
        );
    }
}

#[tokio::test]
async fn a_line_in_use_defers_and_its_outcome_releases_the_waiting_lead() {
    let app = app().await;
    let (d, _, first) = decide(&app, lead("A", "3055554000")).await;
    assert_eq!(d, "accepted");
    wait_for_calls(&app, 1).await;
    let (d, stage, b) = decide(&app, lead("B", "(305) 555-4000")).await;
    assert_eq!((d.as_str(), stage.as_str()), ("deferred", "protection"));
    assert_eq!(b["release_at"], "2026-11-23T15:35:00.000Z");
    let active = app.get_json("/api/admin/calls/active").await;
    assert_eq!(active["count"], 1);
    assert_eq!(active["lines"][0]["phone"], "+13055554000");
    assert_eq!(
        active["lines"][0]["auto_release_at"],
        "2026-11-23T15:35:00Z"
    );
    // A's call ends: B is released within a round, not at 15:35.
    complete(
        &app,
        first["request_id"].as_str().expect("id"),
        json!({"answered_by": "human"}),
    )
    .await;
    let calls = wait_for_calls(&app, 2).await;
    assert_eq!(calls[1]["request_data"]["lead_id"], "B");
}

#[tokio::test]
async fn a_line_whose_callback_never_comes_is_released_automatically() {
    let app = app().await;
    decide(&app, lead("A", "3055554100")).await;
    wait_for_calls(&app, 1).await;
    decide(&app, lead("B", "3055554100")).await;
    app.clock
        .advance(TimeDelta::minutes(34) + TimeDelta::seconds(59));
    crate::helpers::settled(&app).await;
    assert_eq!(bland_calls(&app).await.len(), 1, "still held");
    app.clock.advance(TimeDelta::seconds(1));
    let calls = wait_for_calls(&app, 2).await;
    assert_eq!(calls[1]["request_data"]["lead_id"], "B");
}

#[tokio::test]
async fn voicemails_block_the_lead_and_a_restart_rebuilds_every_count() {
    let app = app().await;
    put(
        &app,
        "/api/admin/protection/config",
        json!({"rules": {"duplicate": false}, "max_daily_attempts_per_number": 10}),
    )
    .await;
    for _ in 0..4 {
        call(
            &app,
            lead("V", "2125554200"),
            json!({"answered_by": "voicemail"}),
        )
        .await;
    }
    let counts = app
        .get_json("/api/admin/answering-machine/V?phone=(212)%20555-4200")
        .await;
    assert_eq!(
        (counts["count"].as_u64(), counts["blocked"].as_bool()),
        (Some(4), Some(true))
    );
    assert_eq!(counts["outcomes"]["voicemail"], 4);
    let (d, stage, b) = decide(&app, lead("V", "2125554200")).await;
    assert_eq!(
        (d.as_str(), stage.as_str()),
        ("blocked", "answering_machine"),
        "{b}"
    );
    // Three calls to one number (different leads) fill the daily cap.
    put(
        &app,
        "/api/admin/protection/config",
        json!({"max_daily_attempts_per_number": 3}),
    )
    .await;
    for id in ["C1", "C2", "C3"] {
        call(
            &app,
            lead(id, "2125554300"),
            json!({"answered_by": "human"}),
        )
        .await;
    }
    let app = app.restart().await;
    let (d, stage, b) = decide(&app, lead("V", "2125554200")).await;
    assert_eq!(
        (d.as_str(), stage.as_str()),
        ("blocked", "answering_machine"),
        "{b}"
    );
    let (d, _, b) = decide(&app, lead("C4", "2125554300")).await;
    assert_eq!(d, "blocked");
    assert!(
        b["reason"]
            .as_str()
            .unwrap_or("")
            .starts_with("daily cap: 3"),
        "{b}"
    );
    // The next business day starts at zero.
    app.clock
        .set("2026-11-24T15:00:00Z".parse().expect("instant"));
    let (d, _, b) = decide(&app, lead("C4", "2125554300")).await;
    assert_eq!(d, "accepted", "{b}");
}

#[tokio::test]
async fn a_transfer_or_a_not_interested_tag_ends_the_day_for_the_number() {
    let app = app().await;
    call(
        &app,
        lead("T", "3055554400"),
        json!({"answered_by": "human", "warm_transfer_call": {"state": "MERGED"}}),
    )
    .await;
    let (d, stage, b) = decide(&app, lead("T2", "3055554400")).await;
    assert_eq!((d.as_str(), stage.as_str()), ("blocked", "protection"));
    assert!(
        b["reason"].as_str().unwrap_or("").contains("transferred"),
        "{b}"
    );
    call(
        &app,
        lead("N", "3055554401"),
        json!({"answered_by": "human", "pathway_tags": [{"name": "Not Interested"}]}),
    )
    .await;
    let (d, _, b) = decide(&app, lead("N2", "3055554401")).await;
    assert_eq!(d, "blocked");
    assert!(
        b["reason"]
            .as_str()
            .unwrap_or("")
            .contains("not_interested"),
        "{b}"
    );
    let (d, _, b) = decide(
        &app,
        json!({"phone_number": "3055554402", "lead_id": "S", "status": "DNC"}),
    )
    .await;
    assert_eq!(d, "blocked");
    assert_eq!(b["reason"], "lead status DNC is terminal; not called");
    assert!(
        bland_calls(&app).await.len() == 2,
        "no network call for any of them"
    );
}

#[tokio::test]
async fn invalid_number_classes_are_blocked_before_dialing() {
    let app = app().await;
    for (phone, part) in [
        ("8005554500", "toll-free"),
        ("9005554500", "premium-rate"),
        ("3055550150", "fictional"),
        ("3059115555", "N11"),
        ("3050554500", "starts with 0"),
    ] {
        // With a state, the schedule check knows the zone even for a non-geographic area code.
        let with_state = json!({"phone_number": phone, "lead_id": "I", "state": "FL"});
        let (d, stage, b) = decide(&app, with_state).await;
        assert_eq!(
            (d.as_str(), stage.as_str()),
            ("blocked", "protection"),
            "{phone}: {b}"
        );
        assert!(
            b["reason"].as_str().unwrap_or("").contains(part),
            "{phone}: {b}"
        );
    }
    put(
        &app,
        "/api/admin/protection/config",
        json!({"invalid_numbers": {"toll_free": false}}),
    )
    .await;
    let (d, _, _) = decide(
        &app,
        json!({"phone_number": "8005554500", "lead_id": "I", "state": "FL"}),
    )
    .await;
    assert_eq!(d, "accepted");
    // Without a state, a toll-free number has no local time: `schedule` blocks it first.
    let (d, stage, _) = decide(&app, lead("J", "8885554500")).await;
    assert_eq!((d.as_str(), stage.as_str()), ("blocked", "schedule"));
}

#[tokio::test]
async fn history_shows_todays_decisions_and_outcomes_for_any_spelling() {
    let app = app().await;
    let id = call(
        &app,
        lead("H", "3055554600"),
        json!({"answered_by": "no-answer"}),
    )
    .await;
    decide(&app, lead("H2", "3055554600")).await;
    let h = eventually(Duration::from_secs(3), || async {
        let h = app
            .get_json("/api/admin/calls/history/(305)%20555-4600")
            .await;
        (h["outcomes"] == 1).then_some(h)
    })
    .await
    .expect("history");
    assert_eq!(h["phone"], "+13055554600");
    assert_eq!(h["decisions"], 2);
    let events = h["events"].as_array().expect("events");
    assert!(events.iter().any(|e| e["event"] == "outcome"
        && e["outcome"] == "no_answer"
        && e["request_id"] == id.as_str()));
    let res = app
        .admin(Method::GET, "/api/admin/calls/history/not-a-number")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = app
        .admin(Method::GET, "/api/admin/answering-machine/H")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "phone is required");
    let health = app.health().await;
    assert_eq!(health["components"]["trackers"]["status"], "ok");
    assert!(health["components"]["trackers"]["numbers"].as_u64() >= Some(1));
}
