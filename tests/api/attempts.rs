//! `POST /webhooks/attempt`: calls another dialer placed count toward the caps, the
//! answering-machine counts and the transfer rule like ours, once per (source, id),
//! across a restart and (PostgreSQL) across instances. Fixed clock: Monday 2026-11-23
//! 10:00 Eastern.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_pair, TestApp};
use crate::intake::{live_app, post_lead};

async fn attempt(app: &TestApp, body: Value) -> (StatusCode, Value) {
    let res = app
        .client
        .post(app.url("/webhooks/attempt"))
        .json(&body)
        .send()
        .await
        .expect("request");
    (res.status(), res.json().await.expect("json"))
}

async fn protection(app: &TestApp, body: Value) {
    let res = app
        .admin(Method::PUT, "/api/admin/protection/config")
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::OK);
}

/// Caps of two calls a day per number, nothing else in the way of a second lead.
async fn cap_of_two(app: &TestApp) {
    protection(
        app,
        json!({"rules": {"duplicate": false, "active_call": false}, "max_daily_attempts_per_number": 2}),
    )
    .await;
}

fn convoso_call(id: &str) -> Value {
    // 09:30 in New York: half an hour before the test's clock.
    json!({"phone_number": "(212) 555-4400", "lead_id": "X1", "source": "convoso", "id": id,
           "at": "2026-11-23 09:30:00", "outcome": "no_answer"})
}

async fn decision(app: &TestApp, lead_id: &str) -> Value {
    let (_, body) = post_lead(
        app,
        json!({"phone_number": "2125554400", "lead_id": lead_id}),
    )
    .await;
    body
}

#[tokio::test]
async fn a_call_placed_elsewhere_fills_the_daily_cap_once_and_a_restart_remembers_it() {
    let app = live_app().await;
    cap_of_two(&app).await;
    let (status, first) = attempt(&app, convoso_call("c-1")).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["status"], "recorded");
    assert!(
        first["request_id"]
            .as_str()
            .is_some_and(|r| r.starts_with("req_")),
        "{first}"
    );
    // Convoso retries the post (another spelling of the number): counted once.
    let mut again = convoso_call("c-1");
    again["phone_number"] = json!("+12125554400");
    let (status, repeat) = attempt(&app, again).await;
    assert_eq!(
        (status, repeat["status"].as_str()),
        (StatusCode::OK, Some("duplicate")),
        "{repeat}"
    );
    // One call today: a lead is accepted (two), the next one meets the cap.
    assert_eq!(decision(&app, "A").await["decision"], "accepted");
    let blocked = decision(&app, "B").await;
    assert_eq!(
        (blocked["decision"].as_str(), blocked["stage"].as_str()),
        (Some("blocked"), Some("protection")),
        "{blocked}"
    );
    assert!(
        blocked["reason"]
            .as_str()
            .is_some_and(|r| r.contains("daily cap: 2 calls")),
        "{blocked}"
    );
    // The lookup shows it with its source, placed at 14:30 UTC.
    let found = app
        .get_json("/api/admin/leads/lookup?phone=2125554400")
        .await;
    assert_eq!(found["external"], 1, "{found}");
    let ext: Vec<&Value> = found["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["event"] == "external")
        .collect();
    assert_eq!(ext.len(), 1);
    assert_eq!(
        (
            ext[0]["source"].as_str(),
            ext[0]["id"].as_str(),
            ext[0]["outcome"].as_str()
        ),
        (Some("convoso"), Some("c-1"), Some("no_answer"))
    );
    assert_eq!(ext[0]["at"], "2026-11-23T14:30:00.000Z");
    // After a restart the journal still says so: the repeat is a repeat, the cap holds.
    let app = app.restart().await;
    assert_eq!(
        attempt(&app, convoso_call("c-1")).await.1["status"],
        "duplicate"
    );
    assert_eq!(decision(&app, "C").await["decision"], "blocked");
}

#[tokio::test]
async fn outcomes_placed_elsewhere_count_for_the_answering_machine_and_the_transfer_rule() {
    let app = live_app().await;
    protection(&app, json!({"max_daily_attempts_per_number": 10})).await;
    for n in 0..4 {
        let body = json!({"phone_number": "2125554500", "lead_id": "V", "source": "agent",
                          "id": format!("v{n}"), "outcome": "ANSWERING MACHINE"});
        assert_eq!(attempt(&app, body).await.1["status"], "recorded");
    }
    let counts = app
        .get_json("/api/admin/answering-machine/V?phone=2125554500")
        .await;
    assert_eq!(
        (counts["count"].as_u64(), counts["blocked"].as_bool()),
        (Some(4), Some(true)),
        "{counts}"
    );
    let (_, b) = post_lead(&app, json!({"phone_number": "2125554500", "lead_id": "V"})).await;
    assert_eq!(b["stage"], "answering_machine", "{b}");
    // Form fields, as a Convoso adaptor posts them: a transfer ends the number's day.
    let res = app
        .client
        .post(app.url("/webhooks/attempt"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("phone_number=2125554600&lead_id=T&source=convoso&id=t1&outcome=transferred")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::OK);
    let (_, b) = post_lead(&app, json!({"phone_number": "2125554600", "lead_id": "T2"})).await;
    assert_eq!(b["decision"], "blocked", "{b}");
    assert!(
        b["reason"]
            .as_str()
            .is_some_and(|r| r.contains("transferred")),
        "{b}"
    );
}

#[tokio::test]
async fn a_bad_attempt_is_refused_naming_each_problem_and_records_nothing() {
    let app = live_app().await;
    let (status, body) = attempt(
        &app,
        json!({"phone_number": "2125554700", "lead_id": "Z", "at": "2026-11-21T10:00:00Z", "outcome": "SALE"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let errors = body["errors"].to_string();
    for word in [
        "`source` is required",
        "`id` is required",
        "24 hours",
        "`outcome` must be one of",
    ] {
        assert!(errors.contains(word), "{word} in {errors}");
    }
    let (status, body) = attempt(&app, json!({"source": "x", "id": "1", "lead_id": "Z"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["errors"].to_string().contains("phone_number"),
        "{body}"
    );
    let found = app
        .get_json("/api/admin/leads/lookup?phone=2125554700")
        .await;
    assert_eq!(found["events"], json!([]));
}

#[tokio::test]
async fn a_call_posted_to_two_instances_counts_once_on_the_database() {
    let Some((a, b)) = spawn_pair(|_| {}).await else {
        return;
    };
    cap_of_two(&a).await;
    cap_of_two(&b).await;
    assert_eq!(
        attempt(&a, convoso_call("c-9")).await.1["status"],
        "recorded"
    );
    assert_eq!(
        attempt(&b, convoso_call("c-9")).await.1["status"],
        "duplicate"
    );
    assert_eq!(decision(&b, "A").await["decision"], "accepted");
    assert_eq!(decision(&a, "B").await["decision"], "blocked");
}
