//! Several instances on one PostgreSQL database: each guarantee of issue 13 tested with two
//! servers on one fresh database (one clock, one mock Bland). Skipped, with one printed
//! line, when no PostgreSQL is reachable (a failure with `CI=true`).

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use wiremock::{Request, Respond, ResponseTemplate};

use crate::helpers::{eventually, spawn_pair, TestApp};
use crate::intake::{post_lead, Queued};

/// Bland taking 300 ms to queue each call.
pub struct Slow;

impl Respond for Slow {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        Queued.respond(req).set_delay(Duration::from_millis(300))
    }
}

pub async fn add_flag(app: &TestApp, value: &str) -> reqwest::Response {
    app.post_json(
        "/api/admin/blocklist",
        json!({"field": "phone", "value": value}),
    )
    .await
}

/// Both see `check` hold within 1 s (the propagation the issue asks for).
pub async fn within_a_second<F, Fut>(what: &str, check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<()>>,
{
    eventually(Duration::from_secs(1), check)
        .await
        .unwrap_or_else(|| panic!("{what} did not hold within 1 s"));
}

/// The id of the live flag blocking `phone` on `app`, if any.
pub async fn lookup(app: &TestApp, phone: &str) -> Option<String> {
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

pub async fn flag_count(app: &TestApp) -> u64 {
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
async fn one_instance_fetches_a_feed_and_a_new_instance_without_network_blocks_with_its_copy() {
    use crate::feeds::{feed, feed_server};
    use callgate::config::FeedKind;
    let server = feed_server().await;
    let uri = server.uri();
    let Some((a, b)) = spawn_pair(move |s| {
        s.feeds = vec![feed("scam", FeedKind::Numbers, format!("{uri}/numbers"))];
    })
    .await
    else {
        return;
    };
    for app in [&a, &b] {
        eventually(Duration::from_secs(5), || async {
            let f = app.get_json("/api/admin/blocklist/feeds").await;
            (f["feeds"][0]["entries"] == 2).then_some(())
        })
        .await
        .expect("the feed's numbers on both instances");
    }
    let fetches = server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == "/numbers")
        .count();
    assert_eq!(fetches, 1, "fetched by the lease holder only");
    let (_, body) = post_lead(&b, json!({"phone_number": "3055552101", "lead_id": "F1"})).await;
    assert_eq!(body["decision"], "blocked", "{body}");
    // A new instance that cannot reach the feed still blocks with the stored copy.
    let mut settings = b.settings.clone();
    settings.feeds = vec![feed(
        "scam",
        FeedKind::Numbers,
        "http://127.0.0.1:9/numbers".into(),
    )];
    let dir = std::sync::Arc::new(crate::helpers::TestDir::new_plain());
    settings.data_dir = dir.path().join("data");
    let c = crate::helpers::start_with(settings, dir, a.clock.clone()).await;
    let f = c.get_json("/api/admin/blocklist/feeds").await;
    assert_eq!(f["feeds"][0]["entries"], 2, "{f}");
    assert_eq!(f["feeds"][0]["source"], "cache", "{f}");
    let (_, body) = post_lead(&c, json!({"phone_number": "3055552102", "lead_id": "F2"})).await;
    assert_eq!(body["decision"], "blocked", "{body}");
}

#[tokio::test]
async fn a_settled_days_rollup_is_shared_and_a_late_line_still_counts() {
    let Some((a, b)) = spawn_pair(|_| {}).await else {
        return;
    };
    let attempt = |i: u32| callgate::journal::Attempt {
        timestamp: "2026-11-10T15:00:00Z".parse().expect("instant"),
        field: "phone".into(),
        value: "+13055551234".into(),
        lead_id: Some(format!("R{i}")),
        phone: Some("+13055551234".into()),
        blocked: true,
        reason: "Blocked by flag: phone=+13055551234".into(),
        flag_id: Some("flag_r".into()),
        request_id: Some(format!("req_r{i}")),
        stage: "blocklist".into(),
        source: "flag".into(),
        flag_reason: None,
        list: None,
        list_version: None,
    };
    let journals = a.journals().await;
    for i in 0..3 {
        journals
            .append_attempt(&attempt(i))
            .wait()
            .await
            .expect("durable");
    }
    let path = "/api/admin/blocklist/statistics?start=2026-11-10&end=2026-11-10";
    assert_eq!(a.get_json(path).await["total_attempts"], 3);
    // B answers from A's rollup; a line that lands late in the settled day still counts.
    assert_eq!(b.get_json(path).await["total_attempts"], 3);
    journals
        .append_attempt(&attempt(3))
        .wait()
        .await
        .expect("durable");
    assert_eq!(b.get_json(path).await["total_attempts"], 4);
    assert_eq!(a.get_json(path).await["total_attempts"], 4);
}

#[tokio::test]
async fn a_list_loaded_on_one_instance_is_in_force_on_the_other_within_ten_seconds() {
    use callgate::config::lists::{ListKind, ListSettings};
    let Some((a, b)) = spawn_pair(|s| {
        s.lists = vec![ListSettings {
            name: "ftc".into(),
            kind: ListKind::NationalDnc,
            max_age_days: Some(31),
            states: Vec::new(),
            exemption: None,
        }];
    })
    .await
    else {
        return;
    };
    let res = a
        .admin(Method::PUT, "/api/admin/lists/ftc?downloaded_at=2026-11-20")
        .body("3055551234\n")
        .send()
        .await
        .expect("put");
    assert_eq!(res.status(), StatusCode::OK);
    eventually(Duration::from_secs(10), || async {
        let found = b.get_json("/api/admin/lists/lookup?phone=3055551234").await;
        (found["lists"][0]["snapshot_version"] == 1).then_some(())
    })
    .await
    .expect("B uses the version A loaded");
    let (_, body) = post_lead(&b, json!({"phone_number": "3055551234", "lead_id": "N1"})).await;
    assert_eq!(body["decision"], "blocked", "{body}");
    // A new instance starts with it.
    let mut settings = b.settings.clone();
    let dir = std::sync::Arc::new(crate::helpers::TestDir::new_plain());
    settings.data_dir = dir.path().join("data");
    let c = crate::helpers::start_with(settings, dir, a.clock.clone()).await;
    let found = c.get_json("/api/admin/lists/lookup?phone=3055551234").await;
    assert_eq!(found["lists"][0]["snapshot_version"], 1, "{found}");
}
