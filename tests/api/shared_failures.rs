//! Two instances on one database, when things break: the database going away during
//! traffic, and `kill -9` of one instance mid-send.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use reqwest::StatusCode;
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

use crate::helpers::{eventually, spawn_pair};
use crate::intake::{bland_calls_on, live, post_lead, Queued};
use crate::shared::flag_count;

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
    // Traffic while the database goes away and comes back: every 2xx is durable. The
    // outage starts once leads are getting through and ends once one was refused.
    let (answered, refused, stop) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicBool::new(false)),
    );
    let traffic = {
        let (client, url) = (a.client.clone(), a.url("/webhooks/lead"));
        let (answered, refused, stop) = (answered.clone(), refused.clone(), stop.clone());
        tokio::spawn(async move {
            let mut answers = Vec::new();
            for i in 0..2000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let lead = json!({"phone_number": format!("3055{:06}", 560_000 + i), "lead_id": format!("T{i}")});
                if let Ok(res) = client.post(&url).json(&lead).send().await {
                    let status = res.status();
                    let body: Value = res.json().await.unwrap_or(Value::Null);
                    let count = if status.is_success() {
                        &answered
                    } else {
                        &refused
                    };
                    count.fetch_add(1, Ordering::Relaxed);
                    answers.push((status, body));
                }
                // Pacing, not a wait: a lead every 10 ms.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            answers
        })
    };
    let at_least = |n: &Arc<AtomicUsize>, min: usize| {
        let n = n.clone();
        async move {
            eventually(Duration::from_secs(10), || {
                let n = n.clone();
                async move { (n.load(Ordering::Relaxed) >= min).then_some(()) }
            })
            .await
        }
    };
    at_least(&answered, 5).await.expect("leads got through");
    db.set_reachable(false)
        .await
        .expect("take the database away");
    at_least(&refused, 1).await.expect("a lead was refused");
    db.set_reachable(true).await.expect("bring it back");
    let through = answered.load(Ordering::Relaxed);
    at_least(&answered, through + 5)
        .await
        .expect("leads got through again");
    stop.store(true, Ordering::Relaxed);
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
    // Statistics read the journal rows: the database's failure reaches the API as itself.
    let res = a
        .admin(reqwest::Method::GET, "/api/admin/statistics")
        .send()
        .await
        .expect("statistics");
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = res.json().await.expect("json");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("the database is unavailable")),
        "{body}"
    );
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
    // Mixed load: a flag, a blocked lead, and a lead deferred because its line is busy.
    let admin = |req: reqwest::RequestBuilder| req.header("X-API-Key", crate::helpers::ADMIN_KEY);
    let res = admin(http.post(format!("{}/api/admin/blocklist", proc.address)))
        .json(&json!({"field": "phone", "value": "3055589999"}))
        .send()
        .await
        .expect("flag");
    assert_eq!(res.status(), StatusCode::CREATED);
    let mut mixed = Vec::new();
    for (phone, lead) in [("3055589999", "KB"), ("3055558000", "KD")] {
        let res = http
            .post(format!("{}/webhooks/lead", proc.address))
            .json(&json!({"phone_number": phone, "lead_id": lead}))
            .send()
            .await
            .expect("lead");
        assert!(res.status().is_success());
        mixed.push(res.json::<Value>().await.expect("json"));
    }
    assert_eq!(mixed[0]["decision"], "blocked", "{}", mixed[0]);
    assert_eq!(mixed[1]["decision"], "deferred", "{}", mixed[1]);
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
    // Two release passes with nothing queued or in flight: anything sent twice would be.
    crate::helpers::settled(&b).await;
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
    // Every other 2xx is there too: the flag, the blocked decision, the deferred lead.
    let res = b
        .admin(
            reqwest::Method::GET,
            "/api/admin/blocklist/lookup?field=phone&value=3055589999",
        )
        .send()
        .await
        .expect("lookup");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let blocked_id = mixed[0]["request_id"].as_str().expect("id");
    let view = b.get_json(&format!("/api/admin/calls/{blocked_id}")).await;
    assert_eq!(view["decision"]["decision"], "blocked", "{view}");
    let queue = b.get_json("/api/admin/scheduler/queue?lead_id=KD").await;
    assert_eq!(queue["matching"], 1, "{queue}");
}
