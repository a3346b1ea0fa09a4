//! Two instances on one database, dispatch side: one accept per number, one send per
//! call, deployment-wide concurrency, one shared deferred queue, completions once per
//! call id, and the release work moving to the survivor (see `shared.rs` for the harness).

use std::time::Duration;

use chrono::TimeDelta;
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::Mock;

use crate::helpers::{eventually, spawn_pair, TestApp};
use crate::intake::{bland_calls, live, post_lead, wait_for_calls, Queued};
use crate::shared::Slow;

/// Two live instances whose mock Bland takes every call.
async fn live_pair() -> Option<(TestApp, TestApp)> {
    let (a, b) = spawn_pair(live).await?;
    Mock::given(method("POST"))
        .and(path("/v1/calls"))
        .respond_with(Queued)
        .mount(&a.bland)
        .await;
    Some((a, b))
}

#[tokio::test]
async fn concurrent_webhooks_for_one_number_on_two_instances_accept_exactly_one() {
    let Some((a, b)) = live_pair().await else {
        return;
    };
    let posts = (0..16).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        post_lead(
            app,
            json!({"phone_number": "3055557777", "lead_id": format!("D{i}")}),
        )
    });
    let answers = join_all(posts).await;
    let accepted = answers
        .iter()
        .filter(|(_, body)| body["decision"] == "accepted")
        .count();
    assert_eq!(accepted, 1, "{answers:?}");
    for (status, body) in &answers {
        assert!(status.is_success(), "{status} {body}");
        assert!(
            ["accepted", "blocked", "deferred"].contains(&body["decision"].as_str().unwrap_or("")),
            "{body}"
        );
    }
    wait_for_calls(&a, 1).await;
    crate::helpers::settled_pair(&a, &b).await;
    assert_eq!(bland_calls(&a).await.len(), 1, "one call for the number");
}

#[tokio::test]
async fn every_accepted_call_is_sent_exactly_once_by_some_instance() {
    let Some((a, b)) = live_pair().await else {
        return;
    };
    let posts = (0..30).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        post_lead(
            app,
            json!({"phone_number": format!("30555530{i:02}"), "lead_id": format!("E{i}")}),
        )
    });
    let answers = join_all(posts).await;
    let mut ids: Vec<String> = answers
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, StatusCode::ACCEPTED, "{body}");
            assert_eq!(body["decision"], "accepted", "{body}");
            body["request_id"].as_str().expect("id").to_string()
        })
        .collect();
    let calls = wait_for_calls(&a, 30).await;
    crate::helpers::settled_pair(&a, &b).await;
    let calls = if calls.len() == 30 {
        bland_calls(&a).await
    } else {
        calls
    };
    let mut sent: Vec<String> = calls
        .iter()
        .map(|c| {
            c["metadata"]["request_id"]
                .as_str()
                .expect("rid")
                .to_string()
        })
        .collect();
    ids.sort();
    sent.sort();
    assert_eq!(sent, ids, "each accepted call sent once, none twice");
    // Both instances show the same (empty) outbox.
    for app in [&a, &b] {
        let p = app.get_json("/api/admin/calls/pending").await;
        assert_eq!(p["entries"], json!([]), "{p}");
    }
}

