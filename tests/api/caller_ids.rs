//! The caller-ID pool on the real server (the injected clock: Monday 2026-11-23, 10:00 in
//! New York): each call is placed from the number the tiers choose, with the choice in
//! Bland's `from` and in the dispatch line; a number at its cap makes calls wait (no try
//! counted) until the next hour, and the window guard sends a waiting call back to the
//! deferred queue; rest by hand and automatically; caps across two instances.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{eventually, settled, spawn_app_with, spawn_pair, TestApp};
use crate::intake::{bland_calls, bland_takes, live, post_lead, wait_for_calls};

const MIAMI: &str = "+13055550100";
const CHICAGO: &str = "+13125550123";

fn pool(numbers: Vec<Value>) -> impl Fn(&mut callgate::config::Settings) {
    move |s| {
        live(s);
        s.caller_ids = numbers.clone();
    }
}

/// A lead to `phone` (10 digits), accepted; its request id.
async fn accepted(app: &TestApp, phone: &str, n: u32) -> String {
    let (_, body) = post_lead(
        app,
        json!({"phone_number": phone, "lead_id": format!("C-{n}")}),
    )
    .await;
    assert_eq!(body["decision"], "accepted", "{body}");
    body["request_id"].as_str().expect("id").to_string()
}

fn from_of(calls: &[Value]) -> Vec<String> {
    calls
        .iter()
        .map(|c| c["from"].as_str().unwrap_or("").to_string())
        .collect()
}

