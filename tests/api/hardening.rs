//! The defects a black-box trial found (issue "hardening"): each test failed before its fix.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{eventually, spawn_app_with, TestApp};
use crate::intake::{bland_calls, live, post_lead};

fn lead(n: u32) -> Value {
    json!({"phone_number": format!("305555{:04}", 2000 + n), "lead_id": format!("H-{n}")})
}

async fn pending(app: &TestApp) -> Value {
    app.get_json("/api/admin/calls/pending").await
}

async fn wait_pending(app: &TestApp, what: impl Fn(&Value) -> bool) -> Value {
    eventually(Duration::from_secs(5), || async {
        let p = pending(app).await;
        what(&p).then_some(p)
    })
    .await
    .unwrap_or_else(|| panic!("the outbox never reached the expected state"))
}

async fn bland_down(app: &TestApp) {
    Mock::given(method("POST"))
        .and(path("/v1/calls"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&app.bland)
        .await;
}

#[tokio::test]
async fn a_callers_request_id_is_a_correlation_id_never_the_key() {
    let app = spawn_app_with(live).await;
    bland_down(&app).await;
    let mut ids = Vec::new();
    for n in [1, 2] {
        let res = app
            .client
            .post(app.url("/webhooks/lead"))
            .header("X-Request-Id", "same-id")
            .json(&lead(n))
            .send()
            .await
            .expect("req");
        assert_eq!(res.status(), StatusCode::ACCEPTED);
        assert_eq!(res.headers()["x-correlation-id"], "same-id");
        let body: Value = res.json().await.expect("json");
        let id = body["request_id"].as_str().expect("id").to_string();
        assert!(id.starts_with("req_"), "{id}");
        ids.push(id);
    }
    assert_ne!(ids[0], ids[1]);
    // Both stay in the outbox while Bland is down: neither lead is lost.
    let p = wait_pending(&app, |p| {
        p["entries"].as_array().is_some_and(|e| e.len() == 2)
    })
    .await;
    let held: Vec<&str> = p["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["request_id"].as_str())
        .collect();
    assert!(ids.iter().all(|id| held.contains(&id.as_str())), "{p}");
    // A caller cannot name a release's id either.
    let res = app
        .client
        .post(app.url("/webhooks/lead"))
        .header("X-Request-Id", "dq_1-r1")
        .json(&lead(3))
        .send()
        .await
        .expect("req");
    let body: Value = res.json().await.expect("json");
    assert_ne!(body["request_id"], "dq_1-r1");
}

#[tokio::test]
async fn a_lead_nested_too_deep_is_refused_naming_the_field() {
    let app = spawn_app_with(live).await;
    let mut deep = json!(1);
    for _ in 0..125 {
        deep = json!([deep]);
    }
    let mut body = lead(4);
    body["deep"] = deep;
    let (status, answer) = post_lead(&app, body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let errors = answer["errors"].to_string();
    assert!(
        errors.contains("`deep` nests deeper than 8 levels"),
        "{errors}"
    );
    let mut big = lead(5);
    big["notes"] = json!("x".repeat(70_000));
    let (status, answer) = post_lead(&app, big).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(answer["errors"].to_string().contains("`notes` is larger"));
}

#[tokio::test]
async fn an_unreadable_outbox_line_is_quarantined_and_surfaced_not_skipped() {
    if crate::helpers::file_backend_only() {
        return;
    }
    let app = spawn_app_with(|_| {}).await;
    let (settings, dir, bland, clock) = app.stop().await;
    let outbox = settings.data_dir.join("outbox/outbox.jsonl");
    let good = json!({"op": "queued", "request_id": "r-good", "at": "2026-11-23T14:00:00.000Z",
        "lead_id": "1", "phone": "+13055552001", "body": {}});
    std::fs::write(
        &outbox,
        format!("{{\"op\":\"queued\",\"request_id\":7}}\n{good}\n"),
    )
    .expect("write");
    let app = crate::helpers::start(settings, dir, bland, clock).await;
    // The readable entry is still there (dry run: it is sent at once and settled).
    let sent = eventually(Duration::from_secs(5), || async {
        let res = app
            .admin(reqwest::Method::GET, "/api/admin/calls/r-good")
            .send()
            .await
            .ok()?;
        let h: Value = res.json().await.ok()?;
        (h["dispatches"][0]["status"] == "dry_run").then_some(())
    })
    .await;
    assert!(sent.is_some(), "the readable outbox entry was lost");
    let health = app.health().await;
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["components"]["quarantine"]["unacknowledged"], 1);
    let q = app.get_json("/api/admin/quarantine").await;
    assert_eq!(
        q["lines"][0]["line"],
        "{\"op\":\"queued\",\"request_id\":7}"
    );
    assert!(q["lines"][0]["file"]
        .as_str()
        .expect("file")
        .ends_with("outbox.jsonl"));
    let res = app
        .post_json("/api/admin/quarantine/acknowledge", json!({}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        app.health().await["components"]["quarantine"]["status"],
        "ok"
    );
    // A journal line that cannot be read is kept aside by the history and statistics
    // readers too, once.
    let journal = app.data_dir().join("calls/calls_2026-11-23.jsonl");
    let mut text = std::fs::read_to_string(&journal).unwrap_or_default();
    text.push_str("{\"event\":\"decision\",\"request_id\":\"r-good\" garbage}\n");
    std::fs::write(&journal, text).expect("write");
    // The call's history reads it first, and keeps it aside.
    app.get_json("/api/admin/calls/r-good").await;
    assert_eq!(
        app.get_json("/api/admin/quarantine").await["unacknowledged"],
        1
    );
    let stats = app
        .get_json("/api/admin/statistics?start=2026-11-23&end=2026-11-23")
        .await;
    assert!(stats["total"].is_object());
    let q = app.get_json("/api/admin/quarantine").await;
    assert_eq!(q["unacknowledged"], 1, "{q}");
    assert!(q["lines"][1]["file"]
        .as_str()
        .expect("file")
        .ends_with("calls_2026-11-23.jsonl"));
}

#[tokio::test]
async fn a_short_outage_is_retried_past_four_tries() {
    let app = spawn_app_with(live).await;
    crate::intake::bland_fails_then_takes(&app, ResponseTemplate::new(503), 6).await;
    let (_, body) = post_lead(&app, lead(6)).await;
    let id = body["request_id"].as_str().expect("id").to_string();
    let sent = eventually(Duration::from_secs(10), || async {
        let h = app.get_json(&format!("/api/admin/calls/{id}")).await;
        h["call_id"].as_str().map(str::to_string)
    })
    .await;
    assert_eq!(sent, Some(format!("call-{id}")));
    assert_eq!(bland_calls(&app).await.len(), 7);
}

#[tokio::test]
async fn retries_spent_leave_a_failed_call_an_admin_can_resend_and_it_does_not_count() {
    let app = spawn_app_with(|s| {
        live(s);
        s.bland.retry_budget_secs = 60;
    })
    .await;
    bland_down(&app).await;
    let (_, body) = post_lead(&app, lead(7)).await;
    let id = body["request_id"].as_str().expect("id").to_string();
    wait_pending(&app, |p| {
        p["entries"][0]["attempts"]
            .as_array()
            .is_some_and(|a| a.len() >= 2)
    })
    .await;
    let health = app.health().await;
    assert_eq!(health["status"], "degraded", "{health}");
    assert!(health["components"]["dispatch"]["retrying"].as_u64() >= Some(1));
    // The budget is spent on the service's clock.
    app.clock.advance(chrono::Duration::seconds(61));
    let p = wait_pending(&app, |p| p["failed"] == 1).await;
    assert!(p["entries"][0]["last_error"]
        .as_str()
        .expect("error")
        .contains("503"));
    assert_eq!(app.health().await["components"]["dispatch"]["failed"], 1);
    // A call Bland never took is no duplicate: the lead may be decided again.
    let check = app
        .post_json("/api/admin/check", json!({"lead": lead(7)}))
        .await;
    let check: Value = check.json().await.expect("json");
    assert_eq!(check["decision"], "accepted", "{check}");
    // Resend runs it through the pipeline under a new id of ours.
    let res = app
        .post_json(
            &format!("/api/admin/calls/{id}/resolve"),
            json!({"resolution": "resend"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let resolved: Value = res.json().await.expect("json");
    assert_eq!(resolved["resolved"]["decision"], "accepted", "{resolved}");
    let new_id = resolved["resolved"]["new_request_id"].as_str().expect("id");
    assert_ne!(new_id, id);
    let p = pending(&app).await;
    assert_eq!(p["failed"], 0);
    // Now the resent call holds the line: a re-post is a duplicate.
    let (_, again) = post_lead(&app, lead(7)).await;
    assert_eq!(again["decision"], "blocked", "{again}");
}

#[tokio::test]
async fn a_completion_naming_an_unconfirmed_call_settles_it() {
    let app = spawn_app_with(|s| {
        live(s);
        s.public_base_url = Some("https://gate.example.com".into());
    })
    .await;
    crate::intake::bland_hangs(&app).await;
    let (_, body) = post_lead(&app, lead(8)).await;
    let id = body["request_id"].as_str().expect("id").to_string();
    wait_pending(&app, |p| p["unconfirmed"] == 1).await;
    let res = app
        .client
        .post(app.url("/webhooks/bland"))
        .json(
            &json!({"call_id": "c-late", "answered_by": "voicemail", "call_length": 0.5,
            "metadata": {"request_id": id}}),
        )
        .send()
        .await
        .expect("req");
    let done: Value = res.json().await.expect("json");
    assert_eq!(done["status"], "recorded", "{done}");
    assert_eq!(done["request_id"], id.as_str());
    assert_eq!(pending(&app).await["unconfirmed"], 0);
    let h = app.get_json(&format!("/api/admin/calls/{id}")).await;
    assert_eq!(h["call_id"], "c-late");
    assert_eq!(h["outcome"]["outcome"], "voicemail");
    assert_eq!(app.health().await["components"]["dispatch"]["status"], "ok");
}

#[tokio::test]
async fn live_mode_without_a_callback_url_is_degraded() {
    let app = spawn_app_with(live).await;
    let health = app.health().await;
    assert_eq!(health["components"]["dispatch"]["callback_url"], false);
    assert_eq!(health["status"], "degraded");
    let app = spawn_app_with(|s| {
        live(s);
        s.public_base_url = Some("https://gate.example.com".into());
    })
    .await;
    assert_eq!(app.health().await["status"], "ok");
}

#[tokio::test]
async fn flag_values_are_bounded_extensions_refused_and_a_new_reason_updates() {
    let app = spawn_app_with(|_| {}).await;
    let add = |v: Value| app.post_json("/api/admin/blocklist", v);
    let res = add(json!({"field": "email", "value": "a".repeat(200_000)})).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let err: Value = res.json().await.expect("json");
    assert!(
        err["error"]
            .as_str()
            .expect("e")
            .contains("longer than 1024"),
        "{err}"
    );
    let res = add(json!({"field": "phone", "value": "(312) 222-0100 ext 9"})).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let err: Value = res.json().await.expect("json");
    assert!(
        err["error"].as_str().expect("e").contains("extension"),
        "{err}"
    );
    let res = add(json!({"field": "phone", "value": "3055551234", "reason": "first"})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = add(json!({"field": "phone", "value": "305-555-1234", "reason": "second"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["alreadyExists"], true);
    assert_eq!(body["updated"], true);
    assert_eq!(body["flag"]["reason"], "second");
}

#[tokio::test]
async fn a_lead_is_found_by_phone_or_lead_id_over_a_date_range() {
    let app = spawn_app_with(|_| {}).await;
    let (_, first) = post_lead(&app, lead(9)).await;
    app.clock.advance(chrono::Duration::days(2));
    let (_, second) = post_lead(&app, lead(9)).await;
    let (_, other) = post_lead(&app, lead(10)).await;
    assert_eq!(other["decision"], "accepted");
    let found = app
        .get_json("/api/admin/leads/lookup?phone=(305)%20555-2009&start=2026-11-20&end=2026-11-25")
        .await;
    assert_eq!(found["phone"], "+13055552009");
    assert_eq!(found["decisions"], 2, "{found}");
    let ids: Vec<&str> = found["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["event"] == "decision")
        .filter_map(|e| e["request_id"].as_str())
        .collect();
    assert_eq!(
        ids,
        [first["request_id"].as_str(), second["request_id"].as_str()]
            .map(Option::unwrap_or_default)
    );
    assert!(found["events"][0]["trace"].is_array());
    let by_lead = app
        .get_json("/api/admin/leads/lookup?lead_id=H-9&start=2026-11-25&end=2026-11-25")
        .await;
    assert_eq!(by_lead["decisions"], 1, "{by_lead}");
    let res = app
        .admin(
            reqwest::Method::GET,
            "/api/admin/leads/lookup?start=2026-11-20",
        )
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

/// Sends `body` chunked with `Connection: close` and reads the answer to the end.
fn chunked_post(address: &str, path: &str, body: &[u8]) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let host = address.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(host)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: x\r\nX-API-Key: {}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        crate::helpers::ADMIN_KEY
    )?;
    for chunk in body.chunks(16_384) {
        write!(s, "{:x}\r\n", chunk.len())?;
        s.write_all(chunk)?;
        s.write_all(b"\r\n")?;
    }
    s.write_all(b"0\r\n\r\n")?;
    let mut answer = String::new();
    s.read_to_string(&mut answer)?;
    Ok(answer)
}

#[tokio::test]
async fn a_body_nobody_reads_gets_its_answer_and_the_connection_closes() {
    let app = spawn_app_with(|_| {}).await;
    let address = app.address.clone();
    let answers = tokio::task::spawn_blocking(move || {
        let big = vec![b'a'; 300_000];
        let mut out = Vec::new();
        for path in ["/api/admin/scheduler/queue/release", "/api/admin/blocklist"] {
            for _ in 0..5 {
                out.push(chunked_post(&address, path, &big));
            }
        }
        out
    })
    .await
    .expect("thread");
    for answer in answers {
        // A hang shows as a read timeout here: the connection was not closed.
        let answer = answer.expect("the answer arrives and the connection closes");
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        assert!(answer.contains("\"success\":false"), "{answer}");
    }
}

#[tokio::test]
async fn a_send_or_dry_run_journaled_but_unconfirmed_in_the_outbox_is_settled_at_startup() {
    if crate::helpers::file_backend_only() {
        return;
    }
    let app = spawn_app_with(|_| {}).await;
    let (settings, dir, bland, clock) = app.stop().await;
    // kill -9 between the call journal's write and the outbox's: the journal says sent.
    let queued = json!({"op": "queued", "request_id": "r-torn", "at": "2026-11-23T14:00:00.000Z",
        "lead_id": "T1", "phone": "+13055552099", "body": {}});
    let attempt =
        json!({"op": "attempt", "request_id": "r-torn", "at": "2026-11-23T14:00:01.000Z", "n": 1});
    // The same for a dry run.
    let queued_dry = json!({"op": "queued", "request_id": "r-dry", "at": "2026-11-23T14:00:00.000Z",
        "lead_id": "T2", "phone": "+13055552098", "body": {}});
    let attempt_dry =
        json!({"op": "attempt", "request_id": "r-dry", "at": "2026-11-23T14:00:01.000Z", "n": 1});
    std::fs::write(
        settings.data_dir.join("outbox/outbox.jsonl"),
        format!("{queued}\n{attempt}\n{queued_dry}\n{attempt_dry}\n"),
    )
    .expect("outbox");
    let sent = json!({"event": "dispatch", "timestamp": "2026-11-23T14:00:02.000Z",
        "request_id": "r-torn", "status": "sent", "lead_id": "T1", "phone": "+13055552099",
        "call_id": "call-torn"});
    let dry = json!({"event": "dispatch", "timestamp": "2026-11-23T14:00:02.000Z",
        "request_id": "r-dry", "status": "dry_run", "lead_id": "T2", "phone": "+13055552098"});
    let journal = settings.data_dir.join("calls/calls_2026-11-23.jsonl");
    std::fs::write(&journal, format!("{sent}\n{dry}\n")).expect("journal");
    let app = crate::helpers::start(settings, dir, bland, clock).await;
    let p = pending(&app).await;
    assert_eq!(p["unconfirmed"], 0, "{p}");
    assert_eq!(p["entries"], json!([]), "{p}");
    // Its completion is matched as usual.
    let res = app
        .client
        .post(app.url("/webhooks/bland"))
        .json(&json!({"call_id": "call-torn", "answered_by": "human", "call_length": 2}))
        .send()
        .await
        .expect("req");
    let done: Value = res.json().await.expect("json");
    assert_eq!(done["status"], "recorded", "{done}");
    assert_eq!(done["request_id"], "r-torn");
}
