//! The scheduler over HTTP: the config document, deferral into the durable queue, the
//! automatic release (through the whole pipeline again), deduplication, expiry, the admin
//! queue endpoints, restarts and crashes. The clock is fixed at Monday 2026-11-23 10:00
//! Eastern, which is 07:00 in California: a California lead is deferred until 16:00Z.

use std::time::Duration;

use chrono::TimeDelta;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::Mock;

use crate::helpers::{client, eventually, spawn_app_with, spawn_process, TestApp, ADMIN_KEY};
use crate::intake::{bland_calls, live, post_lead, wait_for_calls, Queued};

/// A California lead; each lead id has its own number (one number has one line).
fn california(id: &str) -> Value {
    let n = id.bytes().map(u32::from).sum::<u32>() % 1000;
    json!({"phone_number": format!("4155551{n:03}"), "lead_id": id, "state": "CA", "first_name": "Ada"})
}

async fn app() -> TestApp {
    crate::intake::live_app().await
}

async fn put_config(app: &TestApp, body: Value) -> (StatusCode, Value) {
    let res = app
        .admin(Method::PUT, "/api/admin/scheduler/config")
        .json(&body)
        .send()
        .await
        .expect("request");
    (res.status(), res.json().await.expect("json"))
}

async fn queue(app: &TestApp, query: &str) -> Value {
    app.get_json(&format!("/api/admin/scheduler/queue{query}"))
        .await
}

/// Waits (at most 3 s) until the queue holds `n` entries.
async fn queue_len_becomes(app: &TestApp, n: u64) -> Value {
    eventually(Duration::from_secs(3), || async {
        let q = queue(app, "").await;
        let listed = q["entries"].as_array().map_or(0, Vec::len) as u64;
        (q["total"] == n && listed == n).then_some(q)
    })
    .await
    .unwrap_or_else(|| panic!("the queue did not reach {n} entries"))
}

