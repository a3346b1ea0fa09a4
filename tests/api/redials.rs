//! Redials through the deferred queue: the interval at its boundary with a fixed clock,
//! the redial placed with its number in Bland's metadata (never in what the agent sees),
//! the next redial from its completion, a repeated completion scheduling nothing twice,
//! pause/resume/delete, exhaustion, and the stop rules (a human answer, a new webhook).

use std::time::Duration;

use chrono::TimeDelta;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{eventually, spawn_app_with, TestApp};
use crate::intake::{live, post_lead};

async fn app() -> TestApp {
    let app = spawn_app_with(|s| {
        live(s);
        s.redial.enabled = true;
        s.redial.intervals_minutes = vec![30, 60];
        s.redial.max_redials = 2;
    })
    .await;
    crate::intake::bland_takes(&app.bland).await;
    app
}

/// The Bland call bodies received so far.
async fn bland_bodies(app: &TestApp) -> Vec<Value> {
    app.bland
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .filter_map(|r| serde_json::from_slice(&r.body).ok())
        .collect()
}

async fn wait_calls(app: &TestApp, n: usize) -> Vec<Value> {
    eventually(Duration::from_secs(5), || async {
        let got = bland_bodies(app).await;
        (got.len() >= n).then_some(got)
    })
    .await
    .unwrap_or_else(|| panic!("Bland never received {n} calls"))
}

/// Bland's completion for the call made with `body`, echoing its metadata and lead.
async fn complete(app: &TestApp, body: &Value, answered_by: &str) -> Value {
    let rid = body["metadata"]["request_id"].as_str().expect("request id");
    let payload = json!({
        "call_id": format!("call-{rid}"), "answered_by": answered_by, "call_length": 0.3,
        "metadata": body["metadata"], "request_data": body["request_data"],
    });
    crate::helpers::wait_sent(app, rid).await;
    app.client
        .post(app.url("/webhooks/bland"))
        .json(&payload)
        .send()
        .await
        .expect("completion")
        .json()
        .await
        .expect("json")
}

async fn queue(app: &TestApp, lead: &str) -> Value {
    app.get_json(&format!("/api/admin/scheduler/queue?lead_id={lead}"))
        .await
}

async fn stats(app: &TestApp) -> Value {
    app.get_json("/api/admin/statistics?start=2026-11-23&end=2026-11-23")
        .await["total"]
        .clone()
}

#[tokio::test]
async fn a_voicemail_is_redialled_after_its_interval_and_the_next_redial_follows_its_completion() {
    let app = app().await;
    let lead = json!({"phone_number": "3055525001", "lead_id": "RD-1", "list_id": "5", "first_name": "Ada"});
    post_lead(&app, lead).await;
    let first = wait_calls(&app, 1).await.remove(0);
    let done = complete(&app, &first, "voicemail").await;
    assert_eq!(done["status"], "recorded", "{done}");
    let q = queue(&app, "RD-1").await;
    let e = &q["entries"][0];
    assert_eq!(
        (e["stage"].clone(), e["reason"].clone()),
        (json!("redial"), json!("redial 1 of 2 after voicemail")),
        "{q}"
    );
    assert_eq!(e["release_at"], "2026-11-23T15:30:00.000Z");
    // Bland repeating the completion schedules nothing more.
    assert_eq!(
        complete(&app, &first, "voicemail").await["status"],
        "duplicate"
    );
    assert_eq!(queue(&app, "RD-1").await["matching"], 1);
    assert_eq!(stats(&app).await["redials_scheduled"], 1);
    // Not due a second before its interval; due at it.
    app.clock
        .advance(TimeDelta::minutes(30) - TimeDelta::seconds(1));
    assert_eq!(queue(&app, "RD-1").await["due"], 0);
    app.clock.advance(TimeDelta::seconds(1));
    assert_eq!(queue(&app, "RD-1").await["due"], 1);
    // Released through the whole pipeline: the redial is placed, its number in Bland's
    // metadata and not in what the agent sees.
    let second = eventually(Duration::from_secs(10), || async {
        let got = bland_bodies(&app).await;
        (got.len() >= 2).then(|| got[1].clone())
    })
    .await
    .expect("the redial was placed");
    assert_eq!(second["metadata"]["redial"], 1, "{second}");
    assert_eq!(second["request_data"]["first_name"], "Ada");
    assert!(
        second["request_data"].get("_callgate_redial").is_none(),
        "{second}"
    );
    eventually(Duration::from_secs(5), || async {
        (stats(&app).await["redials_placed"] == 1).then_some(())
    })
    .await
    .expect("counted as placed");
    // Its no-answer schedules redial 2 after the second interval.
    assert_eq!(
        complete(&app, &second, "no-answer").await["status"],
        "recorded"
    );
    let q = queue(&app, "RD-1").await;
    assert_eq!(
        q["entries"][0]["reason"], "redial 2 of 2 after no_answer",
        "{q}"
    );
    assert_eq!(q["entries"][0]["release_at"], "2026-11-23T16:30:00.000Z");
    // Paused, it waits with its release pushed out; deleted while paused, it is gone.
    let res = app
        .admin(Method::POST, "/api/admin/redials/RD-1/pause")
        .send()
        .await
        .expect("pause");
    let paused: Value = res.json().await.expect("json");
    assert_eq!(paused["redials"][0]["stage"], "redial_paused", "{paused}");
    assert!(paused["redials"][0]["reason"]
        .as_str()
        .is_some_and(|r| r.starts_with("paused: ")));
    let res = app
        .admin(Method::DELETE, "/api/admin/redials/RD-1")
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), StatusCode::OK);
    let removed: Value = res.json().await.expect("json");
    assert_eq!(removed["removed"], 1, "{removed}");
    assert_eq!(queue(&app, "RD-1").await["matching"], 0);
    let res = app
        .admin(Method::DELETE, "/api/admin/redials/RD-1")
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // RD-2: paused, then resumed a quarter of an hour later (past the duplicate window),
    // its redial is due now: the server places it at once, before its interval.
    post_lead(
        &app,
        json!({"phone_number": "3055525002", "lead_id": "RD-2"}),
    )
    .await;
    let first = wait_calls(&app, 3).await.remove(2);
    complete(&app, &first, "voicemail").await;
    let res = app
        .admin(Method::POST, "/api/admin/redials/RD-2/pause")
        .send()
        .await
        .expect("pause");
    assert_eq!(res.status(), StatusCode::OK);
    app.clock.advance(TimeDelta::minutes(15));
    let res = app
        .admin(Method::POST, "/api/admin/redials/RD-2/resume")
        .send()
        .await
        .expect("resume");
    assert_eq!(res.status(), StatusCode::OK);
    let redial = wait_calls(&app, 4).await.remove(3);
    assert_eq!(
        (
            redial["metadata"]["redial"].clone(),
            redial["request_data"]["lead_id"].clone()
        ),
        (json!(1), json!("RD-2")),
        "{redial}"
    );
}