async fn numbers(app: &TestApp) -> Vec<Value> {
    app.get_json("/api/admin/caller-ids").await["numbers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn row<'a>(rows: &'a [Value], number: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["number"] == number)
        .unwrap_or_else(|| panic!("{number} not in {rows:?}"))
}

async fn complete(app: &TestApp, request_id: &str, answered_by: &str) {
    let payload = json!({"call_id": format!("call-{request_id}"), "answered_by": answered_by,
        "call_length": 1.0, "metadata": {"request_id": request_id}});
    let (status, body) = app.post_completion(&payload).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn each_call_is_placed_from_the_local_number_and_the_choice_is_recorded() {
    let app = spawn_app_with(pool(vec![
        json!({"number": CHICAGO, "area_codes": ["312", "773"], "states": ["IL"], "daily_cap": 100, "hourly_cap": 20}),
        json!({"number": "305-555-0100"}),
    ]))
    .await;
    bland_takes(&app.bland).await;
    let miami = accepted(&app, "3055551201", 1).await;
    let chicago = accepted(&app, "7735551202", 2).await;
    let calls = wait_for_calls(&app, 2).await;
    // Sent in parallel on the database: matched by request id, not by order.
    let from = |rid: &str| {
        calls
            .iter()
            .find(|c| c["metadata"]["request_id"] == rid)
            .map(|c| c["from"].clone())
    };
    assert_eq!(from(&miami), Some(json!(MIAMI)));
    assert_eq!(from(&chicago), Some(json!(CHICAGO)));
    // The dispatch lines carry the choice: number, tier, weight (a new number's: 0.5);
    // each is written once Bland has answered.
    settled(&app).await;
    let journal = app.calls("2026-11-23").await;
    let choice = |rid: &str| {
        journal
            .iter()
            .find(|l| l["event"] == "dispatch" && l["request_id"] == rid)
            .map(|l| l["caller_id"].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(
        choice(&miami),
        json!({"number": MIAMI, "tier": "area_code", "weight": 0.5})
    );
    assert_eq!(choice(&chicago)["tier"], "area_code");

    // Dallas: Central like Chicago; Denver (08:00 there): no tier but any.
    let dallas = accepted(&app, "2145551203", 3).await;
    accepted(&app, "3035551204", 4).await;
    let calls = wait_for_calls(&app, 4).await;
    assert_eq!(from_of(&calls)[2], CHICAGO);
    assert!([MIAMI, CHICAGO].contains(&from_of(&calls)[3].as_str()));
    settled(&app).await;
    let journal = app.calls("2026-11-23").await;
    let tier = |rid: &str| {
        journal
            .iter()
            .find(|l| l["event"] == "dispatch" && l["request_id"] == rid)
            .map(|l| l["caller_id"]["tier"].clone())
    };
    assert_eq!(tier(&dallas), Some(json!("time_zone")));
    settled(&app).await;
    let rows = numbers(&app).await;
    let c = row(&rows, CHICAGO);
    assert_eq!(
        (c["hourly_cap"].as_u64(), c["daily_cap"].as_u64()),
        (Some(20), Some(100))
    );
    assert_eq!(c["state"], "usable");
    assert_eq!(row(&rows, MIAMI)["tier_hits"]["area_code"], 1);
    let total: u64 = rows.iter().filter_map(|r| r["calls_today"].as_u64()).sum();
    assert_eq!(total, 4);
    // One number with its recent calls; any spelling of it.
    let one = app.get_json("/api/admin/caller-ids/(305)%20555-0100").await;
    assert_eq!(one["number"], MIAMI, "{one}");
    assert!(
        one["recent_calls"]
            .as_array()
            .is_some_and(|r| r.iter().any(|c| c["request_id"] == miami.as_str())),
        "{one}"
    );
    let missing = app
        .admin(reqwest::Method::GET, "/api/admin/caller-ids/+12025550000")
        .send()
        .await
        .expect("req");
    assert_eq!(missing.status(), 404);
    let metrics = app.get_text("/metrics").await;
    assert!(
        metrics.contains(&format!(
            "callgate_caller_id_usable{{number=\"{MIAMI}\"}} 1"
        )),
        "{metrics}"
    );
}

#[tokio::test]
async fn at_its_hourly_cap_the_only_number_makes_calls_wait_until_the_next_hour() {
    let app = spawn_app_with(pool(vec![json!({"number": MIAMI, "hourly_cap": 1})])).await;
    bland_takes(&app.bland).await;
    let first = accepted(&app, "3055551211", 11).await;
    wait_for_calls(&app, 1).await;
    let second = accepted(&app, "3055551212", 12).await;
    settled(&app).await;
    assert_eq!(bland_calls(&app).await.len(), 1);
    let h = app.health().await;
    let why = h["components"]["caller_ids"]["waiting"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(why.contains("1 at their hourly cap"), "{h}");
    assert_eq!(h["components"]["dispatch"]["status"], "degraded");
    let pending = app.get_json("/api/admin/calls/pending").await;
    assert_eq!(
        pending["waiting_for_caller_id"]["until"], "2026-11-23T16:00:00.000Z",
        "{pending}"
    );
    assert_eq!(pending["queued"], 1);
    assert_eq!(row(&numbers(&app).await, MIAMI)["state"], "hourly_cap");
    // The dispatcher journals the hold on its own tick (on the database, the lease
    // holder's): wait for it before the hour turns.
    eventually(Duration::from_secs(5), || async {
        let s = app
            .get_json("/api/admin/statistics?start=2026-11-23&end=2026-11-23")
            .await;
        (s["total"]["held_for_capacity"] == 1).then_some(())
    })
    .await
    .expect("the hold journaled");
    app.clock.advance(chrono::Duration::hours(1));
    let calls = wait_for_calls(&app, 2).await;
    let ids: Vec<&str> = calls
        .iter()
        .filter_map(|c| c["metadata"]["request_id"].as_str())
        .collect();
    assert_eq!(ids, [first.as_str(), second.as_str()]);
    settled(&app).await;
    let h = app.health().await;
    assert!(
        h["components"]["caller_ids"].get("waiting").is_none(),
        "{h}"
    );
    // The pipeline statistics count the call that waited, once.
    let stats = app
        .get_json("/api/admin/statistics?start=2026-11-23&end=2026-11-23")
        .await;
    assert_eq!(stats["total"]["held_for_capacity"], 1, "{stats}");
    assert_eq!(stats["total"]["dispatched"], 2, "{stats}");
}

#[tokio::test]
async fn a_call_waiting_for_a_number_goes_back_to_the_deferred_queue_when_its_window_closes() {
    let app = spawn_app_with(pool(vec![json!({"number": MIAMI, "daily_cap": 1})])).await;
    bland_takes(&app.bland).await;
    accepted(&app, "3055551221", 21).await;
    wait_for_calls(&app, 1).await;
    accepted(&app, "3055551222", 22).await;
    settled(&app).await;
    // Midnight in Miami: a new business day frees the cap, but the lead's calling window
    // is closed, so the call that waited goes back to the deferred queue.
    app.clock.advance(chrono::Duration::hours(14));
    let queue = eventually(Duration::from_secs(5), || async {
        // The count may run ahead of the page on the database: wait for the entry.
        let q = app.get_json("/api/admin/scheduler/queue").await;
        (q["total"] == 1 && q["entries"][0].is_object()).then_some(q)
    })
    .await
    .expect("the waiting call was deferred");
    assert_eq!(queue["entries"][0]["lead"]["lead_id"], "C-22", "{queue}");
    assert_eq!(bland_calls(&app).await.len(), 1);
}

#[tokio::test]
async fn rest_by_hand_moves_calls_to_another_number_and_unrest_brings_it_back() {
    let app = spawn_app_with(pool(vec![
        json!({"number": MIAMI}),
        json!({"number": CHICAGO}),
    ]))
    .await;
    bland_takes(&app.bland).await;
    let bad = app
        .post_json(
            "/api/admin/caller-ids/3055550100/rest",
            json!({"reason": ""}),
        )
        .await;
    assert_eq!(bad.status(), 400);
    let res = app
        .post_json(
            "/api/admin/caller-ids/3055550100/rest",
            json!({"reason": "labelled spam by a carrier"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.expect("json");
    assert_eq!(doc["numbers"][MIAMI]["rested"]["by"], "admin", "{doc}");
    accepted(&app, "3055551231", 31).await;
    wait_for_calls(&app, 1).await;
    // The rest survives a restart (the document).
    let app = app.restart().await;
    assert_eq!(row(&numbers(&app).await, MIAMI)["state"], "rested");
    accepted(&app, "3055551232", 32).await;
    let calls = wait_for_calls(&app, 2).await;
    assert_eq!(from_of(&calls), [CHICAGO, CHICAGO]);
    let res = app
        .post_json("/api/admin/caller-ids/3055550100/unrest", json!({}))
        .await;
    assert_eq!(res.status(), 200);
    accepted(&app, "3055551233", 33).await;
    let calls = wait_for_calls(&app, 3).await;
    assert_eq!(from_of(&calls)[2], MIAMI);
}

#[tokio::test]
async fn a_number_answering_far_below_the_pool_is_rested_automatically() {
    let app = spawn_app_with(|s| {
        pool(vec![
            json!({"number": MIAMI}),
            json!({"number": "+17865550100"}),
        ])(s);
        s.caller_id_pool.insert(
            "auto_rest".into(),
            json!({"enabled": true, "calls": 2, "fraction": 0.9}),
        );
    })
    .await;
    bland_takes(&app.bland).await;
    // The 786 number's calls are answered; then the 305 number's go to voicemail.
    for (n, phone, answer) in [
        (41, "7865551241", "human"),
        (42, "7865551242", "human"),
        (43, "3055551243", "voicemail"),
        (44, "3055551244", "no-answer"),
    ] {
        let rid = accepted(&app, phone, n).await;
        crate::helpers::wait_sent(&app, &rid).await;
        complete(&app, &rid, answer).await;
    }
    let h = eventually(Duration::from_secs(5), || async {
        let h = app.health().await;
        h["components"]["caller_ids"]["rested_automatically"]
            .is_array()
            .then_some(h)
    })
    .await
    .expect("rested");
    let rested = &h["components"]["caller_ids"]["rested_automatically"][0];
    assert_eq!(rested["number"], MIAMI, "{h}");
    assert!(
        rested["reason"]
            .as_str()
            .is_some_and(|r| r.contains("answered 0 of its last 2")),
        "{h}"
    );
    assert_eq!(h["components"]["caller_ids"]["status"], "degraded");
    let miami = row(&numbers(&app).await, MIAMI).clone();
    assert_eq!(
        (miami["state"].as_str(), miami["streak"].as_u64()),
        (Some("rested"), Some(2))
    );
    // An admin brings it back: its earlier calls no longer count.
    let res = app
        .post_json("/api/admin/caller-ids/+13055550100/unrest", json!({}))
        .await;
    assert_eq!(res.status(), 200);
    let h = app.health().await;
    assert_eq!(h["components"]["caller_ids"]["status"], "ok", "{h}");
}

#[tokio::test]
async fn a_number_cap_holds_for_two_instances_together() {
    let Some((a, b)) = spawn_pair(pool(vec![json!({"number": MIAMI, "daily_cap": 2})])).await
    else {
        return;
    };
    bland_takes(&a.bland).await;
    accepted(&a, "3055551251", 51).await;
    accepted(&b, "3055551252", 52).await;
    accepted(&a, "3055551253", 53).await;
    accepted(&b, "3055551254", 54).await;
    wait_for_calls(&a, 2).await;
    // The other two wait in the shared outbox, and an instance says why.
    eventually(Duration::from_secs(10), || async {
        for app in [&a, &b] {
            let p = app.get_json("/api/admin/calls/pending").await;
            if p["queued"] == 2 && p["waiting_for_caller_id"].is_object() {
                return Some(());
            }
        }
        None
    })
    .await
    .expect("two calls wait for a caller id");
    assert_eq!(
        bland_calls(&a).await.len(),
        2,
        "the cap of 2 held across instances"
    );
    for app in [&a, &b] {
        assert_eq!(row(&numbers(app).await, MIAMI)["calls_today"], 2);
    }
}