#[tokio::test]
async fn config_defaults_partial_updates_validation_and_persistence() {
    let app = app().await;
    let c = app.get_json("/api/admin/scheduler/config").await;
    assert_eq!(c["enabled"], true);
    assert_eq!(c["timezone"], "America/New_York");
    assert_eq!(c["hours"]["mon"], json!({"start": "09:00", "end": "17:00"}));
    assert_eq!(c["hours"]["sat"], Value::Null);
    assert_eq!(c["federal_holidays"], true);
    assert_eq!(c["local_window"]["enabled"], true);
    assert_eq!(c["max_defer_hours"], 72);
    let (status, c) = put_config(
        &app,
        json!({"hours": {"sat": {"start": "10:00", "end": "14:00"}}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(c["hours"]["sat"]["start"], "10:00");
    assert_eq!(c["hours"]["mon"]["end"], "17:00", "other days untouched");
    for (body, field) in [
        (
            json!({"hours": {"sun": {"start": "12:00", "end": "11:00"}}}),
            "hours.sun",
        ),
        (
            json!({"hours": {"mon": {"start": "9am", "end": "17:00"}}}),
            "hours.mon",
        ),
        (json!({"timezone": "Mars/Olympus_Mons"}), "timezone"),
        (json!({"blackout_dates": ["2026-13-01"]}), "blackout_dates"),
        (json!({"enabled": true, "bogus": 1}), "bogus"),
    ] {
        let (status, err) = put_config(&app, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let msg = err["error"].as_str().unwrap_or("");
        assert!(msg.starts_with(field), "{body}: {msg}");
    }
    let (status, _) = put_config(&app, json!([1, 2])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let c = app.get_json("/api/admin/scheduler/config").await;
    assert_eq!(
        c["hours"]["sun"],
        Value::Null,
        "a refused update changes nothing"
    );
    if crate::helpers::on_postgres() {
        // The document is a row; another instance reading it is the shared-state test's.
    } else {
        assert!(app.data_dir().join("scheduler-config.json").exists());
    }
    let app = app.restart().await;
    let c = app.get_json("/api/admin/scheduler/config").await;
    assert_eq!(
        c["hours"]["sat"]["end"], "14:00",
        "persisted across a restart"
    );
}

#[tokio::test]
async fn a_lead_outside_its_local_window_is_queued_then_released_automatically() {
    let app = app().await;
    let (status, body) = post_lead(&app, california("CA-1")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(body["decision"], "deferred");
    assert_eq!(body["stage"], "schedule");
    assert_eq!(body["release_at"], "2026-11-23T16:00:00.000Z");
    let reason = body["reason"].as_str().unwrap_or("");
    assert!(reason.contains("America/Los_Angeles"), "{reason}");
    let queue_id = body["queue_id"].as_str().expect("queue id").to_string();
    let request_id = body["request_id"].as_str().expect("request id").to_string();
    let q = queue(&app, "").await;
    assert_eq!(q["total"], 1);
    assert_eq!(q["entries"][0]["id"], queue_id.as_str());
    assert_eq!(q["entries"][0]["release_at"], "2026-11-23T16:00:00.000Z");
    assert!(
        crate::helpers::on_postgres()
            || app
                .data_dir()
                .join("deferred/queue.jsonl")
                .metadata()
                .is_ok_and(|m| m.len() > 0)
    );
    // One second early: nothing happens (a release round runs every 250 ms).
    app.clock
        .advance(TimeDelta::minutes(59) + TimeDelta::seconds(59));
    crate::helpers::settled(&app).await;
    assert!(bland_calls(&app).await.is_empty());
    app.clock.advance(TimeDelta::seconds(1));
    let calls = wait_for_calls(&app, 1).await;
    assert_eq!(calls[0]["phone_number"], "+14155551226");
    let release_id = format!("{request_id}-r1");
    assert_eq!(calls[0]["metadata"]["request_id"], release_id.as_str());
    queue_len_becomes(&app, 0).await;
    let journal = app.calls("2026-11-23").await;
    let decisions: Vec<&Value> = journal
        .iter()
        .filter(|e| e["event"] == "decision")
        .collect();
    assert_eq!(decisions.len(), 2);
    assert_eq!(decisions[0]["decision"], "deferred");
    assert_eq!(decisions[0]["queue_id"], queue_id.as_str());
    assert_eq!(decisions[1]["decision"], "accepted");
    assert_eq!(decisions[1]["release"], true);
    assert_eq!(decisions[1]["request_id"], release_id.as_str());
}

#[tokio::test]
async fn the_same_lead_deferred_twice_is_one_entry_with_the_newer_payload() {
    let app = app().await;
    let (_, first) = post_lead(&app, california("CA-1")).await;
    let mut newer = california("CA-1");
    newer["phone_number"] = json!("(415) 555-1226");
    newer["first_name"] = json!("Grace");
    let (_, second) = post_lead(&app, newer).await;
    assert_eq!(first["queue_id"], second["queue_id"]);
    post_lead(&app, california("CA-2")).await;
    let q = queue(&app, "?phone=415-555-1226&lead_id=CA-1").await;
    assert_eq!(
        (q["total"].as_u64(), q["matching"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(q["entries"][0]["lead"]["first_name"], "Grace");
    assert_eq!(q["entries"][0]["request_id"], second["request_id"]);
    let q = queue(&app, "?lead_id=nobody").await;
    assert_eq!(q["matching"], 0);
    let q = queue(&app, "?limit=1&offset=1").await;
    assert_eq!(q["entries"].as_array().map(Vec::len), Some(1));
    for bad in ["?phone=abc", "?limit=0", "?offset=-1"] {
        let res = app
            .admin(Method::GET, &format!("/api/admin/scheduler/queue{bad}"))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn a_released_lead_runs_the_whole_pipeline_again() {
    let app = app().await;
    post_lead(&app, california("CA-1")).await;
    let res = app
        .post_json(
            "/api/admin/blocklist",
            json!({"field": "phone", "value": "415-555-1226", "reason": "asked not to be called"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    app.clock.advance(TimeDelta::hours(1));
    queue_len_becomes(&app, 0).await;
    let journal = app.calls("2026-11-23").await;
    let last = journal
        .iter()
        .rfind(|e| e["event"] == "decision")
        .expect("decision");
    assert_eq!(last["release"], true);
    assert_eq!(last["decision"], "blocked");
    assert_eq!(last["stage"], "blocklist");
    assert!(bland_calls(&app).await.is_empty());
}

#[tokio::test]
async fn queued_leads_survive_a_restart_and_are_released_after_it() {
    let app = app().await;
    for id in ["A", "B", "C"] {
        post_lead(&app, california(id)).await;
    }
    let app = app.restart().await;
    assert_eq!(queue(&app, "").await["total"], 3);
    app.clock.advance(TimeDelta::hours(1));
    wait_for_calls(&app, 3).await;
    queue_len_becomes(&app, 0).await;
    crate::helpers::settled(&app).await;
    let calls = bland_calls(&app).await;
    let mut leads: Vec<&str> = calls
        .iter()
        .filter_map(|c| c["request_data"]["lead_id"].as_str())
        .collect();
    leads.sort_unstable();
    assert_eq!(leads, ["A", "B", "C"], "each exactly once");
}

#[tokio::test]
async fn entries_older_than_max_defer_hours_expire_and_are_journaled() {
    let app = app().await;
    let (status, _) = put_config(&app, json!({"max_defer_hours": 1})).await;
    assert_eq!(status, StatusCode::OK);
    // Saturday 10:00 Eastern: deferred until Monday 09:00, longer than an hour.
    app.clock
        .set("2026-11-21T15:00:00Z".parse().expect("instant"));
    let (_, body) = post_lead(
        &app,
        json!({"phone_number": "2125551234", "lead_id": "NY-1"}),
    )
    .await;
    assert_eq!(body["release_at"], "2026-11-23T14:00:00.000Z");
    app.clock.advance(TimeDelta::minutes(59));
    crate::helpers::settled(&app).await;
    assert_eq!(queue(&app, "").await["total"], 1, "not yet an hour old");
    app.clock.advance(TimeDelta::minutes(1));
    queue_len_becomes(&app, 0).await;
    let journal = app.calls("2026-11-21").await;
    let gone = journal
        .iter()
        .find(|e| e["event"] == "dequeued")
        .expect("journaled");
    assert_eq!(gone["why"], "expired");
    assert_eq!(gone["queue_id"], body["queue_id"]);
    assert_eq!(gone["lead_id"], "NY-1");
    assert!(bland_calls(&app).await.is_empty());
    let stats = app
        .get_json("/api/admin/statistics?start=2026-11-21&end=2026-11-21")
        .await;
    assert_eq!(stats["total"]["expired"], 1);
    assert_eq!(stats["total"]["deferred"], 1);
}

#[tokio::test]
async fn admin_delete_and_release_now_still_recheck() {
    let app = app().await;
    let (_, a) = post_lead(&app, california("A")).await;
    let (_, b) = post_lead(&app, california("B")).await;
    let a_id = a["queue_id"].as_str().expect("id");
    let b_id = b["queue_id"].as_str().expect("id");
    let del = |id: String| {
        app.admin(Method::DELETE, &format!("/api/admin/scheduler/queue/{id}"))
            .send()
    };
    let res = del(a_id.to_string()).await.expect("request");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<Value>().await.expect("json")["deleted"]["lead_id"],
        "A"
    );
    let res = del(a_id.to_string()).await.expect("request");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let journal = app.calls("2026-11-23").await;
    assert!(journal
        .iter()
        .any(|e| e["event"] == "dequeued" && e["why"] == "deleted" && e["lead_id"] == "A"));
    let stats = app
        .get_json("/api/admin/statistics?start=2026-11-23&end=2026-11-23")
        .await;
    assert_eq!(stats["total"]["deleted"], 1);
    // Released now, but it is still 07:00 in California: deferred again, same entry.
    let release = |query: String| {
        app.admin(
            Method::POST,
            &format!("/api/admin/scheduler/queue/release{query}"),
        )
        .send()
    };
    let res = release(format!("?id={b_id}")).await.expect("request");
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["decision"], "deferred");
    let q = queue(&app, "").await;
    assert_eq!(
        (q["total"].as_u64(), q["entries"][0]["releases"].as_u64()),
        (Some(1), Some(1))
    );
    let res = release("?id=nope".into()).await.expect("request");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // Release everything: the release task re-checks it within a round.
    let res = release(String::new()).await.expect("request");
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    assert_eq!(res.json::<Value>().await.expect("json")["released"], 1);
    eventually(Duration::from_secs(3), || async {
        (queue(&app, "").await["entries"][0]["releases"] == 2).then_some(())
    })
    .await
    .expect("re-checked and deferred again");
    // With the local window switched off the release is accepted and dialled.
    put_config(&app, json!({"local_window": {"enabled": false}})).await;
    let res = release(format!("?id={b_id}")).await.expect("request");
    assert_eq!(
        res.json::<Value>().await.expect("json")["decision"],
        "accepted"
    );
    let calls = wait_for_calls(&app, 1).await;
    assert_eq!(calls[0]["request_data"]["lead_id"], "B");
    assert_eq!(queue(&app, "").await["total"], 0);
}

#[tokio::test]
async fn health_and_metrics_show_the_queue_depth() {
    let app = app().await;
    post_lead(&app, california("A")).await;
    post_lead(&app, california("B")).await;
    let h = app.health().await;
    let s = &h["components"]["scheduler"];
    assert_eq!(s["status"], "ok");
    assert_eq!(s["queue_depth"], 2);
    assert_eq!(s["due"], 0);
    assert_eq!(s["rules_source"], "built-in");
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("text");
    assert!(metrics.contains("callgate_deferred_leads 2"), "{metrics}");
}

#[tokio::test]
async fn check_answers_for_any_instant_and_queues_nothing() {
    let app = app().await;
    let florida = json!({"phone_number": "3055551299", "lead_id": "FL-1", "state": "FL"});
    // Tuesday 20:30 Eastern: federal allows it, Florida does not; 08:00 Central next.
    let res = app
        .post_json(
            "/api/admin/check",
            json!({"lead": florida, "at": "2026-11-25T01:30:00Z"}),
        )
        .await;
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["decision"], "deferred");
    assert_eq!(body["stage"], "schedule");
    assert_eq!(body["release_at"], "2026-11-25T14:00:00.000Z");
    let unknown = json!({"phone_number": "6245550123", "lead_id": "X"});
    let res = app
        .post_json("/api/admin/check", json!({"lead": unknown}))
        .await;
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["decision"], "blocked");
    assert!(body["reason"]
        .as_str()
        .unwrap_or("")
        .contains("local time cannot be determined"));
    assert_eq!(queue(&app, "").await["total"], 0);
}

/// Appends raw lines to a file (simulating what a crash left behind).
fn append(path: &std::path::Path, lines: &[Value]) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .expect("open");
    for l in lines {
        writeln!(f, "{l}").expect("write");
    }
}

#[tokio::test]
async fn a_release_cut_short_by_a_crash_is_settled_without_a_second_call() {
    if crate::helpers::file_backend_only() {
        return;
    }
    let app = app().await;
    post_lead(&app, california("A")).await;
    post_lead(&app, california("B")).await;
    let entries = queue(&app, "").await["entries"].clone();
    let (settings, dir, bland, clock) = app.stop().await;
    let data = settings.data_dir.clone();
    let mut releasing = Vec::new();
    let mut rids = Vec::new();
    for e in entries.as_array().expect("entries") {
        let rid = format!("{}-r1", e["request_id"].as_str().expect("rid"));
        releasing.push(
            json!({"op": "releasing", "id": e["id"], "version": e["version"], "request_id": rid}),
        );
        rids.push((e["lead_id"].as_str().expect("lead").to_string(), rid));
    }
    append(&data.join("deferred/queue.jsonl"), &releasing);
    // A's release reached the outbox and Bland before the crash; B's did not get that far.
    let (a_rid, b_rid) = match rids[0].0.as_str() {
        "A" => (rids[0].1.clone(), rids[1].1.clone()),
        _ => (rids[1].1.clone(), rids[0].1.clone()),
    };
    append(
        &data.join("outbox/outbox.jsonl"),
        &[
            json!({"op": "queued", "request_id": a_rid, "at": "2026-11-23T16:00:00.000Z", "lead_id": "A", "phone": "+14155550123", "body": {}}),
            json!({"op": "sent", "request_id": a_rid, "at": "2026-11-23T16:00:00.100Z", "call_id": "call-a"}),
        ],
    );
    clock.advance(TimeDelta::hours(1));
    let app = crate::helpers::start(settings, dir, bland, clock).await;
    let calls = wait_for_calls(&app, 1).await;
    queue_len_becomes(&app, 0).await;
    crate::helpers::settled(&app).await;
    let calls_now = bland_calls(&app).await;
    assert_eq!(calls_now.len(), 1, "A is not dialled again: {calls_now:?}");
    assert_eq!(calls[0]["metadata"]["request_id"], b_rid.as_str());
}

#[tokio::test]
async fn deferred_leads_survive_kill_9_of_the_real_binary() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The binary runs on the wall clock: close today and tomorrow (UTC) so every lead is
    // deferred whatever the hour.
    let today = chrono::Utc::now().date_naive();
    let days: Vec<String> = [today, today + TimeDelta::days(1)]
        .iter()
        .map(|d| d.to_string())
        .collect();
    let all_day = json!({"start": "00:00", "end": "24:00"});
    let hours: Value = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|d| (d.to_string(), all_day.clone()))
        .collect::<serde_json::Map<_, _>>()
        .into();
    std::fs::write(
        dir.path().join("scheduler-config.json"),
        json!({"timezone": "UTC", "hours": hours, "blackout_dates": days,
               "federal_holidays": false, "local_window": {"enabled": false, "unknown_zone": "block"}})
        .to_string(),
    )
    .expect("config");
    let http = client();
    let mut proc = spawn_process(dir.path(), &[]);
    for n in 0..10 {
        let res = http
            .post(format!("{}/webhooks/lead", proc.address))
            .json(&json!({"phone_number": format!("305555{:04}", 3000 + n), "lead_id": format!("K-{n}")}))
            .send()
            .await
            .expect("req");
        assert_eq!(res.status(), StatusCode::ACCEPTED);
        assert_eq!(
            res.json::<Value>().await.expect("json")["decision"],
            "deferred"
        );
    }
    proc.child.kill().expect("kill -9");
    let _ = proc.child.wait();
    let proc = spawn_process(dir.path(), &[]);
    let q: Value = http
        .get(format!("{}/api/admin/scheduler/queue", proc.address))
        .header("X-API-Key", ADMIN_KEY)
        .send()
        .await
        .expect("req")
        .json()
        .await
        .expect("json");
    assert_eq!(q["total"], 10, "{q}");
}

#[tokio::test]
async fn a_call_whose_window_closes_before_it_is_sent_goes_back_to_the_queue() {
    // A backoff of 0.75–2.25 s: the test moves the clock past 17:00 well before the retry,
    // however late it sees the first request on a loaded machine.
    let app = spawn_app_with(|s| {
        live(s);
        s.bland.retry_base_ms = 1500;
    })
    .await;
    // The first send is answered 503 after 400 ms; the retry would come after 17:00.
    Mock::given(method("POST"))
        .and(path("/v1/calls"))
        .respond_with(wiremock::ResponseTemplate::new(503).set_delay(Duration::from_millis(400)))
        .up_to_n_times(1)
        .mount(&app.bland)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/calls"))
        .respond_with(Queued)
        .mount(&app.bland)
        .await;
    app.clock
        .set("2026-11-23T21:59:59Z".parse().expect("16:59:59 Eastern"));
    let (_, body) = post_lead(
        &app,
        json!({"phone_number": "2125551234", "lead_id": "NY-1"}),
    )
    .await;
    assert_eq!(body["decision"], "accepted");
    wait_for_calls(&app, 1).await;
    app.clock.advance(TimeDelta::seconds(2));
    let q = eventually(Duration::from_secs(6), || async {
        let q = queue(&app, "").await;
        (q["entries"].as_array().map_or(0, Vec::len) == 1).then_some(q)
    })
    .await
    .expect("the call went back to the queue");
    assert_eq!(q["entries"][0]["release_at"], "2026-11-24T14:00:00.000Z");
    assert_eq!(q["entries"][0]["lead_id"], "NY-1");
    eventually(Duration::from_secs(3), || async {
        let pending = app.get_json("/api/admin/calls/pending").await;
        (pending["entries"].as_array().map(Vec::len) == Some(0)).then_some(())
    })
    .await
    .expect("the call left the outbox");
    crate::helpers::settled(&app).await;
    assert_eq!(bland_calls(&app).await.len(), 1, "not sent after 17:00");
    let journal = app.calls("2026-11-23").await;
    assert!(journal
        .iter()
        .any(|e| e["event"] == "dispatch" && e["status"] == "deferred"));
    // The next morning it is released and sent.
    app.clock
        .set("2026-11-24T14:00:00Z".parse().expect("09:00 Eastern"));
    wait_for_calls(&app, 2).await;
    queue_len_becomes(&app, 0).await;
}

#[tokio::test]
async fn an_outbox_replayed_at_night_is_not_dialled() {
    if crate::helpers::file_backend_only() {
        return;
    }
    let app = app().await;
    let (settings, dir, bland, clock) = app.stop().await;
    // A call accepted before a crash, replayed when the process comes back at 03:00.
    append(
        &settings.data_dir.join("outbox/outbox.jsonl"),
        &[
            json!({"op": "queued", "request_id": "req-night", "at": "2026-11-23T15:00:00.000Z",
                 "lead_id": "N-1", "phone": "+13055551299",
                 "body": {"phone_number": "+13055551299",
                          "request_data": {"phone_number": "+13055551299", "lead_id": "N-1"}}}),
        ],
    );
    clock.set("2026-11-24T08:00:00Z".parse().expect("03:00 Eastern"));
    let app = crate::helpers::start(settings, dir, bland, clock).await;
    let q = queue_len_becomes(&app, 1).await;
    assert_eq!(q["entries"][0]["release_at"], "2026-11-24T14:00:00.000Z");
    crate::helpers::settled(&app).await;
    assert!(bland_calls(&app).await.is_empty());
    let stats = app
        .get_json("/api/admin/statistics?start=2026-11-24&end=2026-11-24")
        .await;
    assert_eq!(stats["total"]["requeued"], 1);
}