#[tokio::test]
async fn redials_stop_on_a_new_webhook_and_a_human_answer_and_end_when_exhausted() {
    let app = app().await;
    // RD-3: a voicemail schedules a redial; a new webhook, accepted, replaces it; that
    // call answered by a human schedules nothing.
    post_lead(
        &app,
        json!({"phone_number": "3055525003", "lead_id": "RD-3"}),
    )
    .await;
    let first = wait_calls(&app, 1).await.remove(0);
    complete(&app, &first, "voicemail").await;
    assert_eq!(queue(&app, "RD-3").await["matching"], 1);
    app.clock.advance(TimeDelta::minutes(15));
    let (_, fresh) = post_lead(
        &app,
        json!({"phone_number": "3055525003", "lead_id": "RD-3"}),
    )
    .await;
    assert_eq!(fresh["decision"], "accepted", "{fresh}");
    assert_eq!(
        queue(&app, "RD-3").await["matching"],
        0,
        "the pending redial was replaced"
    );
    let second = wait_calls(&app, 2).await.remove(1);
    complete(&app, &second, "human").await;
    assert_eq!(queue(&app, "RD-3").await["matching"], 0);

    // RD-4: redial 1 and 2 unanswered, then no more.
    post_lead(
        &app,
        json!({"phone_number": "3055525004", "lead_id": "RD-4"}),
    )
    .await;
    let c = wait_calls(&app, 3).await.remove(2);
    complete(&app, &c, "voicemail").await;
    app.clock.advance(TimeDelta::minutes(30));
    let r1 = wait_calls(&app, 4).await.remove(3);
    assert_eq!(r1["metadata"]["redial"], 1);
    complete(&app, &r1, "no-answer").await;
    app.clock.advance(TimeDelta::minutes(60));
    let r2 = wait_calls(&app, 5).await.remove(4);
    assert_eq!(r2["metadata"]["redial"], 2);
    complete(&app, &r2, "busy").await;
    assert_eq!(
        queue(&app, "RD-4").await["matching"],
        0,
        "exhausted: no third redial"
    );
    let s = stats(&app).await;
    assert_eq!(
        (
            s["redials_scheduled"].clone(),
            s["redials_placed"].clone(),
            s["redials_exhausted"].clone()
        ),
        (json!(3), json!(2), json!(1)),
        "{s}"
    );
    let calls = app.calls("2026-11-23").await;
    let exhausted: Vec<&Value> = calls
        .iter()
        .filter(|c| c["event"] == "redial" && c["result"] == "exhausted")
        .collect();
    assert_eq!(exhausted.len(), 1);
    assert_eq!(
        (exhausted[0]["n"].clone(), exhausted[0]["of"].clone()),
        (json!(3), json!(2))
    );
}