#[tokio::test]
async fn concurrency_is_a_limit_for_the_whole_deployment() {
    let Some((a, b)) = spawn_pair(|s| {
        live(s);
        s.bland.max_concurrent = 1;
        s.bland.timeout_secs = 5;
    })
    .await
    else {
        return;
    };
    Mock::given(method("POST"))
        .and(path("/v1/calls"))
        .respond_with(Slow)
        .mount(&a.bland)
        .await;
    for i in 0..4 {
        let app = if i % 2 == 0 { &a } else { &b };
        let (_, body) = post_lead(
            app,
            json!({"phone_number": format!("30555540{i:02}"), "lead_id": format!("C{i}")}),
        )
        .await;
        assert_eq!(body["decision"], "accepted");
    }
    // Watch the shared outbox: never more than one call in flight across both instances.
    let mut seen_max = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::time::Instant::now() < deadline {
        let h = a.health().await;
        let in_flight = h["components"]["dispatch"]["in_flight"]
            .as_u64()
            .unwrap_or(0);
        seen_max = seen_max.max(in_flight);
        if bland_calls(&a).await.len() == 4 && in_flight == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(bland_calls(&a).await.len(), 4);
    assert_eq!(seen_max, 1, "BLAND_MAX_CONCURRENT=1 across two instances");
}

#[tokio::test]
async fn deferred_leads_are_released_once_each_across_instances() {
    let Some((a, b)) = live_pair().await else {
        return;
    };
    // 07:00 Eastern: before business hours, so every lead is deferred to 09:00.
    a.clock
        .set("2026-11-23T12:00:00Z".parse().expect("instant"));
    for i in 0..10 {
        let app = if i % 2 == 0 { &a } else { &b };
        let (_, body) = post_lead(
            app,
            json!({"phone_number": format!("30555550{i:02}"), "lead_id": format!("Q{i}")}),
        )
        .await;
        assert_eq!(body["decision"], "deferred", "{body}");
    }
    let q = b.get_json("/api/admin/scheduler/queue").await;
    assert_eq!(q["total"], 10, "one shared queue");
    a.clock.advance(TimeDelta::hours(2));
    let calls = wait_for_calls(&a, 10).await;
    crate::helpers::settled_pair(&a, &b).await;
    assert_eq!(bland_calls(&a).await.len(), 10, "{calls:?}");
    let mut phones: Vec<String> = bland_calls(&a)
        .await
        .iter()
        .map(|c| c["phone_number"].as_str().expect("phone").to_string())
        .collect();
    phones.sort();
    phones.dedup();
    assert_eq!(phones.len(), 10, "no lead released twice");
    let q = a.get_json("/api/admin/scheduler/queue").await;
    assert_eq!(q["total"], 0);
}

#[tokio::test]
async fn a_completion_retried_to_the_other_instance_is_a_duplicate_and_frees_the_line() {
    let Some((a, b)) = live_pair().await else {
        return;
    };
    let (_, body) = post_lead(&a, json!({"phone_number": "3055556000", "lead_id": "P1"})).await;
    let id = body["request_id"].as_str().expect("id").to_string();
    wait_for_calls(&a, 1).await;
    // While the call is on the line, the number is busy on both instances.
    let (_, busy) = post_lead(&b, json!({"phone_number": "3055556000", "lead_id": "P2"})).await;
    assert_ne!(busy["decision"], "accepted", "{busy}");
    let completion = json!({"call_id": format!("call-{id}"), "status": "completed",
        "answered_by": "voicemail", "call_length": 0.5, "metadata": {"request_id": id}});
    let post = |app: &TestApp| {
        app.client
            .post(app.url("/webhooks/bland-callback"))
            .json(&completion)
            .send()
    };
    let first: Value = post(&a).await.expect("a").json().await.expect("json");
    assert_eq!(first["status"], "recorded", "{first}");
    let again: Value = post(&b).await.expect("b").json().await.expect("json");
    assert_eq!(again["status"], "duplicate", "{again}");
    let view = b.get_json(&format!("/api/admin/calls/{id}")).await;
    assert_eq!(view["outcome"]["outcome"], "voicemail", "{view}");
}

#[tokio::test]
async fn the_release_work_moves_to_the_other_instance_when_its_holder_stops() {
    let Some((a, b)) = live_pair().await else {
        return;
    };
    a.clock
        .set("2026-11-23T12:00:00Z".parse().expect("instant"));
    let (_, body) = post_lead(&b, json!({"phone_number": "3055557001", "lead_id": "R1"})).await;
    assert_eq!(body["decision"], "deferred");
    // Whichever instance holds the release lease, stop it and keep the other.
    crate::helpers::eventually(Duration::from_secs(10), || async {
        let passes =
            crate::helpers::release_passes(&a).await + crate::helpers::release_passes(&b).await;
        (passes > 0).then_some(())
    })
    .await
    .expect("one instance holds the release lease");
    let bland = a.bland.uri();
    let clock = a.clock.clone();
    let (_, _, mock, _) = a.stop().await;
    // The lease of a stopped holder runs out after 30 s of the service clock.
    clock.advance(TimeDelta::hours(2));
    let calls = eventually(Duration::from_secs(5), || async {
        let calls = crate::intake::bland_calls_on(&mock).await;
        (!calls.is_empty()).then_some(calls)
    })
    .await
    .unwrap_or_else(|| panic!("B never released the lead ({bland})"));
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["phone_number"], "+13055557001");
    let q = b.get_json("/api/admin/scheduler/queue").await;
    assert_eq!(q["total"], 0);
}

#[tokio::test]
async fn the_daily_cap_counts_every_instances_calls() {
    let Some((a, b)) = live_pair().await else {
        return;
    };
    let res = a
        .admin(reqwest::Method::PUT, "/api/admin/protection/config")
        .json(&json!({"max_daily_attempts_per_number": 2}))
        .send()
        .await
        .expect("put");
    assert_eq!(res.status(), StatusCode::OK);
    crate::helpers::eventually(Duration::from_secs(1), || async {
        (b.get_json("/api/admin/protection/config").await["max_daily_attempts_per_number"] == 2)
            .then_some(())
    })
    .await
    .expect("the cap on B");
    // Two calls to one number, accepted on alternate instances, each completed on the
    // other one (the line is free again).
    for (i, (take, finish)) in [(&a, &b), (&b, &a)].into_iter().enumerate() {
        let (_, body) = post_lead(
            take,
            json!({"phone_number": "3055558800", "lead_id": format!("CAP{i}")}),
        )
        .await;
        assert_eq!(body["decision"], "accepted", "{body}");
        let id = body["request_id"].as_str().expect("id").to_string();
        wait_for_calls(&a, i + 1).await;
        let done: Value = finish
            .client
            .post(finish.url("/webhooks/bland-callback"))
            .json(
                &json!({"call_id": format!("call-{id}"), "status": "completed",
                "answered_by": "no-answer", "call_length": 0.01, "metadata": {"request_id": id}}),
            )
            .send()
            .await
            .expect("completion")
            .json()
            .await
            .expect("json");
        assert_eq!(done["status"], "recorded", "{done}");
    }
    // The third, on either instance, is over the cap of two.
    let (_, third) = post_lead(&a, json!({"phone_number": "3055558800", "lead_id": "CAP2"})).await;
    assert_ne!(third["decision"], "accepted", "{third}");
    assert_eq!(third["stage"], "protection", "{third}");
    assert!(
        third["reason"].as_str().is_some_and(|r| r.contains('2')),
        "{third}"
    );
}
