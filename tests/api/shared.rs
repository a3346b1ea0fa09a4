//! Several instances on one PostgreSQL database: each guarantee of issue 13 tested with two
//! servers on one fresh database (one clock, one mock Bland). Skipped, with one printed
//! line, when no PostgreSQL is reachable (a failure with `CI=true`).

use std::time::Duration;

use chrono::TimeDelta;
use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

use crate::helpers::{eventually, spawn_pair, TestApp};
use crate::intake::{bland_calls, live, post_lead, wait_for_calls, Queued};

/// Bland taking 300 ms to queue each call.
struct Slow;

impl Respond for Slow {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        Queued.respond(req).set_delay(Duration::from_millis(300))
    }
}

async fn add_flag(app: &TestApp, value: &str) -> reqwest::Response {
    app.post_json(
        "/api/admin/blocklist",
        json!({"field": "phone", "value": value}),
    )
    .await
}

/// Both see `check` hold within 1 s (the propagation the issue asks for).
async fn within_a_second<F, Fut>(what: &str, check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<()>>,
{
    eventually(Duration::from_secs(1), check)
        .await
        .unwrap_or_else(|| panic!("{what} did not hold within 1 s"));
}

/// The id of the live flag blocking `phone` on `app`, if any.
async fn lookup(app: &TestApp, phone: &str) -> Option<String> {
    let res = app
        .admin(
            Method::GET,
            &format!("/api/admin/blocklist/lookup?field=phone&value={phone}"),
        )
        .send()
        .await
        .expect("lookup");
    match res.status() {
        StatusCode::NO_CONTENT => res
            .headers()
            .get("X-Blocklist-Flag-Id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        StatusCode::NOT_FOUND => None,
        other => panic!("lookup: {other}"),
    }
}

async fn flag_count(app: &TestApp) -> u64 {
    app.get_json("/api/admin/blocklist").await["flags_count"]
        .as_u64()
        .unwrap_or(0)
}

#[tokio::test]
async fn flags_written_on_one_instance_apply_on_the_other_within_a_second() {
    let Some((a, b)) = spawn_pair(|_| {}).await else {
        return;
    };
    let res = a
        .post_json(
            "/api/admin/blocklist",
            json!({"field": "phone", "value": "3055551234", "reason": "asked"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let id = res.json::<Value>().await.expect("json")["flag"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    within_a_second("an add on A seen by B", || async {
        (lookup(&b, "3055551234").await.as_deref() == Some(id.as_str())).then_some(())
    })
    .await;
    // A lead for the number is blocked by B.
    let (status, body) =
        post_lead(&b, json!({"phone_number": "3055551234", "lead_id": "L1"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["decision"], "blocked", "{body}");
    // An update on B, seen by A.
    let res = b
        .admin(Method::PUT, &format!("/api/admin/blocklist/{id}"))
        .json(&json!({"reason": "asked twice"}))
        .send()
        .await
        .expect("put");
    assert_eq!(res.status(), StatusCode::OK);
    within_a_second("an update on B seen by A", || async {
        let flag = a.get_json(&format!("/api/admin/blocklist/{id}")).await;
        (flag["flag"]["reason"] == "asked twice").then_some(())
    })
    .await;
    // A bulk import on B, seen by A.
    let res = b
        .post_json(
            "/api/admin/blocklist/bulk",
            json!({"flags": [{"field": "phone", "value": "3055550001"}, {"field": "email", "value": "x@example.com"}]}),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    within_a_second("a bulk import on B seen by A", || async {
        (flag_count(&a).await == 3).then_some(())
    })
    .await;
    // Disabling on A, seen by B; then enabling again.
    for enabled in [false, true] {
        let res = a
            .admin(Method::PUT, "/api/admin/blocklist/enabled")
            .json(&json!({"enabled": enabled}))
            .send()
            .await
            .expect("put");
        assert!(res.status().is_success(), "{}", res.status());
        within_a_second("enabled/disabled on A seen by B", || async {
            (b.get_json("/api/admin/blocklist").await["enabled"] == enabled).then_some(())
        })
        .await;
    }
    // A delete on B, seen by A.
    let res = b
        .admin(Method::DELETE, &format!("/api/admin/blocklist/{id}"))
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), StatusCode::OK);
    within_a_second("a delete on B seen by A", || async {
        lookup(&a, "3055551234").await.is_none().then_some(())
    })
    .await;
    // The same number added on both at once is one flag.
    let (x, y) = tokio::join!(add_flag(&a, "3055559999"), add_flag(&b, "3055559999"));
    let statuses = [x.status(), y.status()];
    assert!(statuses.contains(&StatusCode::CREATED), "{statuses:?}");
    within_a_second("one flag for a number added twice at once", || async {
        let n = a.get_json("/api/admin/blocklist").await["flags"]
            .as_array()
            .map_or(0, |f| {
                f.iter().filter(|f| f["value"] == "+13055559999").count()
            });
        (n == 1).then_some(())
    })
    .await;
}

#[tokio::test]
async fn statistics_answer_the_same_from_either_instance_over_both_instances_traffic() {
    let Some((a, b)) = spawn_pair(|_| {}).await else {
        return;
    };
    let res = a
        .post_json(
            "/api/admin/blocklist/bulk",
            json!({"flags": (0..6).map(|i| json!({"field": "phone", "value": format!("30555520{i:02}")})).collect::<Vec<_>>()}),
        )
        .await;
    assert!(res.status().is_success());
    within_a_second("flags on B", || async {
        (flag_count(&b).await == 6).then_some(())
    })
    .await;
    for i in 0..6 {
        let app = if i % 2 == 0 { &a } else { &b };
        let (status, body) = post_lead(
            app,
            json!({"phone_number": format!("30555520{i:02}"), "lead_id": format!("S{i}")}),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["decision"], "blocked");
    }
    for path in [
        "/api/admin/blocklist/attempts/today",
        "/api/admin/blocklist/attempts/2026-11-23",
        "/api/admin/blocklist/statistics?start=2026-11-23&end=2026-11-23",
        "/api/admin/statistics?start=2026-11-23&end=2026-11-23",
    ] {
        let (x, y) = (a.get_json(path).await, b.get_json(path).await);
        assert_eq!(x, y, "{path} differs between instances");
    }
    let today = a.get_json("/api/admin/blocklist/attempts/today").await;
    assert_eq!(today["total_attempts"], 6);
    let stats = b
        .get_json("/api/admin/statistics?start=2026-11-23&end=2026-11-23")
        .await;
    assert_eq!(stats["total"]["leads_received"], 6);
    assert_eq!(stats["total"]["blocked"]["blocklist"], 6);
    let csv = |app: &TestApp| {
        app.admin(
            Method::GET,
            "/api/admin/statistics?start=2026-11-23&end=2026-11-23&format=csv",
        )
        .send()
    };
    let (x, y) = tokio::join!(csv(&a), csv(&b));
    let (x, y) = (
        x.expect("a").text().await.expect("csv"),
        y.expect("b").text().await.expect("csv"),
    );
    assert_eq!(x, y);
}

#[tokio::test]
async fn concurrent_webhooks_for_one_number_on_two_instances_accept_exactly_one() {
    let Some((a, b)) = spawn_pair(live).await else {
        return;
    };
    Mock::given(method("POST"))
        .and(path("/v1/calls"))
        .respond_with(Queued)
        .mount(&a.bland)
        .await;
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
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(bland_calls(&a).await.len(), 1, "one call for the number");
}

#[tokio::test]
async fn every_accepted_call_is_sent_exactly_once_by_some_instance() {
    let Some((a, b)) = spawn_pair(live).await else {
        return;
    };
    Mock::given(method("POST"))
        .and(path("/v1/calls"))
        .respond_with(Queued)
        .mount(&a.bland)
        .await;
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
    tokio::time::sleep(Duration::from_millis(600)).await;
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
    let Some((a, b)) = spawn_pair(live).await else {
        return;
    };
    Mock::given(method("POST"))
        .and(path("/v1/calls"))
        .respond_with(Queued)
        .mount(&a.bland)
        .await;
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
    tokio::time::sleep(Duration::from_millis(800)).await;
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
    let Some((a, b)) = spawn_pair(live).await else {
        return;
    };
    Mock::given(method("POST"))
        .and(path("/v1/calls"))
        .respond_with(Queued)
        .mount(&a.bland)
        .await;
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
async fn a_config_document_put_on_one_instance_applies_on_the_other_within_a_second() {
    let Some((a, b)) = spawn_pair(|_| {}).await else {
        return;
    };
    let res = a
        .admin(Method::PUT, "/api/admin/scheduler/config")
        .json(&json!({"hours": {"sat": {"start": "10:00", "end": "14:00"}}}))
        .send()
        .await
        .expect("put");
    assert_eq!(res.status(), StatusCode::OK);
    within_a_second("a scheduler PUT on A applied on B", || async {
        (b.get_json("/api/admin/scheduler/config").await["hours"]["sat"]["end"] == "14:00")
            .then_some(())
    })
    .await;
    let res = b
        .admin(Method::PUT, "/api/admin/protection/config")
        .json(&json!({"duplicate_window_minutes": 90}))
        .send()
        .await
        .expect("put");
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap_or_default()
    );
    within_a_second("a protection PUT on B applied on A", || async {
        (a.get_json("/api/admin/protection/config").await["duplicate_window_minutes"] == 90)
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn the_release_work_moves_to_the_other_instance_when_its_holder_stops() {
    let Some((a, b)) = spawn_pair(live).await else {
        return;
    };
    Mock::given(method("POST"))
        .and(path("/v1/calls"))
        .respond_with(Queued)
        .mount(&a.bland)
        .await;
    a.clock
        .set("2026-11-23T12:00:00Z".parse().expect("instant"));
    let (_, body) = post_lead(&b, json!({"phone_number": "3055557001", "lead_id": "R1"})).await;
    assert_eq!(body["decision"], "deferred");
    // Whichever instance holds the release lease, stop it and keep the other.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let bland = a.bland.uri();
    let clock = a.clock.clone();
    let (_, _, mock, _) = a.stop().await;
    // The lease of a stopped holder runs out after 30 s of the service clock.
    clock.advance(TimeDelta::hours(2));
    let calls = eventually(Duration::from_secs(5), || async {
        let calls: Vec<Value> = mock
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path() == "/v1/calls")
            .map(|r| serde_json::from_slice(&r.body).unwrap_or(Value::Null))
            .collect();
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
async fn an_unreachable_database_is_503_naming_it_and_the_service_recovers_by_itself() {
    let Some((a, b)) = spawn_pair(|_| {}).await else {
        return;
    };
    drop(b);
    let db = a.dir.db.as_ref().expect("scratch database");
    let res = a
        .post_json(
            "/api/admin/blocklist",
            json!({"field": "phone", "value": "3055551111"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    // Traffic while the database goes away and comes back: every 2xx is durable.
    let traffic = {
        let (client, url) = (a.client.clone(), a.url("/webhooks/lead"));
        tokio::spawn(async move {
            let mut answers = Vec::new();
            for i in 0..60 {
                let lead =
                    json!({"phone_number": format!("30555560{i:02}"), "lead_id": format!("T{i}")});
                if let Ok(res) = client.post(&url).json(&lead).send().await {
                    let status = res.status();
                    let body: Value = res.json().await.unwrap_or(Value::Null);
                    answers.push((status, body));
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            answers
        })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    db.set_reachable(false)
        .await
        .expect("take the database away");
    tokio::time::sleep(Duration::from_millis(200)).await;
    db.set_reachable(true).await.expect("bring it back");
    let answers = traffic.await.expect("traffic");
    let mut durable = 0;
    for (status, body) in &answers {
        if status.is_success() {
            let id = body["request_id"].as_str().expect("request id");
            let view = a.get_json(&format!("/api/admin/calls/{id}")).await;
            assert_eq!(view["decision"]["decision"], body["decision"], "{view}");
            durable += 1;
        } else {
            assert_eq!(*status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        }
    }
    assert!(durable > 0, "no lead got through");
    a.wait_for_health("ok").await;
    db.set_reachable(false)
        .await
        .expect("take the database away");
    // Health names the database.
    let res = a.client.get(a.url("/health")).send().await.expect("health");
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let h: Value = res.json().await.expect("json");
    assert_eq!(h["status"], "unhealthy");
    assert_eq!(h["components"]["database"]["reachable"], false);
    assert!(h["components"]["database"]["error"]
        .as_str()
        .is_some_and(|e| e.contains("database")));
    // A lead cannot be made durable: 503 with a JSON error, never a 2xx.
    let (status, body) =
        post_lead(&a, json!({"phone_number": "3055552222", "lead_id": "U1"})).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("database")),
        "{body}"
    );
    // Admin writes too; reads of in-memory state still answer.
    let res = a
        .post_json(
            "/api/admin/blocklist",
            json!({"field": "phone", "value": "3055553333"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(flag_count(&a).await, 1);
    // Back: no restart needed.
    db.set_reachable(true).await.expect("bring it back");
    a.wait_for_health("ok").await;
    let (status, body) =
        post_lead(&a, json!({"phone_number": "3055551111", "lead_id": "U2"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["decision"], "blocked");
    let res = a
        .post_json(
            "/api/admin/blocklist",
            json!({"field": "phone", "value": "3055553333"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let today = a.get_json("/api/admin/blocklist/attempts/today").await;
    assert_eq!(
        today["total_attempts"], 1,
        "the refused lead left no trace: {today}"
    );
}

/// Bland taking 2 s to queue each call, so a `kill -9` catches sends in flight.
struct VerySlow;

impl Respond for VerySlow {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        Queued.respond(req).set_delay(Duration::from_secs(2))
    }
}

#[tokio::test]
async fn kill_9_of_one_instance_loses_no_call_and_sends_none_twice() {
    let Some(scratch) = callgate::db::scratch::Scratch::create().await else {
        return;
    };
    let bland = wiremock::MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/calls"))
        .respond_with(VerySlow)
        .mount(&bland)
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let uri = bland.uri();
    let env = [
        ("BLAND_API_KEY", crate::intake::BLAND_KEY),
        ("BLAND_API_URL", uri.as_str()),
        ("BLAND_MAX_CONCURRENT", "2"),
        ("BLAND_TIMEOUT_SECS", "10"),
        ("BLAND_MAX_CALLS_PER_SECOND", "50"),
        ("DATABASE_URL", scratch.url.as_str()),
    ];
    let http = crate::helpers::client();
    let mut proc = crate::helpers::spawn_process(dir.path(), &env);
    // The real binary runs on the wall clock: calling is allowed at any hour for this test.
    let res = http
        .put(format!("{}/api/admin/scheduler/config", proc.address))
        .header("X-API-Key", crate::helpers::ADMIN_KEY)
        .json(
            &json!({"enabled": false, "local_window": {"enabled": false, "unknown_zone": "block"}}),
        )
        .send()
        .await
        .expect("config");
    assert_eq!(res.status(), StatusCode::OK);
    let mut accepted = Vec::new();
    let mut blocked = Vec::new();
    for i in 0..10 {
        let res = http
            .post(format!("{}/webhooks/lead", proc.address))
            .json(&json!({"phone_number": format!("30555580{i:02}"), "lead_id": format!("K{i}")}))
            .send()
            .await
            .expect("lead");
        assert!(res.status().is_success());
        let body: Value = res.json().await.expect("json");
        let id = body["request_id"].as_str().expect("id").to_string();
        match body["decision"].as_str() {
            Some("accepted") => accepted.push(id),
            _ => blocked.push(id),
        }
    }
    assert_eq!(accepted.len(), 10, "blocked: {blocked:?}");
    // Two sends are under way (BLAND_MAX_CONCURRENT=2, Bland answers after 2 s): kill.
    eventually(Duration::from_secs(5), || async {
        (bland_calls_on(&bland).await.len() >= 2).then_some(())
    })
    .await
    .expect("sends started");
    proc.signal("KILL");
    proc.wait_exit(Duration::from_secs(5));
    // A second instance on the same database, its clock on the wall clock.
    let clock = std::sync::Arc::new(callgate::clock::ManualClock::new(chrono::Utc::now()));
    let other = std::sync::Arc::new(crate::helpers::TestDir::new_plain());
    let mut settings = callgate::config::Settings::defaults();
    settings.host = "127.0.0.1".into();
    settings.port = 0;
    settings.data_dir = other.path().join("data");
    settings.admin_api_keys = vec![callgate::config::Secret::new(crate::helpers::ADMIN_KEY)];
    settings.workers = 2;
    settings.bland.api_url = uri.clone();
    settings.database_url = Some(callgate::config::Secret::new(scratch.url.clone()));
    live(&mut settings);
    settings.bland.timeout_secs = 10;
    let b = crate::helpers::start_with(settings, other, clock.clone()).await;
    // The queued calls are sent by the survivor.
    eventually(Duration::from_secs(10), || async {
        (bland_calls_on(&bland).await.len() >= 10).then_some(())
    })
    .await
    .expect("the queued calls were sent by the other instance");
    // The claims of the killed instance run out: those calls become unconfirmed, never
    // sent again on their own.
    clock.advance(TimeDelta::minutes(2));
    let pending = eventually(Duration::from_secs(5), || async {
        let p = b.get_json("/api/admin/calls/pending").await;
        (p["unconfirmed"].as_u64() >= Some(1) && p["in_flight"] == 0).then_some(p)
    })
    .await
    .expect("the killed instance's sends became unconfirmed");
    tokio::time::sleep(Duration::from_millis(600)).await;
    let sent: Vec<String> = bland_calls_on(&bland)
        .await
        .iter()
        .map(|c| {
            c["metadata"]["request_id"]
                .as_str()
                .expect("rid")
                .to_string()
        })
        .collect();
    let unconfirmed: Vec<String> = pending["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["state"] == "unconfirmed")
        .map(|e| e["request_id"].as_str().expect("rid").to_string())
        .collect();
    for id in &accepted {
        let times = sent.iter().filter(|s| *s == id).count();
        assert!(times <= 1, "{id} sent {times} times");
        assert!(
            times == 1 || unconfirmed.contains(id),
            "{id} neither sent nor unconfirmed"
        );
    }
    for id in &unconfirmed {
        assert!(
            sent.contains(id),
            "an unconfirmed call is one whose send had begun: {id}"
        );
    }
    assert_eq!(sent.len(), 10, "each call reached Bland exactly once");
}

async fn bland_calls_on(bland: &wiremock::MockServer) -> Vec<Value> {
    bland
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == "/v1/calls")
        .map(|r| serde_json::from_slice(&r.body).unwrap_or(Value::Null))
        .collect()
}