#[tokio::test]
async fn a_redial_that_falls_outside_the_calling_hours_waits_for_them() {
    let app = app().await;
    // 16:40 Eastern: the redial would fall at 17:10, after business hours (09:00–17:00).
    app.clock.advance(TimeDelta::minutes(6 * 60 + 40));
    post_lead(
        &app,
        json!({"phone_number": "3055525006", "lead_id": "RD-6", "state": "FL"}),
    )
    .await;
    let first = wait_calls(&app, 1).await.remove(0);
    complete(&app, &first, "voicemail").await;
    app.clock.advance(TimeDelta::minutes(30));
    // Released at 17:10 and deferred again by the schedule, to the next morning.
    let q = eventually(Duration::from_secs(10), || async {
        let q = queue(&app, "RD-6").await;
        (q["entries"][0]["stage"] == "schedule").then_some(q)
    })
    .await
    .expect("deferred by the calling window");
    let release_at = q["entries"][0]["release_at"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(release_at.starts_with("2026-11-24T"), "{q}");
    assert_eq!(bland_bodies(&app).await.len(), 1, "not called at night");
    // In the morning the redial is placed, still counted as redial 1.
    let at: chrono::DateTime<chrono::Utc> = release_at.parse().expect("instant");
    let now = callgate::clock::Clock::now(app.clock.as_ref());
    app.clock.advance(at - now);
    let second = eventually(Duration::from_secs(10), || async {
        let got = bland_bodies(&app).await;
        (got.len() >= 2).then(|| got[1].clone())
    })
    .await
    .expect("placed when the window opened");
    assert_eq!(second["metadata"]["redial"], 1);
}

/// The real binary: a redial scheduled by a completion survives `kill -9`.
#[tokio::test]
async fn a_scheduled_redial_survives_kill_9() {
    use crate::helpers::{client, spawn_process, ADMIN_KEY};
    use crate::intake::BLAND_KEY;
    let bland = wiremock::MockServer::start().await;
    crate::intake::bland_takes(&bland).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let uri = bland.uri();
    let env = [
        ("BLAND_API_KEY", BLAND_KEY),
        ("BLAND_API_URL", uri.as_str()),
        ("REDIAL_ENABLED", "true"),
    ];
    let http = client();
    let mut proc = spawn_process(dir.path(), &env);
    let res: Value = http
        .post(format!("{}/webhooks/lead", proc.address))
        .json(&json!({"phone_number": "3055525007", "lead_id": "RD-7"}))
        .send()
        .await
        .expect("lead")
        .json()
        .await
        .expect("json");
    let rid = res["request_id"].as_str().expect("id").to_string();
    let admin = |p: String| http.get(p).header("X-API-Key", ADMIN_KEY);
    eventually(Duration::from_secs(5), || async {
        let h: Value = admin(format!("{}/api/admin/calls/{rid}", proc.address))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        h["call_id"].is_string().then_some(())
    })
    .await
    .expect("sent");
    let done: Value = http
        .post(format!("{}/webhooks/bland", proc.address))
        .json(&json!({"call_id": format!("call-{rid}"), "answered_by": "voicemail", "metadata": {"request_id": rid}}))
        .send()
        .await
        .expect("completion")
        .json()
        .await
        .expect("json");
    assert_eq!(done["status"], "recorded", "{done}");
    proc.child.kill().expect("kill -9");
    let _ = proc.child.wait();
    let proc = spawn_process(dir.path(), &env);
    let q: Value = admin(format!(
        "{}/api/admin/scheduler/queue?lead_id=RD-7",
        proc.address
    ))
    .send()
    .await
    .expect("queue")
    .json()
    .await
    .expect("json");
    assert_eq!(
        q["entries"][0]["reason"], "redial 1 of 6 after voicemail",
        "{q}"
    );
}

#[tokio::test]
async fn a_convoso_retry_blocked_as_a_duplicate_leaves_the_pending_redial_alone() {
    let app = app().await;
    let lead = json!({"phone_number": "3055525009", "lead_id": "RD-9"});
    post_lead(&app, lead.clone()).await;
    let first = wait_calls(&app, 1).await.remove(0);
    complete(&app, &first, "voicemail").await;
    assert_eq!(queue(&app, "RD-9").await["matching"], 1);
    // Convoso posts the lead again within the duplicate window.
    let (_, again) = post_lead(&app, lead).await;
    assert_eq!(
        (again["decision"].as_str(), again["stage"].as_str()),
        (Some("blocked"), Some("protection")),
        "{again}"
    );
    assert!(
        again["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("duplicate")),
        "{again}"
    );
    assert_eq!(
        queue(&app, "RD-9").await["matching"],
        1,
        "the redial is still pending"
    );
    app.clock.advance(TimeDelta::minutes(30));
    let redial = wait_calls(&app, 2).await.remove(1);
    assert_eq!(redial["metadata"]["redial"], 1, "{redial}");
}
